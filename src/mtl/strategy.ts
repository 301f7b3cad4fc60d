// Task balancing behind one small interface, apart from the models (as LibMTL separates weighting
// from architecture). Each training step the trainer hands a strategy the per-task losses of one
// forward pass; the strategy leaves in every parameter's .grad the gradient the optimizer applies.
import type { TaskTypeInput } from '../models/base.js';
import type { Tensor } from '../tensor/tensor.js';

export interface BalanceContext {
  /** One scalar loss per task, from a single forward pass whose graph is kept. */
  losses: Tensor[];
  /** Host copies of the losses (already read back by the trainer for logging and NaN checks). */
  lossValues: number[];
  /** Parameters every task's loss reaches (embeddings, bottoms, shared experts and gates). */
  shared: Tensor[];
  /** sharedNames[j] is the dotted name of shared[j] (e.g. 'experts.layers.0.weight'). */
  sharedNames: string[];
  /** perTask[i]: parameters only task i uses (its tower, gate, specific experts). */
  perTask: Tensor[][];
  /** 0-based optimizer step and epoch. */
  step: number;
  epoch: number;
  /**
   * Per-task gradients on the shared parameters, [task][param], from the one forward pass (one
   * backward per task into the shared parameters; the graph is reused, not rebuilt). Computed on first
   * call and cached for the step; tensors are freed with the step's scope.
   */
  taskGradients(): Tensor[][];
}

export interface StepReport {
  /** The loss weights (or gradient scale factors) this step used, one per task. */
  weights: number[];
}

export interface BalanceStrategy {
  /** Its method's name in the registry (BALANCE_METHODS), e.g. 'gradnorm'. */
  readonly name: string;
  /**
   * Extra trainable parameters (UWL's log-variances): the trainer adds them to the optimizer.
   * GradNorm's weights are updated by the strategy itself and are not listed here.
   */
  readonly parameters?: Tensor[];
  /** Called once before training with the task count and the trainer's optimizer learning rate. */
  setup?(info: { nTask: number; lr: number }): void;
  /**
   * Fills .grad of every parameter (shared, per task, and its own) for this step. It must not call
   * the optimizer. Task-specific parameters get their own task's (weighted) gradient.
   */
  backward(ctx: BalanceContext): StepReport;
  /**
   * The current task weights read from the device. Strategies that keep their weights on the device
   * report the last value they read in StepReport (a step behind on WebGPU); this is exact.
   */
  readWeights?(): Promise<number[]>;
  /** Called after each epoch with the mean training loss of each task (DWA uses the history). */
  onEpochEnd?(epoch: number, meanLosses: number[]): void;
  /**
   * What the strategy carries from step to step (GradNorm's weights and initial losses, UWL's
   * log-variances, MetaBalance's moving averages, DWA's loss history, PCGrad's random stream), as
   * plain JSON, so that a run resumed from a checkpoint continues as if it had never stopped.
   * Strategies with nothing to carry leave these out.
   */
  stateDict?(): Promise<StrategyState>;
  /**
   * Captures what backward() is about to change (strategies whose backward carries state: GradNorm's
   * weights and their Adam moments, MetaBalance's moving averages, PCGrad's random stream), so that a
   * step the trainer refuses after backward (a non-finite gradient) can be undone: restore() puts the
   * state back exactly, release() frees the copy. Strategies whose backward changes nothing leave it out.
   */
  snapshot?(): StrategySnapshot;
  /** Throws, changing nothing, when `state` is not a stateDict() of this kind of strategy. */
  validateStateDict?(state: StrategyState): void;
  /** Restores a validated stateDict(). */
  loadStateDict?(state: StrategyState): void;
}

/** What BalanceStrategy.snapshot() returns. */
export interface StrategySnapshot {
  restore(): void;
  release(): void;
}

/** A strategy's state as JSON-serialisable values. */
export type StrategyState = Record<string, unknown>;

/** Checks that `v` is an array of `length` finite numbers (a strategy state field). */
export function numberList(v: unknown, length: number | null, what: string): number[] {
  if (!Array.isArray(v) || (length !== null && v.length !== length) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new Error(`${what} must be ${length === null ? 'a list' : `a list of ${length}`} of finite numbers, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** What the caller (the trainer) knows that some strategies need: the trained tasks' types (UWL). */
export interface StrategyDefaults {
  taskTypes?: TaskTypeInput[];
}

/**
 * A balancing method as the registry (src/mtl/registry.ts) lists it: the name specs and the CLI use,
 * the option names a spec may carry, a one-line summary and the paper for help text and docs, and how
 * to build the strategy from a spec's options and the trainer's defaults. Options default to `any` so
 * that entries with different options fit in one list; balanceMethod() types each entry's own.
 */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds entries of every option type; each entry's own type is kept by balanceMethod()
export interface BalanceMethod<Name extends string = string, Options extends object = any> {
  readonly name: Name;
  /** Every option create() reads; a spec with any other key is refused with a did-you-mean. */
  readonly options: readonly (keyof Options & string)[];
  /** One line for the CLI's help and the docs. */
  readonly summary: string;
  /** The paper the method follows, or null for a plain baseline. */
  readonly paper: Paper | null;
  create(options: Options, defaults: StrategyDefaults): BalanceStrategy;
}

export interface Paper {
  authors: string;
  /** Venue and year, e.g. 'ICML 2018'. */
  venue: string;
  title: string;
}

/** A registry entry, with its name and options typed from what it is given. */
export function balanceMethod<const Name extends string, Options extends object>(
  entry: BalanceMethod<Name, Options>,
): BalanceMethod<Name, Options> {
  return entry;
}
