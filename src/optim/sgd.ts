// Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and L2 weight decay,
// following torch.optim.SGD with dampening 0:
//   d = g + wd·θ;  b = d (first step) | μ·b + d;  d = d + μ·b (Nesterov) | b;  θ ← θ − lr·d

import { keep } from '../tensor/engine.js';
import { add, affine, assign, mul, sub } from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type OptimizerParamGroup, type ParamGroup, type ParamState } from './optimizer.js';

export interface SGDOptions {
  /** Default 1e-3 (torch's default). */
  lr?: number;
  /** Momentum factor μ; 0 (default) is plain SGD. */
  momentum?: number;
  /** Nesterov momentum; needs momentum > 0. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[] | ParamGroup[], opts: SGDOptions = {}) {
    super('SGD', params, { lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 0 }, ['momentum_buffer']);
    const momentum = opts.momentum ?? 0;
    checkRange('SGD', 'momentum', momentum, 0, Infinity, 'typical values are 0 or 0.9');
    this.momentum = momentum;
    this.nesterov = opts.nesterov ?? false;
    if (this.nesterov && momentum === 0) throw new Error('SGD: nesterov needs momentum > 0; set e.g. { momentum: 0.9, nesterov: true }');
  }

  /** With momentum each updated parameter has a momentum buffer; plain SGD keeps none. */
  protected override requiredStateKeys(): readonly string[] {
    return this.momentum !== 0 ? this.stateKeys : [];
  }

  protected override describeStateKeys(): string {
    return this.momentum !== 0 ? `SGD with momentum ${this.momentum} keeps momentum_buffer` : 'SGD with momentum 0 keeps no state tensors';
  }

  protected override updateParam(p: Tensor, g: Tensor, group: OptimizerParamGroup, state: ParamState): void {
    let d = group.weightDecay !== 0 ? add(g, mul(p, group.weightDecay)) : g;
    if (this.momentum !== 0) {
      let buf = state.buffers.momentum_buffer;
      if (!buf) {
        buf = keep(affine(d, 1, 0));
        state.buffers.momentum_buffer = buf;
      } else assign(buf, add(mul(buf, this.momentum), d));
      d = this.nesterov ? add(d, mul(buf, this.momentum)) : buf;
    }
    assign(p, sub(p, mul(d, group.lr)));
  }
}
