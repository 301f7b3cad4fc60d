// GradNorm (Chen et al., ICML 2018, Algorithm 1) with its weights stepped by their own Adam.
//
// 1. The paper's toy (§4): regression tasks f_i(x) = σ_i tanh((B + ε_i) x) on a shared ReLU trunk, σ = (1, 100)
//    as in the paper and the same toy at 1/100 the scale, σ = (0.01, 1), whose losses (1e-2 to 1) are the size
//    of a recommender's. GradNorm balances when w_i ‖∇_W L_i‖ = Ḡ r_i^α for every i, i.e. for two tasks
//    w_0/w_1 = (‖∇_W L_1‖/‖∇_W L_0‖) (r_0/r_1)^α, about 160 (σ = (1, 100)) and 50 (σ = (0.01, 1)) here: the
//    σ = 1 task's weight must cross from 1 to nearly 2. With the default settings the weights get there
//    within tens of steps at both scales; the former update (plain gradient descent at the trainer's rate
//    1e-3) barely moves them at the small scale. Scaled down from the paper's x ∈ R^250, outputs R^100, trunk 4 × 100.
// 2. α ≠ 1 over several steps against a run computed by hand in float64 (G_i, r_i^α, the sign terms of
//    ∂L_grad/∂w, Adam with torch's defaults, the floor and Σw = T), including a run that hits the floor.
// 3. The weights' Adam moments are part of stateDict(): a run resumed from it is the unbroken run.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { GRADNORM_DEFAULT_LR } from '../src/mtl/gradnorm.js';
import {
  type BalanceContext,
  type BalanceStrategy,
  createStrategy,
  GradNorm,
  makeBalanceContext,
  type StepReport,
} from '../src/mtl/index.js';
import { weightedSum } from '../src/mtl/util.js';
import { Linear } from '../src/nn/layers.js';
import { Adam } from '../src/optim/adam.js';
import * as wm from '../src/tensor/index.js';

beforeAll(() => wm.setBackend(new CpuBackend()));

// ---- 1. the paper's toy --------------------------------------------------------------------------

const IN = 25;
const OUT = 10;
const HIDDEN = 32;
const ROWS = 256;
const BATCH = 64;
const STEPS = 120;
/** The steps over which the reached ratio is compared with the needed one. */
const WINDOW = 30;
const ALPHA = 0.12; // the paper's α for this toy

function toyData(seed: number, sigma: number[]): { x: Float32Array; y: Float32Array[] } {
  const r = new wm.Random(seed);
  const B = Float32Array.from({ length: OUT * IN }, () => r.normal() * Math.sqrt(10));
  const eps = sigma.map(() => Float32Array.from({ length: OUT * IN }, () => r.normal() * Math.sqrt(3.5)));
  const x = Float32Array.from({ length: ROWS * IN }, () => r.normal());
  const y = sigma.map((s, t) => {
    const out = new Float32Array(ROWS * OUT);
    for (let n = 0; n < ROWS; n++) {
      for (let o = 0; o < OUT; o++) {
        let z = 0;
        for (let i = 0; i < IN; i++) z += (B[o * IN + i] + eps[t][o * IN + i]) * x[n * IN + i];
        out[n * OUT + o] = s * Math.tanh(z);
      }
    }
    return out;
  });
  return { x, y };
}

/** The last trunk layer's weight: what GradNorm watches by default. */
const WATCHED = 'trunk.3.weight';

/**
 * Trains trunk + heads with Adam 1e-3 on the strategy's gradients. Per step: the weights used, the loss
 * values, and over the last WINDOW steps ‖∇_W L_i‖ on the watched layer.
 */
function trainToy(strategy: BalanceStrategy, data: { x: Float32Array; y: Float32Array[] }) {
  wm.seed(7);
  const trunk = [new Linear(IN, HIDDEN), new Linear(HIDDEN, HIDDEN), new Linear(HIDDEN, HIDDEN), new Linear(HIDDEN, HIDDEN)];
  const heads = data.y.map(() => new Linear(HIDDEN, OUT));
  const sharedNamed = trunk.flatMap((l, i) => l.namedParameters(`trunk.${i}`));
  const perTask = heads.map((h) => h.parameters());
  const W = sharedNamed.find(([n]) => n === WATCHED)![1];
  const opt = new Adam([...sharedNamed.map(([, p]) => p), ...perTask.flat()], { lr: 1e-3 });
  strategy.setup?.({ nTask: heads.length, lr: 1e-3 });
  const weights: number[][] = [];
  const losses: number[][] = [];
  const norms: number[][] = [];
  for (let step = 0; step < STEPS; step++) {
    const start = (step * BATCH) % ROWS;
    wm.tidy(() => {
      const x = wm.fromArray(data.x.subarray(start * IN, (start + BATCH) * IN), [BATCH, IN]);
      let h = x;
      for (const layer of trunk) h = wm.relu(layer.forward(h));
      const taskLosses = heads.map((head, t) =>
        wm.mseLoss(head.forward(h), wm.fromArray(data.y[t].subarray(start * OUT, (start + BATCH) * OUT), [BATCH, OUT])),
      );
      const lossValues = taskLosses.map((l) => l.dataSync()[0]);
      if (step >= STEPS - WINDOW) {
        norms.push(wm.noGrad(() => taskLosses.map((l) => Math.hypot(...wm.grad(l, [W])[0].dataSync()))));
      }
      const ctx = makeBalanceContext({
        losses: taskLosses,
        lossValues,
        shared: sharedNamed.map(([, p]) => p),
        sharedNames: sharedNamed.map(([n]) => n),
        perTask,
        step,
        epoch: 0,
      });
      weights.push(strategy.backward(ctx).weights);
      losses.push(lossValues);
    });
    opt.step();
    opt.zeroGrad();
  }
  return { weights, losses, norms };
}

const geoMean = (xs: number[]) => Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length);

/**
 * Over the last WINDOW steps: the ratio w_0/w_1 the weights reached (geometric mean), and the ratio that
 * equal G_i/(Ḡ r_i^α) needs, (‖∇_W L_1‖/‖∇_W L_0‖)(r_0/r_1)^α, from the measured norms and losses.
 */
function ratios(run: ReturnType<typeof trainToy>) {
  const l0 = run.losses[0];
  const reached = run.weights.slice(-WINDOW).map((w) => w[0] / w[1]);
  const needed = run.losses.slice(-WINDOW).map((l, k) => {
    const [r0, r1] = [l[0] / l0[0], l[1] / l0[1]]; // r_0/r_1 = L̃_0/L̃_1 (the mean cancels)
    const n = run.norms[k];
    return (n[1] / n[0]) * (r0 / r1) ** ALPHA;
  });
  return { reached: geoMean(reached), needed: geoMean(needed) };
}

/**
 * The update GradNorm had before its weights got an Adam: w ← w − lr ∂L_grad/∂w (lr the trainer's rate),
 * floor, Σw = T. Written out here (host weights) only to show how little it moves them on small losses.
 */
class PlainStepGradNorm implements BalanceStrategy {
  readonly name = 'gradnorm (plain gradient step)';
  private w: number[] | null = null;
  private l0: number[] | null = null;
  constructor(private readonly lr: number) {}

  backward(ctx: BalanceContext): StepReport {
    const T = ctx.losses.length;
    const W = [ctx.shared[ctx.sharedNames.indexOf(WATCHED)]];
    const w = (this.w ??= Array<number>(T).fill(1));
    const l0 = (this.l0 ??= [...ctx.lossValues]);
    wm.backward(weightedSum(ctx.losses, w));
    const n = wm.noGrad(() => ctx.losses.map((l) => Math.hypot(...wm.grad(l, W)[0].dataSync())));
    const G = w.map((wi, i) => wi * n[i]);
    const Gbar = G.reduce((a, b) => a + b) / T;
    const L = ctx.lossValues.map((v, i) => v / l0[i]);
    const Lbar = L.reduce((a, b) => a + b) / T;
    const stepped = w.map((wi, i) => Math.max(wi - this.lr * Math.sign(G[i] - Gbar * (L[i] / Lbar) ** ALPHA) * n[i], 1e-4));
    const sum = stepped.reduce((a, b) => a + b);
    this.w = stepped.map((v) => (v * T) / sum);
    return { weights: w };
  }
}

describe('GradNorm on the paper toy: the default Adam step moves the weights as far as the problem needs', () => {
  it('σ = (1, 100): the σ = 1 task takes nearly all the weight within 60 steps, at the ratio equal training rates need', () => {
    const gn = new GradNorm({ alpha: ALPHA });
    const run = trainToy(gn, toyData(11, [1, 100]));
    expect(gn.watchedLayer).toEqual([WATCHED]);
    for (const w of run.weights) {
      expect(Math.min(...w)).toBeGreaterThan(0);
      expect(w[0] + w[1]).toBeCloseTo(2, 4);
    }
    // w_1 crosses from 1 to below 0.05 (observed: at step 37; Adam moves a weight ~0.025 a step).
    expect(Math.min(...run.weights.slice(0, 60).map((w) => w[1]))).toBeLessThan(0.05);
    // Then it follows the balance. Observed over steps 90–119: needed ≈ 160, reached ≈ 250 (data seeds 12–15:
    // reached/needed 1.0 to 1.7; w_1 near the floor dithers by Adam steps, which skews the ratio upwards).
    const { reached, needed } = ratios(run);
    expect(needed).toBeGreaterThan(50);
    expect(reached / needed).toBeGreaterThan(1 / 3);
    expect(reached / needed).toBeLessThan(3);
    // (The former plain step at lr 1e-3 does move the weights on this scale, where ∂L_grad/∂w_1 = ±‖∇_W L_1‖
    // is 3 to 240: it drives w_1 onto the 1e-4 floor by step ~95 and then jumps between the floor and ~0.15,
    // w_0/w_1 ≈ 2e4 against the ≈ 300 needed. Its step size is the loss scale; Adam's is not.)
  });

  it('σ = (0.01, 1), losses of a recommender size: Adam reaches the balance; the former plain step at lr 1e-3 barely moves', () => {
    const data = toyData(11, [0.01, 1]);
    const adam = ratios(trainToy(new GradNorm({ alpha: ALPHA }), data));
    // Observed: needed ≈ 50, reached ≈ 67 (data seeds 12–15: reached/needed 1.2 to 1.5).
    expect(adam.needed).toBeGreaterThan(5);
    expect(adam.reached / adam.needed).toBeGreaterThan(1 / 3);
    expect(adam.reached / adam.needed).toBeLessThan(3);

    // ∂L_grad/∂w_i = ±‖∇_W L_i‖ is 0.001 to 0.1 here, so a step of lr 1e-3 moves a weight by ≤ 1e-4.
    // Observed: w = (1.0056, 0.9944), w_0/w_1 = 1.01 after 120 steps, against the ≈ 10 needed on that run.
    const plain = trainToy(new PlainStepGradNorm(1e-3), data);
    const last = plain.weights[plain.weights.length - 1];
    const { needed } = ratios(plain);
    expect(needed).toBeGreaterThan(3);
    expect(Math.log(last[0] / last[1])).toBeLessThan(0.05 * Math.log(needed));
  });
});

// ---- 2. α ≠ 1 against a hand-computed run --------------------------------------------------------

// L_i = s_i ‖θ − u_i‖² on one shared θ ∈ R², so ∇_θ L_i = 2 s_i (θ − u_i). θ is set to θ_t at step t (as if
// the model had moved), so the losses, gradients and training rates change from step to step.
const S = [1, 4, 0.25];
const U = [
  [1, 0],
  [0, 2],
  [-1, -1],
];
type Path = (t: number) => number[];
/**
 * Adam's step depends on ∂L_grad/∂w_i = sign(G_i − Ḡ r_i^α) ‖∇L_i‖ only through the signs, so a path must
 * put some G_i between the targets of different α to tell them apart. On this one, with α = 0.5, steps 4
 * and 5 have signs that α = 1, or r_i without the division by the mean, would flip.
 */
const PATH_A: Path = (t) => [-0.3 * t, 1 - 0.3 * t];
/** With α = 2 and lr 0.3, a weight falls below minWeight 0.2 on this one. */
const PATH_B: Path = (t) => [0.5 - 0.15 * t, 0.3 + 0.1 * t];

function quadraticStep(t: number, path: Path = PATH_A) {
  const theta = path(t).map(Math.fround);
  const p = wm.tensor(theta, { requiresGrad: true });
  const losses = S.map((s, i) => wm.mul(wm.sum(wm.square(wm.sub(p, wm.tensor(U[i])))), s));
  const lossValues = S.map((s, i) => s * theta.reduce((acc, v, k) => acc + (v - U[i][k]) ** 2, 0));
  const grads = S.map((s, i) => theta.map((v, k) => 2 * s * (v - U[i][k])));
  const ctx = makeBalanceContext({
    losses,
    lossValues,
    shared: [p],
    sharedNames: ['layer0.weight'],
    perTask: S.map(() => []),
    step: t,
    epoch: 0,
  });
  return { p, ctx, lossValues, grads };
}

interface HandOptions {
  alpha: number;
  lr: number;
  minWeight: number;
}

/**
 * Algorithm 1 in float64: per step the weights used and after the update, Adam's moments, and whether the
 * floor acted. `restart`: from step `at` on, Adam starts afresh at rate `lr` (L_i(0) and w carry on).
 */
function handRun(steps: number, o: HandOptions & { path?: Path }, restart?: { at: number; lr: number }, guard = true) {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const T = S.length;
  let w = Array<number>(T).fill(1);
  let m = Array<number>(T).fill(0);
  let v = Array<number>(T).fill(0);
  let k = 0;
  let l0: number[] | null = null;
  let floored = false;
  let lr = o.lr;
  const out: { used: number[]; after: number[]; m: number[]; v: number[]; k: number }[] = [];
  for (let t = 0; t < steps; t++) {
    if (t === restart?.at) {
      m = m.map(() => 0);
      v = v.map(() => 0);
      k = 0;
      lr = restart.lr;
    }
    const { lossValues: L, grads } = quadraticStep(t, o.path);
    l0 ??= L;
    const n = grads.map((g) => Math.hypot(...g));
    const G = w.map((wi, i) => wi * n[i]);
    const Gbar = G.reduce((a, b) => a + b) / T;
    const Lt = L.map((x, i) => x / l0![i]);
    const Lbar = Lt.reduce((a, b) => a + b) / T;
    const target = Lt.map((x) => Gbar * (x / Lbar) ** o.alpha);
    // Guard this test's own validity: no |G_i − target_i| so small that float32 could flip its sign.
    if (guard) G.forEach((g, i) => expect(Math.abs(g - target[i])).toBeGreaterThan(1e-2 * Gbar));
    const dw = G.map((g, i) => Math.sign(g - target[i]) * n[i]); // ∂Σ|w_i n_i − target_i|/∂w_i
    k++;
    m = m.map((mi, i) => b1 * mi + (1 - b1) * dw[i]);
    v = v.map((vi, i) => b2 * vi + (1 - b2) * dw[i] ** 2);
    const stepped = w.map((wi, i) => wi - (lr * (m[i] / (1 - b1 ** k))) / (Math.sqrt(v[i] / (1 - b2 ** k)) + eps));
    floored ||= stepped.some((x) => x < o.minWeight);
    const kept = stepped.map((x) => Math.max(x, o.minWeight));
    const sum = kept.reduce((a, b) => a + b);
    const after = kept.map((x) => (x * T) / sum);
    out.push({ used: w, after, m: [...m], v: [...v], k });
    w = after;
  }
  return { steps: out, floored };
}

const expectRel = (got: ArrayLike<number>, want: number[], rel = 1e-5) => {
  expect(got.length).toBe(want.length);
  want.forEach((x, i) => expect(Math.abs(got[i] - x)).toBeLessThanOrEqual(rel * Math.max(Math.abs(x), 1e-3)));
};

/** Drives a GradNorm through `steps` steps of the quadratic problem, checking each against the hand-computed run. */
function checkAgainstHand(gn: GradNorm, o: HandOptions & { path?: Path }, steps: number) {
  const hand = handRun(steps, o);
  for (let t = 0; t < steps; t++) {
    const { p, ctx, grads } = quadraticStep(t, o.path);
    const report = gn.backward(ctx);
    const h = hand.steps[t];
    // The model's gradient is Σ_i w_i ∇L_i with the step's weights, before their update.
    expectRel(report.weights, h.used);
    expectRel(
      p.grad!.dataSync(),
      [0, 1].map((c) => h.used.reduce((s, wi, i) => s + wi * grads[i][c], 0)),
    );
    expectRel(gn.lossWeights!.dataSync(), h.after);
  }
  return hand;
}

describe('GradNorm with α ≠ 1 over several steps, against Algorithm 1 with Adam computed by hand', () => {
  it('α = 0.5, the default lr (0.025): six steps', async () => {
    expect(GRADNORM_DEFAULT_LR).toBe(0.025);
    const gn = new GradNorm({ alpha: 0.5 });
    gn.setup({ nTask: 3, lr: 1e-3 }); // the trainer's rate is not the weights' rate
    const o = { alpha: 0.5, lr: 0.025, minWeight: 1e-4 };
    const hand = checkAgainstHand(gn, o, 6);
    const last = hand.steps[5].after;
    // The weights moved by several Adam steps of ~0.025, not by 1e-3 · ‖∇L_i‖.
    expect(Math.max(...last.map((x) => Math.abs(x - 1)))).toBeGreaterThan(0.05);
    // This run tells α = 0.5 from α = 1 (the test would catch an exponent dropped or fixed at 1).
    const alpha1 = handRun(6, { ...o, alpha: 1 }, undefined, false).steps[5].after;
    expect(Math.max(...last.map((x, i) => Math.abs(x - alpha1[i])))).toBeGreaterThan(0.01);
    // The state carries Adam's moments and step count as the hand-computed run has them.
    const state = (await gn.stateDict()) as { lr: number | null; adam: { step: number; expAvg: number[]; expAvgSq: number[] } };
    expect(state.lr).toBeNull();
    expect(state.adam.step).toBe(6);
    expectRel(state.adam.expAvg, hand.steps[5].m);
    expectRel(state.adam.expAvgSq, hand.steps[5].v);
  });

  it('α = 2, lr 0.3, minWeight 0.2: large steps that hit the floor, then renormalise', () => {
    const o = { alpha: 2, lr: 0.3, minWeight: 0.2 };
    const hand = checkAgainstHand(new GradNorm(o), { ...o, path: PATH_B }, 6);
    expect(hand.floored).toBe(true);
  });
});

// ---- 3. options and checkpoints -------------------------------------------------------------------

describe('GradNorm options and state', () => {
  it("lr is the weights' own Adam rate: accepted by createStrategy, checked, not taken from setup()", () => {
    expect(createStrategy({ method: 'gradnorm', lr: 0.01 }).name).toBe('gradnorm');
    expect(() => new GradNorm({ lr: 0 })).toThrow(/lr must be a number > 0 \(the learning rate of the weights' Adam; default 0.025\)/);
    const gn = new GradNorm({ alpha: 0.5 });
    gn.setup({ nTask: 3, lr: 7 });
    gn.backward(quadraticStep(0).ctx);
    expectRel(gn.lossWeights!.dataSync(), handRun(1, { alpha: 0.5, lr: 0.025, minWeight: 1e-4 }).steps[0].after);
    // (At step 0 every r_i = 1 and Adam's first step is ±lr: the weights moved by 0.025 before Σw = T.)
  });

  it('a run resumed from stateDict() (through JSON) steps the weights exactly as the unbroken run', async () => {
    const o = { alpha: 0.5, lr: 0.05 };
    const whole = new GradNorm(o);
    for (let t = 0; t < 6; t++) whole.backward(quadraticStep(t).ctx);

    const first = new GradNorm(o);
    for (let t = 0; t < 3; t++) first.backward(quadraticStep(t).ctx);
    const saved = JSON.parse(JSON.stringify(await first.stateDict()));
    expect(saved.lr).toBe(0.05);
    expect(Object.keys(saved.adam)).toEqual(['step', 'expAvg', 'expAvgSq']);
    const resumed = new GradNorm(o);
    resumed.loadStateDict(saved);
    expect(JSON.parse(JSON.stringify(await resumed.stateDict()))).toEqual(saved);
    for (let t = 3; t < 6; t++) resumed.backward(quadraticStep(t).ctx);
    expect(Array.from(resumed.lossWeights!.dataSync())).toEqual(Array.from(whole.lossWeights!.dataSync()));
    expect(await resumed.stateDict()).toEqual(await whole.stateDict());

    // Without the moments (a checkpoint from before the weights had an Adam) the weights, L_i(0) and layer
    // are kept, the saved lr (then the trainer's) is not, and Adam starts afresh: the hand run restarted at step 3.
    const legacy = new GradNorm({ alpha: 0.5 });
    legacy.loadStateDict({ ...saved, adam: undefined, lr: 1e-3 });
    for (let t = 3; t < 6; t++) legacy.backward(quadraticStep(t).ctx);
    const handLegacy = handRun(6, { alpha: 0.5, lr: 0.05, minWeight: 1e-4 }, { at: 3, lr: GRADNORM_DEFAULT_LR });
    expectRel(legacy.lossWeights!.dataSync(), handLegacy.steps[5].after);
    expect(Array.from(legacy.lossWeights!.dataSync())).not.toEqual(Array.from(whole.lossWeights!.dataSync()));
  });

  it('refuses moments that do not fit', () => {
    const gn = new GradNorm();
    gn.setup({ nTask: 3 });
    const base = { lr: null, weights: [1, 1, 1], initialLosses: [1, 1, 1], watched: ['layer0.weight'] };
    expect(() => gn.validateStateDict({ ...base, adam: { step: 0, expAvg: [0, 0, 0], expAvgSq: [0, 0, 0] } })).toThrow(
      /adam must be \{ step ≥ 1/,
    );
    expect(() => gn.validateStateDict({ ...base, adam: { step: 2, expAvg: [0, 0], expAvgSq: [0, 0, 0] } })).toThrow(
      /adam.expAvg must be a list of 3/,
    );
    expect(() => gn.validateStateDict({ ...base, adam: { step: 2, expAvg: [0, 0, 0], expAvgSq: [0, -1, 0] } })).toThrow(
      /expAvgSq must be ≥ 0/,
    );
    expect(() => gn.validateStateDict({ ...base, weights: null, adam: { step: 2, expAvg: [0, 0, 0], expAvgSq: [0, 0, 0] } })).toThrow(
      /without weights/,
    );
    expect(() => gn.validateStateDict({ ...base, adam: { step: 2, expAvg: [0, 0, 0], expAvgSq: [0, 0, 0] } })).not.toThrow();
  });
});
