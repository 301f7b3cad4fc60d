// What every multi-task model shares: its features and tasks, [batch, nTask] outputs (probabilities
// for classification tasks, raw values for regression), predict(), the gate weights of the last
// forward (MoE models), and which parameters are shared and which belong to one task.
import { keep, noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import { SequenceFeature, SparseFeature, type Feature } from '../features.js';
import type { FeatureBatch } from '../nn/embedding-layer.js';
import type { ActivationName, MLPOptions } from '../nn/layers.js';
import { Module } from '../nn/module.js';

export type TaskType = 'classification' | 'regression';
/** 'binary' is accepted as another name for 'classification' (the tutorials use both). */
export type TaskTypeInput = TaskType | 'binary';

/** An MLP's shape as torch-rechub writes it: { dims, dropout, activation }. */
export interface MLPParams {
  dims: number[];
  dropout?: number;
  activation?: ActivationName | string;
}

export interface ParameterGroups {
  /** Embeddings, bottoms, shared experts and shared gates. */
  shared: [string, Tensor][];
  /** perTask[i]: the towers, gates and experts that only task i uses. */
  perTask: [string, Tensor][][];
}

/** Options every model that reads one feature list accepts. */
export interface TaskOptions {
  features: Feature[];
  taskTypes?: TaskTypeInput[];
  /** Number of tasks when taskTypes is omitted (all 'classification' then). */
  numTasks?: number;
  /** Names used for gate weights and by the trainer; default task0, task1, ... */
  taskNames?: string[];
  /**
   * Tutorial style: rebuild every sparse and sequence feature with this embedding size. It applies to
   * all of them, because a feature built without embedDim cannot be told apart from one built with 4.
   */
  embeddingDim?: number;
}

export function normalizeTaskType(t: string, model: string): TaskType {
  const k = t.toLowerCase();
  if (k === 'classification' || k === 'binary') return 'classification';
  if (k === 'regression') return 'regression';
  throw new Error(`${model}: unknown task type '${t}'; use 'classification' (or 'binary') or 'regression'`);
}

/** The task types from taskTypes / numTasks / the number of towers, checked against each other. */
export function resolveTaskTypes(model: string, opts: { taskTypes?: TaskTypeInput[]; numTasks?: number }, nTowers?: number): TaskType[] {
  const n = opts.taskTypes?.length ?? opts.numTasks ?? nTowers;
  if (n === undefined || !Number.isInteger(n) || n < 1) {
    throw new Error(`${model}: say how many tasks there are: taskTypes (e.g. ['classification', 'classification']) or numTasks`);
  }
  if (opts.numTasks !== undefined && opts.numTasks !== n) {
    throw new Error(`${model}: numTasks is ${opts.numTasks} but taskTypes lists ${n} tasks`);
  }
  if (nTowers !== undefined && nTowers !== n) {
    throw new Error(`${model}: ${nTowers} tower parameter sets for ${n} tasks; give one per task`);
  }
  return (opts.taskTypes ?? Array<TaskTypeInput>(n).fill('classification')).map((t) => normalizeTaskType(t, model));
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

/**
 * The towers' parameters from towerParamsList, or the tutorial's towerUnits / taskHiddenUnits
 * (the same dims for every tower).
 */
export function resolveTowers(model: string, opts: { towerParamsList?: MLPParams[]; towerUnits?: number[]; taskHiddenUnits?: number[] }, nTask?: number): MLPParams[] | undefined {
  if (opts.towerParamsList) return opts.towerParamsList;
  const dims = opts.towerUnits ?? opts.taskHiddenUnits;
  if (!dims) return nTask === undefined ? undefined : missing(model, 'towerParamsList: [{ dims: [8] }, ...] (or towerUnits)');
  return nTask === undefined ? undefined : Array.from({ length: nTask }, () => ({ dims }));
}

export function missing(model: string, what: string): never {
  throw new Error(`${model}: pass ${what}`);
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
  private readonly taskOwned = new Map<Module, number>();

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

  /** [batch, nTask]: a probability per classification task, a raw value per regression task. */
  abstract forward(x: FeatureBatch): Tensor;

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

  /** Shared parameters and each task's own, for per-task learning rates and task balancing. */
  parameterGroups(): ParameterGroups {
    const owner = new Map<Tensor, number>();
    for (const [path, m] of this.namedModules()) {
      const task = this.taskOwned.get(m);
      if (task !== undefined) for (const [, p] of m.namedParameters(path)) owner.set(p, task);
    }
    const groups: ParameterGroups = { shared: [], perTask: this.taskTypes.map(() => []) };
    for (const entry of this.namedParameters()) {
      const task = owner.get(entry[1]);
      (task === undefined ? groups.shared : groups.perTask[task]).push(entry);
    }
    return groups;
  }

  /** Marks modules as used by one task only (everything unmarked is shared). */
  protected ownedBy<M extends Module>(task: number, m: M): M {
    this.taskOwned.set(m, task);
    return m;
  }

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


/** [T, B, H] → T tensors [B, H] (one mixture per task). */
export function unstack(t: Tensor): Tensor[] {
  const [n, b, h] = t.shape;
  if (n === 1) return [ops.reshape(t, [b, h])];
  return ops.split(t, n, 0).map((part) => ops.reshape(part, [b, h]));
}
