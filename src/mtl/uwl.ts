// Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018). Each task i has a learnable
// s_i = log σ_i² (initialised 0) and the loss
//   classification:  e^{−s_i} L_i + s_i / 2
//   regression:      ½ e^{−s_i} L_i + s_i / 2
// so ∂/∂s_i = −c_i e^{−s_i} L_i + ½ with c_i = 1 or ½: a task with a large loss gets a large σ_i
// and a small weight. s_i is not clamped (torch-rechub clamps it at 0, which stops its gradient).
// The s_i are parameters the trainer's optimizer updates; nothing is read back to the host.
import type { Backend } from '../backend/backend.js';
import { normalizeTaskType, type TaskType, type TaskTypeInput } from '../models/base.js';
import { getBackend, keep, noGrad, tidy } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { backward, full, type Tensor, tensor } from '../tensor/tensor.js';
import { type BalanceContext, type BalanceStrategy, balanceMethod, numberList, type StepReport, type StrategyState } from './strategy.js';
import { checkTaskCount, HostWeights, stackScalars } from './util.js';

export interface UWLOptions {
  /** One per task ('classification' / 'binary' or 'regression'); sets the number of tasks. */
  taskTypes?: TaskTypeInput[];
  /** Number of tasks when taskTypes is omitted (all classification then). */
  nTask?: number;
  /** Where the log-variances are created (default: the current backend). The trainer moves them with the model. */
  backend?: Backend;
}

export class UWL implements BalanceStrategy {
  readonly name = 'uwl';
  readonly taskTypes: TaskType[] | null;
  private logVars: Tensor[] | null = null;
  private readonly host: HostWeights;

  constructor(opts: UWLOptions = {}) {
    if (opts.taskTypes !== undefined) {
      if (!Array.isArray(opts.taskTypes) || opts.taskTypes.length === 0) throw new Error('UWL: taskTypes must list one type per task');
      if (opts.nTask !== undefined && opts.nTask !== opts.taskTypes.length) {
        throw new Error(`UWL: nTask is ${opts.nTask} but taskTypes lists ${opts.taskTypes.length} tasks`);
      }
    }
    if (opts.nTask !== undefined && !(Number.isInteger(opts.nTask) && opts.nTask >= 1)) {
      throw new Error(`UWL: nTask must be a positive integer, got ${String(opts.nTask)}`);
    }
    const n = opts.taskTypes?.length ?? opts.nTask;
    this.taskTypes =
      n === undefined ? null : (opts.taskTypes ?? Array<TaskTypeInput>(n).fill('classification')).map((t) => normalizeTaskType(t, 'UWL'));
    this.host = new HostWeights(this.taskTypes ? this.scales() : []);
    if (this.taskTypes) this.create(opts.backend ?? getBackend());
  }

  /**
   * The log-variances s_i, one [1] tensor per task, for the optimizer. They exist from construction when
   * the task count is known (taskTypes or nTask); an optimizer built before that would never update them,
   * hence the error.
   */
  get parameters(): Tensor[] {
    if (!this.logVars) {
      throw new Error(
        "UWL: the number of tasks is not known yet, so its log-variances do not exist for the optimizer; pass taskTypes (or nTask): createStrategy({ method: 'uwl' }, { taskTypes }) or new UWL({ taskTypes: ['classification', 'regression'] })",
      );
    }
    return this.logVars;
  }

  /** s_i = log σ_i² (live tensors). */
  get logVariances(): Tensor[] {
    return this.parameters;
  }

  setup(info: { nTask: number }): void {
    const n = this.taskTypes?.length;
    if (n !== undefined && n !== info.nTask) {
      throw new Error(
        `UWL: built for ${n} tasks (taskTypes / nTask) but ${info.nTask} tasks are trained; give one task type per trained loss`,
      );
    }
  }

  backward(ctx: BalanceContext): StepReport {
    const s = this.parameters;
    checkTaskCount('UWL', s.length, ctx.losses.length);
    if (s[0].backend !== ctx.losses[0].backend) {
      throw new Error(
        `UWL: the log-variances live on ${s[0].backend.name} but the losses on ${ctx.losses[0].backend.name}; move them with the model (await t.moveTo(backend) for each of strategy.parameters)`,
      );
    }
    const c = this.scales();
    const terms = ctx.losses.map((l, i) => ops.add(ops.mul(ops.mul(ops.exp(ops.neg(s[i])), l), c[i]), ops.mul(s[i], 0.5)));
    backward(terms.reduce((a, b) => ops.add(a, b)));
    return { weights: tidy(() => this.host.snapshot(this.weightTensor())) };
  }

  /** The current loss weights c_i e^{−s_i}, read from the device. */
  async readWeights(): Promise<number[]> {
    const w = tidy(() => this.weightTensor());
    try {
      return await this.host.read(w);
    } finally {
      w.dispose();
    }
  }

  /** The log-variances s_i (for checkpoints). */
  async stateDict(): Promise<StrategyState> {
    return { logVariances: await Promise.all(this.parameters.map(async (s) => (await s.data())[0])) };
  }

  validateStateDict(state: StrategyState): void {
    numberList(state.logVariances, this.parameters.length, 'UWL state: logVariances');
  }

  /** Writes saved log-variances into the live tensors (the optimizer keeps updating the same ones). */
  loadStateDict(state: StrategyState): void {
    this.validateStateDict(state);
    const values = state.logVariances as number[];
    noGrad(() =>
      this.parameters.forEach((s, i) => {
        const v = tensor([values[i]], { backend: s.backend });
        ops.assign(s, v);
        v.dispose();
      }),
    );
  }

  /** c_i: 1 for classification, ½ for regression. */
  private scales(): number[] {
    return (this.taskTypes ?? []).map((t) => (t === 'regression' ? 0.5 : 1));
  }

  private weightTensor(): Tensor {
    return noGrad(() =>
      ops.mul(ops.exp(ops.neg(stackScalars(this.parameters))), tensor(this.scales(), { backend: this.parameters[0].backend })),
    );
  }

  private create(backend: Backend): void {
    this.logVars = this.taskTypes!.map((_, i) => {
      const s = keep(full([1], 0, { backend, requiresGrad: true }));
      s.name = `uwl.log_var.${i}`;
      return s;
    });
  }
}

export const uwlMethod = balanceMethod({
  name: 'uwl',
  options: ['taskTypes', 'nTask', 'backend'],
  summary: 'Uncertainty weighting: a learned log-variance per task weighs its loss',
  paper: {
    authors: 'Kendall, Gal & Cipolla',
    venue: 'CVPR 2018',
    title: 'Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics',
  },
  // Without taskTypes or nTask, the trained tasks' types (the trainer passes them).
  create: (options: UWLOptions, defaults) =>
    new UWL({ ...options, taskTypes: options.taskTypes ?? (options.nTask === undefined ? defaults.taskTypes : undefined) }),
});
