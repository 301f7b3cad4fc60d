// Fixed task weights: L = Σ_i w_i L_i, one backward pass. The default (every w_i = 1/T) is the mean
// of the task losses, what MTLTrainer minimises without taskWeights or a balancing method.
import { backward } from '../tensor/tensor.js';
import { type BalanceContext, type BalanceStrategy, balanceMethod, type StepReport } from './strategy.js';
import { checkTaskCount, weightedSum } from './util.js';

export interface FixedWeightsOptions {
  /** One non-negative weight per task; default 1/T for every task (the mean). */
  weights?: number[];
}

export class FixedWeights implements BalanceStrategy {
  readonly name = 'fixed';
  readonly weights: number[] | null;
  private nTask: number | undefined;

  constructor(opts: FixedWeightsOptions = {}) {
    const w = opts.weights;
    if (w !== undefined) {
      if (!Array.isArray(w) || w.length === 0)
        throw new Error(`FixedWeights: weights must be a non-empty array of numbers, one per task, got ${String(w)}`);
      w.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
          throw new Error(`FixedWeights: weights[${i}] must be a finite number ≥ 0, got ${String(v)}`);
        }
      });
      if (w.every((v) => v === 0)) throw new Error('FixedWeights: all weights are 0, so nothing would be trained');
    }
    this.weights = w ? [...w] : null;
  }

  setup(info: { nTask: number }): void {
    if (this.weights && this.weights.length !== info.nTask) {
      throw new Error(`FixedWeights: ${this.weights.length} weights for ${info.nTask} tasks; give one weight per trained task`);
    }
    this.nTask = info.nTask;
  }

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    if (this.weights && this.weights.length !== T) {
      throw new Error(`FixedWeights: ${this.weights.length} weights for ${T} task losses; give one weight per trained task`);
    }
    checkTaskCount('FixedWeights', this.nTask, T);
    const weights = this.weights ?? Array<number>(T).fill(1 / T);
    backward(weightedSum(ctx.losses, weights));
    return { weights: [...weights] };
  }
}

export const fixedMethod = balanceMethod({
  name: 'fixed',
  options: ['weights'],
  summary: 'Fixed loss weights, Σ_i w_i L_i (default: the mean of the task losses)',
  paper: null,
  create: (options: FixedWeightsOptions) => new FixedWeights(options),
});
