// MetaBalance (He et al., WWW 2022): keep the auxiliary tasks' gradients on the shared parameters at a
// magnitude comparable to the target task's, separately for every shared tensor θ:
//
//   m_tar ← β m_tar + (1 − β) ‖∇_θ L_tar‖,   m_i ← β m_i + (1 − β) ‖∇_θ L_aux,i‖     (moving averages, from 0)
//   ∇_θ L_aux,i ← r · (m_tar / m_i) · ∇_θ L_aux,i + (1 − r) · ∇_θ L_aux,i
//   ∇_θ L = ∇_θ L_tar + Σ_i ∇_θ L_aux,i
//
// r ∈ [0, 1] is the relax factor (r = 0: plain sum; r = 1: every auxiliary gradient rescaled to the
// target's magnitude). Task-specific parameters get the plain summed gradient ∇ Σ_i L_i. All on the
// device: the norms and moving averages never leave it.
//
// Usable as a strategy (createStrategy({ method: 'metabalance' })) or written as torch-rechub users
// write it, in the optimizer's place: new MetaBalance(model.parameters(), { relaxFactor: 0.7, beta: 0.9 }).
// The trainer recognises it (instanceof MetaBalance, or its `strategy` property), balances with it, and
// updates the parameters with Adam built from optimizerParams.
import { keep, noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { Tensor, tensor, zeros } from '../tensor/tensor.js';
import {
  type BalanceContext,
  type BalanceStrategy,
  balanceMethod,
  numberList,
  type StepReport,
  type StrategySnapshot,
  type StrategyState,
} from './strategy.js';
import { accumulateGrad, backwardInto, checkFinite, checkTaskCount, HostWeights, requireShared, TINY, taskSpecificParams } from './util.js';

export interface MetaBalanceOptions {
  /** r in [0, 1]; default 0.7. */
  relaxFactor?: number;
  /** Moving-average factor β in [0, 1); default 0.9. */
  beta?: number;
  /** Index of the target task (the one the others help); default 0. */
  targetTask?: number;
  /** Number of tasks, to check targetTask at construction (otherwise checked at setup / first step). */
  nTask?: number;
}

export class MetaBalance implements BalanceStrategy {
  readonly name = 'metabalance';
  readonly relaxFactor: number;
  readonly beta: number;
  readonly targetTask: number;
  /** The parameters passed in torch-rechub style (informational: the trainer takes shared ones from the model). */
  readonly params: Tensor[];
  private nTask: number | undefined;
  /** Per shared tensor: [T] moving averages of the task gradient norms (m_tar at targetTask). */
  private averages: Tensor[] | null = null;
  /** Moving averages restored from a checkpoint, put on the device at the next step. */
  private restored: number[][] | null = null;
  private readonly host = new HostWeights();
  private lastWeights: Tensor | null = null;
  /** [T]: 1 for auxiliary tasks, 0 for the target. */
  private auxMask: Tensor | null = null;

  constructor(options?: MetaBalanceOptions);
  constructor(params: Tensor[] | { params: Tensor[] }[], options?: MetaBalanceOptions);
  constructor(a?: Tensor[] | { params: Tensor[] }[] | MetaBalanceOptions, b?: MetaBalanceOptions) {
    const opts = Array.isArray(a) ? (b ?? {}) : (a ?? {});
    this.params = Array.isArray(a) ? a.flatMap((x) => (x instanceof Tensor ? [x] : x.params)) : [];
    this.relaxFactor = checkFinite(
      'MetaBalance',
      'relaxFactor',
      opts.relaxFactor ?? 0.7,
      (r) => r >= 0 && r <= 1,
      'must be in [0, 1] (the paper uses 0.7)',
    );
    this.beta = checkFinite('MetaBalance', 'beta', opts.beta ?? 0.9, (v) => v >= 0 && v < 1, 'must be in [0, 1) (the paper uses 0.9)');
    const target = opts.targetTask ?? 0;
    if (!Number.isInteger(target) || target < 0) throw new Error(`MetaBalance: targetTask must be a task index ≥ 0, got ${String(target)}`);
    this.targetTask = target;
    if (opts.nTask !== undefined) this.checkTarget(opts.nTask);
  }

  /** The strategy the trainer balances with when MetaBalance is passed as its optimizer. */
  get strategy(): BalanceStrategy {
    return this;
  }

  setup(info: { nTask: number }): void {
    this.checkTarget(info.nTask);
    this.nTask = info.nTask;
  }

  /** Drops the gradients of the parameters given at construction (torch-rechub's optimizer.zero_grad()). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    checkTaskCount('MetaBalance', this.nTask, T);
    this.checkTarget(T);
    requireShared(ctx, 'MetaBalance');
    const backend = ctx.losses[0].backend;
    if (this.restored && this.restored[0].length !== T) {
      throw new Error(`MetaBalance: the restored moving averages are for ${this.restored[0].length} tasks but ${T} are trained`);
    }
    this.averages ??= this.restored
      ? this.restored.map((m) => keep(tensor(m, { backend })))
      : ctx.shared.map(() => keep(zeros([T], { backend })));
    this.restored = null;
    if (this.averages.length !== ctx.shared.length) {
      throw new Error(
        `MetaBalance: its moving averages cover ${this.averages.length} shared tensors but this step has ${ctx.shared.length}; use one MetaBalance per model`,
      );
    }
    const grads = ctx.taskGradients(); // [task][shared tensor]
    const r = this.relaxFactor;
    this.auxMask ??= keep(
      tensor(
        Array.from({ length: T }, (_, i) => (i === this.targetTask ? 0 : 1)),
        { backend },
      ),
    );
    const aux = this.auxMask;

    noGrad(() => {
      let scaledSq: Tensor | null = null;
      let plainSq: Tensor | null = null;
      for (const [j, p] of ctx.shared.entries()) {
        const norms = ops.sqrt(ops.concat(grads.map((g) => ops.reshape(ops.sum(ops.square(g[j])), [1])))); // [T]
        const m = this.averages![j];
        ops.assign(m, ops.add(ops.mul(m, this.beta), ops.mul(norms, 1 - this.beta)));
        const mTarget = ops.slice(m, [this.targetTask], [1]);
        // Auxiliary tasks: r · m_tar/m_i + (1 − r); the target task: 1.
        const scale = ops.add(ops.mul(aux, ops.add(ops.mul(ops.div(mTarget, ops.add(m, TINY)), r), 1 - r)), ops.affine(aux, -1, 1));
        const combined = grads.map((g, i) => ops.mul(g[j], ops.slice(scale, [i], [1]))).reduce((x, y) => ops.add(x, y));
        accumulateGrad(p, combined);
        const s = ops.square(ops.mul(scale, norms));
        const n = ops.square(norms);
        scaledSq = scaledSq ? ops.add(scaledSq, s) : s;
        plainSq = plainSq ? ops.add(plainSq, n) : n;
      }
      // Reported per task: ‖balanced gradient‖ / ‖raw gradient‖ over all shared parameters (1 for the target).
      this.lastWeights?.dispose();
      this.lastWeights = keep(ops.sqrt(ops.div(scaledSq!, ops.add(plainSq!, TINY))));
    });

    backwardInto(
      ctx.losses.reduce((x, y) => ops.add(x, y)),
      taskSpecificParams(ctx),
    );
    return { weights: this.host.snapshot(this.lastWeights!) };
  }

  /** Everything backward() changes: the moving averages, the reported scales. */
  snapshot(): StrategySnapshot {
    const [averages, restored, lastWeights, reported] = [this.averages, this.restored, this.lastWeights, this.host.last];
    const saved = averages?.map((m) => keep(noGrad(() => ops.add(m, 0)))) ?? [];
    const savedLast = lastWeights ? keep(noGrad(() => ops.add(lastWeights, 0))) : null;
    const release = () => {
      for (const t of saved) t.dispose();
      savedLast?.dispose();
    };
    return {
      restore: () => {
        if (this.averages !== averages) for (const m of this.averages ?? []) m.dispose();
        this.averages = averages;
        averages?.forEach((m, j) => noGrad(() => ops.assign(m, saved[j])));
        if (this.lastWeights !== lastWeights) {
          // backward freed the old tensor and made a new one: put a copy of the old values back.
          this.lastWeights?.dispose();
          this.lastWeights = savedLast ? keep(noGrad(() => ops.add(savedLast, 0))) : null;
        }
        this.restored = restored;
        this.host.last = reported;
        release();
      },
      release,
    };
  }

  /** The last step's effective scale of each task's shared gradient, read from the device. */
  async readWeights(): Promise<number[]> {
    return this.lastWeights ? this.host.read(this.lastWeights) : [];
  }

  /** The moving averages of each task's gradient norm, per shared tensor (for checkpoints). */
  async stateDict(): Promise<StrategyState> {
    return { averages: this.averages ? await Promise.all(this.averages.map(async (m) => Array.from(await m.data()))) : this.restored };
  }

  validateStateDict(state: StrategyState): void {
    const a = state.averages;
    if (a === null) return;
    if (!Array.isArray(a) || a.length === 0)
      throw new Error(`MetaBalance state: averages must be null or one list per shared tensor, got ${JSON.stringify(a)}`);
    const T = Array.isArray(a[0]) ? a[0].length : 0;
    a.forEach((m, j) => {
      numberList(m, this.nTask ?? T, `MetaBalance state: averages[${j}]`);
      if ((m as number[]).some((v) => v < 0))
        throw new Error(`MetaBalance state: averages[${j}] holds a negative norm: ${JSON.stringify(m)}`);
    });
  }

  loadStateDict(state: StrategyState): void {
    this.validateStateDict(state);
    for (const m of this.averages ?? []) m.dispose();
    this.averages = null;
    this.restored = state.averages === null ? null : (state.averages as number[][]).map((m) => [...m]);
  }

  private checkTarget(nTask: number): void {
    if (this.targetTask >= nTask) {
      throw new Error(`MetaBalance: targetTask ${this.targetTask} does not exist; there are ${nTask} tasks (indices 0 to ${nTask - 1})`);
    }
  }
}

/** Whether x can balance tasks (a BalanceStrategy, e.g. a MetaBalance passed where an optimizer goes). */
export function isBalanceStrategy(x: unknown): x is BalanceStrategy {
  return (
    !!x && typeof x === 'object' && typeof (x as BalanceStrategy).backward === 'function' && typeof (x as BalanceStrategy).name === 'string'
  );
}

export const metaBalanceMethod = balanceMethod({
  name: 'metabalance',
  options: ['relaxFactor', 'beta', 'targetTask', 'nTask'],
  summary: "Scales the auxiliary tasks' shared gradients towards the target task's magnitude",
  paper: {
    authors: 'He et al.',
    venue: 'WWW 2022',
    title: 'MetaBalance: Improving Multi-Task Recommendations via Adapting Gradient Magnitudes of Auxiliary Tasks',
  },
  create: (options: MetaBalanceOptions) => new MetaBalance(options),
});
