// PCGrad, gradient surgery (Yu et al., NeurIPS 2020). With g_i the gradient of task i on all shared
// parameters (flattened into one vector):
//
//   for each task i:  g_i^PC ← g_i
//     for each other task j, in random order:
//       if g_i^PC · g_j < 0:  g_i^PC ← g_i^PC − (g_i^PC · g_j / ‖g_j‖²) g_j
//   shared gradient = Σ_i g_i^PC
//
// Task-specific parameters get the plain summed gradient. The conflict test runs on the device:
// the coefficient min(g_i^PC · g_j, 0) / ‖g_j‖² is zero when the gradients do not conflict, so no value
// is read back. The order is drawn from a seeded generator, the same on every backend.
import { noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { isRandomState, Random } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  type BalanceContext,
  type BalanceStrategy,
  balanceMethod,
  type StepReport,
  type StrategySnapshot,
  type StrategyState,
} from './strategy.js';
import { accumulateGrad, backwardInto, checkTaskCount, dot, requireShared, sumSquares, TINY, taskSpecificParams } from './util.js';

export interface PCGradOptions {
  /** Seed of the projection order. Default 0. */
  seed?: number;
}

/** For each task i, the other tasks in the random order its gradient is projected against. */
export function projectionOrder(rng: Random, nTask: number): number[][] {
  return Array.from({ length: nTask }, (_, i) => Array.from(rng.permutation(nTask - 1), (k) => (k < i ? k : k + 1)));
}

/** The PCGrad sum Σ_i g_i^PC of task gradients grads[task][param], on the device. */
export function projectConflicting(grads: Tensor[][], order: number[][]): Tensor[] {
  return noGrad(() => {
    const normSq = grads.map((g) => sumSquares(g));
    const projected = grads.map((gi, i) => {
      let pc = gi;
      for (const j of order[i]) {
        // min(pc · g_j, 0) / ‖g_j‖²: −relu(−x) is min(x, 0).
        const coef = ops.div(ops.neg(ops.relu(ops.neg(dot(pc, grads[j])))), ops.add(normSq[j], TINY));
        pc = pc.map((t, p) => ops.sub(t, ops.mul(grads[j][p], coef)));
      }
      return pc;
    });
    return grads[0].map((_, p) => projected.map((g) => g[p]).reduce((a, b) => ops.add(a, b)));
  });
}

export class PCGrad implements BalanceStrategy {
  readonly name = 'pcgrad';
  readonly seed: number;
  private readonly rng: Random;
  private nTask: number | undefined;

  constructor(opts: PCGradOptions = {}) {
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed)) throw new Error(`PCGrad: seed must be an integer, got ${String(seed)}`);
    this.seed = seed;
    this.rng = new Random(seed);
  }

  setup(info: { nTask: number }): void {
    this.nTask = info.nTask;
  }

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    checkTaskCount('PCGrad', this.nTask, T);
    requireShared(ctx, 'PCGrad');
    const combined = projectConflicting(ctx.taskGradients(), projectionOrder(this.rng, T));
    ctx.shared.forEach((p, j) => accumulateGrad(p, combined[j]));
    backwardInto(
      ctx.losses.reduce((a, b) => ops.add(a, b)),
      taskSpecificParams(ctx),
    );
    return { weights: Array<number>(T).fill(1) };
  }

  /** backward() draws a projection order: undoing a step rewinds the stream. */
  snapshot(): StrategySnapshot {
    const state = this.rng.getState();
    return { restore: () => this.rng.setState(state), release: () => {} };
  }

  /** Where the random projection order has got to (for checkpoints). */
  async stateDict(): Promise<StrategyState> {
    return { random: this.rng.getState() };
  }

  validateStateDict(state: StrategyState): void {
    if (!isRandomState(state.random))
      throw new Error(`PCGrad state: random must be a generator state, got ${JSON.stringify(state.random)}`);
  }

  loadStateDict(state: StrategyState): void {
    this.validateStateDict(state);
    this.rng.setState(state.random as never);
  }
}

export const pcgradMethod = balanceMethod({
  name: 'pcgrad',
  options: ['seed'],
  summary: 'Gradient surgery: projects each task gradient off the others it conflicts with',
  paper: { authors: 'Yu et al.', venue: 'NeurIPS 2020', title: 'Gradient Surgery for Multi-Task Learning' },
  create: (options: PCGradOptions) => new PCGrad(options),
});
