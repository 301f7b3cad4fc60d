// torch-rechub interchange: build our model from torch-rechub's constructor arguments, and move weights
// in and out in its state-dict names and layouts (Linear weights [out, in], one module per expert,
// BatchNorm's running statistics and num_batches_tracked). Each model lists where its tensors sit
// (MultiTaskModel.torchRechubEntries); this file only reads those lists. Browser-safe.
import { DenseFeature, type Feature, type Pooling, SequenceFeature, SparseFeature } from '../features.js';
import type { MLPParams, MultiTaskModel } from '../models/base.js';
import { MODEL_ENTRIES } from '../models/registry.js';
import type { TorchEntry, TorchTensorEntry } from '../nn/torch-layout.js';
import { checkOptionNames, describeUnknown, unknownKeys } from '../options.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { assign } from '../tensor/ops.js';
import { fmtShape, fromArray, type Tensor } from '../tensor/tensor.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from './safetensors.js';

/** A state dict as host arrays, by torch-rechub name (what decodeSafetensors returns). */
export type TorchStateDict = Record<string, SafetensorsTensor>;

/** A state dict or a model that does not fit the other side; `problems` lists every mismatch. */
export class TorchRechubError extends Error {
  override readonly name = 'TorchRechubError';
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}:\n  ${problems.join('\n  ')}` : message);
  }
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Where torch's value of `e` starts in our tensor's host array, and how many values it has. */
function span(e: TorchTensorEntry): { start: number; size: number } {
  const size = e.shape.reduce((a, b) => a * b, 1);
  return { start: e.slot === undefined ? 0 : e.slot * (e.tensor.size / e.tensor.shape[0]), size };
}

/** The problems of one entry against the state dict (empty when it fits). */
function checkEntry(e: TorchEntry, src: SafetensorsTensor | undefined): string[] {
  if (!src) return [`missing '${e.name}' ${e.kind === 'counter' ? '[] (int)' : fmtShape(e.shape)}`];
  if (typeof src !== 'object' || !Array.isArray(src.shape) || !(src.data instanceof Float32Array || src.data instanceof Int32Array)) {
    return [`'${e.name}' is not a tensor ({ dtype, shape: number[], data: Float32Array | Int32Array })`];
  }
  if (src.data.length !== src.shape.reduce((a, b) => a * b, 1))
    return [`'${e.name}' has shape ${fmtShape(src.shape)} but ${src.data.length} values`];
  if (e.kind === 'counter') {
    if (src.data.length !== 1 || !Number.isInteger(src.data[0]) || src.data[0] < 0)
      return [`'${e.name}' must be one non-negative integer (num_batches_tracked), got ${fmtShape(src.shape)} ${src.dtype}`];
    return [];
  }
  if (!sameShape(src.shape, e.shape))
    return [`'${e.name}': torch-rechub's shape is ${fmtShape(src.shape)}, this model's ${fmtShape(e.shape)}`];
  if (src.dtype !== 'F32' || !(src.data instanceof Float32Array)) return [`'${e.name}' is ${src.dtype}; expected F32 (float32)`];
  let bad = 0;
  let first = -1;
  for (let i = 0; i < src.data.length; i++) {
    if (!Number.isFinite(src.data[i])) {
      bad++;
      if (first < 0) first = i;
    }
  }
  return bad ? [`'${e.name}' has ${bad} non-finite value(s), the first at flat index ${first} (${src.data[first]})`] : [];
}

/** torch's value of `e` into our layout, written into `host` (our tensor's values). */
function place(e: TorchTensorEntry, data: Float32Array, host: Float32Array): void {
  const { start } = span(e);
  if (!e.transposed) {
    host.set(data, start);
    return;
  }
  const [out, inF] = e.shape; // torch [out, in] → ours [in, out]
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) host[start + i * out + o] = data[o * inF + i];
}

/** Our values of `e` in torch's layout. */
function take(e: TorchTensorEntry, host: Float32Array): Float32Array {
  const { start, size } = span(e);
  if (!e.transposed) return host.slice(start, start + size);
  const [out, inF] = e.shape;
  const data = new Float32Array(size);
  for (let o = 0; o < out; o++) for (let i = 0; i < inF; i++) data[o * inF + i] = host[start + i * out + o];
  return data;
}

/** The model's entries, each of our tensors covered exactly once (a layout bug otherwise). */
function entriesOf(model: MultiTaskModel): TorchEntry[] {
  const entries = model.torchRechubEntries();
  const covered = new Map<Tensor, number>();
  for (const e of entries) if (e.kind !== 'counter') covered.set(e.tensor, (covered.get(e.tensor) ?? 0) + span(e).size);
  const own = new Set(Object.values(model.stateDict()));
  for (const t of own) {
    if (covered.get(t) !== t.size)
      throw new Error(
        `${model.constructor.name}: the torch-rechub layout covers ${covered.get(t) ?? 0} of the ${t.size} values of '${t.name}' (a bug in the model's torchRechubEntries)`,
      );
  }
  return entries;
}

/**
 * Loads a torch-rechub state dict (from `model.state_dict()`, e.g. saved with safetensors' save_file,
 * as bytes or decoded) into `model`. Strict: every tensor the model has must be there with torch's
 * shape, float32 and finite, and nothing else may be; otherwise a TorchRechubError lists every problem
 * and the model is left unchanged.
 */
export function importTorchRechub(model: MultiTaskModel, state: TorchStateDict | Uint8Array): void {
  let dict: TorchStateDict;
  try {
    dict = state instanceof Uint8Array ? decodeSafetensors(state, '(torch-rechub state dict)').tensors : state;
  } catch (e) {
    throw new TorchRechubError(
      `importTorchRechub: the bytes are not a readable safetensors file (${(e as Error).message}); nothing was loaded`,
    );
  }
  if (!dict || typeof dict !== 'object')
    throw new TorchRechubError(
      'importTorchRechub: expected safetensors bytes or a { name: { dtype, shape, data } } state dict; nothing was loaded',
    );
  const entries = entriesOf(model);
  const problems = entries.flatMap((e) => checkEntry(e, Object.hasOwn(dict, e.name) ? dict[e.name] : undefined));
  const known = new Set(entries.map((e) => e.name));
  for (const name of Object.keys(dict)) {
    if (known.has(name)) continue;
    const shape = (dict[name] as { shape?: unknown } | null)?.shape;
    problems.push(`unexpected '${name}'${Array.isArray(shape) ? ` ${fmtShape(shape)}` : ''}`);
  }
  if (problems.length) {
    throw new TorchRechubError(
      `importTorchRechub: the state dict does not fit this ${model.constructor.name} (torch-rechub ${model.torchRechubClass}); nothing was loaded`,
      problems,
    );
  }

  const hosts = new Map<Tensor, Float32Array>();
  for (const e of entries) {
    if (e.kind === 'counter') continue;
    let host = hosts.get(e.tensor);
    if (!host) hosts.set(e.tensor, (host = new Float32Array(e.tensor.size)));
    place(e, dict[e.name].data as Float32Array, host);
  }
  noGrad(() =>
    tidy(() => {
      for (const [t, host] of hosts) assign(t, fromArray(host, t.shape, { backend: t.backend }));
    }),
  );
  for (const e of entries) if (e.kind === 'counter') e.set(dict[e.name].data[0]);
}

/**
 * The model's weights as a torch-rechub state dict (names, layouts and order of `model.state_dict()`).
 * `{ gradients: true }`: instead, each parameter's current .grad under the parameter's name (what
 * torch's `{n: p.grad for n, p in model.named_parameters()}` holds; zeros where there is none), to
 * compare a training step with torch-rechub's.
 */
export async function exportTorchRechub(model: MultiTaskModel, opts: { gradients?: boolean } = {}): Promise<TorchStateDict> {
  checkOptionNames('exportTorchRechub', opts, ['gradients'], (m) => new TorchRechubError(m));
  const entries = entriesOf(model).filter((e) => !opts.gradients || e.kind === 'parameter');
  const hosts = new Map<Tensor, Float32Array>();
  for (const e of entries) {
    if (e.kind === 'counter' || hosts.has(e.tensor)) continue;
    const source = opts.gradients ? e.tensor.grad : e.tensor;
    hosts.set(e.tensor, source ? ((await source.data()) as Float32Array) : new Float32Array(e.tensor.size));
  }
  const out: TorchStateDict = {};
  for (const e of entries) {
    out[e.name] =
      e.kind === 'counter'
        ? { dtype: 'I32', shape: [], data: Int32Array.of(e.get()) }
        : { dtype: 'F32', shape: [...e.shape], data: take(e, hosts.get(e.tensor)!) };
  }
  return out;
}

/** exportTorchRechub as safetensors bytes (load in Python with safetensors.torch.load_file). */
export async function exportTorchRechubSafetensors(model: MultiTaskModel): Promise<Uint8Array> {
  return encodeSafetensors(await exportTorchRechub(model), { format: 'pt', 'webmtl.torch_rechub_class': model.torchRechubClass ?? '' });
}

// ---- building a model from torch-rechub's constructor arguments ----------------------------------

/** A feature as torch-rechub declares it (SparseFeature / DenseFeature / SequenceFeature arguments). */
export interface TorchRechubFeatureSpec {
  name: string;
  kind: 'sparse' | 'dense' | 'sequence';
  vocab_size?: number;
  embed_dim?: number;
  shared_with?: string | null;
  padding_idx?: number | null;
  pooling?: Pooling;
}

export interface TorchRechubModelSpec {
  /** torch-rechub's class name: SharedBottom, MMOE, PLE, ESMM, AITM. */
  class: string;
  /** Its constructor arguments under torch-rechub's names; feature arguments as lists of feature names. */
  constructor_args: Record<string, unknown>;
  features: TorchRechubFeatureSpec[];
}

const FEATURE_SPEC_KEYS = ['name', 'kind', 'vocab_size', 'embed_dim', 'shared_with', 'padding_idx', 'pooling'];

function buildFeature(f: TorchRechubFeatureSpec): Feature {
  checkOptionNames(`torchRechubModel: feature '${String(f?.name)}'`, f ?? {}, FEATURE_SPEC_KEYS, (m) => new TorchRechubError(m));
  const common = {
    name: f.name,
    vocabSize: f.vocab_size!,
    embedDim: f.embed_dim!,
    sharedWith: f.shared_with ?? undefined,
    paddingIdx: f.padding_idx ?? undefined,
  };
  switch (f.kind) {
    case 'sparse':
      return new SparseFeature(common);
    case 'sequence':
      return new SequenceFeature({ ...common, pooling: f.pooling });
    case 'dense':
      return new DenseFeature(f.name);
    default:
      throw new TorchRechubError(
        `torchRechubModel: feature '${String((f as { name?: unknown }).name)}' has kind '${String((f as { kind?: unknown }).kind)}'; use 'sparse', 'dense' or 'sequence'`,
      );
  }
}

type Args = Record<string, unknown>;
type ModelEntryOf = (typeof MODEL_ENTRIES)[number];
/** The registry's models that have a torch-rechub class. */
type TorchModel = Extract<ModelEntryOf, { torchRechubClass: string }>['name'];

/** Per model with a torch-rechub class: its constructor's arguments, and our options from them. */
const TORCH_ARGS: Record<TorchModel, { args: string[]; options: (a: Args, features: (key: string) => Feature[]) => object }> = {
  sharedbottom: {
    args: ['features', 'task_types', 'bottom_params', 'tower_params_list'],
    options: (a, f) => ({
      features: f('features'),
      taskTypes: a.task_types,
      bottomParams: a.bottom_params as MLPParams,
      towerParamsList: a.tower_params_list as MLPParams[],
    }),
  },
  mmoe: {
    args: ['features', 'task_types', 'n_expert', 'expert_params', 'tower_params_list'],
    options: (a, f) => ({
      features: f('features'),
      taskTypes: a.task_types,
      nExpert: a.n_expert as number,
      expertParams: a.expert_params as MLPParams,
      towerParamsList: a.tower_params_list as MLPParams[],
    }),
  },
  ple: {
    args: ['features', 'task_types', 'n_level', 'n_expert_specific', 'n_expert_shared', 'expert_params', 'tower_params_list'],
    options: (a, f) => ({
      features: f('features'),
      taskTypes: a.task_types,
      nLevel: a.n_level as number,
      nExpertSpecific: a.n_expert_specific as number,
      nExpertShared: a.n_expert_shared as number,
      expertParams: a.expert_params as MLPParams,
      towerParamsList: a.tower_params_list as MLPParams[],
    }),
  },
  esmm: {
    args: ['user_features', 'item_features', 'cvr_params', 'ctr_params'],
    options: (a, f) => ({
      userFeatures: f('user_features'),
      itemFeatures: f('item_features'),
      cvrParams: a.cvr_params as MLPParams,
      ctrParams: a.ctr_params as MLPParams,
    }),
  },
  aitm: {
    args: ['features', 'n_task', 'bottom_params', 'tower_params_list'],
    // torch-rechub's AITM has no behavioural-expectation calibrator: build it without one.
    options: (a, f) => ({
      features: f('features'),
      nTask: a.n_task as number,
      bottomParams: a.bottom_params as MLPParams,
      towerParamsList: a.tower_params_list as MLPParams[],
      calibratorWeight: 0,
    }),
  },
};

/** The registry entry of a torch-rechub class name, with its argument conversion. */
function torchClass(
  name: string,
): { entry: ModelEntryOf; args: string[]; options: (a: Args, features: (key: string) => Feature[]) => object } | undefined {
  const entry = MODEL_ENTRIES.find((e) => e.torchRechubClass !== null && e.torchRechubClass === name);
  return entry ? { entry, ...TORCH_ARGS[entry.name as TorchModel] } : undefined;
}

/**
 * Our model for torch-rechub's class and constructor arguments (as torch-rechub names them; feature
 * arguments are lists of feature names, declared in `features`). An AITM is built without the paper's
 * calibrator, as torch-rechub's AITM has none. Unknown classes or arguments are errors.
 */
export function torchRechubModel(spec: TorchRechubModelSpec): MultiTaskModel {
  const cls = torchClass(spec.class);
  if (!cls) {
    const known = MODEL_ENTRIES.flatMap((e) => (e.torchRechubClass === null ? [] : [e.torchRechubClass]));
    const without = MODEL_ENTRIES.filter((e) => e.torchRechubClass === null).map((e) => e.aliases[0] ?? e.name);
    throw new TorchRechubError(
      `torchRechubModel: unknown torch-rechub class '${spec.class}'; known: ${known.join(', ')}${without.length ? ` (${without.join(', ')} ${without.length > 1 ? 'have' : 'has'} no torch-rechub class)` : ''}`,
    );
  }
  const args = spec.constructor_args ?? {};
  const unknown = unknownKeys(args, cls.args);
  if (unknown.length)
    throw new TorchRechubError(
      `torchRechubModel: ${spec.class} has no argument ${describeUnknown(unknown, cls.args)}; its arguments are ${cls.args.join(', ')}`,
    );
  const byName = new Map(spec.features.map((f) => [f.name, buildFeature(f)]));
  const features = (key: string): Feature[] => {
    const names = args[key];
    if (!Array.isArray(names))
      throw new TorchRechubError(`torchRechubModel: ${spec.class} argument '${key}' must be a list of feature names`);
    return names.map(
      (n) =>
        byName.get(String(n)) ??
        (() => {
          throw new TorchRechubError(`torchRechubModel: '${key}' names feature '${String(n)}', which 'features' does not declare`);
        })(),
    );
  };
  return cls.entry.build(cls.options(args, features));
}
