// CAGrad's dual problem against brute force. With g0 the mean task gradient and r = c‖g0‖, CAGrad's
// direction d solves max_d min_i ⟨g_i, d⟩ s.t. ‖d − g0‖ ≤ r; its dual is
// min_{w ∈ simplex} F(w) = ⟨g_w, g0⟩ + r‖g_w‖. Weak duality (min_i ⟨g_i, d⟩ ≤ F(w) for every feasible d
// and every w) makes the brute-force minimum of F an upper bound that the worst task's inner product
// must reach. The brute force here is independent of the solver: a dense grid over the simplex, then
// pairwise-exchange refinement with golden-section line searches, all on the raw gradient vectors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as cagradModule from '../src/mtl/cagrad.js';
import { CAGrad, cagradDirection, createStrategy, makeBalanceContext } from '../src/mtl/index.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
beforeAll(() => wm.setBackend(cpu));

// Looked up at call time, so that the suite also runs (and fails where it should) against an older cagrad.ts.
const solve = (G: number[][], c: number) => cagradModule.solveCAGradDual(G, c);

// ---- vectors, the dual objective and the brute force ---------------------------------------------

type Vec = number[];
const dotv = (u: Vec, v: Vec) => u.reduce((s, x, i) => s + x * v[i], 0);
const norm = (v: Vec) => Math.sqrt(dotv(v, v));
const combo = (g: Vec[], w: Vec) => g[0].map((_, k) => g.reduce((s, gi, i) => s + w[i] * gi[k], 0));
const meanGrad = (g: Vec[]) =>
  combo(
    g,
    g.map(() => 1 / g.length),
  );
const gramOf = (g: Vec[]) => g.map((gi) => g.map((gj) => dotv(gi, gj)));
/** max_i ‖g_i‖², the scale of every inner product in a problem. */
const scaleOf = (g: Vec[]) => Math.max(...g.map((gi) => dotv(gi, gi)));

/** F(w) = ⟨g_w, g0⟩ + c‖g0‖‖g_w‖ on the raw vectors. */
function dual(g: Vec[], c: number, w: Vec): number {
  const g0 = meanGrad(g);
  const gw = combo(g, w);
  return dotv(gw, g0) + c * norm(g0) * norm(gw);
}

/** The direction d = Σ coef_i g_i and what the solver must guarantee about it. */
function direction(g: Vec[], coef: Vec) {
  const d = combo(g, coef);
  const g0 = meanGrad(g);
  return { d, inner: g.map((gi) => dotv(gi, d)), worst: Math.min(...g.map((gi) => dotv(gi, d))), dist: norm(d.map((v, k) => v - g0[k])) };
}

/** Every composition of n into T parts (the grid points k/n of the simplex). */
function* compositions(n: number, T: number): Generator<number[]> {
  if (T === 1) {
    yield [n];
    return;
  }
  for (let k = 0; k <= n; k++) for (const rest of compositions(n - k, T - 1)) yield [k, ...rest];
}

/** Minimises φ convex on [lo, hi] by golden section. */
function golden(phi: (t: number) => number, lo: number, hi: number): number {
  const k = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let x1 = b - k * (b - a);
  let x2 = a + k * (b - a);
  let f1 = phi(x1);
  let f2 = phi(x2);
  for (let it = 0; it < 90 && b - a > 1e-16; it++) {
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - k * (b - a);
      f1 = phi(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + k * (b - a);
      f2 = phi(x2);
    }
  }
  const ends = [a, b, lo, hi].map((t) => ({ t, f: phi(t) }));
  return ends.reduce((best, e) => (e.f < best.f ? e : best)).t;
}

/** min F over the simplex: the best grid point, refined by moving weight between pairs of tasks. */
function bruteForceDual(g: Vec[], c: number): { f: number; w: Vec } {
  const T = g.length;
  const n = { 1: 1, 2: 4000, 3: 240, 4: 50, 5: 26 }[T] ?? 10;
  // F on the Gram matrix for the grid (same function, cheaper per point); the result is re-evaluated below.
  const G = gramOf(g);
  const a = G.map((row) => row.reduce((s, x) => s + x / T, 0));
  const r =
    c *
    Math.sqrt(
      Math.max(
        a.reduce((s, x) => s + x / T, 0),
        0,
      ),
    );
  const fast = (w: Vec) =>
    dotv(a, w) +
    r *
      Math.sqrt(
        Math.max(
          dotv(
            w,
            G.map((row) => dotv(row, w)),
          ),
          0,
        ),
      );
  const starts: { f: number; w: Vec }[] = [];
  for (const k of compositions(n, T)) {
    const w = k.map((x) => x / n);
    const f = fast(w);
    if (starts.length < 4 || f < starts[starts.length - 1].f) {
      starts.push({ f, w });
      starts.sort((x, y) => x.f - y.f);
      if (starts.length > 4) starts.pop();
    }
  }
  let best = { f: Infinity, w: [] as Vec };
  for (const start of starts) {
    const w = [...start.w];
    let f = fast(w);
    for (let sweep = 0; sweep < 300; sweep++) {
      const before = f;
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          if (i === j) continue;
          const at = (t: number) => fast(w.map((x, k) => (k === i ? x + t : k === j ? x - t : x)));
          const t = golden(at, -w[i], w[j]);
          if (at(t) < f) {
            w[i] += t;
            w[j] -= t;
            w[i] = Math.max(w[i], 0);
            w[j] = Math.max(w[j], 0);
            f = fast(w);
          }
        }
      }
      if (before - f <= 1e-15 * Math.max(1, Math.abs(f))) break;
    }
    const exact = dual(g, c, w);
    if (exact < best.f) best = { f: exact, w };
  }
  return best;
}

// ---- the problems ----------------------------------------------------------------------------------

type Kind = 'near-opposite' | 'unequal norms' | 'random';

/** T gradients in dimension T + 3 (seeded): g_2 ≈ −g_1, or g_1 a hundred times longer, or plain random. */
function problem(kind: Kind, T: number, seed: number): Vec[] {
  const rng = new wm.Random(seed);
  const D = T + 3;
  const g = Array.from({ length: T }, () => Array.from({ length: D }, () => rng.normal()));
  if (kind === 'near-opposite') g[1] = g[0].map((v) => -1.05 * v + 0.02 * rng.normal());
  if (kind === 'unequal norms') g[0] = g[0].map((v) => 100 * v);
  return g;
}

const cases: { T: number; kind: Kind; c: number; seed: number }[] = [];
for (const T of [2, 3, 4, 5]) {
  for (const kind of ['near-opposite', 'unequal norms', 'random'] as Kind[]) {
    for (const c of [0.4, 0.8]) cases.push({ T, kind, c, seed: 100 * T + 10 * kind.length + c * 10 });
  }
}

const label = ({ T, kind, c }: { T: number; kind: Kind; c: number }) => `T = ${T}, ${kind}, c = ${c}`;
const brute = new Map<string, { f: number; w: Vec }>();
const bruteFor = (cs: (typeof cases)[number]) => {
  const key = label(cs);
  if (!brute.has(key)) brute.set(key, bruteForceDual(problem(cs.kind, cs.T, cs.seed), cs.c));
  return brute.get(key)!;
};

/**
 * What every CAGrad direction must satisfy against the brute-force optimum. tol is relative to the size
 * of the terms in d = Σ coef_i g_i (rounding in d grows with Σ|coef_i| · max‖g_i‖).
 */
function expectOptimal(g: Vec[], c: number, coef: Vec, opt: { f: number }, tol: number, what: string) {
  const S = scaleOf(g);
  const size = Math.max(
    1,
    coef.reduce((s, k) => s + Math.abs(k), 0),
  );
  const { worst, dist } = direction(g, coef);
  const r = c * norm(meanGrad(g));
  expect(coef.every(Number.isFinite), `${what}: finite coefficients`).toBe(true);
  // Feasible: inside the ball (so, by weak duality, it cannot beat the dual minimum)...
  expect(dist, `${what}: ‖d − g0‖ ≤ c‖g0‖`).toBeLessThanOrEqual(r + tol * size * Math.sqrt(S));
  expect(worst, `${what}: min_i ⟨g_i, d⟩ ≤ min F`).toBeLessThanOrEqual(opt.f + tol * size * S);
  // ...and the worst task's inner product reaches the optimum.
  expect(worst, `${what}: min_i ⟨g_i, d⟩ reaches min F = ${opt.f}`).toBeGreaterThanOrEqual(opt.f - tol * S);
  // No task's loss rises when the optimum says none needs to.
  if (opt.f >= 0) expect(worst, `${what}: no task's loss rises`).toBeGreaterThanOrEqual(-tol * S);
}

// ---- the solver against brute force -------------------------------------------------------------

describe('CAGrad solves its dual exactly (brute force over the simplex)', () => {
  it.each(cases)('float64 solver: $kind, T = $T, c = $c', (cs) => {
    const g = problem(cs.kind, cs.T, cs.seed);
    const opt = bruteFor(cs);
    const sol = solve(gramOf(g), cs.c);
    expectOptimal(g, cs.c, sol.coef, opt, 1e-9, label(cs));
    // The dual side: w is on the simplex and F(w) is the brute-force minimum (strong duality).
    expect(sol.kind).toBe('face');
    expect(Math.min(...sol.w)).toBeGreaterThanOrEqual(0);
    expect(sol.w.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
    expect(Math.abs(dual(g, cs.c, sol.w) - opt.f)).toBeLessThanOrEqual(1e-9 * scaleOf(g));
    expect(Math.abs(sol.worst - direction(g, sol.coef).worst)).toBeLessThanOrEqual(1e-9 * scaleOf(g));
    // d = g0 + (c‖g0‖/‖g_w‖) g_w: coef = 1/T + λ w with λ = c‖g0‖/‖g_w‖.
    const lambda = (cs.c * norm(meanGrad(g))) / norm(combo(g, sol.w));
    sol.coef.forEach((k, i) => expect(k).toBeCloseTo(1 / cs.T + lambda * sol.w[i], 9));
  });

  // The path every backend that reads synchronously takes (the Gram matrix as a float32 tensor).
  it.each(cases)('cagradDirection on the CPU: $kind, T = $T, c = $c', (cs) => {
    const g = problem(cs.kind, cs.T, cs.seed);
    const gram = wm.tensor(gramOf(g).flat(), { shape: [cs.T, cs.T] });
    const { coef, w } = cagradDirection(gram, cs.c, 100);
    expectOptimal(g, cs.c, Array.from(coef.dataSync()), bruteFor(cs), 1e-5, label(cs));
    expect(Math.abs(dual(g, cs.c, Array.from(w.dataSync())) - bruteFor(cs).f)).toBeLessThanOrEqual(1e-5 * scaleOf(g));
  });

  it('the same tensor-op solver the WebGPU backend runs, here on the CPU (float32)', () => {
    for (const cs of cases) {
      const g = problem(cs.kind, cs.T, cs.seed);
      const gram = wm.tensor(gramOf(g).flat(), { shape: [cs.T, cs.T] });
      const { coef } = cagradModule.solveCAGradDualOnDevice(gram, cs.c);
      expectOptimal(g, cs.c, Array.from(coef.dataSync()), bruteFor(cs), 1e-4, `device solver, ${label(cs)}`);
    }
  });

  it('rank-deficient problems (T = 5 gradients in 2 dimensions) and duplicated tasks', () => {
    const rng = new wm.Random(7);
    for (let trial = 0; trial < 6; trial++) {
      const g = Array.from({ length: 5 }, () => [rng.normal(), rng.normal()]);
      if (trial % 2) g[3] = [...g[1]];
      const c = [0.3, 0.6, 0.95][trial % 3];
      const opt = bruteForceDual(g, c);
      expectOptimal(g, c, solve(gramOf(g), c).coef, opt, 1e-9, `2-D trial ${trial}`);
    }
  });
});

// ---- degenerate cases ---------------------------------------------------------------------------

describe('CAGrad degenerate cases', () => {
  it('one task: d = (1 + c) g', () => {
    const sol = solve([[4]], 0.7);
    expect(sol.coef[0]).toBeCloseTo(1.7, 12);
    expect(sol.worst).toBeCloseTo(1.7 * 4, 12);
  });

  it('identical gradients: d = (1 + c) g whatever the split between the copies', () => {
    const g = [
      [1, 2, -1],
      [1, 2, -1],
      [1, 2, -1],
    ];
    const sol = solve(gramOf(g), 0.6);
    expect(sol.coef.reduce((s, x) => s + x, 0)).toBeCloseTo(1.6, 12);
    expect(sol.worst).toBeCloseTo(1.6 * 6, 10);
  });

  it('c = 0 and g0 = 0 give d = g0', () => {
    const g = [
      [1, 0],
      [-0.5, 1],
      [0.2, -3],
    ];
    const plain = solve(gramOf(g), 0);
    expect(plain.coef).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(plain.worst).toBeCloseTo(Math.min(...g.map((gi) => dotv(gi, meanGrad(g)))), 12);
    const cancelling = solve(
      gramOf([
        [1, 2],
        [-1, -2],
      ]),
      0.5,
    ); // g0 = 0: the ball is the point 0
    expect(cancelling.coef).toEqual([0.5, 0.5]);
    expect(cancelling.worst).toBe(0);
  });

  it('collinear gradients of opposite sign and unequal length: the exact optimum of a 1-D problem', () => {
    // g0 = (−½, 0), r = 0.2: d_x ∈ [−0.7, −0.3], min(d_x, −2d_x) = d_x, so d = (−0.3, 0).
    const g = [
      [1, 0],
      [-2, 0],
    ];
    const sol = solve(gramOf(g), 0.4);
    const { d, worst } = direction(g, sol.coef);
    expect(d[0]).toBeCloseTo(-0.3, 12);
    expect(d[1]).toBeCloseTo(0, 12);
    expect(worst).toBeCloseTo(-0.3, 12);
    expect(sol.w).toEqual([1, 0]);
  });

  it('when 0 is a convex combination of the gradients (g_w = 0 at the optimum) d is not g0', () => {
    // g1 = −g2 makes g_w = 0 reachable, so no direction improves every task: the optimum is 0. The ball
    // around g0 = (⅓, ⅓) (radius 0.8 · 0.471 = 0.377) reaches the cone {⟨g_i, d⟩ ≥ 0} = {d_x = 0, d_y ≥ 0};
    // d = g0 itself would raise task 2's loss (⟨g2, g0⟩ = −⅓).
    const g = [
      [1, 0],
      [-1, 0],
      [1, 1],
    ];
    const c = 0.8;
    const sol = solve(gramOf(g), c);
    const { d, inner, worst } = direction(g, sol.coef);
    expect(sol.kind).toBe('cone');
    expect(worst).toBeGreaterThanOrEqual(-1e-12);
    expect(worst).toBeLessThanOrEqual(1e-12);
    expect(d[0]).toBeCloseTo(0, 12);
    expect(d[1]).toBeCloseTo(1 / 3, 12); // the nearest such point to g0
    expect(Math.min(...inner)).toBeGreaterThanOrEqual(-1e-12);
    expect(Math.abs(bruteForceDual(g, c).f)).toBeLessThan(1e-9);
    expect(Math.min(...direction(g, [1 / 3, 1 / 3, 1 / 3]).inner)).toBeCloseTo(-1 / 3, 12);
    // With a smaller ball the cone is out of reach and the face point is optimal (with min < 0).
    const small = solve(gramOf(g), 0.5);
    expectOptimal(g, 0.5, small.coef, bruteForceDual(g, 0.5), 1e-9, 'c = 0.5');
    expect(small.worst).toBeLessThan(0);
  });

  it('a task with a zero gradient', () => {
    const g = [
      [0, 0, 0],
      [1, 2, 0],
      [-1, 0.5, 1],
    ];
    for (const c of [0.2, 0.7, 1.5]) {
      const sol = solve(gramOf(g), c);
      expectOptimal(g, c, sol.coef, bruteForceDual(g, c), 1e-9, `c = ${c}`);
      expect(sol.worst).toBeLessThanOrEqual(1e-12); // ⟨0, d⟩ = 0 bounds the worst task
    }
  });

  it('the coefficients do not depend on the scale of the gradients', () => {
    const G = gramOf(problem('near-opposite', 4, 3));
    const ref = solve(G, 0.4).coef;
    for (const s of [1e-12, 1e-3, 1e5, 1e12]) {
      solve(
        G.map((row) => row.map((v) => v * s)),
        0.4,
      ).coef.forEach((k, i) => expect(k).toBeCloseTo(ref[i], 9));
    }
  });

  it('never returns NaN for finite input', () => {
    const rng = new wm.Random(11);
    const shapes: ((T: number) => Vec[])[] = [
      (T) => Array.from({ length: T }, () => [rng.normal(), rng.normal(), rng.normal()]),
      (T) => Array.from({ length: T }, (_, i) => [i % 2 ? -1 : 1, 0]), // collinear, alternating
      (T) => Array.from({ length: T }, () => [0, 0]), // all zero
      (T) => Array.from({ length: T }, (_, i) => (i === 0 ? [1e-30, 0] : [1e3 * rng.normal(), rng.normal()])),
      (T) => Array.from({ length: T }, () => [rng.normal() > 0 ? 1 : -1, 1e-9 * rng.normal()]),
    ];
    for (let T = 1; T <= 7; T++) {
      for (const make of shapes) {
        for (const c of [0, 0.4, 1, 3]) {
          const g = make(T);
          const sol = solve(gramOf(g), c);
          const what = `T = ${T}, c = ${c}: ${JSON.stringify(g)}`;
          expect([...sol.coef, ...sol.w, sol.lambda, sol.worst].every(Number.isFinite), what).toBe(true);
          expect(Math.min(...sol.w), what).toBeGreaterThanOrEqual(0);
          const { worst, dist } = direction(g, sol.coef);
          const size = Math.max(
            1,
            sol.coef.reduce((s, k) => s + Math.abs(k), 0),
          ); // rounding grows with Σ|coef_i|
          expect(dist, what).toBeLessThanOrEqual(c * norm(meanGrad(g)) + 1e-9 * size * Math.sqrt(scaleOf(g)));
          expect(worst, what).toBeLessThanOrEqual(dual(g, c, sol.w) + 1e-9 * size * scaleOf(g)); // weak duality
        }
      }
    }
  });

  it('non-finite Gram entries, too many tasks and a bad c are clear errors', () => {
    expect(() =>
      solve(
        [
          [1, NaN],
          [NaN, 1],
        ],
        0.4,
      ),
    ).toThrow(/non-finite entry G\[0\]\[1\] = NaN/);
    expect(() => solve([[Infinity]], 0.4)).toThrow(/non-finite entry G\[0\]\[0\] = Infinity/);
    expect(() => solve([[1, 0]], 0.4)).toThrow(/must be 1 × 1/);
    expect(() => solve([[1]], -1)).toThrow(/c must be a number ≥ 0/);
    const big = Array.from({ length: 13 }, (_, i) => Array.from({ length: 13 }, (_, j) => (i === j ? 1 : 0)));
    expect(() => solve(big, 0.4)).toThrow(/supports up to 12 tasks, got 13/);
    expect(() => new CAGrad().setup({ nTask: 13 })).toThrow(/supports up to 12 tasks/);
    expect(() =>
      solve(
        big.slice(0, 12).map((row) => row.slice(0, 12)),
        0.4,
      ),
    ).not.toThrow();
  });
});

// ---- through the strategy -------------------------------------------------------------------------

/** Shared parameters θ_p and linear losses L_i = Σ_p sum(g_ip ⊙ θ_p), so ∇_θp L_i = g_ip exactly. */
function linearProblem(g: Vec[][]) {
  const shared = g[0].map((part) =>
    wm.tensor(
      part.map(() => 0),
      { requiresGrad: true },
    ),
  );
  const losses = g.map((task) => task.map((part, p) => wm.sum(wm.mul(shared[p], wm.tensor(part)))).reduce((x, y) => wm.add(x, y)));
  const ctx = makeBalanceContext({
    losses,
    lossValues: g.map(() => 1),
    shared,
    sharedNames: shared.map((_, p) => `layer${p}.weight`),
    perTask: g.map(() => []),
    step: 0,
    epoch: 0,
  });
  return { shared, ctx };
}

describe('CAGrad through the strategy', () => {
  it.each([
    { T: 3, kind: 'unequal norms' as Kind, c: 0.7, rescale: false },
    { T: 4, kind: 'near-opposite' as Kind, c: 0.3, rescale: true },
    { T: 5, kind: 'random' as Kind, c: 0.9, rescale: false },
  ])(
    'writes T · (g0 + c‖g0‖/‖g_w‖ · g_w) with the exact w into the shared parameters: T = $T, $kind, c = $c, rescale $rescale',
    ({ T, kind, c, rescale }) => {
      const g = problem(kind, T, 40 + T);
      // The shared parameters: two tensors, the gradient split between them.
      const split = (v: Vec) => [v.slice(0, 3), v.slice(3)];
      const { shared, ctx } = linearProblem(g.map(split));
      const strategy = createStrategy({ method: 'cagrad', c, rescale });
      strategy.setup?.({ nTask: T, lr: 1e-3 });
      const { weights } = strategy.backward(ctx);
      const got = shared.flatMap((p) => Array.from(p.grad!.dataSync()));

      const factor = T / (rescale ? 1 + c * c : 1);
      const formula = (w: Vec) => {
        const g0 = meanGrad(g);
        const gw = combo(g, w);
        return g0.map((v, k) => factor * (v + ((c * norm(g0)) / norm(gw)) * gw[k]));
      };
      const size = Math.max(...got.map(Math.abs));
      // With the brute-force minimiser of F…
      const wBrute = bruteForceDual(g, c).w;
      formula(wBrute).forEach((v, k) => expect(Math.abs(got[k] - v), `component ${k}`).toBeLessThanOrEqual(1e-4 * size));
      // …and, more tightly, with the solver's w (float32 Gram, float32 gradient).
      const exact = solve(gramOf(g), c);
      formula(exact.w).forEach((v, k) => expect(Math.abs(got[k] - v), `component ${k}`).toBeLessThanOrEqual(2e-6 * size));
      // The reported weights are each task gradient's coefficient in the shared gradient.
      weights.forEach((x, i) => expect(x).toBeCloseTo(factor * exact.coef[i], 4));
      // The worst task improves as much as it can.
      expect(Math.min(...g.map((gi) => dotv(gi, got)))).toBeGreaterThanOrEqual(
        factor * bruteForceDual(g, c).f - 1e-5 * factor * scaleOf(g),
      );
    },
  );

  it('c = 0 gives the plain sum; one task gets (1 + c)∇L', () => {
    const g = [
      [1, 0, 2],
      [-0.5, 1, 0],
    ];
    const plain = linearProblem(g.map((v) => [v]));
    expect(new CAGrad({ c: 0 }).backward(plain.ctx).weights).toEqual([1, 1]);
    Array.from(plain.shared[0].grad!.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(g[0][k] + g[1][k], 6));
    const one = linearProblem([[[3, -1]]]);
    new CAGrad({ c: 0.45 }).backward(one.ctx);
    Array.from(one.shared[0].grad!.dataSync()).forEach((v, k) => expect(v).toBeCloseTo([3, -1][k] * 1.45, 6));
  });

  it('a non-finite task gradient is a clear error', () => {
    const { ctx } = linearProblem([[[1, NaN]], [[0, 1]]]);
    expect(() => new CAGrad().backward(ctx)).toThrow(
      /CAGrad: the Gram matrix of the task gradients has a non-finite entry G\[0\]\[0\] = NaN/,
    );
  });
});

// ---- on WebGPU --------------------------------------------------------------------------------------

const gpu = await getWebGPUOrSkip();

describe.skipIf(!gpu)('CAGrad on WebGPU (the solver runs on the device, no readback)', () => {
  afterAll(() => {
    wm.setBackend(cpu);
    gpu?.destroy();
  });

  it('reaches the brute-force optimum for T = 2..5', async () => {
    for (const cs of cases) {
      const g = problem(cs.kind, cs.T, cs.seed);
      const gram = wm.tensor(gramOf(g).flat(), { shape: [cs.T, cs.T], backend: gpu! });
      const { coef } = cagradDirection(gram, cs.c);
      expectOptimal(g, cs.c, Array.from(await coef.data()), bruteFor(cs), 1e-4, `WebGPU, ${label(cs)}`);
    }
  });

  it('a CAGrad step reads nothing back', async () => {
    wm.setBackend(gpu!);
    try {
      const g = problem('near-opposite', 3, 5);
      const { shared, ctx } = linearProblem(g.map((v) => [v]));
      const before = gpu!.stats.readbacks;
      new CAGrad({ c: 0.6 }).backward(ctx);
      expect(gpu!.stats.readbacks).toBe(before);
      const got = Array.from(await shared[0].grad!.data());
      const want = combo(g, solve(gramOf(g), 0.6).coef).map((v) => 3 * v); // T · d from the float64 solver
      const size = Math.max(...want.map(Math.abs));
      got.forEach((v, k) => expect(Math.abs(v - want[k])).toBeLessThanOrEqual(1e-3 * size));
    } finally {
      wm.setBackend(cpu);
    }
  });
});
