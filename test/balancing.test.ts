// Task-balancing strategies with hand-checked numbers. Most cases use linear losses
// L_i = Σ_p Σ c_ip ⊙ θ_p, whose gradient on parameter θ_p is exactly c_ip, so the expected .grad of every
// parameter can be written down from the papers' formulas. Then: every strategy on real models, and errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { ESMM, MMoE, type MultiTaskModel, PLE, SharedBottom } from '../src/models/index.js';
import {
  type BalanceStrategy,
  CAGrad,
  createStrategy,
  DWA,
  dwaWeights,
  FixedWeights,
  GradNorm,
  isBalanceStrategy,
  MetaBalance,
  makeBalanceContext,
  modelBalanceContext,
  PCGrad,
  projectConflicting,
  projectionOrder,
  UWL,
} from '../src/mtl/index.js';
import { Adam } from '../src/optim/adam.js';
import { SGD } from '../src/optim/sgd.js';
import * as wm from '../src/tensor/index.js';
import { randomFeatures } from './helpers/batches.js';

beforeAll(() => wm.setBackend(new CpuBackend()));

const values = (t: wm.Tensor | null): number[] => Array.from(t!.dataSync());
const param = (v: number[]): wm.Tensor => wm.tensor(v, { requiresGrad: true });

/**
 * Parameters θ_p (zeros of the coefficients' shapes) and losses L_i = Σ_p sum(c_ip ⊙ θ_p), so ∇_θp L_i = c_ip.
 * `own[i]` adds a task-specific parameter to task i with gradient own[i].
 */
function linearProblem(coef: number[][][], opts: { own?: number[][]; lossValues?: number[] } = {}) {
  const shared = coef[0].map((c) => param(c.map(() => 0)));
  const perTask = (opts.own ?? []).map((c) => [param(c.map(() => 0))]);
  const losses = coef.map((task, i) => {
    let l = task.map((c, p) => wm.sum(wm.mul(shared[p], wm.tensor(c)))).reduce((a, b) => wm.add(a, b));
    if (opts.own) l = wm.add(l, wm.sum(wm.mul(perTask[i][0], wm.tensor(opts.own[i]))));
    return l;
  });
  const ctx = makeBalanceContext({
    losses,
    lossValues: opts.lossValues ?? coef.map(() => 1),
    shared,
    sharedNames: shared.map((_, p) => `layer${p}.weight`),
    perTask: perTask.length ? perTask : coef.map(() => []),
    step: 0,
    epoch: 0,
  });
  return { shared, perTask, losses, ctx };
}

const expectClose = (got: number[], want: number[], digits = 5) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i], digits));
};

describe('makeBalanceContext', () => {
  it('computes per-task gradients on the shared parameters once, from one forward', () => {
    const { ctx } = linearProblem([
      [[1, 2], [3]],
      [[0, -1], [5]],
    ]);
    const g = ctx.taskGradients();
    expect(ctx.taskGradients()).toBe(g);
    expect(g.map((task) => task.map(values))).toEqual([
      [[1, 2], [3]],
      [[0, -1], [5]],
    ]);
  });

  it('rejects non-scalar losses and mismatched loss values', () => {
    const p = param([1, 2]);
    expect(() => makeBalanceContext({ losses: [wm.mul(p, 2)], lossValues: [1], shared: [p] })).toThrow(/not a scalar/);
    expect(() => makeBalanceContext({ losses: [wm.sum(p)], lossValues: [1, 2], shared: [p] })).toThrow(/2 loss values for 1 losses/);
  });
});

describe('FixedWeights', () => {
  it('backpropagates Σ w_i L_i', () => {
    const { shared, perTask, ctx } = linearProblem([[[1, 2]], [[3, -1]]], { own: [[1], [2]] });
    const report = new FixedWeights({ weights: [2, 0.5] }).backward(ctx);
    expect(report.weights).toEqual([2, 0.5]);
    expectClose(values(shared[0].grad), [2 * 1 + 0.5 * 3, 2 * 2 - 0.5]);
    expectClose(values(perTask[0][0].grad), [2]);
    expectClose(values(perTask[1][0].grad), [1]);
  });

  it('defaults to the mean of the task losses', () => {
    const { shared, ctx } = linearProblem([[[1, 2]], [[3, -1]]]);
    expect(createStrategy({ method: 'fixed' }).backward(ctx).weights).toEqual([0.5, 0.5]);
    expectClose(values(shared[0].grad), [2, 0.5]);
  });
});

describe('UWL (Kendall et al.)', () => {
  /** L = [0.8 (classification), 2.0 (regression)] as the values of a leaf θ, so ∂total/∂θ_i is the weight. */
  function uwlProblem() {
    const theta = param([0.8, 2.0]);
    const losses = [0, 1].map((i) => wm.sum(wm.slice(theta, [i], [1])));
    return { theta, ctx: makeBalanceContext({ losses, lossValues: [0.8, 2.0], shared: [theta] }) };
  }

  it('∂/∂s_i = −c_i e^{−s_i} L_i + ½, weights c_i e^{−s_i} (c = 1 classification, ½ regression)', async () => {
    const uwl = new UWL({ taskTypes: ['classification', 'regression'] });
    expect(uwl.parameters.map((s) => values(s))).toEqual([[0], [0]]);
    let { theta, ctx } = uwlProblem();
    let report = uwl.backward(ctx);
    expectClose(
      uwl.parameters.map((s) => values(s.grad)[0]),
      [-0.8 + 0.5, -0.5 * 2 + 0.5],
    );
    expectClose(report.weights, [1, 0.5]);
    expectClose(values(theta.grad), [1, 0.5]);

    uwl.parameters.forEach((s, i) => {
      s.zeroGrad();
      wm.assign(s, wm.tensor([[0.3], [-0.2]][i]));
    });
    ({ theta, ctx } = uwlProblem());
    report = uwl.backward(ctx);
    expectClose(
      uwl.parameters.map((s) => values(s.grad)[0]),
      [-Math.exp(-0.3) * 0.8 + 0.5, -0.5 * Math.exp(0.2) * 2 + 0.5],
    );
    expectClose(report.weights, [Math.exp(-0.3), 0.5 * Math.exp(0.2)]);
    expectClose(values(theta.grad), report.weights);
    expectClose(await uwl.readWeights(), report.weights);
  });

  it('is not clamped: s_i goes below 0 towards its optimum log(2 c_i L_i)', () => {
    const uwl = new UWL({ nTask: 2 });
    const opt = new SGD(uwl.parameters, { lr: 0.5 });
    for (let step = 0; step < 200; step++) {
      wm.tidy(() => {
        uwl.backward(makeBalanceContext({ losses: [wm.tensor(0.2), wm.tensor(3)], lossValues: [0.2, 3], shared: [] }));
      });
      opt.step();
      opt.zeroGrad();
    }
    expect(values(uwl.parameters[0])[0]).toBeCloseTo(Math.log(0.4), 3);
    expect(values(uwl.parameters[1])[0]).toBeCloseTo(Math.log(6), 3);
  });

  it('needs the task count before an optimizer can hold its parameters', () => {
    expect(() => new UWL().parameters).toThrow(/pass taskTypes/);
    expect(() => createStrategy({ method: 'uwl' }, { taskTypes: ['classification', 'regression'] }).parameters).not.toThrow();
    expect(() => new UWL({ taskTypes: ['classification', 'ranking' as 'regression'] })).toThrow(/unknown task type 'ranking'/);
  });
});

describe('GradNorm (Chen et al.)', () => {
  it('steps w with Adam on ∂Σ|G_i − Ḡ r_i^α|/∂w with per-task targets, renormalises Σw = T; the model gets Σ w_i L_i', () => {
    // ∇_W L_0 = [3, 4] (‖·‖ = 5), ∇_W L_1 = [0, 1] (‖·‖ = 1). While ∂L_grad/∂w keeps its sign, Adam's
    // bias-corrected step is exactly lr per weight, whatever the gradient's size.
    const gn = new GradNorm({ alpha: 1, lr: 0.1 });
    let { shared, ctx } = linearProblem([[[3, 4]], [[0, 1]]], { lossValues: [2, 1] });
    // Step 0: L̃ = [1, 1], r = [1, 1]; G = [5, 1], Ḡ = 3; ∂L_grad/∂w = [+5, −1] → w = [0.9, 1.1] (Σ = 2 already).
    expect(gn.backward(ctx).weights).toEqual([1, 1]);
    expectClose(values(shared[0].grad), [3, 5]);
    expectClose(values(gn.lossWeights), [0.9, 1.1]);

    // Step 1: losses [1, 1] → L̃ = [0.5, 1], r = [2/3, 4/3]; G = [4.5, 1.1], Ḡ = 2.8, targets [1.87, 3.73]:
    // the same signs, so another step of 0.1.
    ({ shared, ctx } = linearProblem([[[3, 4]], [[0, 1]]], { lossValues: [1, 1] }));
    expectClose(gn.backward(ctx).weights, [0.9, 1.1]);
    expectClose(values(shared[0].grad), [0.9 * 3, 0.9 * 4 + 1.1]);
    expectClose(values(gn.lossWeights), [0.8, 1.2]);
  });

  it('per-task targets: the task whose loss fell less is pushed to a larger gradient', () => {
    // Equal gradient norms, w = [1, 1]: G = [1, 1] = Ḡ, so step 0 has ∂L_grad/∂w = 0 (Adam counts the step).
    // r = [0.5, 1.5] (α = 1): targets [0.5, 1.5], so w_0 goes down and w_1 up. A single target Ḡ for all
    // tasks would leave both unchanged. Adam's second step on g = ±1 after a zero one:
    // lr · (0.1 / (1 − 0.9²)) / √(0.001 / (1 − 0.999²)).
    const gn = new GradNorm({ alpha: 1, lr: 0.1 });
    gn.backward(linearProblem([[[1, 0]], [[0, 1]]], { lossValues: [1, 1] }).ctx);
    expectClose(values(gn.lossWeights), [1, 1]);
    gn.backward(linearProblem([[[1, 0]], [[0, 1]]], { lossValues: [0.25, 0.75] }).ctx);
    const d = (0.1 * (0.1 / (1 - 0.9 ** 2))) / Math.sqrt(0.001 / (1 - 0.999 ** 2));
    expectClose(values(gn.lossWeights), [1 - d, 1 + d]);
  });

  it('keeps weights positive (floor) and summing to T even with a huge step', () => {
    const gn = new GradNorm({ alpha: 1.5, lr: 100, minWeight: 1e-3 });
    for (let step = 0; step < 3; step++) gn.backward(linearProblem([[[30, 40]], [[0, 1]], [[1, 1]]], { lossValues: [1, 2, 3] }).ctx);
    const w = values(gn.lossWeights);
    w.forEach((v) => expect(v).toBeGreaterThan(0));
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(3, 4);
  });

  it('watches the named layer', () => {
    const gn = new GradNorm({ layer: 'layer1' });
    gn.setup({ nTask: 2, lr: 0.01 });
    gn.backward(
      linearProblem([
        [[1], [2]],
        [[1], [3]],
      ]).ctx,
    );
    expect(gn.watchedLayer).toEqual(['layer1.weight']);
    const bad = new GradNorm({ layer: 'nope', lr: 1 });
    expect(() => bad.backward(linearProblem([[[1]], [[1]]]).ctx)).toThrow(/layer 'nope' is not a shared parameter.*layer0\.weight/);
  });
});

describe('MetaBalance (He et al.)', () => {
  it('rescales each auxiliary gradient per shared tensor by r·m_tar/m_aux + (1 − r), moving averages from 0', () => {
    const mb = new MetaBalance({ relaxFactor: 0.7, beta: 0.9 });
    // Tensor 0: ‖g_tar‖ = 5, ‖g_aux‖ = 1.  Tensor 1: ‖g_tar‖ = 1, ‖g_aux‖ = 4.
    let { shared, perTask, ctx } = linearProblem(
      [
        [[3, 4], [1]],
        [[0, 1], [4]],
      ],
      { own: [[2], [7]] },
    );
    let report = mb.backward(ctx);
    // m = 0.1·norms, so m_tar/m_aux = 5 (tensor 0) and 1/4 (tensor 1).
    const s0 = 0.7 * 5 + 0.3;
    const s1 = 0.7 * 0.25 + 0.3;
    expectClose(values(shared[0].grad), [3, 4 + s0 * 1]);
    expectClose(values(shared[1].grad), [1 + s1 * 4]);
    expectClose(values(perTask[0][0].grad), [2]);
    expectClose(values(perTask[1][0].grad), [7]);
    // Reported: ‖balanced aux gradient‖ / ‖aux gradient‖ over the shared parameters.
    expectClose(report.weights, [1, Math.sqrt((s0 * 1) ** 2 + (s1 * 4) ** 2) / Math.sqrt(1 + 16)]);

    // Step 2, ‖g_aux‖ on tensor 0 now 2: m_tar = 0.9·0.5 + 0.1·5 = 0.95, m_aux = 0.9·0.1 + 0.1·2 = 0.29.
    ({ shared, ctx } = linearProblem([
      [[3, 4], [1]],
      [[0, 2], [4]],
    ]));
    report = mb.backward(ctx);
    expectClose(values(shared[0].grad), [3, 4 + (0.7 * (0.95 / 0.29) + 0.3) * 2], 4);
  });

  it('selects the target task; r = 0 is the plain sum', () => {
    const mb = new MetaBalance({ targetTask: 1, relaxFactor: 1 });
    let { shared, ctx } = linearProblem([[[3, 4]], [[0, 1]]]);
    mb.backward(ctx);
    // Task 0 is auxiliary now: scaled by m_1/m_0 = 1/5 (r = 1).
    expectClose(values(shared[0].grad), [3 / 5, 4 / 5 + 1]);
    ({ shared, ctx } = linearProblem([[[3, 4]], [[0, 1]]]));
    new MetaBalance({ relaxFactor: 0 }).backward(ctx);
    expectClose(values(shared[0].grad), [3, 5]);
  });

  it("takes torch-rechub's optimizer form and exposes itself as the strategy", () => {
    const p = [param([1]), param([2])];
    const mb = new MetaBalance(p, { relaxFactor: 0.7, beta: 0.9 });
    expect(mb.params).toEqual(p);
    expect(mb.strategy).toBe(mb);
    expect(isBalanceStrategy(mb)).toBe(true);
    expect(isBalanceStrategy(new Adam(p))).toBe(false);
    expect(new MetaBalance([{ params: p }]).params).toEqual(p);
  });
});

describe('PCGrad (Yu et al.)', () => {
  it('projects conflicting gradients: g1 = [1, 0], g2 = [−1, 1] → [0.5, 0.5] + [0, 1]', () => {
    const { shared, perTask, ctx } = linearProblem([[[1, 0]], [[-1, 1]]], { own: [[3], [4]] });
    expect(new PCGrad({ seed: 1 }).backward(ctx).weights).toEqual([1, 1]);
    expectClose(values(shared[0].grad), [0.5, 1.5]);
    expectClose(values(perTask[0][0].grad), [3]);
    expectClose(values(perTask[1][0].grad), [4]);
  });

  it('leaves agreeing gradients alone, across several shared tensors (one flattened vector)', () => {
    // Per tensor the gradients conflict (1·−1 < 0) but the flattened dot product is 1·−1 + 2·2 = 3 > 0.
    const { shared, ctx } = linearProblem([
      [[1], [2]],
      [[-1], [2]],
    ]);
    new PCGrad().backward(ctx);
    expectClose(values(shared[0].grad), [0]);
    expectClose(values(shared[1].grad), [4]);
  });

  it('matches a host implementation for three tasks in the seeded order', () => {
    const g = [
      [1, 0, 0.5],
      [-1, 1, 0],
      [0.2, -2, 1],
    ];
    const order = projectionOrder(new wm.Random(5), 3);
    order.forEach((o, i) => expect([...o].sort()).toEqual([0, 1, 2].filter((j) => j !== i)));
    const dotH = (a: number[], b: number[]) => a.reduce((s, v, k) => s + v * b[k], 0);
    const want = [0, 0, 0];
    g.forEach((gi, i) => {
      let pc = [...gi];
      for (const j of order[i]) {
        const d = dotH(pc, g[j]);
        if (d < 0) pc = pc.map((v, k) => v - (d / dotH(g[j], g[j])) * g[j][k]);
      }
      pc.forEach((v, k) => (want[k] += v));
    });
    const got = projectConflicting(
      g.map((v) => [wm.tensor(v)]),
      order,
    );
    expectClose(values(got[0]), want);
    const { shared, ctx } = linearProblem(g.map((v) => [v]));
    new PCGrad({ seed: 5 }).backward(ctx);
    expectClose(values(shared[0].grad), want);
  });
});

describe('DWA (Liu et al.)', () => {
  it('w_i = T softmax(r_i/τ) with r_i = L_i(t−1)/L_i(t−2); 1 for the first two epochs', () => {
    const dwa = new DWA({ temperature: 2 });
    dwa.setup({ nTask: 2 });
    expect(dwa.weights).toEqual([1, 1]);
    dwa.onEpochEnd(0, [1.0, 2.0]);
    expect(dwa.weights).toEqual([1, 1]);
    dwa.onEpochEnd(1, [0.5, 1.8]);
    // r = [0.5, 0.9]: 2 e^{0.25} / (e^{0.25} + e^{0.45}) = 0.900331, and 1.099669.
    expectClose(dwa.weights, [0.900331, 1.099669]);
    const { shared, ctx } = linearProblem([[[1]], [[1]]]);
    expectClose(dwa.backward(ctx).weights, [0.900331, 1.099669]);
    expectClose(values(shared[0].grad), [2]);
    dwa.onEpochEnd(2, [0.5, 0.9]);
    expectClose(dwaWeights(dwa.history, 2, 2), [
      (2 * Math.exp(0.5)) / (Math.exp(0.5) + Math.exp(0.25)),
      (2 * Math.exp(0.25)) / (Math.exp(0.5) + Math.exp(0.25)),
    ]);
  });
});

describe('CAGrad (Liu et al. 2021)', () => {
  it('solves the dual over the simplex and combines g0 + c‖g0‖/‖g_w‖ g_w (scaled by T)', () => {
    const norm = (v: number[]) => Math.hypot(...v);
    // An interior optimum, and one at a vertex of the simplex (w = (0, 1)).
    for (const [g, c] of [
      [
        [
          [1, 0],
          [-0.5, 1],
        ],
        0.5,
      ],
      [
        [
          [1, 0],
          [-0.9, 0.1],
        ],
        0.4,
      ],
    ] as [number[][], number][]) {
      // Host reference: grid search of F(w) = g_w·g0 + c‖g0‖‖g_w‖ over w = (a, 1 − a).
      const g0 = [0, 1].map((k) => (g[0][k] + g[1][k]) / 2);
      const gwOf = (a: number) => [0, 1].map((k) => a * g[0][k] + (1 - a) * g[1][k]);
      let best = { a: 0, f: Infinity };
      for (let a = 0; a <= 1; a += 1e-5) {
        const gw = gwOf(a);
        const f = gw[0] * g0[0] + gw[1] * g0[1] + c * norm(g0) * norm(gw);
        if (f < best.f) best = { a, f };
      }
      const gw = gwOf(best.a);
      const d = g0.map((v, k) => 2 * (v + ((c * norm(g0)) / norm(gw)) * gw[k]));
      const { shared, ctx } = linearProblem(g.map((v) => [v]));
      new CAGrad({ c }).backward(ctx);
      expectClose(values(shared[0].grad), d, 4);
    }
    // c = 0 is the plain sum.
    const plain = linearProblem([[[1, 0]], [[-0.5, 1]]]);
    expectClose(new CAGrad({ c: 0 }).backward(plain.ctx).weights, [1, 1]);
    expectClose(values(plain.shared[0].grad), [0.5, 1]);
  });
});

// ---- on real models ---------------------------------------------------------------------------------

const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 3 }),
  new DenseFeature('price'),
];

function batch(fs: Feature[], rows: number, seed: number) {
  return randomFeatures(fs, rows, new wm.Random(seed));
}

function step(model: MultiTaskModel, strategy: BalanceStrategy, seed: number, outputs: number[] = [0, 1]) {
  return wm.tidy(() => {
    const rows = 16;
    const out = model.forward(batch(model.features, rows, seed));
    const r = new wm.Random(seed + 1);
    const losses = outputs.map((o) => {
      const p = wm.reshape(wm.slice(out, [0, o], [rows, 1]), [rows]);
      return wm.binaryCrossEntropy(
        p,
        wm.fromArray(
          Float32Array.from({ length: rows }, () => (r.uniform() < 0.4 ? 1 : 0)),
          [rows],
        ),
      );
    });
    const ctx = modelBalanceContext(
      model,
      losses,
      losses.map((l) => l.dataSync()[0]),
      { step: 0, epoch: 0 },
    );
    return strategy.backward(ctx).weights;
  });
}

const mmoe = () =>
  new MMoE({
    features: features(),
    taskTypes: ['classification', 'classification'],
    nExpert: 3,
    expertParams: { dims: [8, 6] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });

describe('strategies on the models', () => {
  it('every method fills a finite gradient for every parameter of MMoE and trains for a few steps', () => {
    for (const method of ['fixed', 'uwl', 'gradnorm', 'metabalance', 'pcgrad', 'dwa', 'cagrad'] as const) {
      wm.seed(3);
      const model = mmoe();
      const strategy = createStrategy({ method }, { taskTypes: model.taskTypes });
      const opt = new Adam([...model.parameters(), ...(strategy.parameters ?? [])], { lr: 1e-2 });
      strategy.setup?.({ nTask: 2, lr: 1e-2 });
      for (let s = 0; s < 3; s++) {
        const weights = step(model, strategy, 10 + s);
        expect(weights).toHaveLength(2);
        weights.forEach((w) => expect(Number.isFinite(w)).toBe(true));
        for (const [name, p] of model.namedParameters()) {
          expect(p.grad, `${method}: ${name}`).not.toBeNull();
          expect(values(p.grad).every(Number.isFinite), `${method}: ${name}`).toBe(true);
        }
        opt.step();
        opt.zeroGrad();
      }
    }
  });

  it('with equal weights every strategy reduces to the same gradient when the tasks do not interact', () => {
    // One task: PCGrad, MetaBalance and GradNorm all give plain ∇L (CAGrad gives (1 + c)∇L).
    wm.seed(4);
    const model = mmoe();
    const grads = (strategy: BalanceStrategy) => {
      strategy.setup?.({ nTask: 1, lr: 1e-3 });
      step(model, strategy, 21, [0]);
      const g = model.parameters().map((p) => values(p.grad));
      model.zeroGrad();
      return g;
    };
    const plain = grads(new FixedWeights());
    for (const s of [new PCGrad(), new MetaBalance(), new GradNorm()]) {
      grads(s).forEach((g, i) => g.forEach((v, k) => expect(v).toBeCloseTo(plain[i][k], 5)));
    }
  });

  it('GradNorm watches the last shared layer weight, not the first embedding table', () => {
    const cases: [() => MultiTaskModel, string[], number[]?][] = [
      [mmoe, ['experts.layers.1.weight']],
      [
        () =>
          new SharedBottom({
            features: features(),
            taskTypes: ['classification', 'classification'],
            bottomParams: { dims: [8, 6] },
            towerParamsList: [{ dims: [4] }, { dims: [4] }],
          }),
        ['bottom.1.linear.weight'],
      ],
      [
        () =>
          new PLE({
            features: features(),
            taskTypes: ['classification', 'classification'],
            nLevel: 2,
            nExpertSpecific: 1,
            nExpertShared: 2,
            expertParams: { dims: [6] },
            towerParamsList: [{ dims: [4] }, { dims: [4] }],
          }),
        ['levels.1.sharedExperts.layers.0.weight'],
      ],
      // ESMM: both trained losses reach the CTR tower (pCTCVR = pCTR·pCVR), so its output layer is the last shared layer.
      [
        () => new ESMM({ features: features().filter((f) => f.kind !== 'dense'), cvrParams: { dims: [4] }, ctrParams: { dims: [4] } }),
        ['ctrTower.output.weight'],
        [1, 2],
      ],
    ];
    for (const [make, layer, outputs] of cases) {
      const gn = new GradNorm({ lr: 1e-3 });
      step(make(), gn, 30, outputs);
      expect(gn.watchedLayer).toEqual(layer);
    }
  });
});

describe('errors', () => {
  it('names the known methods and options', () => {
    expect(() => createStrategy({ method: 'nash' } as never)).toThrow(
      /unknown method 'nash'; known methods: fixed, uwl, gradnorm, metabalance, pcgrad, dwa, cagrad/,
    );
    expect(() => createStrategy({ method: 'gradnorm', alpah: 1 } as never)).toThrow(
      /gradnorm has no option 'alpah' \(did you mean 'alpha'\?\); its options are alpha, layer, lr, minWeight/,
    );
    expect(createStrategy('GradNorm' as never).name).toBe('gradnorm');
  });

  it('checks hyperparameters at construction', () => {
    expect(() => new GradNorm({ alpha: 0 })).toThrow(/alpha must be a number > 0/);
    expect(() => createStrategy({ method: 'gradnorm', alpha: -1 })).toThrow(/alpha/);
    expect(() => new MetaBalance({ relaxFactor: 1.5 })).toThrow(/relaxFactor must be in \[0, 1\]/);
    expect(() => new MetaBalance({ beta: 1 })).toThrow(/beta must be in \[0, 1\)/);
    expect(() => new MetaBalance({ targetTask: 2, nTask: 2 })).toThrow(/targetTask 2 does not exist; there are 2 tasks/);
    expect(() => new MetaBalance({ targetTask: 2 }).setup({ nTask: 2 })).toThrow(/targetTask 2 does not exist/);
    expect(() => new MetaBalance({ targetTask: 1.5 })).toThrow(/targetTask must be a task index/);
    expect(() => new DWA({ temperature: 0 })).toThrow(/temperature must be a number > 0/);
    expect(() => new FixedWeights({ weights: [1, -1] })).toThrow(/weights\[1\] must be a finite number ≥ 0/);
    expect(() => new FixedWeights({ weights: [1, 2] }).setup({ nTask: 3 })).toThrow(/2 weights for 3 tasks/);
    expect(() => new CAGrad({ c: -1 })).toThrow(/c must be/);
  });

  it('gradient methods on a model without shared parameters name the model and the fix', () => {
    const p = [param([1]), param([2])];
    const ctx = makeBalanceContext({
      losses: p.map((t) => wm.sum(t)),
      lossValues: [1, 2],
      shared: [],
      perTask: p.map((t) => [t]),
      modelName: 'TwoTowers',
    });
    for (const s of [new GradNorm({ lr: 1 }), new MetaBalance(), new PCGrad(), new CAGrad()]) {
      expect(() => s.backward(ctx)).toThrow(/the TwoTowers model has no shared parameters.*\{ method: 'uwl' \}/);
    }
    expect(() => new DWA().backward(ctx)).not.toThrow();
  });

  it('checks the task count against setup()', () => {
    const s = new PCGrad();
    s.setup({ nTask: 3 });
    expect(() => s.backward(linearProblem([[[1]], [[1]]]).ctx)).toThrow(/set up for 3 tasks but the step has 2 losses/);
  });
});
