"""Move a webmtl model into torch-rechub and back.

webmtl writes a folder with two files (`webmtl export --model model.webmtl --torch-rechub <dir>`):

  model.json               torch-rechub class, constructor arguments (feature arguments as lists of
                           feature names), the features, task names and types
  state_dict.safetensors   model.state_dict() in torch-rechub's names (num_batches_tracked as int32)

    python load_webmtl_export.py <dir>            # builds the model, loads the weights, prints a summary
    python load_webmtl_export.py <dir> <out-dir>  # ... and writes it back out for `webmtl import --torch-rechub`

In your own code:

    from load_webmtl_export import load_webmtl_export, save_webmtl_export
    model, spec = load_webmtl_export("export/")
    ...  # train with torch-rechub's MTLTrainer, DDP, ...
    save_webmtl_export(model, spec, "trained/")

Needs torch, torch-rechub and safetensors (pip install torch-rechub safetensors). Written against
torch-rechub's documented API (torch_rechub.basic.features, torch_rechub.models.multi_task); webmtl's
tests check the TypeScript side of the round trip against state dicts torch-rechub 0.8.0 wrote.
"""

import json
import os
import sys

FORMAT = "webmtl-torch-rechub"
VERSION = 1
MODULE = "torch_rechub.models.multi_task"
# Constructor arguments that hold feature lists (names in model.json, feature objects in Python).
FEATURE_ARGS = ("features", "user_features", "item_features")


def build_features(feature_specs):
    """{name: torch-rechub feature object} from model.json's `features` (fresh objects: torch-rechub
    caches each feature's nn.Embedding on the object, so two models must not share them)."""
    from torch_rechub.basic.features import DenseFeature, SequenceFeature, SparseFeature

    built = {}
    for f in feature_specs:
        kind, name = f["kind"], f["name"]
        if kind == "sparse":
            built[name] = SparseFeature(
                name, f["vocab_size"], embed_dim=f["embed_dim"], shared_with=f.get("shared_with"), padding_idx=f.get("padding_idx")
            )
        elif kind == "sequence":
            built[name] = SequenceFeature(
                name,
                f["vocab_size"],
                embed_dim=f["embed_dim"],
                pooling=f.get("pooling", "mean"),
                shared_with=f.get("shared_with"),
                padding_idx=f.get("padding_idx"),
            )
        elif kind == "dense":
            built[name] = DenseFeature(name)
        else:
            raise ValueError(f"feature {name!r}: unknown kind {kind!r} (sparse, sequence or dense)")
    return built


def build_model(spec):
    """The torch-rechub model model.json describes, with torch-rechub's initial weights."""
    import torch_rechub.models.multi_task as multi_task

    if spec.get("format") != FORMAT or spec.get("version") != VERSION:
        raise ValueError(f"not a webmtl torch-rechub export: format {spec.get('format')!r}, version {spec.get('version')!r}")
    features = build_features(spec["features"])
    args = dict(spec["constructor_args"])
    for key in FEATURE_ARGS:
        if key in args:
            args[key] = [features[name] for name in args[key]]
    return getattr(multi_task, spec["class"])(**args)


def load_webmtl_export(folder):
    """(model, spec): the model of <folder>/model.json with the weights of <folder>/state_dict.safetensors."""
    from safetensors.torch import load_file

    with open(os.path.join(folder, "model.json"), encoding="utf-8") as fh:
        spec = json.load(fh)
    model = build_model(spec)
    state = load_file(os.path.join(folder, "state_dict.safetensors"))
    # webmtl stores BatchNorm's num_batches_tracked as int32; torch keeps int64.
    state = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    return model, spec


def feature_spec(feature):
    """model.json's entry for a torch-rechub feature object."""
    kind = type(feature).__name__
    if kind == "DenseFeature":
        return {"name": feature.name, "kind": "dense", "vocab_size": None, "embed_dim": 1}
    if kind not in ("SparseFeature", "SequenceFeature"):
        raise ValueError(f"{feature!r}: not a SparseFeature, SequenceFeature or DenseFeature")
    spec = {"name": feature.name, "kind": "sparse" if kind == "SparseFeature" else "sequence"}
    spec["vocab_size"] = int(feature.vocab_size)
    spec["embed_dim"] = int(feature.embed_dim)
    if kind == "SequenceFeature":
        spec["pooling"] = feature.pooling
    if getattr(feature, "shared_with", None) is not None:
        spec["shared_with"] = feature.shared_with
    if getattr(feature, "padding_idx", None) is not None:
        spec["padding_idx"] = int(feature.padding_idx)
    return spec


def spec_from_args(class_name, constructor_args, task_names=None, task_types=None):
    """model.json for a model built in Python as class_name(**constructor_args) (feature objects in the
    feature arguments). Task types default to the model's: task_types for SharedBottom, MMOE and PLE,
    all classification for AITM (n_task) and ESMM (cvr, ctr, ctcvr)."""
    args, features = {}, {}
    for key, value in constructor_args.items():
        if key in FEATURE_ARGS:
            for f in value:
                features.setdefault(f.name, feature_spec(f))
            args[key] = [f.name for f in value]
        else:
            args[key] = value
    if task_types is None:
        if "task_types" in args:
            task_types = list(args["task_types"])
        elif class_name == "AITM":
            task_types = ["classification"] * int(args["n_task"])
        elif class_name == "ESMM":
            task_types = ["classification"] * 3
    if task_names is None and class_name == "ESMM":
        task_names = ["cvr", "ctr", "ctcvr"]
    spec = {"format": FORMAT, "version": VERSION, "module": MODULE, "class": class_name, "constructor_args": args}
    spec["features"] = list(features.values())
    if task_names is not None:
        spec["task_names"] = list(task_names)
    if task_types is not None:
        spec["task_types"] = list(task_types)
    return spec


def save_webmtl_export(model, spec, folder):
    """Writes <folder>/model.json (spec, e.g. from load_webmtl_export or spec_from_args) and
    <folder>/state_dict.safetensors (model.state_dict(): float32, num_batches_tracked as int32), the
    folder `webmtl import --torch-rechub <folder> --out model.webmtl` reads."""
    import torch
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    state = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu()
        if name.endswith("num_batches_tracked"):
            t = t.to(torch.int32)
        elif t.is_floating_point():
            t = t.to(torch.float32)
        state[name] = t.contiguous()
    save_file(state, os.path.join(folder, "state_dict.safetensors"), metadata={"format": "pt"})
    # webmtl_version and notes describe the webmtl that wrote the original export; this file is ours.
    out = {k: v for k, v in spec.items() if k not in ("webmtl_version", "notes")}
    with open(os.path.join(folder, "model.json"), "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    model, spec = load_webmtl_export(argv[1])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{spec['class']}: {n_params} parameters, outputs {', '.join(spec.get('task_names', []))}")
    for note in spec.get("notes", []):
        print(f"note: {note}")
    if len(argv) == 3:
        save_webmtl_export(model, spec, argv[2])
        print(f"{argv[2]}: model.json and state_dict.safetensors (webmtl import --torch-rechub {argv[2]} --out model.webmtl)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
