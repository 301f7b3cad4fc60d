// Adagrad (Duchi et al., 2011) as torch.optim.Adagrad:
//   d = g + wd·θ;  clr = lr / (1 + (step − 1)·lrDecay);  s ← s + d²;  θ ← θ − clr · d / (√s + eps)
import { add, assign, div, mul, sqrt, square, sub } from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkRange, Optimizer, type OptimizerParamGroup, type ParamGroup, type ParamState } from './optimizer.js';

export interface AdagradOptions {
  /** Default 1e-2 (torch's default). */
  lr?: number;
  /** Learning-rate decay per step. Default 0. */
  lrDecay?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** Starting value of the sum of squared gradients. Default 0. */
  initialAccumulatorValue?: number;
  /** Default 1e-10. */
  eps?: number;
}

export class Adagrad extends Optimizer {
  readonly lrDecay: number;
  readonly initialAccumulatorValue: number;
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroup[], opts: AdagradOptions = {}) {
    super('Adagrad', params, { lr: opts.lr ?? 1e-2, weightDecay: opts.weightDecay ?? 0 }, ['sum']);
    this.lrDecay = opts.lrDecay ?? 0;
    this.initialAccumulatorValue = opts.initialAccumulatorValue ?? 0;
    this.eps = opts.eps ?? 1e-10;
    checkRange('Adagrad', 'lrDecay', this.lrDecay, 0, Infinity, 'use 0 for no decay');
    checkRange(
      'Adagrad',
      'initialAccumulatorValue',
      this.initialAccumulatorValue,
      0,
      Infinity,
      'use 0 (the default) or a small positive value',
    );
    checkRange('Adagrad', 'eps', this.eps, 0, Infinity, 'the usual value is 1e-10');
  }

  protected override updateParam(p: Tensor, g: Tensor, group: OptimizerParamGroup, state: ParamState): void {
    const d = group.weightDecay !== 0 ? add(g, mul(p, group.weightDecay)) : g;
    const clr = group.lr / (1 + (state.step - 1) * this.lrDecay);
    const sum = this.stateTensor(p, state, 'sum', this.initialAccumulatorValue);
    assign(sum, add(sum, square(d)));
    assign(p, sub(p, mul(div(d, add(sqrt(sum), this.eps)), clr)));
  }
}
