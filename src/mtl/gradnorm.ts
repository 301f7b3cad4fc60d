// GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, ICML 2018). Loss weights w_i (initialised 1) are
// tuned so that every task trains at a similar rate, measured on W, the last shared layer:
//
//   G_i = ‖∇_W w_i L_i‖₂,  Ḡ = mean_i G_i
//   L̃_i = L_i(t) / L_i(0),  r_i = L̃_i / mean_j L̃_j          (relative inverse training rate)
//   L_grad = Σ_i |G_i − sg(Ḡ · r_i^α)|                      (targets held constant)
//   w ← w − lr · ∂L_grad/∂w, then w_i ← max(w_i, ε) and w ← T · w / Σ_j w_j
//
// while the model is trained on Σ_i w_i L_i with this step's weights. Each task has its own target
// Ḡ · r_i^α (a task that lags, r_i > 1, is pushed to a larger gradient). Everything runs on the device:
// the norms ‖∇_W L_i‖ come from one grad() per task over the kept graph, L_i(t) from the host loss
// values the trainer already has, so no extra readback is needed.
import { keep, noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { backward, full, grad, tensor, type Tensor } from '../tensor/tensor.js';
import { numberList, type BalanceContext, type BalanceStrategy, type StepReport, type StrategyState } from './strategy.js';
import { HostWeights, checkFinite, checkTaskCount, modelLabel, requireShared, sumSquares, weightedSum } from './util.js';

export interface GradNormOptions {
  /** Strength of the pull towards equal training rates (paper: 0.12–3; 1.5 default). Must be > 0. */
  alpha?: number;
  /**
   * The shared layer W whose gradient norms are balanced: a shared parameter's name, or a module path
   * (every shared parameter under it, e.g. 'embedding'). Default: the last shared Linear/expert weight,
   * or all embedding tables when the model shares nothing else (ESMM, AITM).
   */
  layer?: string;
  /** Learning rate of the weights (plain gradient descent). Default: the trainer's learning rate. */
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
      throw new Error(`GradNorm: layer '${layer}' is not a shared parameter or module of ${modelLabel(ctx)}; shared parameters: ${ctx.sharedNames.join(', ')}`);
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

export class GradNorm implements BalanceStrategy {
  readonly name = 'gradnorm';
  readonly alpha: number;
  readonly layer: string | undefined;
  readonly minWeight: number;
  private lr: number | undefined;
  private nTask: number | undefined;
  private w: Tensor | null = null;
  /** Names of the watched parameters, chosen at the first step (looked up in each step's context). */
  private watched: string[] | null = null;
  private initialLosses: number[] | null = null;
  /** Weights restored from a checkpoint, put on the device at the next step. */
  private restored: number[] | null = null;
  private readonly host = new HostWeights();

  constructor(opts: GradNormOptions = {}) {
    this.alpha = checkFinite('GradNorm', 'alpha', opts.alpha ?? 1.5, (a) => a > 0, 'must be a number > 0 (the paper uses 0.12 to 3)');
    if (opts.lr !== undefined) checkFinite('GradNorm', 'lr', opts.lr, (v) => v > 0, 'must be a number > 0');
    this.lr = opts.lr;
    this.minWeight = checkFinite('GradNorm', 'minWeight', opts.minWeight ?? 1e-4, (v) => v > 0, 'must be a number > 0');
    if (opts.layer !== undefined && (typeof opts.layer !== 'string' || opts.layer === '')) {
      throw new Error(`GradNorm: layer must be the name of a shared parameter or module, got ${String(opts.layer)}`);
    }
    this.layer = opts.layer;
  }

  setup(info: { nTask: number; lr: number }): void {
    this.nTask = info.nTask;
    this.lr ??= info.lr;
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
    const lr = this.lr;
    if (lr === undefined) throw new Error('GradNorm: no learning rate for the task weights; pass { lr } or call setup({ nTask, lr }) (the trainer does)');
    this.watched ??= gradNormLayer(ctx, this.layer).names;
    const W = this.watched.map((name) => {
      const j = ctx.sharedNames.indexOf(name);
      if (j < 0) throw new Error(`GradNorm: the watched parameter '${name}' is no longer among the shared parameters of ${modelLabel(ctx)}`);
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
    this.w ??= keep(this.restored ? tensor(this.restored, { backend, requiresGrad: true }) : full([T], 1, { backend, requiresGrad: true }));
    this.restored = null;
    const w = this.w;

    // The model's gradient, from this step's weights.
    backward(weightedSum(ctx.losses, w.detach()));
    const used = this.host.snapshot(w);

    // ‖∇_W L_i‖ per task, constants for the weight update.
    const norms = noGrad(() =>
      ops.sqrt(ops.concat(ctx.losses.map((l) => ops.reshape(sumSquares(grad(l, W)), [1])))),
    );
    const G = ops.mul(w, norms); // G_i = w_i ‖∇_W L_i‖ = ‖∇_W w_i L_i‖ for w_i > 0
    const target = noGrad(() => ops.mul(ops.mean(G), tensor(this.rateTargets(ctx.lossValues), { backend })));
    const gradLoss = ops.sum(ops.abs(ops.sub(G, target)));
    const [dw] = grad(gradLoss, [w]);

    noGrad(() => {
      const stepped = ops.clamp(ops.sub(w, ops.mul(dw, lr)), this.minWeight, 3e38);
      ops.assign(w, ops.div(ops.mul(stepped, T), ops.sum(stepped)));
    });
    return { weights: used };
  }

  /** r_i^α with r_i = L̃_i / mean_j L̃_j, L̃_i = L_i(t) / L_i(0): host numbers from the loss values. */
  rateTargets(lossValues: number[]): number[] {
    const ratios = lossValues.map((v, i) => v / this.initialLosses![i]);
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    return ratios.map((r) => Math.pow(r / mean, this.alpha));
  }

  /** The current weights (after the last update), read from the device. */
  async readWeights(): Promise<number[]> {
    return this.w ? this.host.read(this.w) : (this.restored ?? []);
  }

  /** w, L_i(0), the weights' learning rate and the watched parameters' names (for checkpoints). */
  async stateDict(): Promise<StrategyState> {
    return {
      lr: this.lr ?? null,
      weights: this.w ? Array.from(await this.w.data()) : this.restored,
      initialLosses: this.initialLosses,
      watched: this.watched,
    };
  }

  validateStateDict(state: StrategyState): void {
    if (state.lr !== null && !(typeof state.lr === 'number' && state.lr > 0 && Number.isFinite(state.lr))) {
      throw new Error(`GradNorm state: lr must be null or a number > 0, got ${JSON.stringify(state.lr)}`);
    }
    const w = state.weights === null ? null : numberList(state.weights, this.nTask ?? null, 'GradNorm state: weights');
    if (w?.some((v) => !(v > 0))) throw new Error(`GradNorm state: weights must be > 0, got ${JSON.stringify(w)}`);
    const l0 = state.initialLosses === null ? null : numberList(state.initialLosses, w?.length ?? this.nTask ?? null, 'GradNorm state: initialLosses');
    if (l0?.some((v) => !(v > 0))) throw new Error(`GradNorm state: initialLosses must be > 0, got ${JSON.stringify(l0)}`);
    const watched = state.watched;
    if (watched !== null && !(Array.isArray(watched) && watched.length > 0 && watched.every((n) => typeof n === 'string' && n !== ''))) {
      throw new Error(`GradNorm state: watched must be null or a list of parameter names, got ${JSON.stringify(watched)}`);
    }
  }

  loadStateDict(state: StrategyState): void {
    this.validateStateDict(state);
    this.w?.dispose();
    this.w = null;
    // The rate the run started with (a resumed trainer would otherwise take the scheduler's current one).
    if (state.lr !== null) this.lr = state.lr as number;
    this.restored = state.weights === null ? null : [...(state.weights as number[])];
    this.initialLosses = state.initialLosses === null ? null : [...(state.initialLosses as number[])];
    this.watched = state.watched === null ? null : [...(state.watched as string[])];
  }
}
