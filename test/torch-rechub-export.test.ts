// torchRechubSpec (our model → torch-rechub's class, constructor arguments and features) and the two
// files a torch-rechub user loads (exportTorchRechubFiles / importTorchRechubFiles), checked against the
// torch-rechub fixtures in ../shared/parity: the spec of a model built from a fixture's config is that
// config, the exported state dict is the fixture's byte for byte in names, order, shapes and values, and
// a model rebuilt from the files gives torch-rechub's eval outputs. Also: trained weights round-trip
// exactly; what torch-rechub cannot express, and tampered files, are TorchRechubErrors.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as wm from '../src/index.js';
import { HAVE_PARITY_FIXTURES, PARITY_MODELS, type ParityFixture, readParityFixture } from './helpers/parity.js';

wm.setBackend(new CpuBackend());
const HAVE_FIXTURES = HAVE_PARITY_FIXTURES;
const MODELS = PARITY_MODELS;
/** The parity test's output tolerance (fixture README). */
const OUTPUTS = { rtol: 1e-5, atol: 1e-6 };
const PY_LOADER = new URL('../examples/torch-rechub/load_webmtl_export.py', import.meta.url).pathname;
const PYTHON = '/usr/bin/python3';

const fixtures = new Map(HAVE_FIXTURES ? MODELS.map((m) => [m, readParityFixture(m)]) : []);

/** A fixture's model with its state dict. */
function loaded(dir: string): wm.MultiTaskModel {
  const f = fixtures.get(dir)!;
  const model = wm.torchRechubModel(f.config);
  wm.importTorchRechub(model, f.state);
  return model;
}
const inputs = (model: wm.MultiTaskModel, f: ParityFixture): wm.FeatureBatch =>
  Object.fromEntries(model.features.map((feat) => [feat.name, wm.fromArray(f.batch[feat.name].data, f.batch[feat.name].shape)]));
const predict = (model: wm.MultiTaskModel, x: wm.FeatureBatch) => Array.from(model.predict(x).dataSync());
/** Every tensor of a state dict as [name, dtype, shape, values], in order. */
const listing = (dict: wm.TorchStateDict) => Object.entries(dict).map(([k, t]) => [k, t.dtype, t.shape, Array.from(t.data)]);
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** torch-rechub's MLP defaults made explicit (the fixtures write them; a spec always does). */
function explicitMlp(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(explicitMlp);
  if (v && typeof v === 'object' && 'dims' in v) return { activation: 'relu', dropout: 0, ...v };
  return v;
}

/** One Adam step on the fixture batch in train mode: every weight and BatchNorm statistic moves. */
function trainOneStep(model: wm.MultiTaskModel, f: ParityFixture): void {
  const x = inputs(model, f);
  const labels = f.batch.labels;
  const rows = labels.shape[0];
  const plan = model.taskPlan(labels.shape[1]);
  const y = wm.fromArray(labels.data, labels.shape);
  const column = (t: wm.Tensor, j: number) => wm.reshape(wm.slice(t, [0, j], [rows, 1]), [rows]);
  const adam = new wm.Adam(model.parameters(), { lr: 1e-2 });
  model.train();
  wm.tidy(() => {
    const out = model.forward(x);
    const terms = plan.train.map((t) => wm.binaryCrossEntropy(column(out, t.output), column(y, t.label)));
    wm.backward(terms.reduce((a, b) => wm.add(a, b)));
  });
  adam.step();
  model.eval();
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const sparse = (name: string, embedDim = 3) => new wm.SparseFeature({ name, vocabSize: 5, embedDim });
const towers2 = [{ dims: [2] }, { dims: [2] }];

describe.skipIf(!HAVE_FIXTURES)('torchRechubSpec and the torch-rechub files on the parity fixtures', () => {
  for (const dir of MODELS) {
    it(`${dir}: torchRechubSpec gives back the fixture's class, constructor arguments and features`, () => {
      const f = fixtures.get(dir)!;
      const spec = wm.torchRechubSpec(loaded(dir));
      expect(spec.class).toBe(f.config.class);
      expect(Object.keys(spec.constructor_args)).toEqual(Object.keys(f.config.constructor_args));
      for (const [arg, value] of Object.entries(f.config.constructor_args))
        expect(spec.constructor_args[arg], arg).toEqual(explicitMlp(value));
      expect(spec.features.map((x) => x.name)).toEqual(f.config.features.map((x) => x.name));
      f.config.features.forEach((want, i) => {
        for (const key of Object.keys(want) as (keyof wm.TorchRechubFeatureSpec)[])
          expect(spec.features[i][key], `${want.name}.${key}`).toEqual(want[key]);
        expect(Object.keys(spec.features[i]).sort(), want.name).toEqual(Object.keys(want).sort());
      });
      expect(spec.notes).toBeUndefined();
      // What torchRechubModel reads back is the same model.
      expect(wm.torchRechubModel(json(spec)).config()).toEqual(wm.torchRechubModel(f.config).config());
    });

    it(`${dir}: the exported files hold the fixture's state dict exactly; rebuilt from them, torch-rechub's eval outputs`, async () => {
      const f = fixtures.get(dir)!;
      const model = loaded(dir);
      const { spec, stateDict } = await wm.exportTorchRechubFiles(model);
      expect(stateDict).toBeInstanceOf(Uint8Array);
      expect(listing(wm.decodeSafetensors(stateDict).tensors)).toEqual(listing(f.state));

      const written = json(spec); // as model.json holds it
      expect(written).toEqual(spec);
      expect(written).toMatchObject({
        format: 'webmtl-torch-rechub',
        version: 1,
        webmtl_version: wm.VERSION,
        module: 'torch_rechub.models.multi_task',
        class: f.config.class,
        task_names: model.taskNames,
        task_types: model.taskTypes,
      });
      const again = wm.importTorchRechubFiles(written, stateDict);
      expect(again.constructor).toBe(model.constructor);
      expect(again.taskNames).toEqual(model.taskNames);
      expect(again.config()).toEqual(model.config());
      const x = inputs(model, f);
      const ours = predict(again, x);
      const want = f.expected['eval.output'].data;
      expect(ours).toHaveLength(want.length);
      const off = ours.flatMap((v, i) =>
        Math.abs(v - want[i]) <= OUTPUTS.atol + OUTPUTS.rtol * Math.abs(want[i]) ? [] : [`[${i}] ${v} vs ${want[i]}`],
      );
      expect(off).toEqual([]);
      expect(ours).toEqual(predict(model, x));
    });
  }

  it('a model trained a step (weights, running statistics and num_batches_tracked changed) round-trips exactly', async () => {
    for (const dir of MODELS) {
      const f = fixtures.get(dir)!;
      const model = loaded(dir);
      trainOneStep(model, f);
      const before = await wm.exportTorchRechub(model);
      const changed = Object.keys(f.state).filter((k) => before[k].data.some((v, i) => v !== f.state[k].data[i]));
      expect(changed.length, dir).toBeGreaterThan(Object.keys(f.state).length / 2);
      expect(Object.entries(before).find(([k]) => k.endsWith('num_batches_tracked'))?.[1].data[0], dir).toBe(1);
      const { spec, stateDict } = await wm.exportTorchRechubFiles(model);
      // Building the model to import draws fresh weights; the caller's random stream is put back.
      const stream = wm.globalRng().getState();
      const again = wm.importTorchRechubFiles(json(spec), stateDict);
      expect(wm.globalRng().getState(), dir).toEqual(stream);
      expect(listing(await wm.exportTorchRechub(again)), dir).toEqual(listing(before));
      const x = inputs(model, f);
      expect(predict(again, x), dir).toEqual(predict(model, x));
    }
  });

  describe('tampered files: a TorchRechubError, no model, inputs untouched', () => {
    const f = () => fixtures.get('MMOE')!;
    const files = async () => {
      const { spec, stateDict } = await wm.exportTorchRechubFiles(loaded('MMOE'));
      return { spec: json(spec), stateDict };
    };
    const refuses = (spec: unknown, bytes: Uint8Array | wm.TorchStateDict, pattern: RegExp) => {
      const snapshot = JSON.stringify(spec);
      const bytesBefore = bytes instanceof Uint8Array ? Array.from(bytes) : null;
      const e = thrown(() => wm.importTorchRechubFiles(spec as wm.TorchRechubFilesSpec, bytes));
      expect(e).toBeInstanceOf(wm.TorchRechubError);
      expect(e.message).toMatch(pattern);
      expect(JSON.stringify(spec)).toBe(snapshot);
      if (bytesBefore) expect(Array.from(bytes as Uint8Array)).toEqual(bytesBefore);
      return e as wm.TorchRechubError;
    };

    it('unknown or misspelt keys and arguments, another format or version, an unknown class', async () => {
      const { spec, stateDict } = await files();
      refuses({ ...spec, constructor_args: { ...spec.constructor_args, n_experts: 4 } }, stateDict, /MMOE has no argument 'n_experts'/);
      refuses({ ...spec, task_name: ['a', 'b'] }, stateDict, /has no key 'task_name' \(did you mean 'task_names'\?\)/);
      refuses({ ...spec, format: undefined }, stateDict, /this webmtl reads "format": "webmtl-torch-rechub", "version": 1/);
      refuses({ ...spec, version: 2 }, stateDict, /version 2/);
      refuses({ ...spec, class: 'OMOE' }, stateDict, /unknown torch-rechub class 'OMOE'/);
      refuses({ ...spec, module: 'torch_rechub.models.ranking' }, stateDict, /module 'torch_rechub.models.ranking'/);
      refuses(
        { ...spec, features: [{ ...spec.features[0], embedding_dim: 4 }, ...spec.features.slice(1)] },
        stateDict,
        /feature '101': unknown option 'embedding_dim'; the options are name, kind, vocab_size, embed_dim/,
      );
      refuses(
        { ...spec, features: [...spec.features.slice(0, -1), { ...spec.features.at(-1), vocab_size: 3 }] },
        stateDict,
        /dense feature 'D853' has vocab_size/,
      );
      const seq = { name: 's', kind: 'sequence', vocab_size: 4, embed_dim: 4, pooling: 'concat' };
      refuses(
        {
          ...spec,
          features: [...spec.features, seq],
          constructor_args: { ...spec.constructor_args, features: [...(spec.constructor_args.features as string[]), 's'] },
        },
        stateDict,
        /sequence feature 's' has pooling 'concat'/,
      );
      refuses(null, stateDict, /must be an object/);
    });

    it('a missing, a duplicate or an unused feature; task names or types that do not fit', async () => {
      const { spec, stateDict } = await files();
      refuses(
        { ...spec, features: spec.features.slice(1) },
        stateDict,
        /'features' names feature '101', which 'features' does not declare/,
      );
      refuses({ ...spec, features: [...spec.features, spec.features[0]] }, stateDict, /declares '101' twice/);
      const extra = { name: 'extra', kind: 'sparse', vocab_size: 3, embed_dim: 4 };
      const e = refuses({ ...spec, features: [...spec.features, extra] }, stateDict, /nothing was loaded/);
      expect(e.problems).toEqual(["features declares 'extra', which no feature argument of MMOE names"]);
      refuses({ ...spec, task_names: ['a'] }, stateDict, /1 task names for 2 tasks/);
      refuses(
        { ...spec, task_types: ['classification', 'regression'] },
        stateDict,
        /task_types .* the model built from constructor_args has/,
      );
      const esmm = await wm.exportTorchRechubFiles(loaded('ESMM'));
      refuses({ ...json(esmm.spec), task_names: ['a', 'b', 'c'] }, esmm.stateDict, /ESMM's outputs are \["cvr","ctr","ctcvr"\]/);
    });

    it('constructor arguments that do not fit the weights: every problem listed, nothing loaded', async () => {
      const { spec, stateDict } = await files();
      const wider = {
        ...spec,
        constructor_args: { ...spec.constructor_args, expert_params: { dims: [17], activation: 'relu', dropout: 0 } },
      };
      const e = refuses(wider, stateDict, /the state dict does not fit this MMoE .*nothing was loaded/s);
      expect(e.problems).toContain("'experts.0.mlp.0.weight': torch-rechub's shape is [16, 100], this model's [17, 100]");
      expect(e.problems.length).toBeGreaterThan(4 * 5);
      const fewer = { ...spec, constructor_args: { ...spec.constructor_args, n_expert: 3 } };
      expect(refuses(fewer, stateDict, /nothing was loaded/).problems).toContain("unexpected 'experts.3.mlp.0.weight' [16, 100]");
      const state = { ...f().state };
      delete state['towers.1.mlp.4.bias'];
      expect(refuses(spec, state, /nothing was loaded/).problems).toEqual(["missing 'towers.1.mlp.4.bias' [1]"]);
      refuses(spec, stateDict.slice(0, 100), /not a readable safetensors file/);
      refuses({ ...spec, constructor_args: { ...spec.constructor_args, n_expert: -1 } }, stateDict, /MMOE\(.*\): /);
    });
  });
});

describe('torchRechubSpec: models torch-rechub cannot express, and defaults made explicit', () => {
  const features = [sparse('a'), sparse('b', 2), new wm.DenseFeature('d')];

  it('OMoE has no torch-rechub class', async () => {
    const omoe = new wm.OMoE({ features, nExpert: 2, expertParams: { dims: [3] }, towerParamsList: towers2 });
    expect(() => wm.torchRechubSpec(omoe)).toThrow(/OMoE has no torch-rechub class .*SharedBottom.*model 'mmoe'/);
    await expect(wm.exportTorchRechubFiles(omoe)).rejects.toThrow(wm.TorchRechubError);
  });

  it("MMoE with sigmoid gates, 'concat' pooling, Dice / tanh activations: every problem with its fix, in one error", () => {
    const seq = new wm.SequenceFeature({ name: 's', vocabSize: 6, embedDim: 2, pooling: 'concat', maxLen: 3 });
    const model = new wm.MMoE({
      features: [...features, seq],
      nExpert: 2,
      expertParams: { dims: [3], activation: 'dice' },
      towerParamsList: [{ dims: [2], activation: 'tanh' }, { dims: [2] }],
      gateActivation: 'sigmoid',
    });
    const e = thrown(() => wm.torchRechubSpec(model)) as wm.TorchRechubError;
    expect(e).toBeInstanceOf(wm.TorchRechubError);
    expect(e.message).toMatch(/this MMoE cannot be expressed in torch-rechub's MMOE/);
    expect(e.problems).toEqual([
      expect.stringMatching(/^gateActivation 'sigmoid': torch-rechub's MMOE has softmax gates only; fix: .*'softmax'/),
      expect.stringMatching(/^feature 's': pooling 'concat' .*fix: use pooling 'mean' or 'sum'/),
      expect.stringMatching(
        /^expert_params.activation: torch-rechub's Dice is another function .*fix: train with one of relu, sigmoid, prelu, leakyrelu, softmax/,
      ),
      expect.stringMatching(/^tower_params_list\[0\].activation: torch-rechub's MLP has no activation 'tanh'/),
    ]);
  });

  it('ESMM: torch-rechub needs user and item features, sparse only, one embedding size per group; AITM: classification only', () => {
    const esmm = new wm.ESMM({ userFeatures: features, cvrParams: { dims: [2] }, ctrParams: { dims: [2] } });
    expect((thrown(() => wm.torchRechubSpec(esmm)) as wm.TorchRechubError).problems).toEqual([
      expect.stringMatching(/^user_features has dense feature\(s\) d: /),
      expect.stringMatching(/^user_features mixes embedding sizes 3, 2: /),
      expect.stringMatching(/^item_features is empty: /),
    ]);
    const aitm = new wm.AITM({
      features,
      taskTypes: ['classification', 'regression'],
      bottomParams: { dims: [3] },
      towerParamsList: towers2,
    });
    expect(() => wm.torchRechubSpec(aitm)).toThrow(/torch-rechub's AITM has classification tasks only/);
  });

  it('defaults our models take become explicit arguments; task names, AITM and PReLU/leakyrelu come back', async () => {
    const check = async (model: wm.MultiTaskModel, args: Record<string, unknown>) => {
      const { spec, stateDict } = await wm.exportTorchRechubFiles(model);
      expect(spec.constructor_args).toMatchObject(args);
      const again = wm.importTorchRechubFiles(json(spec), stateDict);
      expect(again.taskNames).toEqual(model.taskNames);
      expect(listing(await wm.exportTorchRechub(again))).toEqual(listing(await wm.exportTorchRechub(model)));
      return { spec, again };
    };
    const tower = { dims: [32], activation: 'relu', dropout: 0 };
    await check(new wm.MMoE({ features, taskNames: ['click', 'buy'], numExperts: 2, expertUnits: [3], numTasks: 2 }), {
      task_types: ['classification', 'classification'],
      n_expert: 2,
      expert_params: { dims: [3], activation: 'relu', dropout: 0 },
      tower_params_list: [tower, tower],
    });
    await check(
      new wm.PLE({
        features,
        taskTypes: ['binary', 'regression'],
        nExpertSpecific: 1,
        nExpertShared: 1,
        expertParams: { dims: [3], activation: 'PReLU' },
      }),
      { task_types: ['classification', 'regression'], n_level: 1, expert_params: { dims: [3], activation: 'prelu', dropout: 0 } },
    );
    await check(new wm.SharedBottom({ features, bottomParams: { dims: [4], activation: 'leakyrelu', dropout: 0.1 }, numTasks: 3 }), {
      bottom_params: { dims: [4], activation: 'leakyrelu', dropout: 0.1 },
    });
    await check(new wm.ESMM({ userFeatures: [sparse('a')], itemFeatures: [sparse('b', 2)] }), { cvr_params: tower, ctr_params: tower });
    const aitm = new wm.AITM({ features, taskNames: ['click', 'buy'], bottomParams: { dims: [3] }, towerParamsList: towers2 });
    expect(aitm.calibratorWeight).toBe(0.6);
    const { spec, again } = await check(aitm, { n_task: 2 });
    expect(spec.notes).toEqual([expect.stringMatching(/calibratorWeight 0\.6.*torch-rechub's AITM has none/)]);
    expect((again as wm.AITM).calibratorWeight).toBe(0);
  });
});

describe.skipIf(!existsSync(PYTHON))('examples/torch-rechub/load_webmtl_export.py', () => {
  it('compiles, and its spec_from_args writes a model.json importTorchRechubFiles reads', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'webmtl-pyc-'));
    try {
      execFileSync(PYTHON, ['-m', 'py_compile', PY_LOADER], { env: { ...process.env, PYTHONPYCACHEPREFIX: cache } });
      // torch and torch-rechub are not needed for the spec: stand-in feature classes with torch-rechub's names and attributes.
      const script = `
import json, sys
sys.path.insert(0, sys.argv[1])
import load_webmtl_export as m
class SparseFeature:
    def __init__(self, name, vocab_size, embed_dim):
        self.name, self.vocab_size, self.embed_dim, self.shared_with, self.padding_idx = name, vocab_size, embed_dim, None, None
class DenseFeature:
    def __init__(self, name):
        self.name, self.embed_dim = name, 1
feats = [SparseFeature("a", 5, 3), SparseFeature("b", 5, 2), DenseFeature("d")]
mlp = {"dims": [3]}
print(json.dumps(m.spec_from_args("MMOE", {"features": feats, "task_types": ["classification", "regression"], "n_expert": 2,
    "expert_params": mlp, "tower_params_list": [{"dims": [2]}, {"dims": [2]}]}, task_names=["click", "watch"])))
`;
      const out = execFileSync(PYTHON, ['-c', script, join(PY_LOADER, '..')], { env: { ...process.env, PYTHONPYCACHEPREFIX: cache } });
      const spec = JSON.parse(out.toString()) as wm.TorchRechubFilesSpec;
      const model = new wm.MMoE({
        features: [sparse('a'), sparse('b', 2), new wm.DenseFeature('d')],
        taskTypes: ['classification', 'regression'],
        nExpert: 2,
        expertParams: { dims: [3] },
        towerParamsList: towers2,
      });
      const again = wm.importTorchRechubFiles(spec, await wm.exportTorchRechubSafetensors(model));
      expect(again.taskNames).toEqual(['click', 'watch']);
      expect(again.taskTypes).toEqual(['classification', 'regression']);
      expect(listing(await wm.exportTorchRechub(again))).toEqual(listing(await wm.exportTorchRechub(model)));
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
