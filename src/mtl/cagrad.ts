// CAGrad, conflict-averse gradient descent (Liu, Liu, Jin, Stone & Liu, NeurIPS 2021). With g_i the
// task gradients on the shared parameters and g0 = (1/T) Σ_i g_i, the update direction maximises the
// worst task's improvement within a ball around g0:
//
//   primal   max_d min_i ⟨g_i, d⟩  s.t.  ‖d − g0‖ ≤ r,   r = c ‖g0‖
//   dual     w* = argmin_{w ∈ Δ} F(w) = g_wᵀ g0 + r ‖g_w‖,   g_w = Σ_i w_i g_i
//   update   d = g0 + (r / ‖g_w*‖) g_w*
//
// Everything depends on the gradients only through the T × T Gram matrix G_ij = g_i · g_j (with b = 1/T:
// a = G b, a_i = ⟨g_i, g0⟩, ‖g0‖² = bᵀa, F(w) = aᵀw + r √(wᵀGw)), and F is convex, so the dual is
// solved exactly: the optimum is the stationary point of F on one face of the simplex, and every face's
// stationary point has a closed form (solveCAGradDual below; the one case without a stationary point,
// g_w* = 0, has its own closed form). The host solver works in float64 on backends that read
// synchronously; on WebGPU the same enumeration runs on the device. The shared gradient is T · d, so that
// c = 0 gives the plain sum Σ_i g_i like the other strategies (divided by 1 + c² with rescale, the
// authors' rescale=1); task-specific parameters get the plain summed gradient.
import { noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { fromArray, full, type Tensor } from '../tensor/tensor.js';
import { type BalanceContext, type BalanceStrategy, balanceMethod, type StepReport } from './strategy.js';
import { accumulateGrad, backwardInto, checkFinite, checkTaskCount, dot, HostWeights, requireShared, taskSpecificParams } from './util.js';

/** The exact solver enumerates the 2^T − 1 faces of the simplex (4095 small solves at T = 12). */
export const CAGRAD_MAX_TASKS = 12;

export interface CAGradOptions {
  /** Radius of the ball around the average gradient, relative to ‖g0‖; c ≥ 0, default 0.4. */
  c?: number;
  /** Divide the update by 1 + c² (the authors' code option rescale=1). Default false. */
  rescale?: boolean;
  /**
   * Accepted for compatibility and ignored: the dual used to be solved by this many
   * exponentiated-gradient steps; it is now solved exactly.
   */
  iterations?: number;
}

/** The solution of CAGrad's problem for one Gram matrix (host, float64). */
export interface CAGradSolution {
  /** The update direction d = Σ_i coef_i g_i (before the strategy's factor T); coef = 1/T + lambda · w. */
  coef: number[];
  /** Weights on the simplex (the dual optimum w* when kind is 'face'). */
  w: number[];
  /** coef = 1/T + lambda · w; for 'face' lambda = c‖g0‖ / ‖g_w‖. */
  lambda: number;
  /** min_i ⟨g_i, d⟩, the worst task's first-order improvement: the optimum of the primal and the dual. */
  worst: number;
  /**
   * 'face': the paper's d = g0 + (c‖g0‖/‖g_w‖) g_w. 'cone': the dual optimum has g_w = 0 (0 is a convex
   * combination of the task gradients, so no d improves every task: the optimum is min_i ⟨g_i, d⟩ = 0), and
   * d is the point nearest g0 with every ⟨g_i, d⟩ ≥ 0, d = g0 + Σ_i λ_i g_i, λ ≥ 0. 'mean': d = g0 (r = 0:
   * c = 0 or g0 = 0).
   */
  kind: 'face' | 'cone' | 'mean';
}

// ---- the exact solver (host, float64) ------------------------------------------------------------

/** A face whose Cholesky pivot falls below PIVOT_TOL · max_i G_ii is treated as singular (skipped). */
const PIVOT_TOL = 1e-12;
/** Weights down to −NEG_TOL count as on the simplex (then clipped to 0). */
const NEG_TOL = 1e-10;
/** Candidates within TIE_TOL · max_i G_ii of the best worst-task value are ties; the earlier one wins. */
const TIE_TOL = 1e-12;

/**
 * Solves CAGrad's problem exactly for the Gram matrix G of the task gradients, in float64.
 *
 *   1. a = G b, r = c √(bᵀa); if r = 0, d = g0.
 *   2. For every support S (a face of the simplex) with G_SS positive definite:
 *        p = G_SS⁻¹ 1, q = G_SS⁻¹ a_S, α = 1ᵀp, β = 1ᵀq, q̄ = q − (β/α) p, e = (a_S − β/α)ᵀ q̄ ≥ 0.
 *        Face point: the KKT conditions a_S + r G_SS w / ‖g_w‖ = μ 1, 1ᵀw = 1 have the solution
 *          w = p/α − q̄/√Δ, Δ = α (r² − e), when Δ > 0; it is a candidate when w ≥ 0, with
 *          d = g0 + (r/‖g_w‖) g_w (then ⟨g_i, d⟩ = μ = F(w) on S).
 *        Cone point (the optimum at g_w = 0): λ = −q, a candidate when λ ≥ 0 and √(λᵀG_SSλ) ≤ r,
 *          d = g0 + g_λ, the projection of g0 onto {d : ⟨g_i, d⟩ ≥ 0 for i ∈ S}.
 *   3. d = g0 is always a candidate. Every candidate is feasible (‖d − g0‖ ≤ r), so its value
 *      min_i ⟨g_i, d⟩ is at most the optimum; the face (or cone) point of the optimal face attains it.
 *      Return the candidate with the largest value (a face point on ties: the paper's formula).
 *
 * Faces whose gradients are linearly dependent are skipped: F depends on w only through g_w, so an
 * optimum on such a face is also attained on a smaller face, or at g_w = 0 (the cone point).
 */
export function solveCAGradDual(gram: ArrayLike<ArrayLike<number>>, c: number): CAGradSolution {
  checkFinite('CAGrad', 'c', c, (v) => v >= 0, 'must be a number ≥ 0');
  const G = checkGram(gram);
  const T = G.length;
  checkTaskLimit(T);
  const b = new Array<number>(T).fill(1 / T);
  const a = matVec(G, b); // a_i = ⟨g_i, g0⟩
  const r = c * Math.sqrt(Math.max(dotv(b, a), 0)); // c ‖g0‖
  const scale = G.reduce((m, row, i) => Math.max(m, row[i]), 0); // max_i ‖g_i‖²
  const mean = meanPoint(G, a);
  if (!(r > 0) || !(scale > 0)) return mean;

  let face: CAGradSolution | null = null;
  let cone: CAGradSolution | null = null;
  const better = (x: CAGradSolution | null, y: CAGradSolution | null) => (y && (!x || y.worst > x.worst) ? y : x);
  forEachFace(G, a, PIVOT_TOL * scale, (S, p, q) => {
    face = better(face, facePoint(G, a, r, S, p, q));
    cone = better(cone, conePoint(G, r, S, q));
  });
  return bestOf([face, cone, mean], TIE_TOL * scale);
}

/** F(w) = aᵀw + c‖g0‖‖g_w‖, the dual objective, from the Gram matrix (float64). */
export function cagradObjective(gram: ArrayLike<ArrayLike<number>>, c: number, w: ArrayLike<number>): number {
  const G = checkGram(gram);
  const T = G.length;
  const b = new Array<number>(T).fill(1 / T);
  const a = matVec(G, b);
  const wv = Array.from(w);
  return dotv(a, wv) + c * Math.sqrt(Math.max(dotv(b, a), 0)) * Math.sqrt(Math.max(dotv(wv, matVec(G, wv)), 0));
}

function checkTaskLimit(T: number): void {
  if (T > CAGRAD_MAX_TASKS) {
    throw new Error(
      `CAGrad: the exact dual solver enumerates the 2^T − 1 faces of the simplex and supports up to ${CAGRAD_MAX_TASKS} tasks, got ${T}`,
    );
  }
}

/** A finite, square, symmetric copy of the Gram matrix ((G + Gᵀ)/2), or a clear error. */
function checkGram(gram: ArrayLike<ArrayLike<number>>): number[][] {
  const T = gram.length;
  if (T < 1) throw new Error('CAGrad: the Gram matrix is empty (no tasks)');
  for (let i = 0; i < T; i++) {
    if (gram[i].length !== T) throw new Error(`CAGrad: the Gram matrix must be ${T} × ${T}, row ${i} has ${gram[i].length} entries`);
    for (let j = 0; j < T; j++) {
      const v = gram[i][j];
      if (!Number.isFinite(v)) {
        throw new Error(
          `CAGrad: the Gram matrix of the task gradients has a non-finite entry G[${i}][${j}] = ${String(v)} ` +
            `(the gradient of task ${i}${i === j ? '' : ` or task ${j}`} on the shared parameters is not finite, or its squared norm overflowed)`,
        );
      }
    }
  }
  return Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (gram[i][j] + gram[j][i]) / 2));
}

/**
 * Calls visit(S, p, q) with p = G_SS⁻¹ 1 and q = G_SS⁻¹ a_S for every support S whose G_SS is positive
 * definite. Depth-first over S in increasing order, so each face extends its parent's Cholesky factor by
 * one row (and a face with a singular prefix is skipped with all the faces that extend it).
 */
function forEachFace(G: number[][], a: number[], minPivot: number, visit: (S: number[], p: number[], q: number[]) => void): void {
  const T = G.length;
  const L = Array.from({ length: T }, () => new Array<number>(T).fill(0)); // L[k]: the row of S[k]
  const y1 = new Array<number>(T).fill(0); // L⁻¹ 1
  const ya = new Array<number>(T).fill(0); // L⁻¹ a_S
  const S: number[] = [];
  const extend = (from: number): void => {
    const k = S.length;
    for (let i = from; i < T; i++) {
      const row = L[k];
      let pivot = G[i][i];
      for (let j = 0; j < k; j++) {
        let s = G[i][S[j]];
        for (let m = 0; m < j; m++) s -= row[m] * L[j][m];
        row[j] = s / L[j][j];
        pivot -= row[j] * row[j];
      }
      if (!(pivot > minPivot)) continue;
      row[k] = Math.sqrt(pivot);
      let s1 = 1;
      let sa = a[i];
      for (let m = 0; m < k; m++) {
        s1 -= row[m] * y1[m];
        sa -= row[m] * ya[m];
      }
      y1[k] = s1 / row[k];
      ya[k] = sa / row[k];
      S.push(i);
      visit(S, backSolve(L, y1, k + 1), backSolve(L, ya, k + 1));
      extend(i + 1);
      S.pop();
    }
  };
  extend(0);
}

/** x = L⁻ᵀ y for the leading n × n block of L. */
function backSolve(L: number[][], y: number[], n: number): number[] {
  const x = y.slice(0, n);
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) x[i] -= L[k][i] * x[k];
    x[i] /= L[i][i];
  }
  return x;
}

/**
 * The stationary point of F on the face S (the paper's candidate): w = p/α − q̄/√Δ, Δ = α(r² − e).
 * Null when F has no stationary point with g_w ≠ 0 on the face's affine hull (Δ ≤ 0) or it lies
 * outside the simplex.
 */
function facePoint(G: number[][], a: number[], r: number, S: number[], p: number[], q: number[]): CAGradSolution | null {
  const alpha = sum(p);
  const ratio = sum(q) / alpha; // β/α
  let e = 0; // (a_S − β/α)ᵀ G_SS⁻¹ (a_S − β/α)
  S.forEach((i, k) => (e += (a[i] - ratio) * (q[k] - ratio * p[k])));
  const delta = alpha * (r * r - Math.max(e, 0));
  if (!(alpha > 0) || !(delta > 0)) return null;
  const w = new Array<number>(G.length).fill(0);
  for (let k = 0; k < S.length; k++) {
    const wk = p[k] / alpha - (q[k] - ratio * p[k]) / Math.sqrt(delta);
    if (!(wk >= -NEG_TOL)) return null;
    w[S[k]] = Math.max(wk, 0);
  }
  const total = sum(w);
  for (let i = 0; i < w.length; i++) w[i] /= total;
  const gwNorm = Math.sqrt(Math.max(dotv(w, matVec(G, w)), 0)); // ‖g_w‖
  if (!(gwNorm > 0)) return null;
  return point(G, w, r / gwNorm, 'face');
}

/**
 * The projection of g0 onto {d : ⟨g_i, d⟩ ≥ 0 for i ∈ S} when it keeps S active: λ = −q ≥ 0,
 * d = g0 + Σ_S λ_i g_i, so ⟨g_i, d⟩ = 0 on S. A candidate when ‖g_λ‖ ≤ r.
 */
function conePoint(G: number[][], r: number, S: number[], q: number[]): CAGradSolution | null {
  const big = q.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
  const lam = new Array<number>(G.length).fill(0);
  for (let k = 0; k < S.length; k++) {
    if (!(-q[k] >= -NEG_TOL * big)) return null;
    lam[S[k]] = Math.max(-q[k], 0);
  }
  const dist = Math.sqrt(Math.max(dotv(lam, matVec(G, lam)), 0)); // ‖d − g0‖ = ‖g_λ‖
  if (!(dist <= r * (1 + 1e-9))) return null;
  const lamSum = sum(lam);
  const total = lamSum * Math.min(1, r / dist); // Σλ after shrinking into the ball (rounding only)
  if (!(total > 0)) return null;
  return point(
    G,
    lam.map((v) => v / lamSum),
    total,
    'cone',
  );
}

/** d = g0, always feasible. Its dual weights: the vertex with the smallest ⟨g_i, g0⟩ (optimal when r = 0). */
function meanPoint(G: number[][], a: number[]): CAGradSolution {
  const w = new Array<number>(G.length).fill(0);
  w[a.indexOf(Math.min(...a))] = 1;
  return point(G, w, 0, 'mean');
}

/** coef = 1/T + lambda · w and its value min_i (G coef)_i = min_i ⟨g_i, d⟩. */
function point(G: number[][], w: number[], lambda: number, kind: CAGradSolution['kind']): CAGradSolution {
  const coef = w.map((wi) => 1 / G.length + lambda * wi);
  return { coef, w, lambda, worst: Math.min(...matVec(G, coef)), kind };
}

/** The candidate with the largest worst-task value; on ties (within tol) the earlier one. */
function bestOf(cands: (CAGradSolution | null)[], tol: number): CAGradSolution {
  const found = cands.filter((s): s is CAGradSolution => s !== null);
  const best = Math.max(...found.map((s) => s.worst));
  return found.find((s) => s.worst >= best - tol)!;
}

const sum = (v: number[]): number => v.reduce((s, x) => s + x, 0);
const dotv = (u: number[], v: number[]): number => u.reduce((s, x, i) => s + x * v[i], 0);
const matVec = (G: number[][], v: number[]): number[] => G.map((row) => dotv(row, v));

// ---- the same solver on the device ----------------------------------------------------------------

/** Tolerances of the float32 device solver, relative to max_i G_ii as on the host. */
const DEVICE_PIVOT_TOL = 1e-6;
const DEVICE_NEG_TOL = 1e-5;
const DEVICE_TIE_TOL = 1e-6;

/**
 * solveCAGradDual with tensor ops, for backends that cannot read synchronously (WebGPU): the same
 * candidates for all 2^T − 1 faces at once, in float32, with no readback. The faces' systems are
 * solved by batched Gauss–Jordan elimination (G_SS is positive definite, so no pivoting); singular faces
 * and infeasible points are masked out, and ties are averaged (min_i ⟨g_i, d⟩ is concave, so an average
 * of optimal directions is optimal).
 */
export function solveCAGradDualOnDevice(gram: Tensor, c: number): { coef: Tensor; w: Tensor } {
  return noGrad(() => {
    const T = gram.shape[0];
    checkTaskLimit(T);
    const K = (1 << T) - 1;
    const backend = gram.backend;
    const constant = (values: number[], shape: number[]) => fromArray(Float32Array.from(values), shape, { backend });
    const oneMinus = (x: Tensor) => ops.affine(x, -1, 1);
    const positive = (x: Tensor) => ops.where(ops.relu(x), constant([1], [1]), constant([0], [1])); // 1 where x > 0
    const masks = constant(
      Array.from({ length: K * T }, (_, idx) => ((Math.floor(idx / T) + 1) >> (idx % T)) & 1),
      [K, T],
    ); // face k = the bits of k + 1
    const eye = constant(
      Array.from({ length: T * T }, (_, idx) => (Math.floor(idx / T) === idx % T ? 1 : 0)),
      [T, T],
    );
    const b = full([T], 1 / T, { backend });

    const G = ops.mul(ops.add(gram, ops.transpose(gram)), 0.5);
    const a = ops.reshape(ops.matmul(G, ops.reshape(b, [T, 1])), [T]); // a_i = ⟨g_i, g0⟩
    const r = ops.mul(ops.sqrt(ops.relu(ops.mean(a))), c); // c‖g0‖, shape []
    const r2 = ops.mul(r, r);
    const scale = ops.add(ops.max(ops.mul(G, eye)), 1e-30);

    // Every face's system [G_SS | 1, a_S], padded to T × T with the identity outside S.
    const m3 = ops.reshape(masks, [K, T, 1]);
    let A = ops.add(ops.mul(ops.mul(m3, ops.reshape(masks, [K, 1, T])), G), ops.mul(oneMinus(m3), eye));
    let R = ops.concat([m3, ops.mul(m3, ops.reshape(a, [1, T, 1]))], 2);
    let ok = full([K, 1, 1], 1, { backend });
    for (let j = 0; j < T; j++) {
      const pivot = ops.slice(A, [0, j, j], [K, 1, 1]);
      const good = positive(ops.sub(pivot, ops.mul(scale, DEVICE_PIVOT_TOL)));
      ok = ops.mul(ok, good);
      const safe = ops.where(good, pivot, ops.reshape(scale, [1, 1, 1]));
      const rowA = ops.div(ops.slice(A, [0, j, 0], [K, 1, T]), safe);
      const rowR = ops.div(ops.slice(R, [0, j, 0], [K, 1, 2]), safe);
      const e = constant(
        Array.from({ length: T }, (_, i) => (i === j ? 1 : 0)),
        [1, T, 1],
      );
      const col = ops.sub(ops.slice(A, [0, 0, j], [K, T, 1]), e);
      A = ops.sub(A, ops.mul(col, rowA));
      R = ops.sub(R, ops.mul(col, rowR));
    }
    const valid = ops.reshape(ok, [K]);
    const p = ops.reshape(ops.slice(R, [0, 0, 0], [K, T, 1]), [K, T]); // G_SS⁻¹ 1, 0 outside S
    const q = ops.reshape(ops.slice(R, [0, 0, 1], [K, T, 1]), [K, T]); // G_SS⁻¹ a_S
    const quad = (v: Tensor) => ops.sum(ops.mul(ops.matmul(v, G), v), 1); // vᵀGv per face, [K]
    const anyBelow = (v: Tensor, tol: number) => positive(ops.sum(ops.relu(ops.sub(ops.neg(v), tol)), 1)); // some v_i < −tol

    // Face points: w = p/α − q̄/√Δ.
    const alpha = ops.where(valid, ops.sum(p, 1), constant([1], [1]));
    const ratio = ops.reshape(ops.div(ops.sum(q, 1), alpha), [K, 1]); // β/α
    const qBar = ops.sub(q, ops.mul(ratio, p));
    const e = ops.relu(ops.sum(ops.mul(ops.mul(masks, ops.sub(a, ratio)), qBar), 1));
    const delta = ops.mul(alpha, ops.sub(r2, e));
    const rootDelta = ops.reshape(ops.sqrt(ops.maximum(delta, constant([1e-30], [1]))), [K, 1]);
    const wFace = ops.sub(ops.div(p, ops.reshape(alpha, [K, 1])), ops.div(qBar, rootDelta));
    const wPlus = ops.relu(wFace);
    const wNorm = ops.div(wPlus, ops.add(ops.sum(wPlus, 1, true), 1e-30));
    const gw2 = quad(wNorm);
    const faceOk = ops.mul(ops.mul(valid, positive(delta)), ops.mul(oneMinus(anyBelow(wFace, DEVICE_NEG_TOL)), positive(gw2)));
    const lambdaFace = ops.div(r, ops.sqrt(ops.maximum(gw2, constant([1e-30], [1]))));
    const coefFace = ops.add(b, ops.mul(ops.reshape(lambdaFace, [K, 1]), wNorm));

    // Cone points: λ = −q ≥ 0 with ‖g_λ‖ ≤ r.
    const lam = ops.relu(ops.neg(q));
    const lamBig = ops.maximum(ops.max(ops.abs(q), 1), constant([1], [1]));
    const dist2 = quad(lam);
    const coneOk = ops.mul(
      ops.mul(valid, oneMinus(anyBelow(ops.div(ops.neg(q), ops.reshape(lamBig, [K, 1])), DEVICE_NEG_TOL))),
      ops.mul(positive(ops.sub(ops.mul(r2, 1 + 1e-5), dist2)), positive(ops.sum(lam, 1))),
    );
    const coefCone = ops.add(b, lam);
    const wCone = ops.div(lam, ops.add(ops.sum(lam, 1, true), 1e-30));

    // The mean, d = g0, and its dual weights: the task(s) with the smallest ⟨g_i, g0⟩.
    const atMin = positive(ops.add(ops.sub(ops.neg(a), ops.max(ops.neg(a))), ops.mul(scale, DEVICE_TIE_TOL))); // ≥ 1 task
    const wMean = ops.reshape(ops.div(atMin, ops.sum(atMin)), [1, T]);

    // The candidate(s) with the largest worst-task value.
    const okAll = ops.reshape(ops.concat([faceOk, coneOk, constant([1], [1])]), [2 * K + 1, 1]);
    const coefAll = ops.where(okAll, ops.concat([coefFace, coefCone, ops.reshape(b, [1, T])]), ops.reshape(b, [1, T]));
    const wAll = ops.where(okAll, ops.concat([wNorm, wCone, wMean]), wMean);
    const worst = ops.neg(ops.max(ops.neg(ops.matmul(coefAll, G)), 1, true)); // [2K + 1, 1]

    const best = ops.max(worst); // rows that are not candidates hold d = g0, itself a candidate
    const chosen = ops.mul(okAll, positive(ops.add(ops.sub(worst, best), ops.mul(scale, DEVICE_TIE_TOL))));
    const n = ops.sum(chosen);
    return {
      coef: ops.div(ops.sum(ops.mul(chosen, coefAll), 0), n),
      w: ops.div(ops.sum(ops.mul(chosen, wAll), 0), n),
    };
  });
}

// ---- the strategy ----------------------------------------------------------------------------------

/**
 * The combination coefficients of CAGrad: the direction is d = Σ_i coef_i g_i. gram is the [T, T] Gram
 * matrix of the task gradients. Returns coef [T] and the dual weights w [T]. On backends that read
 * synchronously (CPU, wasm) the Gram matrix is read and solved exactly in float64 (solveCAGradDual);
 * elsewhere (WebGPU) the same solver runs on the device in float32. `iterations` is ignored (kept for
 * compatibility with the former iterative solver).
 */
export function cagradDirection(gram: Tensor, c: number, _iterations?: number): { coef: Tensor; w: Tensor } {
  return noGrad(() => {
    const T = gram.shape[0];
    if (gram.rank !== 2 || gram.shape[1] !== T) throw new Error(`CAGrad: the Gram matrix must be [T, T], got ${gram.describe()}`);
    checkTaskLimit(T);
    const backend = gram.backend;
    if (!backend.readSync) return solveCAGradDualOnDevice(gram, c);
    const flat = backend.readSync(gram.buffer);
    const rows = Array.from({ length: T }, (_, i) => Array.from(flat.subarray(i * T, (i + 1) * T)));
    const { coef, w } = solveCAGradDual(rows, c);
    return { coef: fromArray(Float32Array.from(coef), [T], { backend }), w: fromArray(Float32Array.from(w), [T], { backend }) };
  });
}

export class CAGrad implements BalanceStrategy {
  readonly name = 'cagrad';
  readonly c: number;
  readonly rescale: boolean;
  /** Kept for compatibility; the dual is solved exactly. */
  readonly iterations: number;
  private nTask: number | undefined;
  private readonly host = new HostWeights();

  constructor(opts: CAGradOptions = {}) {
    this.c = checkFinite('CAGrad', 'c', opts.c ?? 0.4, (v) => v >= 0, 'must be a number ≥ 0 (the paper uses 0.2 to 0.9)');
    if (opts.rescale !== undefined && typeof opts.rescale !== 'boolean')
      throw new Error(`CAGrad: rescale must be true or false, got ${JSON.stringify(opts.rescale)}`);
    this.rescale = opts.rescale ?? false;
    const it = opts.iterations ?? 100;
    if (!Number.isInteger(it) || it < 1) throw new Error(`CAGrad: iterations must be a positive integer, got ${String(it)}`);
    this.iterations = it;
  }

  setup(info: { nTask: number }): void {
    checkTaskLimit(info.nTask);
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
      const { coef } = cagradDirection(gram, this.c);
      const factor = T / (this.rescale ? 1 + this.c * this.c : 1);
      const scaled = ops.mul(coef, factor);
      ctx.shared.forEach((p, j) => {
        accumulateGrad(
          p,
          grads.map((g, i) => ops.mul(g[j], ops.slice(scaled, [i], [1]))).reduce((x, y) => ops.add(x, y)),
        );
      });
      return scaled;
    });
    backwardInto(
      ctx.losses.reduce((x, y) => ops.add(x, y)),
      taskSpecificParams(ctx),
    );
    return { weights: this.host.snapshot(report) };
  }
}

export const cagradMethod = balanceMethod({
  name: 'cagrad',
  options: ['c', 'rescale', 'iterations'],
  summary: 'Conflict-averse gradient descent: the update that most improves the worst task near the average gradient',
  paper: {
    authors: 'Liu, Liu, Jin, Stone & Liu',
    venue: 'NeurIPS 2021',
    title: 'Conflict-Averse Gradient Descent for Multi-task Learning',
  },
  create: (options: CAGradOptions) => new CAGrad(options),
});
