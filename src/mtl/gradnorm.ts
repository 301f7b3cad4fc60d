// GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018). Loss weights w_i (initialised 1) are
// tuned so that every task trains at a similar rate, measured on W, the last shared layer:
//
//   G_i = ‖∇_W w_i L_i‖₂,  Ḡ = mean_i G_i
//   L̃_i = L_i(t) / L_i(0),  r_i = L̃_i / mean_j L̃_j          (relative inverse training rate)
//   L_grad = Σ_i |G_i − sg(Ḡ · r_i^α)|                      (targets held constant)
//   w ← Adam(w, ∂L_grad/∂w; lr), then w_i ← max(w_i, ε) and w ← T · w / Σ_j w_j
//
// while the model is trained on Σ_i w_i L_i with this step's weights. Each task has its own target
// Ḡ · r_i^α (a task that lags, r_i > 1, is pushed to a larger gradient). Everything runs on the device:
// the norms ‖∇_W L_i‖ come from one grad() per task over the kept graph, L_i(t) from the host loss
// values the trainer already has, so no extra readback is needed.
//
// The weights have their own Adam (torch's defaults: betas 0.9, 0.999, eps 1e-8; no weight decay), as
// the reference implementations step them with an Adam (torch-rechub and LibMTL put them in the model's
// optimizer). ∂L_grad/∂w_i = ±‖∇_W L_i‖ has the scale of the task's gradient, so a plain gradient step
// at the trainer's rate (1e-3) moved the weights by about 1e-4 a step on MMoE with Ali-CCP's losses
// (‖∇_W L_i‖ ≈ 0.1 and falling) and by up to 0.25 a step on the paper's σ = 100 toy; Adam's step is about
// lr whatever that scale. The renormalisation follows the Adam step (Algorithm 1). The weights are not
// strategy.parameters, so the trainer's optimizer never sees them.

import { Adam } from '../optim/adam.js';
import { keep, noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { backward, full, grad, type Tensor, tensor } from '../tensor/tensor.js';
import {
  type BalanceContext,
  type BalanceStrategy,
  balanceMethod,
  numberList,
  type StepReport,
  type StrategySnapshot,
  type StrategyState,
} from './strategy.js';
import { checkFinite, checkTaskCount, HostWeights, modelLabel, requireShared, sumSquares, weightedSum } from './util.js';

export interface GradNormOptions {
  /** Strength of the pull towards equal training rates (paper: 0.12–3; 1.5 default). Must be > 0. */
  alpha?: number;
  /**
   * The shared layer W whose gradient norms are balanced: a shared parameter's name, or a module path
   * (every shared parameter under it, e.g. 'embedding'). Default: the last shared Linear/expert weight,
   * or all embedding tables when the tasks share nothing else.
   */
  layer?: string;
  /**
   * Learning rate of the weights' own Adam (betas 0.9, 0.999, eps 1e-8). Default 0.025
   * (GRADNORM_DEFAULT_LR), independent of the trainer's rate. Adam moves each weight by about lr a
   * step while its gradient keeps its sign, whatever the scale of the losses, so at 0.025 a weight
   * crosses a unit (from 1 to 2, or to the floor, with Σw = 2) in about 40 steps — within the first
   * epoch of a usual run — and at balance it dithers by a few hundredths. Lower it (1e-3 to 1e-2) for
   * smoother, slower weights; raise it only for runs of a few hundred steps.
   */
  lr?: number;
  /** Floor that keeps every weight positive before renormalising. Default 1e-4. */
  minWeight?: number;
}

/** Shared weights that are not BatchNorm, activation or embedding parameters: Linear and expert layers. */
const LAYER_WEIGHT = /(^|\.)weight$/;
const NOT_A_LAYER = /(^|\.)(bn|act)\.|^embedding\./;

/** The parameters GradNorm watches: the named one (or module), else the last shared layer weight. */
export function gradNormLayer(ctx: BalanceContext, layer: string | undefined): { names: string[]; tensors: Tensor[] } {
  const pick = (keep: (name: string, t: Tensor) => boolean) => {
    const names: string[] = [];
    const tensors: Tensor[] = [];
    ctx.sharedNames.forEach((n, j) => {
      if (keep(n, ctx.shared[j])) {
        names.push(n);
        tensors.push(ctx.shared[j]);
      }
    });
    return { names, tensors };
  };
  if (layer !== undefined) {
    const chosen = pick((n) => n === layer || n.startsWith(`${layer}.`));
    if (chosen.names.length === 0) {
      throw new Error(
        `GradNorm: layer '${layer}' is not a shared parameter or module of ${modelLabel(ctx)}; shared parameters: ${ctx.sharedNames.join(', ')}`,
      );
    }
    return chosen;
  }
  const layers = pick((n, t) => t.rank >= 2 && LAYER_WEIGHT.test(n) && !NOT_A_LAYER.test(n));
  if (layers.names.length > 0) {
    const last = layers.names.length - 1;
    return { names: [layers.names[last]], tensors: [layers.tensors[last]] };
  }
  return pick(() => true);
}

/** The weights' Adam learning rate when none is given (see GradNormOptions.lr). */
export const GRADNORM_DEFAULT_LR = 0.025;

/** Adam's moments of the weights, as a state dict carries them (torch's exp_avg, exp_avg_sq, step). */
interface WeightMoments {
  step: number;
  expAvg: number[];
  expAvgSq: number[];
}

export class GradNorm implements BalanceStrategy {
  readonly name = 'gradnorm';
  readonly alpha: number;
  readonly layer: string | undefined;
  readonly minWeight: number;
  /** The learning rate of the weights' Adam. */
  private lr: number;
  /** lr as the options (or a loaded state) gave it; undefined: the default. */
  private lrGiven: number | undefined;
  private nTask: number | undefined;
  private w: Tensor | null = null;
  /** Adam over [w], created with w. */
  private opt: Adam | null = null;
  /** Names of the watched parameters, chosen at the first step (looked up in each step's context). */
  private watched: string[] | null = null;
  private initialLosses: number[] | null = null;
  /** Weights restored from a checkpoint, put on the device at the next step. */
  private restored: number[] | null = null;
  /** Adam's moments restored with them (null: Adam starts afresh). */
  private restoredMoments: WeightMoments | null = null;
  private readonly host = new HostWeights();

  constructor(opts: GradNormOptions = {}) {
    this.alpha = checkFinite('GradNorm', 'alpha', opts.alpha ?? 1.5, (a) => a > 0, 'must be a number > 0 (the paper uses 0.12 to 3)');
    if (opts.lr !== undefined)
      checkFinite('GradNorm', 'lr', opts.lr, (v) => v > 0, "must be a number > 0 (the learning rate of the weights' Adam; default 0.025)");
    this.lrGiven = opts.lr;
    this.lr = opts.lr ?? GRADNORM_DEFAULT_LR;
    this.minWeight = checkFinite('GradNorm', 'minWeight', opts.minWeight ?? 1e-4, (v) => v > 0, 'must be a number > 0');
    if (opts.layer !== undefined && (typeof opts.layer !== 'string' || opts.layer === '')) {
      throw new Error(`GradNorm: layer must be the name of a shared parameter or module, got ${String(opts.layer)}`);
    }
    this.layer = opts.layer;
  }

  /** Takes the task count. The trainer's learning rate is not used: the weights have their own (lr). */
  setup(info: { nTask: number; lr?: number }): void {
    this.nTask = info.nTask;
  }

  /** Names of the shared parameters whose gradient norms are balanced (known after the first step). */
  get watchedLayer(): string[] {
    return this.watched ?? [];
  }

  /** The weights as a live [T] device tensor (null before the first step). */
  get lossWeights(): Tensor | null {
    return this.w;
  }

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    checkTaskCount('GradNorm', this.nTask, T);
    requireShared(ctx, 'GradNorm');
    this.watched ??= gradNormLayer(ctx, this.layer).names;
    const W = this.watched.map((name) => {
      const j = ctx.sharedNames.indexOf(name);
      if (j < 0)
        throw new Error(`GradNorm: the watched parameter '${name}' is no longer among the shared parameters of ${modelLabel(ctx)}`);
      return ctx.shared[j];
    });
    this.initialLosses ??= ctx.lossValues.map((v, i) => {
      if (!(v > 0)) throw new Error(`GradNorm: the first loss of task ${i} is ${v}; L_i(0) must be > 0 to measure training rates`);
      return v;
    });
    const backend = ctx.losses[0].backend;
    if (this.restored && this.restored.length !== T) {
      throw new Error(`GradNorm: the restored weights are for ${this.restored.length} tasks but ${T} are trained`);
    }
    if (!this.w) {
      this.w = keep(this.restored ? tensor(this.restored, { backend, requiresGrad: true }) : full([T], 1, { backend, requiresGrad: true }));
      this.opt = new Adam([this.w], { lr: this.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 });
      const m = this.restoredMoments;
      if (m) {
        this.opt.loadStateDict({
          type: 'Adam',
          groups: [{ lr: this.lr, weightDecay: 0, numParams: 1 }],
          state: { 0: { step: m.step, buffers: { exp_avg: Float32Array.from(m.expAvg), exp_avg_sq: Float32Array.from(m.expAvgSq) } } },
        });
      }
    }
    this.restored = null;
    this.restoredMoments = null;
    const w = this.w;
    const opt = this.opt!;

    // The model's gradient, from this step's weights.
    backward(weightedSum(ctx.losses, w.detach()));
    const used = this.host.snapshot(w);

    // ‖∇_W L_i‖ per task, constants for the weight update.
    const norms = noGrad(() => ops.sqrt(ops.concat(ctx.losses.map((l) => ops.reshape(sumSquares(grad(l, W)), [1])))));
    const G = ops.mul(w, norms); // G_i = w_i ‖∇_W L_i‖ = ‖∇_W w_i L_i‖ for w_i > 0
    const target = noGrad(() => ops.mul(ops.mean(G), tensor(this.rateTargets(ctx.lossValues), { backend })));
    const gradLoss = ops.sum(ops.abs(ops.sub(G, target)));
    const [dw] = grad(gradLoss, [w]);

    // Adam on w (in place), then the floor and Σw = T. dw belongs to the caller's scope.
    w.grad = dw;
    try {
      opt.step();
    } finally {
      w.grad = null;
    }
    noGrad(() => {
      const floored = ops.clamp(w, this.minWeight, 3e38);
      ops.assign(w, ops.div(ops.mul(floored, T), ops.sum(floored)));
    });
    return { weights: used };
  }

  /** Everything backward() changes: w, its Adam state, L_i(0), the watched layer, the reported weights. */
  snapshot(): StrategySnapshot {
    const [w, opt] = [this.w, this.opt];
    const [watched, initialLosses, restored, restoredMoments, reported] = [
      this.watched,
      this.initialLosses,
      this.restored,
      this.restoredMoments,
      this.host.last,
    ];
    const copy = (t: Tensor) => keep(noGrad(() => ops.add(t, 0)));
    const savedW = w ? copy(w) : null;
    const savedAdam = opt ? opt.stateDict() : null;
    const savedMoments = savedAdam
      ? Object.values(savedAdam.state).map((s) => ({
          step: s.step,
          buffers: Object.fromEntries(Object.entries(s.buffers).map(([k, t]) => [k, copy(t as Tensor)])),
        }))
      : [];
    const release = () => {
      savedW?.dispose();
      for (const s of savedMoments) for (const t of Object.values(s.buffers)) t.dispose();
    };
    return {
      restore: () => {
        if (this.w !== w) this.w?.dispose(); // created by the undone step
        if (this.opt !== opt) this.opt?.dispose();
        this.w = w;
        this.opt = opt;
        if (w && savedW) noGrad(() => ops.assign(w, savedW));
        if (opt && savedAdam) opt.loadStateDict({ ...savedAdam, state: Object.fromEntries(savedMoments.map((s, i) => [i, s])) });
        [this.watched, this.initialLosses, this.restored, this.restoredMoments, this.host.last] = [
          watched,
          initialLosses,
          restored,
          restoredMoments,
          reported,
        ];
        release();
      },
      release,
    };
  }

  /** r_i^α with r_i = L̃_i / mean_j L̃_j, L̃_i = L_i(t) / L_i(0): host numbers from the loss values. */
  rateTargets(lossValues: number[]): number[] {
    const ratios = lossValues.map((v, i) => v / this.initialLosses![i]);
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    return ratios.map((r) => (r / mean) ** this.alpha);
  }

  /** The current weights (after the last update), read from the device. */
  async readWeights(): Promise<number[]> {
    return this.w ? this.host.read(this.w) : (this.restored ?? []);
  }

  /**
   * For checkpoints: w, L_i(0), the watched parameters' names, `lr` (the weights' learning rate when
   * one was given, null for the default) and, once the weights have taken a step, `adam`: their Adam
   * moments and step count, so that a resumed run steps the weights exactly as the unbroken one.
   */
  async stateDict(): Promise<StrategyState> {
    const moments = await this.moments();
    return {
      lr: this.lrGiven ?? null,
      weights: this.w ? Array.from(await this.w.data()) : this.restored,
      initialLosses: this.initialLosses,
      watched: this.watched,
      ...(moments ? { adam: moments } : {}),
    };
  }

  /** The weights' Adam moments (null before their first step). */
  private async moments(): Promise<WeightMoments | null> {
    if (!this.w)
      return this.restoredMoments
        ? { ...this.restoredMoments, expAvg: [...this.restoredMoments.expAvg], expAvgSq: [...this.restoredMoments.expAvgSq] }
        : null;
    const s = this.opt?.stateDict().state[0];
    if (!s) return null;
    const read = async (t: Tensor | Float32Array) => Array.from(t instanceof Float32Array ? t : await t.data());
    return { step: s.step, expAvg: await read(s.buffers.exp_avg), expAvgSq: await read(s.buffers.exp_avg_sq) };
  }

  validateStateDict(state: StrategyState): void {
    if (state.lr !== null && !(typeof state.lr === 'number' && state.lr > 0 && Number.isFinite(state.lr))) {
      throw new Error(`GradNorm state: lr must be null or a number > 0, got ${JSON.stringify(state.lr)}`);
    }
    const w = state.weights === null ? null : numberList(state.weights, this.nTask ?? null, 'GradNorm state: weights');
    if (w?.some((v) => !(v > 0))) throw new Error(`GradNorm state: weights must be > 0, got ${JSON.stringify(w)}`);
    const l0 =
      state.initialLosses === null
        ? null
        : numberList(state.initialLosses, w?.length ?? this.nTask ?? null, 'GradNorm state: initialLosses');
    if (l0?.some((v) => !(v > 0))) throw new Error(`GradNorm state: initialLosses must be > 0, got ${JSON.stringify(l0)}`);
    const watched = state.watched;
    if (watched !== null && !(Array.isArray(watched) && watched.length > 0 && watched.every((n) => typeof n === 'string' && n !== ''))) {
      throw new Error(`GradNorm state: watched must be null or a list of parameter names, got ${JSON.stringify(watched)}`);
    }
    const adam = state.adam as Partial<WeightMoments> | undefined;
    if (adam !== undefined) {
      if (w === null) throw new Error("GradNorm state: adam (the weights' moments) is given without weights");
      if (!adam || typeof adam !== 'object' || !(Number.isInteger(adam.step) && adam.step! >= 1)) {
        throw new Error(`GradNorm state: adam must be { step ≥ 1, expAvg, expAvgSq }, got ${JSON.stringify(adam)}`);
      }
      numberList(adam.expAvg, w.length, 'GradNorm state: adam.expAvg');
      const v = numberList(adam.expAvgSq, w.length, 'GradNorm state: adam.expAvgSq');
      if (v.some((x) => x < 0)) throw new Error(`GradNorm state: adam.expAvgSq must be ≥ 0, got ${JSON.stringify(v)}`);
    }
  }

  /**
   * Restores a stateDict(). A state with weights but no `adam` was saved before the weights had an
   * Adam (plain gradient steps at the trainer's rate): its weights, L_i(0) and watched layer are
   * taken, its lr (that trainer's rate) is not, and Adam starts afresh.
   */
  loadStateDict(state: StrategyState): void {
    this.validateStateDict(state);
    this.w?.dispose();
    this.w = null;
    this.opt?.dispose();
    this.opt = null;
    const legacy = state.weights !== null && state.adam === undefined;
    if (state.lr !== null && !legacy) {
      this.lrGiven = state.lr as number;
      this.lr = this.lrGiven;
    }
    this.restored = state.weights === null ? null : [...(state.weights as number[])];
    const adam = state.adam as WeightMoments | undefined;
    this.restoredMoments = adam ? { step: adam.step, expAvg: [...adam.expAvg], expAvgSq: [...adam.expAvgSq] } : null;
    this.initialLosses = state.initialLosses === null ? null : [...(state.initialLosses as number[])];
    this.watched = state.watched === null ? null : [...(state.watched as string[])];
  }
}

export const gradNormMethod = balanceMethod({
  name: 'gradnorm',
  options: ['alpha', 'layer', 'lr', 'minWeight'],
  summary: "Loss weights tuned so that the tasks' gradient norms on the last shared layer follow their training rates",
  paper: {
    authors: 'Chen, Badrinarayanan, Lee & Rabinovich',
    venue: 'ICML 2018',
    title: 'GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks',
  },
  create: (options: GradNormOptions) => new GradNorm(options),
});
