// MTLTrainer: torch-rechub's trainer for multi-task models — per-task losses, task weights or a
// balancing strategy, per-task learning rates, early stopping on validation with the best weights
// restored and saved, progress, and checkpoints a run can resume from.
import type { Backend } from '../backend/backend.js';
import { ColumnarDataset } from '../data/columns.js';
import type { BatchSource, HostBatch } from '../data/loader.js';
import { validateFeatures } from '../data/validate.js';
import { type BackendName, createBackend } from '../init.js';
import { checkWritable, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { MultiTaskModel } from '../models/base.js';
import { modelBalanceContext } from '../mtl/context.js';
import { createStrategy, isBalanceStrategy, type StrategySpec } from '../mtl/index.js';
import { GradientRecorder, inspectGradients, type RecordedReport } from '../mtl/inspector.js';
import type { BalanceStrategy, StrategySnapshot } from '../mtl/strategy.js';
import { Adagrad } from '../optim/adagrad.js';
import { Adam, AdamW } from '../optim/adam.js';
import type { Optimizer, ParamGroup } from '../optim/optimizer.js';
import { CosineAnnealingLR, type LRScheduler, StepLR } from '../optim/scheduler.js';
import { SGD } from '../optim/sgd.js';
import { checkOptionNames } from '../options.js';
import { type SnakeOptimizerParams, TRAINER_SPELLINGS, type TrainerSpellings, toInternal } from '../spellings.js';
import { closeStage, noGrad, openStage, type StagedWrites, setBackend, tidyAsync } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { globalRng, isRandomState, type RandomState, seed as seedGlobal } from '../tensor/random.js';
import { backward, fromArray, type Tensor } from '../tensor/tensor.js';
import { toDevice } from './batch.js';
import { collectPredictions, outputsByName, resultNames, scorePredictions } from './evaluate.js';
import type { TaskReport } from './metrics.js';
import { type ProgressEvent, type ProgressMode, ProgressPrinter } from './progress.js';
import { checkLabels, type TaskPlan, type TaskTerm } from './tasks.js';

export type OptimizerName = 'adam' | 'adamw' | 'sgd' | 'adagrad';

export interface OptimizerParams {
  lr?: number;
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  momentum?: number;
  nesterov?: boolean;
}

export type SchedulerSpec = { type: 'step'; stepSize: number; gamma?: number } | { type: 'cosine'; tMax: number; etaMin?: number };

/** The trainer's options in the one vocabulary it reads: torch-rechub's MTLTrainer names in camelCase. */
export interface TrainerSettings {
  /**
   * Names of the tasks in every result (history, evaluate, predict). Default (evaluate.ts's
   * resultNames): the model's taskNames when it was built with them, else the loader's label names,
   * else task0, task1, ...
   */
  taskNames?: string[];
  /** Checked against the model's task types when given. */
  taskTypes?: string[];
  optimizer?: OptimizerName;
  optimizerParams?: OptimizerParams;
  scheduler?: SchedulerSpec;
  /**
   * A learning rate for one task's own parameters (tower, gate, specific experts), by task name (as
   * results name it: a label name works on a model built without taskNames) or index.
   */
  taskSpecificLr?: Record<string, number> | number[];
  /**
   * Task balancing: { method, ...options } for a registered method (mtl/registry.ts, e.g. { method: 'gradnorm', alpha: 1.5 }),
   * or a strategy (a MetaBalance given as the optimizer). Default: fixed weights, the model's defaults.
   */
  adaptiveParams?: StrategySpec | BalanceStrategy;
  nEpoch?: number;
  /**
   * Epochs without improvement on validation before stopping (default: never stop early). Needs a
   * validation loader: fit(train) without one refuses it.
   */
  earlystopPatience?: number;
  /** The task whose validation metric drives early stopping (index or name), or 'mean'. Default 0, the first task (torch-rechub's earlystop_taskid=0). */
  earlystopTask?: number | string;
  /**
   * Load the best validation epoch's weights back when fit() ends. Default false, as torch-rechub:
   * only an early stop restores them; otherwise the model keeps the last epoch's (best.safetensors
   * under modelPath holds the best either way).
   */
  restoreBest?: boolean;
  /** 'auto' (default): WebGPU on a hardware adapter, else 'wasm' (WebAssembly SIMD on the CPU), else 'cpu'. Or a Backend. */
  device?: BackendName | Backend;
  /** Directory for best.safetensors (best validation) and last.safetensors (resumable). */
  modelPath?: string;
  /**
   * Seeds the global random generator when fit() starts: dropout masks and the balancing methods'
   * draws. The model's initial weights are drawn when it is built, before the trainer exists: seed
   * them with the model's own `seed` option (or wm.seed(n) before building it).
   */
  seed?: number;
  progress?: ProgressMode;
  /**
   * Record the gradient-routing inspector (per-task gradient norms, cosines, expert shares, gate
   * means) every N training steps into history.gradients. Costs one extra forward and T backwards.
   */
  inspectEvery?: number;
  onProgress?: (e: ProgressEvent) => void;
  onEpochEnd?: (e: EpochRecord) => void;
  /**
   * Scale the gradients down so that their global L2 norm (over every trained tensor) is at most this
   * (torch.nn.utils.clip_grad_norm_). Default: no clipping.
   */
  clipGradNorm?: number;
  /**
   * A step whose loss or gradient is not finite: 'stop' (default) throws NonFiniteLossError or
   * NonFiniteGradientError; 'skip' drops the step, as a gradient scaler does, and counts it in the
   * epoch's skippedSteps. Either way nothing of that step is applied.
   */
  nonFinite?: 'stop' | 'skip';
  /**
   * Check each step's gradient before applying it (one extra scalar read per step). Default true;
   * false reads only the losses, so a non-finite gradient with finite losses is not caught.
   */
  checkGradients?: boolean;
}

/**
 * What MTLTrainer takes: its settings, or the tutorials' spellings of them (nEpochs, taskWeights,
 * taskWeightsStrategy + gradnormAlpha, a MetaBalance as optimizer; see spellings.ts).
 */
export interface MTLTrainerOptions
  extends Omit<TrainerSettings, 'optimizer' | 'adaptiveParams' | 'optimizerParams'>,
    Omit<TrainerSpellings<BalanceStrategy>, 'optimizer'> {
  /** lr, weightDecay, ...; torch's snake_case (weight_decay) is read as camelCase. */
  optimizerParams?: OptimizerParams & SnakeOptimizerParams;
  optimizer?: OptimizerName | { strategy: BalanceStrategy };
  /** Task balancing: { method, ...options } for a registered method (mtl/registry.ts), e.g. { method: 'gradnorm', alpha: 1.5 }. */
  adaptiveParams?: StrategySpec;
}

/** Every setting MTLTrainer reads; anything else, bar the tutorials' spellings, is an error, never ignored. */
const TRAINER_OPTIONS: readonly (keyof TrainerSettings)[] = [
  'taskNames',
  'taskTypes',
  'optimizer',
  'optimizerParams',
  'scheduler',
  'taskSpecificLr',
  'adaptiveParams',
  'nEpoch',
  'earlystopPatience',
  'earlystopTask',
  'restoreBest',
  'device',
  'modelPath',
  'seed',
  'progress',
  'inspectEvery',
  'onProgress',
  'onEpochEnd',
  'clipGradNorm',
  'nonFinite',
  'checkGradients',
];
const OPTIMIZER_PARAMS: readonly (keyof OptimizerParams)[] = ['lr', 'weightDecay', 'betas', 'eps', 'momentum', 'nesterov'];

/** Checks the type and range of each given option (undefined means "the default"). */
function checkOptionValues(opts: TrainerSettings, nTrained: number): void {
  const bad = (name: string, value: unknown, want: string): never => {
    throw new Error(
      `MTLTrainer: ${name} must be ${want}, got ${typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? String(value))}`,
    );
  };
  const isCount = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  const o = opts as Record<string, unknown>;
  if (o.earlystopPatience !== undefined && !isCount(o.earlystopPatience, 0))
    bad('earlystopPatience', o.earlystopPatience, 'a whole number of epochs ≥ 0');
  if (typeof o.earlystopTask === 'number' && !(isCount(o.earlystopTask, 0) && (o.earlystopTask as number) < nTrained))
    bad('earlystopTask', o.earlystopTask, `a trained task's index (0..${nTrained - 1}), its name, or 'mean'`);
  if (o.earlystopTask !== undefined && typeof o.earlystopTask !== 'number' && typeof o.earlystopTask !== 'string')
    bad('earlystopTask', o.earlystopTask, "a task's index or name, or 'mean'");
  if (o.seed !== undefined && !(isCount(o.seed, 0) && (o.seed as number) <= 0xffffffff)) bad('seed', o.seed, 'a whole number in [0, 2^32)');
  if (o.optimizer !== undefined && !['adam', 'adamw', 'sgd', 'adagrad'].includes(o.optimizer as string)) {
    bad('optimizer', o.optimizer, "'adam', 'adamw', 'sgd', 'adagrad', or a MetaBalance");
  }
  if (o.progress !== undefined && !['auto', 'bar', 'lines', 'none'].includes(o.progress as string))
    bad('progress', o.progress, "'auto', 'bar', 'lines' or 'none'");
  if (o.modelPath !== undefined && typeof o.modelPath !== 'string') bad('modelPath', o.modelPath, 'a directory path (string)');
  if (
    o.device !== undefined &&
    !(
      ['auto', 'cpu', 'wasm', 'webgpu'].includes(o.device as string) ||
      (typeof o.device === 'object' && o.device !== null && 'alloc' in o.device)
    )
  ) {
    bad('device', o.device, "'auto', 'cpu', 'wasm', 'webgpu' or a Backend");
  }
  if (
    o.taskNames !== undefined &&
    !(Array.isArray(o.taskNames) && o.taskNames.length === nTrained && o.taskNames.every((n) => typeof n === 'string' && n !== ''))
  ) {
    bad('taskNames', o.taskNames, `${nTrained} non-empty names, one per trained task`);
  }
  if (o.checkGradients !== undefined && typeof o.checkGradients !== 'boolean') bad('checkGradients', o.checkGradients, 'true or false');
  if (o.restoreBest !== undefined && typeof o.restoreBest !== 'boolean') bad('restoreBest', o.restoreBest, 'true or false');
  if (o.inspectEvery !== undefined && !isCount(o.inspectEvery, 1)) bad('inspectEvery', o.inspectEvery, 'a whole number of steps ≥ 1');
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss per trained task. */
  trainLoss: Record<string, number>;
  /** Validation metrics per task (absent without a validation loader). */
  val?: Record<string, TaskReport>;
  /** The value early stopping watched (AUC, or −MSE for regression: higher is better). */
  score?: number;
  /** The balancing strategy's task weights (or gradient scale factors) at the end of the epoch. */
  taskWeights: Record<string, number>;
  lr: number;
  seconds: number;
  samplesPerSecond: number;
  /** Steps dropped for a non-finite loss or gradient (nonFinite: 'skip'). */
  skippedSteps: number;
}

export interface History {
  epochs: EpochRecord[];
  /** Inspector reports taken every `inspectEvery` steps (empty unless that option is set). */
  gradients: RecordedReport[];
  bestEpoch: number | null;
  bestScore: number | null;
  stoppedEarly: boolean;
}

const NOTHING_APPLIED =
  "Nothing of this step was applied: parameters, optimizer state, BatchNorm statistics and the balancing strategy's state are as after the step before.";
const WHAT_TO_TRY = "pass nonFinite: 'skip' to drop such steps.";

/**
 * A training step that was refused because something it computed is not finite: nothing of it was
 * applied. `nonFinite: 'skip'` drops such steps instead of throwing.
 */
export abstract class NonFiniteStepError extends Error {
  constructor(
    readonly step: number,
    readonly epoch: number,
    message: string,
  ) {
    super(`Training stopped: ${message}`);
  }
}

/** Raised when a task's loss stops being finite. */
export class NonFiniteLossError extends NonFiniteStepError {
  override readonly name = 'NonFiniteLossError';
  constructor(
    readonly task: string,
    step: number,
    epoch: number,
    readonly lastFiniteLoss: number | null,
  ) {
    super(
      step,
      epoch,
      `the loss of task '${task}' is not finite at epoch ${epoch + 1}, step ${step} (last finite loss: ${lastFiniteLoss ?? 'none'}). ${NOTHING_APPLIED} ` +
        `Lower the learning rate, clip gradients (clipGradNorm: 1), check the inputs for extreme values, or ${WHAT_TO_TRY}`,
    );
  }
}

/**
 * Raised when the BatchNorm running statistics a step would store are not finite (a dense value so
 * large that the batch variance overflows float32), although its losses are.
 */
export class NonFiniteStatisticsError extends NonFiniteStepError {
  override readonly name = 'NonFiniteStatisticsError';
  constructor(
    readonly tensor: string,
    readonly index: number,
    readonly value: number,
    step: number,
    epoch: number,
  ) {
    super(
      step,
      epoch,
      `${tensor} would become ${value} at flat index ${index} at epoch ${epoch + 1}, step ${step}: a value in this batch is too large for float32 statistics ` +
        `(its square overflows). ${NOTHING_APPLIED} Scale or clip the dense features (StandardScaler, MinMaxScaler), or ${WHAT_TO_TRY}`,
    );
  }
}

/** Raised when a step's gradient is not finite although its losses are. */
export class NonFiniteGradientError extends NonFiniteStepError {
  override readonly name = 'NonFiniteGradientError';
  constructor(
    readonly tensor: string,
    readonly index: number,
    readonly value: number,
    step: number,
    epoch: number,
    readonly losses: number[],
  ) {
    super(
      step,
      epoch,
      `the gradient of '${tensor}' is not finite${index >= 0 ? ` (${value} at flat index ${index})` : ' (its global norm overflows)'} at epoch ${epoch + 1}, step ${step}, ` +
        `although the losses were finite (${losses.map((l) => l.toPrecision(4)).join(', ')}). ${NOTHING_APPLIED} Try a lower learning rate, clip gradients ` +
        `(clipGradNorm: 1), check the data for extreme values, or ${WHAT_TO_TRY}`,
    );
  }
}

/** [1] on the device: 0 when every value the stage would write is finite, NaN otherwise (x·0 is NaN for ±Inf and NaN). */
function stagedCheck(stage: StagedWrites, backend: Backend): Tensor {
  const checks = stage.values().map(({ value }) => ops.reshape(ops.sum(ops.mul(value, 0)), [1]));
  return ops.sum(ops.concat([ops.zeros([1], { backend }), ...checks])).view([1]);
}

/** The first of `tensors` (in order) holding a value that is not finite: its name, index and value (a readback each; failure paths only). */
async function firstNonFinite(tensors: { name: string; tensor: Tensor }[]): Promise<{ name: string; index: number; value: number } | null> {
  for (const { name, tensor } of tensors) {
    const values = await tensor.data();
    const index = values.findIndex((v) => !Number.isFinite(v));
    if (index >= 0) return { name, index, value: values[index] };
  }
  return null;
}

export class MTLTrainer {
  readonly model: MultiTaskModel;
  readonly optimizer: Optimizer;
  readonly strategy: BalanceStrategy;
  readonly scheduler: LRScheduler | null;
  readonly nEpoch: number;
  private readonly opts: TrainerSettings;
  private plan: TaskPlan | null = null;
  private backend: Backend | null = null;
  private globalStep = 0;
  private startEpoch = 0;
  /** The global random generator's state from the checkpoint resume() loaded, restored when fit() starts. */
  private resumedRandom: RandomState | null = null;
  private lastFinite: number[] = [];
  /** Steps dropped so far for a non-finite loss or gradient (nonFinite: 'skip'). */
  private skippedSteps = 0;
  private readonly recorder: GradientRecorder | null;
  /** taskSpecificLr keys that name no trained task of the model: label names, resolved by fit() against its plan. */
  private readonly pendingTaskLr: string[] = [];
  /** Datasets checked whole by validateData: their batches need no per-batch label check. */
  private readonly validated = new WeakSet<ColumnarDataset>();

  constructor(model: MultiTaskModel, given: MTLTrainerOptions = {}) {
    this.model = model;
    const nTrained = model.trainedTasks().length;
    const opts = toInternal<TrainerSettings>('MTLTrainer', given, TRAINER_OPTIONS, TRAINER_SPELLINGS, { nTrained });
    this.opts = opts;
    if (opts.optimizerParams) checkOptionNames('MTLTrainer optimizerParams', opts.optimizerParams, OPTIMIZER_PARAMS);
    checkOptionValues(opts, nTrained);
    this.nEpoch = opts.nEpoch ?? 10;
    if (!Number.isInteger(this.nEpoch) || this.nEpoch < 1)
      throw new Error(`MTLTrainer: nEpoch must be a positive integer, got ${opts.nEpoch}`);
    if (
      opts.clipGradNorm !== undefined &&
      !(typeof opts.clipGradNorm === 'number' && opts.clipGradNorm > 0 && Number.isFinite(opts.clipGradNorm))
    ) {
      throw new Error(
        `MTLTrainer: clipGradNorm must be a finite number > 0 (the largest global gradient norm), got ${String(opts.clipGradNorm)}`,
      );
    }
    if (opts.clipGradNorm !== undefined && opts.checkGradients === false) {
      throw new Error(
        'MTLTrainer: clipGradNorm reads the gradient norm, which checkGradients: false turns off; keep checkGradients on to clip',
      );
    }
    if (opts.nonFinite !== undefined && opts.nonFinite !== 'stop' && opts.nonFinite !== 'skip') {
      throw new Error(`MTLTrainer: nonFinite must be 'stop' or 'skip', got ${JSON.stringify(opts.nonFinite)}`);
    }
    if (opts.taskTypes) {
      // The model's outputs' types, or its trained losses' (ESMM: torch-rechub's tutorial gives two for ctr and ctcvr).
      const given = opts.taskTypes.map((t) => (t === 'binary' ? 'classification' : t));
      const same = (own: readonly string[]) => given.length === own.length && given.every((t, i) => t === own[i]);
      const trained = model.trainedTasks().map((t) => t.type);
      if (!same(model.taskTypes) && !same(trained)) {
        throw new Error(
          `MTLTrainer: taskTypes [${opts.taskTypes.join(', ')}] do not match the model's [${model.taskTypes.join(', ')}]` +
            (same(model.taskTypes) || trained.length === model.taskTypes.length ? '' : ` (or its trained losses' [${trained.join(', ')}])`),
        );
      }
    }
    const balancing = opts.adaptiveParams ?? { method: 'fixed' };
    // The losses the model trains (ESMM: ctr and ctcvr from its three outputs).
    const trainedTypes = model.trainedTasks().map((t) => t.type);
    this.strategy = isBalanceStrategy(balancing)
      ? balancing
      : createStrategy(withDefaultWeights(balancing, model.defaultTaskWeights()), { taskTypes: trainedTypes });
    this.optimizer = this.buildOptimizer(opts.optimizer ?? 'adam');
    this.scheduler = this.buildScheduler();
    this.recorder = opts.inspectEvery ? new GradientRecorder({ every: opts.inspectEvery }) : null;
  }

  private buildOptimizer(name: OptimizerName): Optimizer {
    const p = this.opts.optimizerParams ?? {};
    const lr = p.lr ?? 1e-3;
    const groups = this.model.trainedParameterGroups();
    const names = this.model.trainedTasks().map((t) => t.name);
    const taskLr = (i: number): number | undefined => {
      const spec = this.opts.taskSpecificLr;
      if (!spec) return undefined;
      if (Array.isArray(spec)) return spec[i];
      return spec[names[i]] ?? spec[String(i)];
    };
    // Other names may be label names (results' names, known once fit() sees the loader): resolved there.
    if (this.opts.taskSpecificLr && !Array.isArray(this.opts.taskSpecificLr)) {
      for (const key of Object.keys(this.opts.taskSpecificLr)) {
        if (!names.includes(key) && !/^\d+$/.test(key)) this.pendingTaskLr.push(key);
      }
    }
    const paramGroups: ParamGroup[] = [{ params: groups.shared.map(([, t]) => t), name: 'shared' }];
    groups.perTask.forEach((g, i) => {
      if (g.length === 0 && taskLr(i) !== undefined) {
        throw new Error(
          `MTLTrainer: taskSpecificLr gives task '${names[i]}' a learning rate, but no parameter is its own (every tensor its loss reaches is shared with another task); drop it, or give the shared parameters optimizerParams.lr`,
        );
      }
      if (g.length) paramGroups.push({ params: g.map(([, t]) => t), lr: taskLr(i), name: names[i] });
    });
    if (this.strategy.parameters?.length)
      paramGroups.push({ params: this.strategy.parameters, name: `${this.strategy.name} weights`, weightDecay: 0 });
    const nonEmpty = paramGroups.filter((g) => g.params.length > 0);
    const common = { lr, weightDecay: p.weightDecay };
    switch (name) {
      case 'adam':
        return new Adam(nonEmpty, { ...common, betas: p.betas, eps: p.eps });
      case 'adamw':
        return new AdamW(nonEmpty, { ...common, betas: p.betas, eps: p.eps });
      case 'sgd':
        return new SGD(nonEmpty, { ...common, momentum: p.momentum, nesterov: p.nesterov });
      case 'adagrad':
        return new Adagrad(nonEmpty, { ...common, eps: p.eps });
      default:
        throw new Error(`MTLTrainer: unknown optimizer '${name as string}'; use adam, adamw, sgd or adagrad`);
    }
  }

  private buildScheduler(): LRScheduler | null {
    const s = this.opts.scheduler;
    if (!s) return null;
    if (s.type === 'step') return new StepLR(this.optimizer, { stepSize: s.stepSize, gamma: s.gamma });
    if (s.type === 'cosine') return new CosineAnnealingLR(this.optimizer, { tMax: s.tMax, etaMin: s.etaMin });
    throw new Error(`MTLTrainer: unknown scheduler '${(s as { type: string }).type}'; use 'step' or 'cosine'`);
  }

  /** Moves the model to the requested device once, and makes that backend current. */
  private async prepareDevice(): Promise<Backend> {
    if (this.backend) return this.backend;
    const want = this.opts.device ?? 'auto';
    const current = this.model.backend;
    let target: Backend;
    if (typeof want === 'object') target = want;
    else if (current && (want === current.name || (want === 'auto' && current.name !== 'cpu'))) target = current;
    else target = await createBackend(want);
    if (current !== target) await this.model.to(target);
    for (const t of this.strategy.parameters ?? []) await t.moveTo(target);
    setBackend(target);
    this.backend = target;
    return target;
  }

  /** The names of this loader's results (evaluate.ts's resultNames: the one rule). */
  private names(loader: BatchSource<HostBatch> & { labelNames?: string[] }, nLabel: number): string[] | undefined {
    return resultNames(this.model, loader, nLabel, this.opts.taskNames);
  }

  /** Sets the learning rate of the taskSpecificLr entries keyed by a result name (a label name) the model does not know. */
  private resolvePendingTaskLr(plan: TaskPlan): void {
    const spec = this.opts.taskSpecificLr as Record<string, number>;
    const own = this.model.trainedTasks().map((t) => t.name);
    for (const key of this.pendingTaskLr) {
      const i = plan.train.findIndex((t) => t.name === key);
      if (i < 0) {
        throw new Error(
          `MTLTrainer: taskSpecificLr names task '${key}', but the trained tasks are ${plan.train.map((t) => t.name).join(', ')}` +
            (plan.train.some((t, j) => t.name !== own[j]) ? ` (the model calls them ${own.join(', ')})` : ''),
        );
      }
      const group = this.optimizer.paramGroups.findIndex((g) => g.name === own[i]);
      if (group < 0) {
        throw new Error(
          `MTLTrainer: taskSpecificLr gives task '${key}' a learning rate, but no parameter is its own (every tensor its loss reaches is shared with another task); drop it, or give the shared parameters optimizerParams.lr`,
        );
      }
      this.optimizer.paramGroups[group].lr = spec[key];
      if (this.scheduler) this.scheduler.baseLrs[group] = spec[key];
    }
    this.pendingTaskLr.length = 0;
  }

  private planFor(loader: BatchSource<HostBatch> & { nTask?: number; labelNames?: string[] }): TaskPlan {
    // A DataLoader knows its label count; peeking at another source's first batch costs it nothing.
    const peek = () => {
      const epoch = loader.epoch;
      const first = loader[Symbol.iterator]().next();
      if (epoch !== undefined) loader.setEpoch?.(epoch); // the peek does not use up an epoch's shuffle
      return first.done ? 0 : first.value.y.length / Math.max(first.value.size, 1);
    };
    const nLabel = loader.nTask ?? peek();
    if (nLabel === 0)
      throw new Error('MTLTrainer.fit: the training loader has no labels; pass y to DataGenerator (one label column per task) to train');
    const plan = this.model.taskPlan(nLabel, this.names(loader, nLabel));
    const pick = this.opts.earlystopTask;
    if (typeof pick === 'string' && pick !== 'mean' && !plan.train.some((t) => t.name === pick)) {
      throw new Error(
        `MTLTrainer: earlystopTask '${pick}' is not a trained task; the tasks are ${plan.train.map((t) => t.name).join(', ')} (or 'mean')`,
      );
    }
    const w = (this.opts.adaptiveParams as { weights?: unknown } | undefined)?.weights;
    if (Array.isArray(w) && w.length !== plan.train.length) {
      throw new Error(
        `MTLTrainer: ${w.length} fixed weights for ${plan.train.length} trained tasks (${plan.train.map((t) => t.name).join(', ')})`,
      );
    }
    return plan;
  }

  /** Trains for nEpoch epochs (or until early stopping); returns the per-epoch history. */
  async fit(trainLoader: BatchSource<HostBatch>, valLoader?: BatchSource<HostBatch>): Promise<History> {
    if (trainLoader.length === 0) throw new Error('MTLTrainer.fit: the training loader is empty; check the data and batchSize');
    if (this.opts.modelPath) await checkWritable(this.opts.modelPath);
    if (!valLoader) {
      const needsVal = [
        ...(this.opts.earlystopPatience !== undefined ? ['earlystopPatience'] : []),
        ...(this.opts.restoreBest ? ['restoreBest'] : []), // restoreBest: false asks for nothing
      ];
      if (needsVal.length)
        throw new Error(
          `MTLTrainer.fit: ${needsVal.join(' and ')} ${needsVal.length > 1 ? 'act' : 'acts'} on validation scores, but no validation loader was given; call fit(trainLoader, valLoader), or leave ${needsVal.length > 1 ? 'them' : 'it'} out`,
        );
    }
    const backend = await this.prepareDevice();
    this.plan = this.planFor(trainLoader);
    // Untouched after a resume: the checkpoint's optimizer and scheduler state hold the rates.
    if (this.startEpoch === 0 && this.globalStep === 0) this.resolvePendingTaskLr(this.plan);
    else this.pendingTaskLr.length = 0;
    this.validateData(trainLoader, 'the training data');
    if (valLoader) this.validateData(valLoader, 'the validation data');
    // A resumed run continues the random stream (dropout masks) where the checkpoint left it.
    if (this.resumedRandom) globalRng().setState(this.resumedRandom);
    else if (this.opts.seed !== undefined) seedGlobal(this.opts.seed);
    this.resumedRandom = null;
    this.strategy.setup?.({ nTask: this.plan.train.length, lr: this.optimizer.paramGroups[0].lr });
    // A resumed run continues with the shuffle of its next epoch, not the loader's first.
    if (this.startEpoch > 0) trainLoader.setEpoch?.(this.startEpoch);
    const printer = await ProgressPrinter.create(this.opts.progress);
    const history: History = { epochs: [], gradients: this.recorder?.history ?? [], bestEpoch: null, bestScore: null, stoppedEarly: false };
    const patience = this.opts.earlystopPatience ?? Infinity;
    let best: Record<string, { data: Float32Array | Int32Array; shape: readonly number[] }> | null = null;
    let sinceBest = 0;

    for (let epoch = this.startEpoch; epoch < this.nEpoch; epoch++) {
      const record = await this.trainEpoch(trainLoader, backend, epoch, printer);
      if (valLoader) {
        const p = await collectPredictions(this.model, valLoader);
        record.val = scorePredictions(p, this.plan);
        record.score = this.earlyStopScore(record.val);
      }
      history.epochs.push(record);
      this.strategy.onEpochEnd?.(
        epoch,
        this.plan.train.map((t) => record.trainLoss[t.name]),
      );
      this.scheduler?.step();
      printer.endEpoch(describeEpoch(record, this.nEpoch));
      this.opts.onEpochEnd?.(record);

      const improved = record.score !== undefined && (history.bestScore === null || record.score > history.bestScore);
      if (improved) {
        history.bestScore = record.score!;
        history.bestEpoch = epoch;
        best = await this.snapshot();
        sinceBest = 0;
        if (this.opts.modelPath) await this.save(`${this.opts.modelPath}/best.safetensors`, epoch);
      } else if (record.score !== undefined) sinceBest++;
      if (this.opts.modelPath) await this.save(`${this.opts.modelPath}/last.safetensors`, epoch);
      if (sinceBest >= patience) {
        history.stoppedEarly = true;
        break;
      }
    }
    // torch-rechub loads the best weights back only on an early stop; restoreBest: true always does.
    if (best && (history.stoppedEarly || this.opts.restoreBest)) this.restore(best, backend);
    return history;
  }

  private async trainEpoch(
    loader: BatchSource<HostBatch>,
    backend: Backend,
    epoch: number,
    printer: ProgressPrinter,
  ): Promise<EpochRecord> {
    const plan = this.plan!;
    const started = Date.now();
    const skippedBefore = this.skippedSteps;
    const sums = plan.train.map(() => 0);
    let lastWeights: number[] = plan.train.map(() => 1);
    let steps = 0;
    let rows = 0;
    this.model.train();
    printer.startEpoch(epoch, this.nEpoch, loader.length);
    const whole = datasetOf(loader);
    const checkedWhole = whole !== undefined && this.validated.has(whole);
    for (const batch of loader) {
      if (batch.size < 2) continue; // BatchNorm needs two rows; torch-rechub drops such a tail too.
      if (!checkedWhole) checkLabels(batch.y, plan, `batch ${batch.index} of epoch ${epoch + 1}`);
      const done = await this.trainStep(batch, backend, epoch);
      if (!done) continue; // dropped: its loss or gradient was not finite (nonFinite: 'skip')
      const { losses, weights } = done;
      losses.forEach((l, i) => (sums[i] += l));
      lastWeights = weights;
      steps++;
      rows += batch.size;
      const event: ProgressEvent = {
        epoch,
        nEpoch: this.nEpoch,
        step: steps,
        steps: loader.length,
        losses: Object.fromEntries(plan.train.map((t, i) => [t.name, sums[i] / steps])),
        stepLosses: Object.fromEntries(plan.train.map((t, i) => [t.name, losses[i]])),
        samplesPerSecond: (rows / Math.max(Date.now() - started, 1)) * 1000,
      };
      printer.update(event);
      this.opts.onProgress?.(event);
    }
    if (steps === 0) {
      if (this.skippedSteps > skippedBefore)
        throw new Error(
          `MTLTrainer.fit: every step of epoch ${epoch + 1} was dropped for a non-finite loss or gradient (nonFinite: 'skip'); lower the learning rate, clip gradients (clipGradNorm) or check the data`,
        );
      throw new Error('MTLTrainer.fit: no batch had two or more rows; use a larger batchSize');
    }
    const seconds = (Date.now() - started) / 1000;
    const endWeights = (await this.strategy.readWeights?.()) ?? lastWeights;
    return {
      epoch,
      trainLoss: Object.fromEntries(plan.train.map((t, i) => [t.name, sums[i] / steps])),
      taskWeights: Object.fromEntries(plan.train.map((t, i) => [t.name, endWeights[i]])),
      lr: this.optimizer.paramGroups[0].lr,
      skippedSteps: this.skippedSteps - skippedBefore,
      seconds,
      samplesPerSecond: rows / Math.max(seconds, 1e-9),
    };
  }

  /** One step: forward once, per-task losses, read them (the step's only readback), balance, update. */
  /**
   * One step: forward once, per-task losses, read them, balance, check the gradient, update. Nothing is
   * committed until the step is known to be good: BatchNorm's running statistics and batch counts wait
   * on a stage, and the balancing strategy's state is snapshot before its backward. A non-finite loss,
   * BatchNorm statistic or gradient leaves the parameters, the optimizer, the statistics and the
   * strategy exactly as after the last good step, then stops training (NonFiniteLossError,
   * NonFiniteStatisticsError, NonFiniteGradientError) or, with `nonFinite: 'skip'`, drops the step
   * (returns null). The optimizer's update is applied before the staged writes are committed, so a
   * failure there (out of memory) commits nothing else either.
   */
  private async trainStep(batch: HostBatch, backend: Backend, epoch: number): Promise<{ losses: number[]; weights: number[] } | null> {
    const plan = this.plan!;
    const stage = openStage();
    const undo: { strategy: StrategySnapshot | null } = { strategy: null };
    const random = globalRng().getState(); // dropout masks drawn by a refused step are drawn again
    let result: { losses: number[]; weights: number[]; report: RecordedReport['report'] | null };
    try {
      result = await tidyAsync(async () => {
        const { x, y } = toDevice(batch, backend, this.model.features);
        const inspected = this.recorder?.shouldRecord(this.globalStep) ? await inspectGradients(this.model, { x, y }) : null;
        const out = this.model.forward(x);
        const losses = plan.train.map((t) => taskLoss(out, y, t));
        // One read: the losses, then 0 when every BatchNorm statistic the step would store is finite.
        const read = Array.from(
          await noGrad(() => ops.concat([...losses.map((l) => ops.reshape(l, [1])), stagedCheck(stage, backend)])).data(),
        );
        const values = read.slice(0, losses.length);
        values.forEach((v, i) => {
          if (!Number.isFinite(v)) throw new NonFiniteLossError(plan.train[i].name, this.globalStep, epoch, this.lastFinite[i] ?? null);
        });
        if (!Number.isFinite(read[losses.length])) {
          const bad = await firstNonFinite(stage.values().map(({ value, what }) => ({ name: what, tensor: value })));
          throw new NonFiniteStatisticsError(
            bad?.name ?? 'a BatchNorm statistic',
            bad?.index ?? -1,
            bad?.value ?? Number.NaN,
            this.globalStep,
            epoch,
          );
        }
        const ctx = modelBalanceContext(this.model, losses, values, { step: this.globalStep, epoch });
        undo.strategy = this.strategy.snapshot?.() ?? null;
        const report = this.strategy.backward(ctx);
        // The model's own term (AITM's calibrator) is not a task: its gradient is added after balancing.
        const auxiliary = this.model.auxiliaryLoss(out);
        if (auxiliary) backward(auxiliary);
        if (this.opts.checkGradients ?? true) await this.checkGradients(epoch, values);
        return { losses: values, weights: report.weights, report: inspected };
      });
      this.optimizer.step();
    } catch (e) {
      closeStage(stage);
      stage.discard();
      undo.strategy?.restore();
      globalRng().setState(random);
      this.dropGradients();
      if (e instanceof NonFiniteStepError && this.opts.nonFinite === 'skip') {
        this.skippedSteps++; // not a step: globalStep stays, as if the batch had not been there
        return null;
      }
      throw e;
    }
    closeStage(stage);
    stage.commit();
    undo.strategy?.release();
    this.dropGradients();
    if (result.report) this.recorder!.record(this.globalStep, result.report);
    this.lastFinite = result.losses;
    this.globalStep++;
    return { losses: result.losses, weights: result.weights };
  }

  /** Every trained parameter is in the optimizer's groups (the model's and the strategy's). */
  private dropGradients(): void {
    this.optimizer.zeroGrad();
    for (const p of this.strategy.parameters ?? []) p.zeroGrad();
  }

  /**
   * Reads the global gradient norm (one scalar): a non-finite one stops the step, naming the first
   * parameter whose gradient is not finite; with clipGradNorm the gradients are scaled down to that
   * norm (as torch.nn.utils.clip_grad_norm_: × maxNorm / (norm + 1e-6) when that is below 1).
   */
  private async checkGradients(epoch: number, losses: number[]): Promise<void> {
    const named: [string, Tensor][] = [
      ...this.model.namedParameters(),
      ...(this.strategy.parameters ?? []).map((p, i) => [`${this.strategy.name}.${i}`, p] as [string, Tensor]),
    ];
    const withGrad = named.filter(([, p]) => p.grad);
    if (withGrad.length === 0) return;
    const [squareSum] = await noGrad(() =>
      ops.sum(ops.concat(withGrad.map(([, p]) => ops.reshape(ops.sum(ops.square(p.grad!)), [1])))),
    ).data();
    const norm = Math.sqrt(squareSum);
    if (!Number.isFinite(norm)) {
      // No entry found: every one is finite but the sum of squares overflowed, too large a step either.
      const bad = await firstNonFinite(withGrad.map(([name, p]) => ({ name, tensor: p.grad! })));
      throw new NonFiniteGradientError(bad?.name ?? withGrad[0][0], bad?.index ?? -1, bad?.value ?? norm, this.globalStep, epoch, losses);
    }
    const max = this.opts.clipGradNorm;
    if (max !== undefined && norm > max) {
      const scale = max / (norm + 1e-6);
      noGrad(() => {
        for (const [, p] of withGrad) ops.assign(p.grad!, ops.mul(p.grad!, scale));
      });
    }
  }

  /**
   * Checks a DataLoader's whole dataset before training: every column the model reads is present, ids
   * are inside their feature's vocabulary, dense values are finite, labels fit the task types.
   * (Other batch sources are checked batch by batch as they stream.)
   */
  private validateData(loader: BatchSource<HostBatch>, where: string): void {
    const ds = datasetOf(loader);
    if (!ds) return;
    const sparse: Record<string, number> = {};
    const sequence: Record<string, { vocabSize: number; maxLen?: number }> = {};
    const dense: string[] = [];
    for (const f of this.model.features) {
      if (f.kind === 'sparse') sparse[f.name] = f.vocabSize;
      else if (f.kind === 'sequence') sequence[f.name] = { vocabSize: f.vocabSize, maxLen: f.maxLen };
      else dense.push(f.name);
    }
    validateFeatures(ds.columns, { sparse, dense, sequence }, where);
    checkLabels(ds.labels, this.plan!, where);
    this.validated.add(ds);
  }

  private earlyStopScore(val: Record<string, TaskReport>): number {
    const pick = this.opts.earlystopTask ?? 0;
    const score = (r: TaskReport): number => (r.type === 'classification' ? (r.auc ?? NaN) : -r.mse);
    const trained = this.plan!.train.map((t) => t.name);
    if (pick === 'mean') {
      const values = trained.map((n) => score(val[n])).filter((v) => Number.isFinite(v));
      return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
    }
    const name = typeof pick === 'number' ? trained[pick] : pick;
    if (!name || !val[name]) throw new Error(`MTLTrainer: earlystopTask '${pick}' is not one of ${Object.keys(val).join(', ')}`);
    return score(val[name]);
  }

  private async snapshot(): Promise<Record<string, { data: Float32Array | Int32Array; shape: readonly number[] }>> {
    const out: Record<string, { data: Float32Array | Int32Array; shape: readonly number[] }> = {};
    for (const [name, t] of Object.entries(this.model.stateDict())) out[name] = { data: await t.data(), shape: t.shape };
    return out;
  }

  private restore(state: Record<string, { data: Float32Array | Int32Array; shape: readonly number[] }>, backend: Backend): void {
    const tensors: Record<string, Tensor> = {};
    for (const [name, s] of Object.entries(state)) tensors[name] = fromArray(s.data, s.shape, { backend });
    this.model.loadStateDict(tensors);
    for (const t of Object.values(tensors)) t.dispose();
  }

  private async save(path: string, epoch: number): Promise<void> {
    await saveCheckpoint(path, this.model, {
      metadata: {
        epoch: String(epoch),
        step: String(this.globalStep),
        model: this.model.constructor.name,
        random: JSON.stringify(globalRng().getState()),
      },
      optimizer: this.optimizer,
      scheduler: this.scheduler ?? undefined,
      strategy: this.strategy,
    });
  }

  /**
   * Restores model, optimizer, scheduler and balancing strategy from a checkpoint; fit() then continues
   * after its epoch (a DataLoader given to fit() moves on to that epoch's shuffle).
   */
  async resume(path: string): Promise<void> {
    await this.prepareDevice();
    let random: RandomState | null = null;
    // Checked by loadCheckpoint with everything else, before anything changes: epoch and step (countFields),
    // the random generator's state (here), the model, optimizer, scheduler and strategy state.
    const checkMetadata = (m: Record<string, string>) => {
      if (!Object.hasOwn(m, 'random')) return;
      try {
        random = JSON.parse(m.random);
      } catch {
        random = null;
      }
      if (!isRandomState(random)) throw new Error(`its random generator state is malformed: ${m.random}`);
    };
    const loaded = await loadCheckpoint(path, this.model, {
      optimizer: this.optimizer,
      scheduler: this.scheduler ?? undefined,
      strategy: this.strategy,
      countFields: ['epoch', 'step'],
      checkMetadata,
    });
    if (!loaded.hasStrategyState && this.strategy.loadStateDict) {
      console.warn(`MTLTrainer.resume: '${path}' has no ${this.strategy.name} state (an older checkpoint); the balancing starts afresh`);
    }
    this.startEpoch = Number(loaded.metadata.epoch ?? -1) + 1;
    this.globalStep = Number(loaded.metadata.step ?? 0);
    this.resumedRandom = random;
  }

  /**
   * Per-task metrics over a loader (AUC and logloss for classification, MSE and MAE for regression),
   * keyed as every result is (resultNames). `evaluate(model, loader)` is torch-rechub's call; the
   * model is evaluated where it is (pass trainer.model, or another model).
   */
  async evaluate(loader: BatchSource<HostBatch>): Promise<Record<string, TaskReport>>;
  async evaluate(model: MultiTaskModel, loader: BatchSource<HostBatch>): Promise<Record<string, TaskReport>>;
  async evaluate(first: MultiTaskModel | BatchSource<HostBatch>, second?: BatchSource<HostBatch>): Promise<Record<string, TaskReport>> {
    const model = first instanceof MultiTaskModel ? first : this.model;
    const loader = first instanceof MultiTaskModel ? second : first;
    if (!loader || typeof (loader as Partial<BatchSource<HostBatch>>)[Symbol.iterator] !== 'function')
      throw new Error('MTLTrainer.evaluate: pass a loader: evaluate(loader) or evaluate(model, loader)');
    if (model === this.model) await this.prepareDevice();
    const p = await collectPredictions(model, loader);
    if (p.nLabel === 0) throw new Error('MTLTrainer.evaluate: the loader has no labels; evaluation needs them (predict works without)');
    if (model !== this.model) return scorePredictions(p, model.taskPlan(p.nLabel, resultNames(model, loader as never, p.nLabel)));
    // The plan of this loader's labels (its column count and names), not the training loader's: an
    // ESMM evaluated on [cvr, ctr, ctcvr] after training on [click, purchase] reads other columns.
    const plan = this.plan?.nLabel === p.nLabel ? this.plan : this.model.taskPlan(p.nLabel, this.names(loader as never, p.nLabel));
    return scorePredictions(p, plan);
  }

  /**
   * The model's outputs for every row, one Float32Array per output, keyed as evaluate() keys its
   * results (resultNames; ESMM: cvr, ctr, ctcvr). The loader needs no labels (DataGenerator(x)).
   */
  async predict(loader: BatchSource<HostBatch>): Promise<Record<string, Float32Array>> {
    await this.prepareDevice();
    const p = await collectPredictions(this.model, loader);
    const nLabel = p.nLabel > 0 ? p.nLabel : (this.plan?.nLabel ?? this.model.nTask);
    // As evaluate(): the training plan when the label count matches (an unlabelled loader: always after fit).
    const plan = this.plan?.nLabel === nLabel ? this.plan : this.model.taskPlan(nLabel, this.names(loader as never, nLabel));
    return outputsByName(p, plan, this.model);
  }
}

/** The dataset behind a DataLoader (other batch sources have none). */
function datasetOf(loader: BatchSource<HostBatch>): ColumnarDataset | undefined {
  const ds = (loader as { dataset?: unknown }).dataset;
  return ds instanceof ColumnarDataset ? ds : undefined;
}

/** Fixed weights without weights get the model's defaults (the mean of the losses, as torch-rechub's trainer; ESMM their sum). */
function withDefaultWeights(spec: StrategySpec, defaults: number[]): StrategySpec {
  const fixed = typeof spec?.method === 'string' && spec.method.toLowerCase() === 'fixed';
  return fixed && !(spec as { weights?: number[] }).weights ? ({ ...spec, weights: defaults } as StrategySpec) : spec;
}

/** A trained task's loss: BCE on the predicted probability, or MSE for regression. */
function taskLoss(out: Tensor, y: Tensor, t: TaskTerm): Tensor {
  const rows = out.shape[0];
  const pred = ops.reshape(ops.slice(out, [0, t.output], [rows, 1]), [rows]);
  const target = ops.reshape(ops.slice(y, [0, t.label], [rows, 1]), [rows]);
  return t.type === 'classification' ? ops.binaryCrossEntropy(pred, target) : ops.mseLoss(pred, target);
}

export function describeEpoch(r: EpochRecord, nEpoch: number): string {
  const loss = Object.entries(r.trainLoss)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');
  const val = r.val
    ? '  val ' +
      Object.entries(r.val)
        .map(([k, m]) =>
          m.type === 'classification' ? `${k} auc ${m.auc === null ? 'n/a' : m.auc.toFixed(4)}` : `${k} mse ${m.mse.toFixed(4)}`,
        )
        .join(', ')
    : '';
  return `epoch ${r.epoch + 1}/${nEpoch}  loss ${loss}${val}  (${r.seconds.toFixed(1)} s, ${Math.round(r.samplesPerSecond)} samples/s)`;
}
