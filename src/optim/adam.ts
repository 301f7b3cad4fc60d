// Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), as torch.optim defines them.
// Both run the backend's fused `adam` kernel, one launch per parameter, with m and v on the device.
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, checkRange, type OptimizerParamGroup, type ParamGroup, type ParamState } from './optimizer.js';

export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 1e-2). */
  weightDecay?: number;
}

abstract class AdamFamily extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;

  protected constructor(type: string, params: Tensor[] | ParamGroup[], opts: AdamOptions, defaultWeightDecay: number, private readonly decoupled: boolean) {
    super(type, params, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? defaultWeightDecay }, ['exp_avg', 'exp_avg_sq']);
    const betas = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${type}: betas must be a pair [beta1, beta2], got ${String(betas)}; the usual value is [0.9, 0.999]`);
    checkRange(type, 'betas[0]', betas[0], 0, 1, 'the usual value is 0.9');
    checkRange(type, 'betas[1]', betas[1], 0, 1, 'the usual value is 0.999');
    const eps = opts.eps ?? 1e-8;
    checkRange(type, 'eps', eps, 0, Infinity, 'the usual value is 1e-8');
    this.betas = [betas[0], betas[1]];
    this.eps = eps;
  }

  protected override updateParam(p: Tensor, g: Tensor, group: OptimizerParamGroup, state: ParamState): void {
    const m = this.stateTensor(p, state, 'exp_avg');
    const v = this.stateTensor(p, state, 'exp_avg_sq');
    p.backend.adam(p.buffer, g.buffer, m.buffer, v.buffer, p.size, {
      lr: group.lr,
      beta1: this.betas[0],
      beta2: this.betas[1],
      eps: this.eps,
      weightDecay: group.weightDecay,
      decoupled: this.decoupled,
      step: state.step,
    });
  }
}

/** Adam; `weightDecay` is an L2 penalty added to the gradient before the moment updates (torch.optim.Adam). */
export class Adam extends AdamFamily {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions = {}) {
    super('Adam', params, opts, 0, false);
  }
}

/** AdamW; `weightDecay` (default 1e-2) shrinks the weights directly, θ ← θ(1 − lr·wd), apart from the gradient. */
export class AdamW extends AdamFamily {
  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions = {}) {
    super('AdamW', params, opts, 1e-2, true);
  }
}
