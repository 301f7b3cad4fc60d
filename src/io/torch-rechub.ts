// torch-rechub interchange: build our model from torch-rechub's constructor arguments, and move weights
// in and out in its state-dict names and layouts (Linear weights [out, in], one module per expert,
// BatchNorm's running statistics and num_batches_tracked). Each model lists where its tensors sit
// (MultiTaskModel.torchRechubEntries); this file only reads those lists. Also the architecture both
// ways (torchRechubModel, torchRechubSpec: one table of argument names, TORCH_ARGS) and the two files
// a torch-rechub user loads (exportTorchRechubFiles / importTorchRechubFiles). Browser-safe.
import { DenseFeature, type Feature, type FeatureJSON, type Pooling, SequenceFeature, SparseFeature } from '../features.js';
import { DEFAULT_TOWER_UNITS, defaultTowers, type MLPParams, MultiTaskModel, type TaskType } from '../models/base.js';
import { MODEL_ENTRIES } from '../models/registry.js';
import type { TorchEntry, TorchTensorEntry } from '../nn/torch-layout.js';
import { checkOptionNames, describeUnknown, unknownKeys } from '../options.js';
import { noGrad, tidy } from '../tensor/engine.js';
import { assign } from '../tensor/ops.js';
import { globalRng } from '../tensor/random.js';
import { fmtShape, fromArray, type Tensor } from '../tensor/tensor.js';
import { VERSION } from '../version.js';
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

// ---- torch-rechub's constructor arguments ↔ our model options ------------------------------------

/** A feature as torch-rechub declares it (SparseFeature / DenseFeature / SequenceFeature arguments). */
export interface TorchRechubFeatureSpec {
  name: string;
  kind: 'sparse' | 'dense' | 'sequence';
  /** Sparse and sequence features; a dense feature has none (null or left out). */
  vocab_size?: number | null;
  /** Sparse and sequence features; a dense feature's is 1 (torch-rechub's DenseFeature.embed_dim). */
  embed_dim?: number;
  shared_with?: string | null;
  padding_idx?: number | null;
  /** Sequence features: 'mean' or 'sum' (torch-rechub's multi-task models cannot take 'concat'). */
  pooling?: Pooling;
}

export interface TorchRechubModelSpec {
  /** torch-rechub's class name: SharedBottom, MMOE, PLE, ESMM, AITM. */
  class: string;
  /** Its constructor arguments under torch-rechub's names; feature arguments as lists of feature names. */
  constructor_args: Record<string, unknown>;
  features: TorchRechubFeatureSpec[];
  /**
   * torchRechubSpec: what torch-rechub will do differently from webmtl with this model (AITM's
   * calibrator); left out when nothing. The weights and predictions are the same either way.
   */
  notes?: string[];
}

const FEATURE_SPEC_KEYS = ['name', 'kind', 'vocab_size', 'embed_dim', 'shared_with', 'padding_idx', 'pooling'];

function buildFeature(f: TorchRechubFeatureSpec, where: string): Feature {
  if (!f || typeof f !== 'object' || Array.isArray(f))
    throw new TorchRechubError(`${where}: a feature must be { name, kind, vocab_size, embed_dim, ... }, got ${JSON.stringify(f)}`);
  checkOptionNames(`${where}: feature '${String(f.name)}'`, f, FEATURE_SPEC_KEYS, (m) => new TorchRechubError(m));
  const common = {
    name: f.name,
    vocabSize: f.vocab_size!,
    embedDim: f.embed_dim!,
    sharedWith: f.shared_with ?? undefined,
    paddingIdx: f.padding_idx ?? undefined,
  };
  switch (f.kind) {
    case 'sparse':
      if (f.pooling !== undefined)
        throw new TorchRechubError(`${where}: sparse feature '${f.name}' takes no pooling (a sequence feature does)`);
      return new SparseFeature(common);
    case 'sequence':
      if (f.pooling === 'concat')
        throw new TorchRechubError(
          `${where}: sequence feature '${f.name}' has pooling 'concat', which torch-rechub's multi-task models cannot take (their input is one embed_dim per feature); use 'mean' or 'sum'`,
        );
      return new SequenceFeature({ ...common, pooling: f.pooling });
    case 'dense': {
      const extra: string[] = (['vocab_size', 'shared_with', 'padding_idx', 'pooling'] as const).filter((k) => (f[k] ?? null) !== null);
      if ((f.embed_dim ?? 1) !== 1) extra.push('embed_dim');
      if (extra.length)
        throw new TorchRechubError(
          `${where}: dense feature '${f.name}' has ${extra.join(', ')}; torch-rechub's DenseFeature takes only a name (its embed_dim is 1)`,
        );
      return new DenseFeature(f.name);
    }
    default:
      throw new TorchRechubError(
        `${where}: feature '${String((f as { name?: unknown }).name)}' has kind '${String((f as { kind?: unknown }).kind)}'; use 'sparse', 'dense' or 'sequence'`,
      );
  }
}

/** A torch-rechub feature from our FeatureJSON (model.config()); what torch-rechub cannot take goes into `problems`. */
function featureSpec(f: FeatureJSON, problems: string[]): TorchRechubFeatureSpec {
  if (f.kind === 'dense') return { name: f.name, kind: 'dense', vocab_size: null, embed_dim: 1 };
  const spec: TorchRechubFeatureSpec = { name: f.name, kind: f.kind, vocab_size: f.vocabSize, embed_dim: f.embedDim };
  if (f.kind === 'sequence') {
    if (f.pooling === 'concat')
      problems.push(
        `feature '${f.name}': pooling 'concat' has no torch-rechub counterpart in its multi-task models (they size the input as one embed_dim per feature); fix: use pooling 'mean' or 'sum'`,
      );
    spec.pooling = f.pooling;
  }
  if (f.sharedWith !== undefined) spec.shared_with = f.sharedWith;
  if (f.paddingIdx !== undefined) spec.padding_idx = f.paddingIdx;
  return spec;
}

/** The activations of torch-rechub's MLP (basic/activation.py) that compute what ours do. */
const TORCH_ACTIVATIONS = ['relu', 'sigmoid', 'prelu', 'leakyrelu', 'softmax'];

/** An MLP's parameters as torch-rechub writes them: { dims, activation, dropout }, defaults made explicit. */
function mlpSpec(p: MLPParams, where: string, problems: string[]): { dims: number[]; activation: string; dropout: number } {
  const activation = String(p.activation ?? 'relu').toLowerCase();
  if (!TORCH_ACTIVATIONS.includes(activation)) {
    const why =
      activation === 'dice'
        ? "torch-rechub's Dice is another function (one α, no BatchNorm)"
        : `torch-rechub's MLP has no activation '${p.activation}'`;
    problems.push(`${where}.activation: ${why}; fix: train with one of ${TORCH_ACTIVATIONS.join(', ')} to export`);
  }
  return { dims: [...p.dims], activation, dropout: p.dropout ?? 0 };
}

type Args = Record<string, unknown>;
type ModelEntryOf = (typeof MODEL_ENTRIES)[number];
/** The registry's models that have a torch-rechub class. */
type TorchModel = Extract<ModelEntryOf, { torchRechubClass: string }>['name'];

/**
 * How a constructor argument's value is written: a list of feature names, one MLP's parameters, one
 * per task, the task types (always the model's, normalised), or as it is.
 */
type ArgKind = 'features' | 'mlp' | 'mlps' | 'taskTypes' | 'value';

interface TorchClassArgs {
  /** torch-rechub's constructor arguments in its order: [its name, our option, kind]. The one table of names. */
  args: readonly (readonly [arg: string, option: string, kind: ArgKind])[];
  /** Values for required arguments our model took a default for (by our option name). */
  defaults: (model: MultiTaskModel) => Record<string, unknown>;
  /** Options a model built from torch-rechub's arguments gets besides them. */
  imported?: Record<string, unknown>;
  /** Our options without a torch-rechub argument that `check` judges (taskNames is always fine: model.json carries it). */
  unexpressed?: readonly string[];
  /** Whether the constructor takes taskNames (ESMM's outputs are always cvr, ctr, ctcvr). */
  taskNames: boolean;
  /**
   * Export: what torch-rechub's class cannot do that this model does (`problems`, each with its fix),
   * and what it will do differently in training only (`notes`). `options`: the config's, defaults filled.
   */
  check?: (options: Args, model: MultiTaskModel, problems: string[], notes: string[]) => void;
}

const FEATURES = ['features', 'features', 'features'] as const;
const TASK_TYPES = ['task_types', 'taskTypes', 'taskTypes'] as const;
const TOWERS = ['tower_params_list', 'towerParamsList', 'mlps'] as const;
const defaultTowerList = (m: MultiTaskModel) => ({ towerParamsList: defaultTowers(m.nTask) });

/** Per model with a torch-rechub class: its constructor's arguments ↔ our options, both ways. */
const TORCH_ARGS: Record<TorchModel, TorchClassArgs> = {
  sharedbottom: {
    args: [FEATURES, TASK_TYPES, ['bottom_params', 'bottomParams', 'mlp'], TOWERS],
    defaults: defaultTowerList,
    taskNames: true,
  },
  mmoe: {
    args: [FEATURES, TASK_TYPES, ['n_expert', 'nExpert', 'value'], ['expert_params', 'expertParams', 'mlp'], TOWERS],
    defaults: defaultTowerList,
    unexpressed: ['gateActivation'],
    check: (o, _, problems) => {
      const gate = String(o.gateActivation ?? 'softmax');
      if (gate.toLowerCase() !== 'softmax')
        problems.push(
          `gateActivation '${gate}': torch-rechub's MMOE has softmax gates only; fix: train the MMoE with gateActivation 'softmax' (the default) to export it`,
        );
    },
    taskNames: true,
  },
  ple: {
    args: [
      FEATURES,
      TASK_TYPES,
      ['n_level', 'nLevel', 'value'],
      ['n_expert_specific', 'nExpertSpecific', 'value'],
      ['n_expert_shared', 'nExpertShared', 'value'],
      ['expert_params', 'expertParams', 'mlp'],
      TOWERS,
    ],
    defaults: (m) => ({ nLevel: 1, ...defaultTowerList(m) }),
    taskNames: true,
  },
  esmm: {
    args: [
      ['user_features', 'userFeatures', 'features'],
      ['item_features', 'itemFeatures', 'features'],
      ['cvr_params', 'cvrParams', 'mlp'],
      ['ctr_params', 'ctrParams', 'mlp'],
    ],
    defaults: () => ({ itemFeatures: [], cvrParams: { dims: [...DEFAULT_TOWER_UNITS] }, ctrParams: { dims: [...DEFAULT_TOWER_UNITS] } }),
    taskNames: false,
    // torch-rechub's ESMM reads both groups with squeeze_dim=False ([batch, n, embed_dim], so one
    // embed_dim per group, dense values dropped) and sizes its towers from user_features[0] and item_features[0].
    check: (o, _, problems) => {
      for (const [option, arg] of [
        ['userFeatures', 'user_features'],
        ['itemFeatures', 'item_features'],
      ]) {
        const group = (o[option] ?? []) as FeatureJSON[];
        if (!group.length)
          problems.push(
            `${arg} is empty: torch-rechub's ESMM needs user and item features; fix: build the ESMM with userFeatures and itemFeatures`,
          );
        const dense = group.filter((f) => f.kind === 'dense').map((f) => f.name);
        if (dense.length)
          problems.push(
            `${arg} has dense feature(s) ${dense.join(', ')}: torch-rechub's ESMM reads sparse and sequence features only; fix: leave them out`,
          );
        const dims = [...new Set(group.flatMap((f) => (f.kind === 'dense' ? [] : [f.embedDim])))];
        if (dims.length > 1)
          problems.push(
            `${arg} mixes embedding sizes ${dims.join(', ')}: torch-rechub's ESMM needs one embed_dim per group; fix: give them one size`,
          );
      }
    },
  },
  aitm: {
    args: [FEATURES, ['n_task', 'nTask', 'value'], ['bottom_params', 'bottomParams', 'mlp'], TOWERS],
    defaults: (m) => ({ nTask: m.nTask, ...defaultTowerList(m) }),
    // torch-rechub's AITM has no behavioural-expectation calibrator: build it without one.
    imported: { calibratorWeight: 0 },
    unexpressed: ['taskTypes', 'calibratorWeight'],
    check: (_, m, problems, notes) => {
      if (!m.taskTypes.every((t) => t === 'classification'))
        problems.push(
          `taskTypes ${JSON.stringify(m.taskTypes)}: torch-rechub's AITM has classification tasks only (n_task, a sigmoid on every output); fix: make every task a classification task`,
        );
      const alpha = (m as MultiTaskModel & { calibratorWeight?: number }).calibratorWeight ?? 0;
      if (alpha > 0)
        notes.push(
          `AITM: webmtl trains this model with the behavioural-expectation calibrator (calibratorWeight ${alpha}); torch-rechub's AITM has none, so training there goes on without it. Weights and predictions are the same; a model imported back has calibratorWeight 0 until you set it.`,
        );
    },
    taskNames: true,
  },
};

/** The registry entry of a torch-rechub class name, with its argument table. */
function torchClass(name: string): { entry: ModelEntryOf; decl: TorchClassArgs } | undefined {
  const entry = MODEL_ENTRIES.find((e) => e.torchRechubClass !== null && e.torchRechubClass === name);
  return entry ? { entry, decl: TORCH_ARGS[entry.name as TorchModel] } : undefined;
}

const TORCH_CLASSES = (): string[] => MODEL_ENTRIES.flatMap((e) => (e.torchRechubClass === null ? [] : [e.torchRechubClass]));

/** The model a spec describes (torchRechubModel, importTorchRechubFiles); `extra`: options of ours besides the arguments. */
function buildModel(spec: TorchRechubModelSpec, where: string, extra: Args = {}): MultiTaskModel {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec))
    throw new TorchRechubError(`${where}: expected { class, constructor_args, features }, got ${JSON.stringify(spec)}`);
  const cls = typeof spec.class === 'string' ? torchClass(spec.class) : undefined;
  if (!cls) {
    const without = MODEL_ENTRIES.filter((e) => e.torchRechubClass === null).map((e) => e.aliases[0] ?? e.name);
    throw new TorchRechubError(
      `${where}: unknown torch-rechub class '${String(spec.class)}'; known: ${TORCH_CLASSES().join(', ')}${without.length ? ` (${without.join(', ')} ${without.length > 1 ? 'have' : 'has'} no torch-rechub class)` : ''}`,
    );
  }
  const args = spec.constructor_args ?? {};
  if (typeof args !== 'object' || Array.isArray(args))
    throw new TorchRechubError(`${where}: constructor_args must be an object of ${spec.class}'s arguments`);
  const argNames = cls.decl.args.map(([arg]) => arg);
  const unknown = unknownKeys(args, argNames);
  if (unknown.length)
    throw new TorchRechubError(
      `${where}: ${spec.class} has no argument ${describeUnknown(unknown, argNames)}; its arguments are ${argNames.join(', ')}`,
    );
  if (!Array.isArray(spec.features)) throw new TorchRechubError(`${where}: features must be a list of { name, kind, ... }`);
  const byName = new Map<string, Feature>();
  for (const f of spec.features) {
    const feature = buildFeature(f, where);
    if (byName.has(feature.name)) throw new TorchRechubError(`${where}: features declares '${feature.name}' twice`);
    byName.set(feature.name, feature);
  }
  const features = (key: string): Feature[] => {
    const names = args[key];
    if (!Array.isArray(names)) throw new TorchRechubError(`${where}: ${spec.class} argument '${key}' must be a list of feature names`);
    return names.map(
      (n) =>
        byName.get(String(n)) ??
        (() => {
          throw new TorchRechubError(`${where}: '${key}' names feature '${String(n)}', which 'features' does not declare`);
        })(),
    );
  };
  const options: Args = {};
  for (const [arg, option, kind] of cls.decl.args) options[option] = kind === 'features' ? features(arg) : args[arg];
  return cls.entry.build({ ...options, ...cls.decl.imported, ...extra });
}

/**
 * Our model for torch-rechub's class and constructor arguments (as torch-rechub names them; feature
 * arguments are lists of feature names, declared in `features`). An AITM is built without the paper's
 * calibrator, as torch-rechub's AITM has none. Unknown classes or arguments are errors.
 */
export function torchRechubModel(spec: TorchRechubModelSpec): MultiTaskModel {
  return buildModel(spec, 'torchRechubModel');
}

/**
 * torchRechubModel's inverse: the torch-rechub class, constructor arguments (torch-rechub's names,
 * feature arguments as lists of names, MLP parameters as { dims, activation, dropout }) and features
 * that build this model's architecture in torch-rechub, from model.config(). What torch-rechub cannot
 * express (OMoE, sigmoid gates, 'concat' pooling, Dice/tanh/linear activations, ESMM with mixed
 * embedding sizes or dense features, AITM with regression tasks) is a TorchRechubError listing each
 * problem and its fix. AITM's calibrator only shapes training: such a model exports, with a note.
 */
export function torchRechubSpec(model: MultiTaskModel): TorchRechubModelSpec {
  if (!(model instanceof MultiTaskModel))
    throw new TorchRechubError(`torchRechubSpec: expected a webmtl model (SharedBottom, MMoE, PLE, ESMM, AITM), got ${String(model)}`);
  const config = model.config();
  const cls = model.torchRechubClass;
  const decl = cls === null ? undefined : (TORCH_ARGS as Record<string, TorchClassArgs>)[config.model];
  if (cls === null || !decl)
    throw new TorchRechubError(
      `torchRechubSpec: ${model.constructor.name} has no torch-rechub class (torch-rechub's multi-task models are ${TORCH_CLASSES().join(', ')}); fix: train one of those to move to torch-rechub${config.model === 'omoe' ? " (MMoE is OMoE with one gate per task: model 'mmoe')" : ''}`,
    );
  const problems: string[] = [];
  const notes: string[] = [];
  const options = config.options;
  const defaults = decl.defaults(model);
  const own = new Set(decl.args.map(([, option]) => option));
  for (const option of Object.keys(options)) {
    if (!own.has(option) && option !== 'taskNames' && !decl.unexpressed?.includes(option))
      problems.push(`option '${option}' has no torch-rechub argument in ${cls}; fix: build the model without it to export`);
  }
  decl.check?.({ ...defaults, ...options }, model, problems, notes);

  const features = new Map<string, TorchRechubFeatureSpec>();
  const constructorArgs: Args = {};
  for (const [arg, option, kind] of decl.args) {
    const value = options[option] ?? defaults[option];
    if (value === undefined && kind !== 'taskTypes')
      throw new Error(`torchRechubSpec: ${model.constructor.name}'s config has no ${option} and no default for it (a bug)`);
    switch (kind) {
      case 'features':
        constructorArgs[arg] = (value as FeatureJSON[]).map((f) => {
          if (!features.has(f.name)) features.set(f.name, featureSpec(f, problems));
          return f.name;
        });
        break;
      case 'mlp':
        constructorArgs[arg] = mlpSpec(value as MLPParams, arg, problems);
        break;
      case 'mlps':
        constructorArgs[arg] = (value as MLPParams[]).map((p, i) => mlpSpec(p, `${arg}[${i}]`, problems));
        break;
      case 'taskTypes':
        constructorArgs[arg] = [...model.taskTypes];
        break;
      default:
        constructorArgs[arg] = value;
    }
  }
  if (problems.length)
    throw new TorchRechubError(`torchRechubSpec: this ${model.constructor.name} cannot be expressed in torch-rechub's ${cls}`, problems);
  return { class: cls, constructor_args: constructorArgs, features: [...features.values()], ...(notes.length && { notes }) };
}

// ---- the two files: model.json + state_dict.safetensors ------------------------------------------

/** The format tag of model.json (exportTorchRechubFiles / importTorchRechubFiles). */
export const TORCH_RECHUB_FILES_FORMAT = 'webmtl-torch-rechub';
export const TORCH_RECHUB_FILES_VERSION = 1;
/** Where torch-rechub's multi-task classes live (the spec's `module`). */
const TORCH_RECHUB_MODULE = 'torch_rechub.models.multi_task';

/** model.json: torchRechubSpec plus the format tag and the model's outputs. Plain JSON. */
export interface TorchRechubFilesSpec extends TorchRechubModelSpec {
  format: typeof TORCH_RECHUB_FILES_FORMAT;
  version: typeof TORCH_RECHUB_FILES_VERSION;
  /** The webmtl that wrote it (left out by other writers). */
  webmtl_version?: string;
  /** torch_rechub.models.multi_task. */
  module?: string;
  /** One name per output column (ESMM: cvr, ctr, ctcvr); optional on import (default task0, task1, ...). */
  task_names?: string[];
  /** One type per output column; optional on import, checked against the model when given. */
  task_types?: TaskType[];
}

/** A model as torch-rechub reads it: model.json's object and state_dict.safetensors' bytes. */
export interface TorchRechubFiles {
  spec: TorchRechubFilesSpec;
  stateDict: Uint8Array;
}

const FILES_SPEC_KEYS = [
  'format',
  'version',
  'webmtl_version',
  'module',
  'class',
  'constructor_args',
  'features',
  'task_names',
  'task_types',
  'notes',
];

/**
 * The model as the two files a torch-rechub user loads (docs/scale-out.md): `spec` for model.json
 * (torchRechubSpec, tagged { format: 'webmtl-torch-rechub', version: 1 }, with the task names and
 * types of the output columns) and `stateDict`, the weights as safetensors in torch-rechub's names
 * (exportTorchRechubSafetensors). Browser-safe; errors as torchRechubSpec.
 */
export async function exportTorchRechubFiles(model: MultiTaskModel): Promise<TorchRechubFiles> {
  const { notes, ...spec } = torchRechubSpec(model);
  const stateDict = await exportTorchRechubSafetensors(model);
  return {
    spec: {
      format: TORCH_RECHUB_FILES_FORMAT,
      version: TORCH_RECHUB_FILES_VERSION,
      webmtl_version: VERSION,
      module: TORCH_RECHUB_MODULE,
      ...spec,
      task_names: [...model.taskNames],
      task_types: [...model.taskTypes],
      ...(notes && { notes }),
    },
    stateDict,
  };
}

/**
 * exportTorchRechubFiles' inverse, also for files a torch-rechub user wrote: the model model.json
 * describes with the weights of `stateDict` (safetensors bytes or decoded). Strict and all-or-nothing:
 * an unknown key, class, argument or feature, a feature argument naming an undeclared feature, a
 * declared feature no argument uses, task names or types that do not fit, and every state-dict problem
 * of importTorchRechub are TorchRechubErrors, and no model comes back.
 */
export function importTorchRechubFiles(spec: TorchRechubFilesSpec, stateDict: Uint8Array | TorchStateDict): MultiTaskModel {
  const where = 'importTorchRechubFiles: model.json';
  if (!spec || typeof spec !== 'object' || Array.isArray(spec))
    throw new TorchRechubError(`${where} must be an object { format, version, class, constructor_args, features, ... }`);
  const unknown = unknownKeys(spec, FILES_SPEC_KEYS);
  if (unknown.length)
    throw new TorchRechubError(
      `${where} has no key ${describeUnknown(unknown, FILES_SPEC_KEYS)}; its keys are ${FILES_SPEC_KEYS.join(', ')}`,
    );
  if (spec.format !== TORCH_RECHUB_FILES_FORMAT || spec.version !== TORCH_RECHUB_FILES_VERSION)
    throw new TorchRechubError(
      `${where}: format ${JSON.stringify(spec.format)} version ${JSON.stringify(spec.version)}; this webmtl reads "format": "${TORCH_RECHUB_FILES_FORMAT}", "version": ${TORCH_RECHUB_FILES_VERSION} (examples/torch-rechub/load_webmtl_export.py's save_webmtl_export writes them)`,
    );
  if (spec.module !== undefined && spec.module !== TORCH_RECHUB_MODULE)
    throw new TorchRechubError(`${where}: module '${String(spec.module)}'; webmtl reads torch-rechub's ${TORCH_RECHUB_MODULE} classes`);
  const names = spec.task_names;
  if (names !== undefined && !(Array.isArray(names) && names.every((n) => typeof n === 'string' && n !== '')))
    throw new TorchRechubError(`${where}: task_names must be a list of non-empty names, one per output column`);
  if (spec.task_types !== undefined && !(Array.isArray(spec.task_types) && spec.task_types.every((t) => typeof t === 'string')))
    throw new TorchRechubError(`${where}: task_types must be a list of 'classification' | 'regression', one per output column`);

  // Task names other than the default task0, task1, ... go to a constructor that takes them (ESMM's are fixed).
  const takesNames = typeof spec.class === 'string' && torchClass(spec.class)?.decl.taskNames === true;
  const ownNames = names?.some((n, i) => n !== `task${i}`) ? { taskNames: names } : {};
  let model: MultiTaskModel;
  // The fresh weights drawn to build the model are replaced by the file's: the caller's global random
  // stream is put back where it was.
  const rng = globalRng();
  const before = rng.getState();
  try {
    model = buildModel(spec, where, takesNames ? ownNames : {});
  } catch (e) {
    if (e instanceof TorchRechubError) throw e;
    throw new TorchRechubError(`${where}: ${spec.class}(${Object.keys(spec.constructor_args ?? {}).join(', ')}): ${(e as Error).message}`);
  } finally {
    rng.setState(before);
  }
  try {
    const problems: string[] = [];
    const used = new Set(model.features.map((f) => f.name));
    for (const f of spec.features)
      if (!used.has(f.name)) problems.push(`features declares '${f.name}', which no feature argument of ${spec.class} names`);
    if (names && !sameList(names, model.taskNames))
      problems.push(`task_names ${JSON.stringify(names)}: ${spec.class}'s outputs are ${JSON.stringify(model.taskNames)}`);
    if (spec.task_types && !sameList(spec.task_types, model.taskTypes))
      problems.push(
        `task_types ${JSON.stringify(spec.task_types)}: the model built from constructor_args has ${JSON.stringify(model.taskTypes)}`,
      );
    if (problems.length) throw new TorchRechubError(`${where} does not describe one model; nothing was loaded`, problems);
    importTorchRechub(model, stateDict);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

const sameList = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
