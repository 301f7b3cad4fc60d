// BatchNorm over the batch axis: training (fused kernels or elementwise ops), eval, running statistics.
import type { Backend } from '../../backend/backend.js';
import { isGradEnabled, keep, noGrad, stageWrite } from '../engine.js';
import { empty, fmtShape, type Tensor } from '../tensor.js';
import { add, affine, div, mul, relu, sqrt, square, sub } from './elementwise.js';
import { record, sameBackend } from './internal.js';
import { mean } from './reduce.js';
import { assign } from './shape.js';

export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * BatchNorm over the batch axis. x is [batch, C], or [G, batch, C] for G independent groups (a stack of
 * experts, each with its own statistics and affine parameters); gamma, beta and the running statistics
 * are [C] or [G, 1, C]. Training: batch statistics (biased variance), running statistics updated in
 * place (unbiased variance, as torch). Eval: running statistics. `relu`: followed by ReLU, which
 * backends with batchNormEval fold into the same pass at inference.
 */
export function batchNorm1d(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: BatchNormState,
  opts: { training: boolean; momentum?: number; eps?: number; relu?: boolean },
): Tensor {
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const axis = x.rank === 3 ? 1 : 0;
  const statShape = x.rank === 3 ? [x.shape[0], 1, x.shape[2]] : [x.shape[1]];
  const fits = (t: Tensor) => t.shape.join() === statShape.join();
  if ((x.rank !== 2 && x.rank !== 3) || ![gamma, beta, state.runningMean, state.runningVar].every(fits)) {
    throw new Error(
      `batchNorm1d: expected x [batch, C] or [groups, batch, C] with parameters and statistics ${fmtShape(statShape)}, got x ${x.describe()}, weight ${gamma.describe()}, running mean ${state.runningMean.describe()}`,
    );
  }
  const thenRelu = opts.relu ?? false;
  if (!opts.training) {
    const backend = x.backend;
    const taped = isGradEnabled() && [x, gamma, beta].some((t) => t.requiresGrad);
    const operands = [x, gamma, beta, state.runningMean, state.runningVar];
    if (
      backend.batchNormEval &&
      x.size > 0 &&
      !taped &&
      operands.every((t) => t.dtype === 'f32') &&
      sameBackend('batchNorm1d', operands) === backend
    ) {
      // Inference: one pass instead of five ops (same values).
      const y = empty(x.shape, 'f32', backend);
      const p = { groups: x.rank === 3 ? x.shape[0] : 1, rows: x.shape[axis], channels: x.shape[x.rank - 1], eps, relu: thenRelu };
      backend.batchNormEval(x.buffer, state.runningMean.buffer, state.runningVar.buffer, gamma.buffer, beta.buffer, y.buffer, p);
      return y;
    }
    const scale = div(gamma, sqrt(add(state.runningVar, eps)));
    const y = add(mul(sub(x, state.runningMean), scale), beta);
    return thenRelu ? relu(y) : y;
  }
  const n = x.shape[axis];
  if (n < 2)
    throw new Error(`batchNorm1d: training needs more than one row per batch (got ${x.describe()}); use a larger batch or eval mode`);
  const backend = sameBackend('batchNorm1d', [x, gamma, beta, state.runningMean, state.runningVar]);
  if (
    backend.batchNormForward &&
    backend.batchNormBackward &&
    x.size > 0 &&
    x.dtype === 'f32' &&
    gamma.dtype === 'f32' &&
    beta.dtype === 'f32'
  ) {
    const y = fusedBatchNorm(backend, x, gamma, beta, state, { n, eps, momentum, statShape });
    return thenRelu ? relu(y) : y;
  }
  const mu = mean(x, axis, x.rank === 3);
  const centred = sub(x, mu);
  const variance = mean(square(centred), axis, x.rank === 3);
  const xhat = div(centred, sqrt(add(variance, eps)));
  updateRunning(state.runningMean, mu, momentum, 1);
  updateRunning(state.runningVar, variance, momentum, n / (n - 1));
  const y = add(mul(xhat, gamma), beta);
  return thenRelu ? relu(y) : y;
}

/** Training-mode batchNorm1d in two kernels, on backends that have them (same values as the elementwise form). */
function fusedBatchNorm(
  backend: Backend,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: BatchNormState,
  o: { n: number; eps: number; momentum: number; statShape: number[] },
): Tensor {
  const p = { groups: x.rank === 3 ? x.shape[0] : 1, rows: o.n, channels: x.shape[x.rank - 1], eps: o.eps };
  const y = empty(x.shape, 'f32', backend);
  const mu = empty(o.statShape, 'f32', backend);
  const variance = empty(o.statShape, 'f32', backend);
  const std = empty(o.statShape, 'f32', backend);
  backend.batchNormForward!(x.buffer, gamma.buffer, beta.buffer, y.buffer, mu.buffer, variance.buffer, std.buffer, p);
  updateRunning(state.runningMean, mu, o.momentum, 1);
  updateRunning(state.runningVar, variance, o.momentum, o.n / (o.n - 1));
  variance.dispose();
  record(y, 'batchNorm1d', [x, gamma, beta], (g) => {
    const gx = empty(x.shape, 'f32', backend);
    const gGamma = empty(gamma.shape, 'f32', backend);
    const gBeta = empty(beta.shape, 'f32', backend);
    backend.batchNormBackward!(x.buffer, gamma.buffer, mu.buffer, std.buffer, g.buffer, gx.buffer, gGamma.buffer, gBeta.buffer, p);
    return [gx, gGamma, gBeta];
  });
  // Saved for the backward only; without a tape entry nothing will read them.
  if (!y.node) {
    mu.dispose();
    std.dispose();
  }
  return y;
}

/** running ← (1 − m)·running + m·correction·stat; held back while the trainer checks its step (stageWrite). */
function updateRunning(running: Tensor, batchStat: Tensor, momentum: number, correction: number): void {
  const next = keep(noGrad(() => add(affine(running, 1 - momentum, 0), affine(batchStat, momentum * correction, 0))));
  stageWrite(
    () => {
      assign(running, next);
      next.dispose();
    },
    () => next.dispose(),
    next,
    `BatchNorm ${running.name ?? 'running statistic'} ${fmtShape(running.shape)}`,
  );
}
