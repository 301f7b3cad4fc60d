// Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), as torch.optim defines them.
// Both run the backend's fused `adam` kernel, one launch per parameter, with m and v on the device
// (or, on a backend without it, the same update from elementwise kernels).
import type { AdamHyper, Backend, BinaryOp, Buffer, UnaryOp } from '../backend/backend.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type OptimizerParamGroup, type ParamGroup, type ParamState } from './optimizer.js';

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

  protected constructor(
    type: string,
    params: Tensor[] | ParamGroup[],
    opts: AdamOptions,
    defaultWeightDecay: number,
    private readonly decoupled: boolean,
  ) {
    super(type, params, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? defaultWeightDecay }, ['exp_avg', 'exp_avg_sq']);
    const betas = opts.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2)
      throw new Error(`${type}: betas must be a pair [beta1, beta2], got ${String(betas)}; the usual value is [0.9, 0.999]`);
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
    const h: AdamHyper = {
      lr: group.lr,
      beta1: this.betas[0],
      beta2: this.betas[1],
      eps: this.eps,
      weightDecay: group.weightDecay,
      decoupled: this.decoupled,
      step: state.step,
    };
    if (p.backend.adam) p.backend.adam(p.buffer, g.buffer, m.buffer, v.buffer, p.size, h);
    else if (p.size > 0) composedAdam(p.backend, p.buffer, g.buffer, m.buffer, v.buffer, p.size, h);
  }
}

/**
 * The fused `adam` update from unary and binary kernels, in place (elementwise kernels may write
 * over an input), for backends without it. Same formula; each step is rounded to f32 on its own.
 */
function composedAdam(b: Backend, p: Buffer, g: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void {
  const unary = (op: UnaryOp, x: Buffer, out: Buffer, p0 = 0, p1 = 0) => b.unary(op, x, out, n, p0, p1);
  const binary = (op: BinaryOp, x: Buffer, y: Buffer, out: Buffer) => b.binary(op, x, y, out, [n], [1], [1]);
  const t = b.alloc(n, 'f32');
  const u = b.alloc(n, 'f32');
  try {
    let grad = g;
    if (h.weightDecay !== 0 && h.decoupled)
      unary('affine', p, p, 1 - h.lr * h.weightDecay); // θ ← θ(1 − lr·wd)
    else if (h.weightDecay !== 0) {
      unary('affine', p, t, h.weightDecay); // g' = g + wd·θ
      binary('add', g, t, t);
      grad = t;
    }
    // m ← β1·m + (1 − β1)·g'
    unary('affine', m, m, h.beta1);
    unary('affine', grad, u, 1 - h.beta1);
    binary('add', m, u, m);
    // v ← β2·v + (1 − β2)·g'²
    unary('square', grad, u);
    unary('affine', u, u, 1 - h.beta2);
    unary('affine', v, v, h.beta2);
    binary('add', v, u, v);
    // θ ← θ − (lr / c1)·m / (sqrt(v / c2) + eps), with c_i = 1 − β_i^step
    unary('affine', v, t, 1 / (1 - h.beta2 ** h.step));
    unary('sqrt', t, t);
    unary('affine', t, t, 1, h.eps);
    unary('affine', m, u, h.lr / (1 - h.beta1 ** h.step));
    binary('div', u, t, u);
    binary('sub', p, u, p);
  } finally {
    b.free(t);
    b.free(u);
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
