// CAGrad, conflict-averse gradient descent (Liu, Liu, Jin, Stone & Liu, NeurIPS 2021). With g_i the
// task gradients on the shared parameters and g0 = (1/T) Σ_i g_i, the update direction maximises the
// worst task's improvement within a ball around g0:
//
//   max_d min_i ⟨g_i, d⟩  s.t. ‖d − g0‖ ≤ c ‖g0‖
//
// Its dual is a problem over the simplex: w* = argmin_{w ∈ Δ} F(w) = g_wᵀ g0 + c‖g0‖ ‖g_w‖ with
// g_w = Σ_i w_i g_i, and then d = g0 + (c ‖g0‖ / ‖g_w‖) g_w. F only needs the T × T Gram matrix
// A_ij = g_i · g_j, so the dual is solved on the device by exponentiated-gradient steps (the authors
// call a host solver; this avoids the readback). The shared gradient is T · d, so that c = 0 gives the
// plain sum Σ_i g_i like the other strategies; task-specific parameters get the plain summed gradient.
import { noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { fromArray, full, type Tensor } from '../tensor/tensor.js';
import type { BalanceContext, BalanceStrategy, StepReport } from './strategy.js';
import { HostWeights, TINY, accumulateGrad, backwardInto, checkFinite, checkTaskCount, dot, requireShared, taskSpecificParams } from './util.js';

/**
 * Step size of the exponentiated-gradient solver on the normalised Gram matrix. With 100 steps it comes
 * within ~1e-5 of the dual optimum on random and near-opposing gradients (checked against a grid search).
 */
const STEP_SIZE = 3;

export interface CAGradOptions {
  /** Radius of the ball around the average gradient, relative to ‖g0‖; c ≥ 0, default 0.4. */
  c?: number;
  /** Divide the update by 1 + c² (the authors' code option). Default false. */
  rescale?: boolean;
  /** Exponentiated-gradient steps for the dual problem (about a dozen tiny ops each). Default 100. */
  iterations?: number;
}

/**
 * The combination coefficients of CAGrad: the shared gradient is Σ_i coef_i g_i. gram is the [T, T]
 * Gram matrix of the task gradients. Returns coef [T] and the dual weights w [T].
 */
export function cagradDirection(gram: Tensor, c: number, iterations: number): { coef: Tensor; w: Tensor } {
  return noGrad(() => {
    const T = gram.shape[0];
    const backend = gram.backend;
    // F scales linearly with A, so its minimiser does not change when A is normalised to O(1).
    const scale = ops.add(ops.mul(ops.sum(ops.mul(gram, eye(T, backend))), 1 / T), TINY);
    const A = ops.div(gram, scale);
    const b = full([T, 1], 1 / T, { backend });
    const Ab = ops.matmul(A, b); // [T, 1]
    const g0Norm = ops.sqrt(ops.add(ops.sum(ops.mul(b, Ab)), TINY)); // ‖g0‖ in normalised units
    let w = full([T, 1], 1 / T, { backend });
    for (let k = 0; k < iterations; k++) {
      const Aw = ops.matmul(A, w);
      const gwNorm = ops.sqrt(ops.add(ops.sum(ops.mul(w, Aw)), TINY));
      const gradF = ops.add(Ab, ops.mul(ops.div(Aw, gwNorm), ops.mul(g0Norm, c)));
      const step = ops.mul(w, ops.exp(ops.mul(ops.sub(gradF, ops.max(gradF)), -STEP_SIZE)));
      w = ops.div(step, ops.sum(step));
    }
    const gwNorm = ops.sqrt(ops.add(ops.sum(ops.mul(w, ops.matmul(A, w))), TINY));
    const lambda = ops.div(ops.mul(g0Norm, c), gwNorm); // c‖g0‖/‖g_w‖, a ratio: the normalisation cancels
    const coef = ops.add(ops.mul(w, lambda), 1 / T);
    return { coef: ops.reshape(coef, [T]), w: ops.reshape(w, [T]) };
  });
}

function eye(n: number, backend: Tensor['backend']): Tensor {
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) values[i * n + i] = 1;
  return fromArray(values, [n, n], { backend });
}

export class CAGrad implements BalanceStrategy {
  readonly name = 'cagrad';
  readonly c: number;
  readonly rescale: boolean;
  readonly iterations: number;
  private nTask: number | undefined;
  private readonly host = new HostWeights();

  constructor(opts: CAGradOptions = {}) {
    this.c = checkFinite('CAGrad', 'c', opts.c ?? 0.4, (v) => v >= 0, 'must be a number ≥ 0 (the paper uses 0.2 to 0.9)');
    this.rescale = opts.rescale ?? false;
    const it = opts.iterations ?? 100;
    if (!Number.isInteger(it) || it < 1) throw new Error(`CAGrad: iterations must be a positive integer, got ${String(it)}`);
    this.iterations = it;
  }

  setup(info: { nTask: number }): void {
    this.nTask = info.nTask;
  }

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    checkTaskCount('CAGrad', this.nTask, T);
    requireShared(ctx, 'CAGrad');
    const grads = ctx.taskGradients();
    const report = noGrad(() => {
      const rows = grads.map((gi) => ops.concat(grads.map((gj) => ops.reshape(dot(gi, gj), [1]))));
      const gram = ops.reshape(ops.concat(rows), [T, T]);
      const { coef } = cagradDirection(gram, this.c, this.iterations);
      const factor = (T / (this.rescale ? 1 + this.c * this.c : 1));
      const scaled = ops.mul(coef, factor);
      ctx.shared.forEach((p, j) => {
        accumulateGrad(p, grads.map((g, i) => ops.mul(g[j], ops.slice(scaled, [i], [1]))).reduce((a, b) => ops.add(a, b)));
      });
      return scaled;
    });
    backwardInto(ctx.losses.reduce((a, b) => ops.add(a, b)), taskSpecificParams(ctx));
    return { weights: this.host.snapshot(report) };
  }
}
