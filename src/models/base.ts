// What every multi-task model shares: its features and tasks, [batch, nTask] outputs (probabilities
// for classification tasks, raw values for regression), predict(), the gate weights of the last
// forward (MoE models), and which parameters are shared and which belong to one task.
import { CpuBackend } from '../backend/cpu/cpu-backend.js';
import { type Feature, type FeatureJSON, featureToJSON, SequenceFeature, SparseFeature } from '../features.js';
import type { FeatureBatch } from '../nn/embedding-layer.js';
import type { Experts, Gate } from '../nn/experts.js';
import type { ActivationName, MLPOptions } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { checkOptionNames } from '../options.js';
import { type Spellings, toInternal } from '../spellings.js';
import { getBackend, keep, noGrad, setBackend, tidy } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { Random, seed as seedGlobal } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromArray, grad } from '../tensor/tensor.js';

export type TaskType = 'classification' | 'regression';
/** 'binary' is accepted as another name for 'classification' (the tutorials use both). */
export type TaskTypeInput = TaskType | 'binary';

/** An MLP's shape as torch-rechub writes it: { dims, dropout, activation }. */
export interface MLPParams {
  dims: number[];
  dropout?: number;
  activation?: ActivationName | string;
}

/** One loss the trainer minimises, or one score evaluation reports. */
export interface TaskTerm {
  name: string;
  type: TaskType;
  /** Column of the model output [batch, nOut]. */
  output: number;
  /** Column of the labels [batch, nLabel]. */
  label: number;
  /** Evaluate only rows where this label column is 1 (ESMM's CVR: clicked rows). */
  onlyWhere?: number;
}

/** Which model output is trained and evaluated against which label column. */
export interface TaskPlan {
  /** The losses the trainer minimises, in order (task weights and balancing refer to these). */
  train: TaskTerm[];
  /** What evaluation reports. */
  evaluate: TaskTerm[];
  /** Number of label columns the data must have. */
  nLabel: number;
}

/**
 * One gate of a mixture-of-experts model: a softmax over the experts it mixes, whose weights the last
 * forward left in lastGateWeights[key]. `experts` lists the Experts modules it mixes, each with the
 * position of its first expert among the gate's weights.
 */
export interface GateMixture {
  key: string;
  gate: Gate;
  experts: { module: Experts; offset: number }[];
  /** The output columns whose own gate this is (every task for a gate all tasks read; none for PLE's shared gate). */
  tasks: number[];
}

export interface ParameterGroups {
  /** Embeddings, bottoms, shared experts and shared gates. */
  shared: [string, Tensor][];
  /** perTask[i]: the towers, gates and experts that only task i uses. */
  perTask: [string, Tensor][][];
}

/** The options every model that reads one feature list takes (torch-rechub's names; tutorial spellings in spellings.ts). */
export interface TaskOptions extends SeedOption {
  features: Feature[];
  taskTypes?: TaskTypeInput[];
  /** Names used for gate weights and by the trainer; default task0, task1, ... */
  taskNames?: string[];
}

export function normalizeTaskType(t: string, model: string): TaskType {
  const k = t.toLowerCase();
  if (k === 'classification' || k === 'binary') return 'classification';
  if (k === 'regression') return 'regression';
  throw new Error(`${model}: unknown task type '${t}'; use 'classification' (or 'binary') or 'regression'`);
}

/** The task types from taskTypes / nTask / the number of towers, checked against each other. */
export function resolveTaskTypes(model: string, opts: { taskTypes?: TaskTypeInput[]; nTask?: number }, nTowers?: number): TaskType[] {
  const n = opts.taskTypes?.length ?? opts.nTask ?? nTowers;
  if (n === undefined || !Number.isInteger(n) || n < 1) {
    throw new Error(`${model}: say how many tasks there are: taskTypes (e.g. ['classification', 'classification']) or numTasks`);
  }
  if (opts.nTask !== undefined && opts.nTask !== n) {
    throw new Error(`${model}: nTask is ${opts.nTask} but taskTypes lists ${n} tasks`);
  }
  if (nTowers !== undefined && nTowers !== n) {
    throw new Error(`${model}: ${nTowers} tower parameter sets for ${n} tasks; give one per task`);
  }
  return (opts.taskTypes ?? Array<TaskTypeInput>(n).fill('classification')).map((t) => normalizeTaskType(t, model));
}

/**
 * The options in the internal vocabulary (torch-rechub's names), whichever spelling was given; every
 * model constructor starts with it. Unknown names, nulls and disagreeing double spellings are errors.
 */
export function modelOptions<T extends object>(model: string, given: unknown, internal: readonly string[], spellings: Spellings): T {
  const { seed, ...opts } = toInternal<T & { seed?: number }>(model, given, [...internal, 'seed'], spellings, {
    withEmbeddingDim: (features, dim) => withEmbeddingDim(features as Feature[], dim),
  });
  if (seed !== undefined) {
    if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff))
      throw new Error(`${model}: seed must be a whole number in [0, 2^32), got ${seed}`);
    // Every constructor calls this before it builds a layer, so the initial weights follow from the seed.
    seedGlobal(seed);
  }
  return opts as T;
}

/** The options every model takes besides its own: `seed` seeds the global random generator before the model's weights are drawn (wm.seed(seed)). */
export interface SeedOption {
  seed?: number;
}

/**
 * The tower a task gets when towerParamsList (or towerUnits / taskHiddenUnits) is left out: one hidden
 * layer of 32 units, then Linear(→ 1). torch-rechub has no default (it requires tower_params_list);
 * the tutorials' simple constructors leave the towers out.
 */
export const DEFAULT_TOWER_UNITS: readonly number[] = [32];

/** One DEFAULT_TOWER_UNITS tower per task. */
export function defaultTowers(nTask: number): MLPParams[] {
  return Array.from({ length: nTask }, () => ({ dims: [...DEFAULT_TOWER_UNITS] }));
}

/** Features with every sparse/sequence embedding size replaced by `dim` (new objects; inputs untouched). */
export function withEmbeddingDim(features: Feature[], dim: number | undefined): Feature[] {
  if (dim === undefined) return features;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`embeddingDim must be a positive integer, got ${dim}`);
  return features.map((f) => {
    if (f.kind === 'dense') return f;
    const common = { name: f.name, vocabSize: f.vocabSize, embedDim: dim, sharedWith: f.sharedWith, paddingIdx: f.paddingIdx };
    return f.kind === 'sparse' ? new SparseFeature(common) : new SequenceFeature({ ...common, pooling: f.pooling, maxLen: f.maxLen });
  });
}

/** The MLP options of a tower: the given block sizes, always ending in Linear(→ 1). */
export function towerOptions(p: MLPParams): MLPOptions {
  return { dims: p.dims, dropout: p.dropout, activation: p.activation, outputLayer: true };
}

/** The option names every model that reads one feature list takes (TaskOptions). */
export const TASK_OPTION_NAMES = ['features', 'taskTypes', 'taskNames'] as const;
const MLP_PARAM_NAMES = ['dims', 'dropout', 'activation'];
/** The options that hold feature lists (a config stores them as FeatureJSON). */
export const FEATURE_LISTS: readonly string[] = ['features', 'userFeatures', 'itemFeatures'];

/**
 * Refuses what a model would otherwise ignore or trip over: unknown option names (with the known
 * ones listed), null values (leave an option out for its default), feature lists that are not arrays,
 * and MLP parameter objects (`mlpOptions`: single objects or, for towerParamsList, arrays of them)
 * that are not { dims: number[], dropout?, activation? }.
 */
export function checkModelOptions(model: string, opts: unknown, known: readonly string[], mlpOptions: readonly string[]): void {
  if (!opts || typeof opts !== 'object' || Array.isArray(opts))
    throw new Error(`${model}: options must be an object, got ${JSON.stringify(opts) ?? String(opts)}`);
  const o = opts as Record<string, unknown>;
  checkOptionNames(model, o, known);
  for (const [k, v] of Object.entries(o)) {
    if (v === null) throw new Error(`${model}: ${k} is null; pass a value, or leave it out for the default`);
    if (FEATURE_LISTS.includes(k) && v !== undefined && !Array.isArray(v))
      throw new Error(`${model}: ${k} must be a list of features (SparseFeature, DenseFeature, SequenceFeature), got ${typeof v}`);
  }
  const checkMlp = (what: string, p: unknown) => {
    if (!p || typeof p !== 'object' || Array.isArray(p))
      throw new Error(`${model}: ${what} must be { dims: [...], dropout?, activation? }, got ${JSON.stringify(p) ?? String(p)}`);
    checkOptionNames(`${model} ${what}`, p, MLP_PARAM_NAMES);
    const dims = (p as { dims?: unknown }).dims;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d > 0))
      throw new Error(`${model}: ${what}.dims must be a list of positive whole numbers (hidden sizes), got ${JSON.stringify(dims)}`);
  };
  for (const k of mlpOptions) {
    const v = o[k];
    if (v === undefined) continue;
    if (k === 'towerParamsList') {
      if (!Array.isArray(v))
        throw new Error(`${model}: towerParamsList must be a list of { dims: [...] }, one per task, got ${JSON.stringify(v) ?? String(v)}`);
      v.forEach((p, i) => checkMlp(`towerParamsList[${i}]`, p));
    } else checkMlp(k, v);
  }
}

export function missing(model: string, what: string): never {
  throw new Error(`${model}: pass ${what}`);
}

/**
 * What rebuilds a model (modelFromConfig in registry.ts): its registry name and its constructor
 * options in the internal (torch-rechub) names, features as FeatureJSON; plain JSON.
 */
export interface ModelConfig {
  model: string;
  options: Record<string, unknown>;
}

export abstract class MultiTaskModel extends Module {
  abstract readonly features: Feature[];
  readonly taskTypes: TaskType[];
  readonly taskNames: string[];
  /**
   * MoE models: the gate weights of the last forward, [batch, nExpert] per gate (keyed by task name,
   * or 'shared' for a gate of all tasks). Detached; valid until the next forward.
   */
  lastGateWeights: Record<string, Tensor> | null = null;

  constructor(taskTypes: TaskType[], taskNames?: string[]) {
    super();
    this.taskTypes = taskTypes;
    if (taskNames && taskNames.length !== taskTypes.length) {
      throw new Error(`${this.constructor.name}: ${taskNames.length} task names for ${taskTypes.length} tasks`);
    }
    this.taskNames = taskNames ?? taskTypes.map((_, i) => `task${i}`);
  }

  get nTask(): number {
    return this.taskTypes.length;
  }

  private configOf: ModelConfig | null = null;

  /**
   * Each constructor calls this once with its registry name and its options in the internal names
   * (after modelOptions; seed left out, as the weights are saved instead). Kept as JSON right away,
   * so that later changes to the caller's objects do not change the config.
   */
  protected keepConfig(model: string, options: object): void {
    const kept: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) {
      if (v === undefined) continue;
      kept[k] = FEATURE_LISTS.includes(k) ? (v as Feature[]).map((f): FeatureJSON => featureToJSON(f)) : JSON.parse(JSON.stringify(v));
    }
    this.configOf = { model, options: kept };
  }

  /** The model's registry name and constructor options as JSON (see ModelConfig); a copy. */
  config(): ModelConfig {
    if (!this.configOf)
      throw new Error(`${this.constructor.name} did not keep its configuration (a bug: its constructor must call keepConfig)`);
    return JSON.parse(JSON.stringify(this.configOf)) as ModelConfig;
  }

  /** [batch, nTask]: a probability per classification task, a raw value per regression task. */
  abstract forward(x: FeatureBatch): Tensor;

  /**
   * The losses training minimises, before any data is seen: each reads one output column. By default
   * one per output; ESMM trains ctr and ctcvr and learns cvr through them.
   */
  trainedTasks(): { name: string; type: TaskType; output: number }[] {
    return this.taskTypes.map((type, i) => ({ name: this.taskNames[i], type, output: i }));
  }

  /**
   * The weights of the trained losses when none are given: their mean, as torch-rechub's MTLTrainer
   * (ESMM overrides: torch-rechub sums its two losses).
   */
  defaultTaskWeights(): number[] {
    const n = this.trainedTasks().length;
    return Array<number>(n).fill(1 / n);
  }

  /** The plan for data with `nLabel` label columns (named `names`): output i against label i. */
  taskPlan(nLabel: number, names?: string[]): TaskPlan {
    if (nLabel !== this.nTask) {
      throw new Error(
        `${this.constructor.name} has ${this.nTask} tasks (${this.taskNames.join(', ')}) but the data has ${nLabel} label column(s); give one label column per task`,
      );
    }
    const terms = this.taskTypes.map((type, i) => ({ name: names?.[i] ?? this.taskNames[i], type, output: i, label: i }));
    return { nLabel, train: terms, evaluate: terms };
  }

  /** parameterGroups() for the trained losses (trainedTasks()): perTask[i] is trained loss i's own. */
  trainedParameterGroups(): ParameterGroups {
    return this.parameterGroups(this.trainedTasks().map((t) => [t.output]));
  }

  /** The model's gates and the experts each mixes (see GateMixture); none for models without gates. */
  mixtures(): GateMixture[] {
    return [];
  }

  /**
   * A term the model adds to its tasks' losses in training, computed from forward()'s output (AITM's
   * calibrator); null when there is none. The trainer adds its gradient after task balancing.
   */
  auxiliaryLoss(_output: Tensor): Tensor | null {
    return null;
  }

  /**
   * torch-rechub's class for this model (its `torch_rechub.models.multi_task` name), or null when
   * torch-rechub has none.
   */
  get torchRechubClass(): string | null {
    return null;
  }

  /**
   * Every tensor of the model under torch-rechub's state-dict names, in its order (see
   * nn/torch-layout.ts); importTorchRechub / exportTorchRechub read this.
   */
  torchRechubEntries(): TorchEntry[] {
    throw new Error(
      `${this.constructor.name} has no torch-rechub counterpart, so its weights cannot be imported from or exported to torch-rechub`,
    );
  }

  /** forward() in eval mode without recording gradients; restores the previous mode. */
  predict(x: FeatureBatch): Tensor {
    const wasTraining = this.training;
    this.eval();
    try {
      return noGrad(() => this.forward(x));
    } finally {
      this.train(wasTraining);
    }
  }

  /**
   * Shared parameters and each task's own, for per-task learning rates and task balancing, derived
   * from the wiring: a parameter belongs to task i when only task i's loss reaches it, and is shared
   * when two or more tasks' losses reach it. `taskOutputs[i]` lists the output columns task i's loss
   * reads; by default each output is one task (ESMM's trained losses read outputs [1] and [2]).
   */
  parameterGroups(taskOutputs: number[][] = this.taskTypes.map((_, k) => [k])): ParameterGroups {
    const reach = this.outputReach();
    for (const k of taskOutputs.flat()) {
      if (!Number.isInteger(k) || k < 0 || k >= reach.length) {
        throw new Error(
          `${this.constructor.name}.parameterGroups: output ${k} does not exist; the model has outputs 0..${reach.length - 1}`,
        );
      }
    }
    const groups: ParameterGroups = { shared: [], perTask: taskOutputs.map(() => []) };
    this.namedParameters().forEach((entry, j) => {
      const tasks = taskOutputs.flatMap((outputs, i) => (outputs.some((k) => reach[k][j]) ? [i] : []));
      (tasks.length === 1 ? groups.perTask[tasks[0]] : groups.shared).push(entry);
    });
    return groups;
  }

  /**
   * reach[k][j]: whether output column k depends on parameter j (namedParameters order). Found once
   * by a probe: an eval-mode forward on the CPU over stand-in values (the model's own values are
   * swapped out and back, untouched; no statistics, random stream or gradient changes) and one
   * gradient per output. A parameter reaches an output when any of its gradient entries is non-zero.
   */
  outputReach(): boolean[][] {
    if (!this.reach) {
      // Two draws of stand-in values, so that a unit ReLU happens to silence in one draw cannot hide a path.
      const [a, b] = [probeOutputReach(this, 0x5eed), probeOutputReach(this, 0xbeef)];
      this.reach = a.map((row, k) => row.map((v, j) => v || b[k][j]));
    }
    return this.reach;
  }
  private reach: boolean[][] | null = null;

  /** Tower outputs [batch, 1] per task → [batch, nTask], with a sigmoid on classification tasks. */
  protected taskOutputs(logits: Tensor[]): Tensor {
    const outs = logits.map((y, i) => (this.taskTypes[i] === 'classification' ? ops.sigmoid(y) : y));
    return outs.length === 1 ? outs[0] : ops.concat(outs, 1);
  }

  /**
   * Splits gate weights [gates, batch, nExpert] (from gateMix) into one [batch, nExpert] per name,
   * stored in `into`. The copies are kept (outlive tidy scopes); `weights` itself is left alone, as
   * gateMix's backward still reads it.
   */
  protected takeGateWeights(weights: Tensor, names: string[], into: Record<string, Tensor>): void {
    const [gates, batch, nExpert] = weights.shape;
    noGrad(() => {
      names.forEach((name, g) => {
        const rows = gates === 1 ? weights : ops.slice(weights, [g, 0, 0], [1, batch, nExpert]);
        into[name] = keep(rows.view([batch, nExpert]));
        if (rows !== weights) rows.dispose();
      });
    });
  }

  /** Replaces lastGateWeights, freeing the previous forward's. */
  protected setGateWeights(weights: Record<string, Tensor>): void {
    if (this.lastGateWeights) for (const t of Object.values(this.lastGateWeights)) t.dispose();
    this.lastGateWeights = weights;
  }

  override dispose(): void {
    this.setGateWeights({});
    this.lastGateWeights = null;
    super.dispose();
  }
}

/**
 * torch-rechub's shared_task_layers(model): [shared parameters, task-specific parameters], both flat
 * lists, from the wiring (model.trainedParameterGroups(), i.e. parameterGroups() over the trained
 * losses): a tensor only one trained loss reaches is task-specific, one two or more reach is shared.
 * Per-task lists: model.parameterGroups().perTask.
 */
export function sharedTaskLayers(model: MultiTaskModel): [Tensor[], Tensor[]] {
  if (!(model instanceof MultiTaskModel))
    throw new Error(`sharedTaskLayers: expected a multi-task model (SharedBottom, MMoE, PLE, ...), got ${String(model)}`);
  const groups = model.trainedParameterGroups();
  return [groups.shared.map(([, t]) => t), groups.perTask.flatMap((g) => g.map(([, t]) => t))];
}

/** [T, B, H] → T tensors [B, H] (one mixture per task). */
export function unstack(t: Tensor): Tensor[] {
  const [n, b, h] = t.shape;
  if (n === 1) return [ops.reshape(t, [b, h])];
  return ops.split(t, n, 0).map((part) => ops.reshape(part, [b, h]));
}

/** The routing probe behind outputReach(); see there. */
function probeOutputReach(model: MultiTaskModel, seed: number): boolean[][] {
  const cpu = new CpuBackend();
  const rng = new Random(seed);
  const state = Object.entries(model.stateDict());
  const standIns = state.map(([name, t]) => {
    const values = new Float32Array(t.size);
    // Running variances must stay positive; everything else is drawn from [-1, 1), matrices scaled by
    // 1/√fan-in (weights are [.., in, out]) so that deep, wide models neither saturate their sigmoids
    // (a zero gradient hides a path) nor overflow (a NaN gradient would look like a path).
    const positive = /running_var$/.test(name);
    const scale = t.shape.length >= 2 ? 1 / Math.sqrt(Math.max(t.shape[t.shape.length - 2], 1)) : 1;
    for (let i = 0; i < values.length; i++) values[i] = positive ? 0.5 + rng.uniform() : scale * (2 * rng.uniform() - 1);
    return fromArray(t.dtype === 'f32' ? values : Int32Array.from(values, (v) => Math.abs(Math.round(v))), t.shape, {
      backend: cpu,
      dtype: t.dtype,
    });
  });
  const params = model.parameters();
  const modes = [...model.namedModules()].map(([, m]) => [m, m.training] as const);
  const gateWeights = model.lastGateWeights;
  const backend = getBackend();
  let swapped = 0;
  setBackend(cpu);
  model.lastGateWeights = null;
  try {
    for (; swapped < state.length; swapped++) state[swapped][1].exchangeStorage(standIns[swapped]);
    model.eval();
    return tidy(() => {
      const out = model.forward(probeBatch(model.features, cpu, rng));
      const [batch, nOut] = out.shape;
      // One output at a time, each gradient reduced to a flag and freed before the next.
      return Array.from({ length: nOut }, (_, k) =>
        tidy(() =>
          grad(ops.sum(ops.slice(out, [0, k], [batch, 1])), params).map((g) => (g.dataSync() as Float32Array).some((v) => v !== 0)),
        ),
      );
    });
  } finally {
    const probed = model.lastGateWeights as Record<string, Tensor> | null;
    if (probed) for (const w of Object.values(probed)) w.dispose();
    model.lastGateWeights = gateWeights;
    setBackend(backend);
    for (let i = 0; i < swapped; i++) state[i][1].exchangeStorage(standIns[i]);
    for (const t of standIns) t.dispose();
    for (const [m, training] of modes) m.training = training;
  }
}

/** A few rows of valid inputs for every feature: ids spread over each vocabulary, dense values in [-1, 1). */
function probeBatch(features: Feature[], backend: CpuBackend, rng: Random): FeatureBatch {
  const rows = 32;
  const batch: FeatureBatch = {};
  for (const f of features) {
    if (f.kind === 'dense') {
      batch[f.name] = fromArray(
        Float32Array.from({ length: rows }, () => 2 * rng.uniform() - 1),
        [rows],
        { backend },
      );
    } else {
      const len = f.kind === 'sequence' ? (f.maxLen ?? 3) : 1;
      const ids = Int32Array.from({ length: rows * len }, (_, i) => (i * 7 + 1) % f.vocabSize);
      batch[f.name] = fromArray(ids, f.kind === 'sequence' ? [rows, len] : [rows], { backend });
    }
  }
  return batch;
}
