// PLE (3 levels), ESMM and AITM computed by hand in float64 — no tensor ops on the expected path —
// against the models on the CPU backend, in eval mode (running statistics) and training mode (batch
// statistics, biased variance), with gradients of the mean BCE checked against central finite
// differences of the hand forward. The semantics followed are torch-rechub's (models/multi_task/
// ple.py, esmm.py, aitm.py); test/helpers/hand-math.ts holds the float64 layers.
import { beforeEach, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { AITM, ESMM, type MultiTaskModel, PLE } from '../src/models/index.js';
import * as wm from '../src/tensor/index.js';
import * as H from './helpers/hand-math.js';

const cpu = new CpuBackend();

beforeEach(() => {
  wm.setBackend(cpu);
  wm.seed(11);
});

// ---- a batch of 5 rows, kept as plain numbers for the hand path ----------------------------------

const B = 5;
const IDS: Record<string, number[]> = {
  a: [0, 3, 1, 3, 2],
  b: [2, 0, 1, 1, 0],
  c: [4, 1, 0, 2, 3],
  u: [1, 0, 2, 1, 2],
  i: [0, 2, 1, 3, 3],
};
// Exactly representable in float32, so the model reads the same values.
const DENSE: Record<string, number[]> = {
  d: [0.75, -1.25, 0.5, 1.875, -0.375],
  ud: [-0.5, 1.5, 0.25, -1.0, 0.625],
  id: [1.25, 0.125, -0.75, 0.5, -1.5],
};

const sparse = (name: string, vocabSize: number, embedDim = 2) => new SparseFeature({ name, vocabSize, embedDim });

function batchOf(features: Feature[]): Record<string, wm.Tensor> {
  const x: Record<string, wm.Tensor> = {};
  for (const f of features) {
    x[f.name] = f.kind === 'dense' ? wm.fromArray(Float32Array.from(DENSE[f.name]), [B]) : wm.fromArray(Int32Array.from(IDS[f.name]), [B]);
  }
  return x;
}

/**
 * The model input by hand: per group, the embeddings of its sparse features in order, then its
 * dense values (torch-rechub's EmbeddingLayer with squeeze_dim=True); groups side by side.
 */
function handInput(P: H.Params, groups: Feature[][]): H.Mat {
  const parts: H.Mat[] = [];
  for (const g of groups) {
    for (const f of g) if (f.kind === 'sparse') parts.push(H.lookup(H.get(P, `embedding.embed.${f.name}.weight`), f.embedDim, IDS[f.name]));
    for (const f of g) if (f.kind === 'dense') parts.push(DENSE[f.name].map((v) => [v]));
  }
  return H.hcat(...parts);
}

/** Labels [B, T ≤ 3]: every column mixed, no two columns alike (so swapped outputs change the loss). */
const LABELS: H.Mat = [
  [1, 0, 0],
  [0, 1, 1],
  [1, 1, 0],
  [0, 0, 1],
  [1, 0, 1],
];
const labels = (T: number): H.Mat => LABELS.map((row) => row.slice(0, T));

// ---- parameters: non-trivial values written with loadStateDict, read back as float64 -------------

function readParams(model: MultiTaskModel): H.Params {
  return Object.fromEntries(Object.entries(model.stateDict()).map(([n, t]) => [n, Array.from(t.dataSync() as Float32Array)]));
}

/**
 * Deterministic pseudo-random values for every parameter and buffer: BatchNorm γ in [0.5, 1.6]
 * (≠ 1), β in [0.1, 0.6] (≠ 0, and positive so that few ReLUs are dead on every row), running mean
 * in [−0.4, 0.4], running variance in [0.4, 1.8]; everything else uniform in [−scale, scale]
 * (scale 1 unless `scaleOf` says otherwise).
 */
function randomise(model: MultiTaskModel, seed: number, scaleOf: (name: string) => number = () => 1): H.Params {
  const rng = new H.HandRng(seed);
  const next: Record<string, wm.Tensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    const draw = name.endsWith('running_mean')
      ? () => rng.uniform(-0.4, 0.4)
      : name.endsWith('running_var')
        ? () => rng.uniform(0.4, 1.8)
        : /bn\.weight$/.test(name)
          ? () => rng.uniform(0.5, 1.6)
          : /bn\.bias$/.test(name)
            ? () => rng.uniform(0.1, 0.6)
            : () => rng.uniform(-scaleOf(name), scaleOf(name));
    next[name] = wm.fromArray(Float32Array.from({ length: t.size }, draw), t.shape);
  }
  model.loadStateDict(next);
  const P = readParams(model);
  for (const [name, t] of Object.entries(next)) expect(P[name], name).toEqual(Array.from(t.dataSync() as Float32Array));
  return P;
}

// ---- comparisons -----------------------------------------------------------------------------------

function maxDiff(got: ArrayLike<number>, want: number[]): { worst: number; at: number } {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= worst)) {
      worst = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  return { worst, at };
}

function expectClose(got: ArrayLike<number>, want: H.Mat, tol: number, what: string): void {
  const flat = want.flat();
  expect(got.length, `${what}: size`).toBe(flat.length);
  const { worst, at } = maxDiff(got, flat);
  expect(worst, `${what}: max |model − hand| = ${worst} at ${at} (model ${got[at]}, hand ${flat[at]})`).toBeLessThan(tol);
}

/** A variant of the hand forward differs from the model by much more than the tolerance. */
function expectSensitive(got: ArrayLike<number>, variant: H.Mat, what: string): void {
  expect(maxDiff(got, variant.flat()).worst, `${what} would go unnoticed`).toBeGreaterThan(1e-3);
}

const TOL = 1e-5;

/**
 * The model's gradient of the mean BCE against central differences of the hand forward (float64),
 * for every parameter. Tolerance: 2e-6 of the largest gradient plus 2e-4 relative (the float32
 * model stays within a tenth of that on these cases). Returns the finite differences.
 */
function checkGradients(
  model: MultiTaskModel,
  x: Record<string, wm.Tensor>,
  P: H.Params,
  hand: (P: H.Params) => H.Mat,
  what: string,
): { fd: Record<string, number[]>; scale: number } {
  const T = model.nTask;
  const Y = labels(T);
  model.zeroGrad();
  const out = model.forward(x);
  wm.binaryCrossEntropy(out, wm.fromArray(Float32Array.from(Y.flat()), [B, T])).backward();
  const named = model.namedParameters();
  const fd = H.finiteDifferences(
    P,
    named.map(([n]) => n),
    (Q) => H.bceMean(hand(Q), Y),
  );
  const scale = Math.max(...Object.values(fd).flatMap((g) => g.map(Math.abs)));
  expect(scale, `${what}: gradients are not all zero`).toBeGreaterThan(1e-3);
  let nonZero = 0;
  for (const [name, p] of named) {
    expect(p.grad, `${what}: ${name} has a gradient`).not.toBeNull();
    const g = p.grad!.dataSync() as Float32Array;
    const want = fd[name];
    expect(g.length, name).toBe(want.length);
    for (let i = 0; i < want.length; i++) {
      const tol = 2e-6 * scale + 2e-4 * Math.abs(want[i]);
      expect(
        Math.abs(g[i] - want[i]),
        `${what}: d loss / d ${name}[${i}]: model ${g[i]}, finite differences ${want[i]}`,
      ).toBeLessThanOrEqual(tol);
      if (Math.abs(want[i]) > 1e-4 * scale) nonZero++;
    }
  }
  expect(nonZero, `${what}: non-zero gradient entries`).toBeGreaterThan(named.length);
  return { fd, scale };
}

// ---- PLE ---------------------------------------------------------------------------------------------

interface PleConfig {
  nTask: number;
  nLevel: number;
  nSpecific: number;
  nShared: number;
  expertDims: number[];
  towerDims: number[];
}

/**
 * torch-rechub's PLE: inputs = [x] * (nTask + 1). Level l: task t's specific experts read inputs[t],
 * the shared experts read inputs[nTask]; task gate t = softmax(BN(Linear(inputs[t]))) over [task t's
 * specific experts, then the shared experts] → new inputs[t]; every level but the last also has a
 * shared gate softmax(BN(Linear(inputs[nTask]))) over [all specific experts task by task, then the
 * shared experts] → new inputs[nTask]. Towers on the last level's task outputs; sigmoid.
 * `variant` breaks it on purpose (to show the test would notice): 'sharedSkipsLevels' keeps level 0's
 * shared mixture as the shared input of every later level (their shared gates skipped);
 * 'sharedGateOrder' puts the shared experts first in the shared gate.
 */
function pleHand(
  P: H.Params,
  c: PleConfig,
  x: H.Mat,
  train: boolean,
  variant?: 'sharedSkipsLevels' | 'sharedGateOrder',
): { out: H.Mat; gates: Record<string, H.Mat> } {
  let inputs: H.Mat[] = Array.from({ length: c.nTask + 1 }, () => x);
  const gates: Record<string, H.Mat> = {};
  const names = Array.from({ length: c.nTask }, (_, t) => `task${t}`);
  for (let l = 0; l < c.nLevel; l++) {
    const last = l === c.nLevel - 1;
    const key = (n: string) => (last ? n : `level${l}.${n}`);
    const L = c.expertDims.length;
    const own = names.map((_, t) => H.experts(P, `levels.${l}.taskExperts.${t}`, inputs[t], c.nSpecific, L, train));
    const shared = c.nShared > 0 ? H.experts(P, `levels.${l}.sharedExperts`, inputs[c.nTask], c.nShared, L, train) : [];
    const next: H.Mat[] = names.map((n, t) => {
      const w = H.gate(P, `levels.${l}.taskGates.${t}`, inputs[t], train);
      gates[key(n)] = w;
      return H.mix(w, [...own[t], ...shared]);
    });
    if (!last) {
      const w = H.gate(P, `levels.${l}.sharedGate`, inputs[c.nTask], train);
      gates[key('shared')] = w;
      const all = variant === 'sharedGateOrder' ? [...shared, ...own.flat()] : [...own.flat(), ...shared];
      next.push(variant === 'sharedSkipsLevels' && l > 0 ? inputs[c.nTask] : H.mix(w, all));
    }
    inputs = next;
  }
  const logits = names.map((_, t) => H.mlp(P, `towers.${t}`, inputs[t], c.towerDims.length, true, train));
  return { out: logits[0].map((_, r) => logits.map((z) => H.sigmoid(z[r][0]))), gates };
}

const pleFeatures = (): Feature[] => [sparse('a', 4), sparse('b', 3), sparse('c', 5), new DenseFeature('d')];

const PLE_CASES: [string, PleConfig][] = [
  [
    '3 levels, 2 tasks, 2 specific + 1 shared experts [3], towers [2]',
    { nTask: 2, nLevel: 3, nSpecific: 2, nShared: 1, expertDims: [3], towerDims: [2] },
  ],
  [
    '3 levels, 3 tasks, 2 specific + 1 shared experts [3], towers [2]',
    { nTask: 3, nLevel: 3, nSpecific: 2, nShared: 1, expertDims: [3], towerDims: [2] },
  ],
  [
    '2 levels, 2 tasks, 1 specific + 2 shared experts [4, 3], towers [3]',
    { nTask: 2, nLevel: 2, nSpecific: 1, nShared: 2, expertDims: [4, 3], towerDims: [3] },
  ],
];

function makePle(c: PleConfig): PLE {
  return new PLE({
    features: pleFeatures(),
    numTasks: c.nTask,
    nLevel: c.nLevel,
    nExpertSpecific: c.nSpecific,
    nExpertShared: c.nShared,
    expertParams: { dims: c.expertDims },
    towerParamsList: Array.from({ length: c.nTask }, () => ({ dims: c.towerDims })),
  });
}

describe('PLE computed by hand (torch-rechub semantics)', () => {
  PLE_CASES.forEach(([label, c], k) => {
    for (const mode of ['eval', 'train'] as const) {
      const train = mode === 'train';
      it(`${label}: ${mode} mode outputs and gate weights`, () => {
        const model = makePle(c);
        const P = randomise(model, 100 + k);
        model.train(train);
        const x = batchOf(model.features);
        const want = pleHand(P, c, handInput(P, [model.features]), train);
        const out = model.forward(x);
        expect(out.shape).toEqual([B, c.nTask]);
        const got = out.dataSync();
        expectClose(got, want.out, TOL, `${mode} outputs`);
        const gateNames = Object.keys(want.gates).sort();
        expect(Object.keys(model.lastGateWeights!).sort()).toEqual(gateNames);
        for (const n of gateNames) expectClose(model.lastGateWeights![n].dataSync(), want.gates[n], TOL, `gate ${n}`);
        if (!train) expectClose(model.predict(x).dataSync(), want.out, TOL, 'predict');
        // The test would notice a shared branch that skips a level's shared gate, or a reordered shared gate.
        if (c.nLevel > 2)
          expectSensitive(
            got,
            pleHand(P, c, handInput(P, [model.features]), train, 'sharedSkipsLevels').out,
            "a shared input that skips level 1's shared gate",
          );
        if (c.nLevel > 1)
          expectSensitive(
            got,
            pleHand(P, c, handInput(P, [model.features]), train, 'sharedGateOrder').out,
            'shared experts first in the shared gate',
          );
        // Normalising with the running statistics in training mode (or the batch's in eval) would show.
        expectSensitive(got, pleHand(P, c, handInput(P, [model.features]), !train).out, `${mode} mode using the other mode's statistics`);
      });

      it(`${label}: ${mode} mode gradients of the mean BCE match finite differences of the hand forward`, () => {
        const model = makePle(c);
        const P = randomise(model, 200 + k);
        model.train(train);
        const feats = model.features;
        const { fd, scale } = checkGradients(
          model,
          batchOf(feats),
          P,
          (Q) => pleHand(Q, c, handInput(Q, [feats]), train).out,
          `PLE ${label} ${mode}`,
        );
        // The first level's parameters all get a real gradient (so the comparison above tests the
        // routing back through every later level), the shared gate's only through level 1's shared experts.
        const level0 = [
          ...Array.from({ length: c.nTask }, (_, t) => [
            `levels.0.taskExperts.${t}.layers.0.weight`,
            `levels.0.taskGates.${t}.linear.weight`,
            `levels.0.taskGates.${t}.bn.weight`,
          ]).flat(),
          'levels.0.sharedExperts.layers.0.weight',
          'levels.0.sharedExperts.layers.0.bn.weight',
          'levels.0.sharedGate.linear.weight',
          'levels.0.sharedGate.bn.weight',
        ];
        for (const name of level0) expect(Math.max(...fd[name].map(Math.abs)), `${name}: gradient size`).toBeGreaterThan(1e-4 * scale); // 50× the absolute tolerance
      });
    }
  });

  it('training mode normalises with the biased batch variance (÷ B), not the unbiased one', () => {
    const c = PLE_CASES[0][1];
    const model = makePle(c);
    const P = randomise(model, 300);
    const got = model.forward(batchOf(model.features)).dataSync();
    expectClose(got, pleHand(P, c, handInput(P, [model.features]), true).out, TOL, 'outputs');
    // The same hand forward with the unbiased variance (÷ (B − 1)) in every BatchNorm is clearly different.
    H.variants.unbiasedBatchVariance = true;
    try {
      expectSensitive(got, pleHand(P, c, handInput(P, [model.features]), true).out, 'an unbiased variance in the normalisation');
    } finally {
      H.variants.unbiasedBatchVariance = false;
    }
  });
});

// ---- ESMM --------------------------------------------------------------------------------------------

/**
 * torch-rechub's ESMM: input = [user features, item features]; pCVR = sigmoid(cvrTower(input)),
 * pCTR = sigmoid(ctrTower(input)); outputs [pCVR, pCTR, pCTR · pCVR]. Variants (broken on purpose):
 * 'swapTowers', 'swapColumns' (pCTR first), 'itemFirst' (item features before user features).
 */
function esmmHand(
  P: H.Params,
  user: Feature[],
  item: Feature[],
  towerBlocks: number,
  train: boolean,
  variant?: 'swapTowers' | 'swapColumns' | 'itemFirst',
): H.Mat {
  const input = handInput(P, variant === 'itemFirst' ? [item, user] : [user, item]);
  const tower = (name: string) => H.mlp(P, name, input, towerBlocks, true, train).map(([z]) => H.sigmoid(z));
  let cvr = tower('cvrTower');
  let ctr = tower('ctrTower');
  if (variant === 'swapTowers') [cvr, ctr] = [ctr, cvr];
  const rows = cvr.map((pcvr, r) => [pcvr, ctr[r], ctr[r] * pcvr]);
  return variant === 'swapColumns' ? rows.map(([a, b2, c2]) => [b2, a, c2]) : rows;
}

const ESMM_CASES: [string, () => { user: Feature[]; item: Feature[] }][] = [
  ['sparse features only', () => ({ user: [sparse('u', 3), sparse('a', 4)], item: [sparse('i', 4), sparse('c', 5)] })],
  [
    'dense features in both groups',
    () => ({ user: [sparse('u', 3), new DenseFeature('ud')], item: [sparse('i', 4), new DenseFeature('id'), sparse('c', 5)] }),
  ],
];

describe('ESMM computed by hand: [pCVR, pCTR, pCTCVR], user features then item features', () => {
  ESMM_CASES.forEach(([label, groups], k) => {
    for (const mode of ['eval', 'train'] as const) {
      const train = mode === 'train';
      it(`${label}: ${mode} mode outputs`, () => {
        const { user, item } = groups();
        const model = new ESMM({ userFeatures: user, itemFeatures: item, cvrParams: { dims: [3] }, ctrParams: { dims: [3] } });
        const P = randomise(model, 400 + k);
        model.train(train);
        const out = model.forward(batchOf(model.features));
        expect(out.shape).toEqual([B, 3]);
        const got = out.dataSync();
        expectClose(got, esmmHand(P, user, item, 1, train), TOL, `${mode} outputs`);
        if (!train) expectClose(model.predict(batchOf(model.features)).dataSync(), esmmHand(P, user, item, 1, train), TOL, 'predict');
        for (const v of ['swapTowers', 'swapColumns', 'itemFirst'] as const) expectSensitive(got, esmmHand(P, user, item, 1, train, v), v);
      });

      it(`${label}: ${mode} mode gradients match finite differences of the hand forward`, () => {
        const { user, item } = groups();
        const model = new ESMM({ userFeatures: user, itemFeatures: item, cvrParams: { dims: [3] }, ctrParams: { dims: [3] } });
        const P = randomise(model, 500 + k);
        model.train(train);
        checkGradients(model, batchOf(model.features), P, (Q) => esmmHand(Q, user, item, 1, train), `ESMM ${label} ${mode}`);
      });
    }
  });

  it('towers of different depths: cvrParams builds cvrTower, ctrParams builds ctrTower', () => {
    const user = [sparse('u', 3)];
    const item = [sparse('i', 4), new DenseFeature('id')];
    const model = new ESMM({ userFeatures: user, itemFeatures: item, cvrParams: { dims: [3, 2] }, ctrParams: { dims: [2] } });
    const P = randomise(model, 450);
    model.eval();
    const input = handInput(P, [user, item]);
    const cvr = H.mlp(P, 'cvrTower', input, 2, true, false).map(([z]) => H.sigmoid(z));
    const ctr = H.mlp(P, 'ctrTower', input, 1, true, false).map(([z]) => H.sigmoid(z));
    expect(P['cvrTower.1.linear.weight']).toHaveLength(6);
    expect(P['ctrTower.1.linear.weight']).toBeUndefined();
    expectClose(
      model.forward(batchOf(model.features)).dataSync(),
      cvr.map((p, r) => [p, ctr[r], p * ctr[r]]),
      TOL,
      'outputs',
    );
  });
});

// ---- AITM --------------------------------------------------------------------------------------------

type Scale = 'sqrt' | 'd' | 'none';

/**
 * The AIT unit: items u = [own, transferred]; w_j = softmax_j(⟨q(u_j), k(u_j)⟩ · s), output
 * Σ_j w_j v(u_j); q, k, v Linear without bias (weights [d, d] stored [in, out]); s = 1/√d.
 */
function aitHand(P: H.Params, prefix: string, own: H.Mat, transferred: H.Mat, scale: Scale): H.Mat {
  const d = own[0].length;
  const s = scale === 'sqrt' ? 1 / Math.sqrt(d) : scale === 'd' ? 1 / d : 1;
  const [Wq, Wk, Wv] = ['query', 'key', 'value'].map((n) => H.get(P, `${prefix}.${n}.weight`));
  return own.map((_, r) => {
    const items = [own[r], transferred[r]];
    const q = H.linear(items, Wq, null, d);
    const k = H.linear(items, Wk, null, d);
    const v = H.linear(items, Wv, null, d);
    const w = H.softmax(items.map((_, j) => q[j].reduce((acc, qc, c2) => acc + qc * k[j][c2], 0) * s));
    return v[0].map((_, c2) => w[0] * v[0][c2] + w[1] * v[1][c2]);
  });
}

/**
 * torch-rechub's AITM: bottoms z_i = bottom_i(x) (MLP without output layer); for i ≥ 1,
 * info = infoGate_{i−1}(z_{i−1}) (Linear → BN → ReLU; z_{i−1} already replaced by its AIT output),
 * z_i = AIT(z_i, info); towers; sigmoid. 'infoFromBottom': the info gate reads the previous task's
 * bottom output instead of its AIT output (differs from 3 tasks on).
 */
function aitmHand(
  P: H.Params,
  nTask: number,
  bottomBlocks: number,
  towerBlocks: number,
  x: H.Mat,
  train: boolean,
  scale: Scale = 'sqrt',
  variant?: 'infoFromBottom',
): H.Mat {
  const bottoms = Array.from({ length: nTask }, (_, i) => H.mlp(P, `bottoms.${i}`, x, bottomBlocks, false, train));
  const z = [bottoms[0]];
  for (let i = 1; i < nTask; i++) {
    const info = H.mlp(P, `infoGates.${i - 1}`, variant === 'infoFromBottom' ? bottoms[i - 1] : z[i - 1], 1, false, train);
    z.push(aitHand(P, `attentions.${i - 1}`, bottoms[i], info, scale));
  }
  const logits = z.map((zi, i) => H.mlp(P, `towers.${i}`, zi, towerBlocks, true, train));
  return x.map((_, r) => logits.map((l) => H.sigmoid(l[r][0])));
}

const aitmFeatures = (): Feature[] => [sparse('a', 4), sparse('b', 3), new DenseFeature('d')];
// q and k drawn from [−1.25, 1.25] so the attention scores are large enough for their scale to matter.
const aitmScale = (name: string) => (/attentions\.\d+\.(query|key)\.weight$/.test(name) ? 1.25 : 1);

function makeAitm(nTask: number): AITM {
  return new AITM({
    features: aitmFeatures(),
    nTask,
    bottomParams: { dims: [4, 3] },
    towerParamsList: Array.from({ length: nTask }, () => ({ dims: [2] })),
  });
}

describe('AITM computed by hand: AIT attention scaled by 1/√d over [own, transferred]', () => {
  for (const nTask of [2, 3]) {
    for (const mode of ['eval', 'train'] as const) {
      const train = mode === 'train';
      it(`${nTask} tasks: ${mode} mode outputs`, () => {
        const model = makeAitm(nTask);
        const P = randomise(model, 600 + nTask, aitmScale);
        model.train(train);
        const x = handInput(P, [model.features]);
        const out = model.forward(batchOf(model.features));
        expect(out.shape).toEqual([B, nTask]);
        const got = out.dataSync();
        expectClose(got, aitmHand(P, nTask, 2, 1, x, train), TOL, `${mode} outputs`);
        if (!train) expectClose(model.predict(batchOf(model.features)).dataSync(), aitmHand(P, nTask, 2, 1, x, train), TOL, 'predict');
        expectSensitive(got, aitmHand(P, nTask, 2, 1, x, train, 'd'), 'a 1/d attention scale');
        expectSensitive(got, aitmHand(P, nTask, 2, 1, x, train, 'none'), 'an unscaled attention');
        if (nTask >= 3)
          expectSensitive(
            got,
            aitmHand(P, nTask, 2, 1, x, train, 'sqrt', 'infoFromBottom'),
            'an info gate reading the bottom, not the AIT output',
          );
      });

      it(`${nTask} tasks: ${mode} mode gradients match finite differences of the hand forward`, () => {
        const model = makeAitm(nTask);
        const P = randomise(model, 700 + nTask, aitmScale);
        model.train(train);
        const feats = model.features;
        checkGradients(
          model,
          batchOf(feats),
          P,
          (Q) => aitmHand(Q, nTask, 2, 1, handInput(Q, [feats]), train),
          `AITM ${nTask} tasks ${mode}`,
        );
      });
    }
  }

  it('the AIT unit alone: weights from ⟨q, k⟩/√d, value mixture (d = 3)', () => {
    const model = makeAitm(2);
    const P = randomise(model, 650, aitmScale);
    const att = model.attentions[0];
    const own = [
      [0.75, -0.5, 1],
      [0.25, 1, -0.625],
    ];
    const transferred = [
      [-0.5, 0.75, 0.5],
      [1, -0.5, 0.25],
    ];
    const got = wm
      .noGrad(() =>
        att.forward(wm.fromArray(Float32Array.from(own.flat()), [2, 3]), wm.fromArray(Float32Array.from(transferred.flat()), [2, 3])),
      )
      .dataSync();
    expectClose(got, aitHand(P, 'attentions.0', own, transferred, 'sqrt'), TOL, 'AIT output');
    expectSensitive(got, aitHand(P, 'attentions.0', own, transferred, 'd'), 'a 1/d scale');
    expectSensitive(got, aitHand(P, 'attentions.0', own, transferred, 'none'), 'no scale');
    // Which item is which does not change the result (softmax over the items is symmetric), so the
    // item order is not something a test can pin; the own/transferred roles are pinned by AITM's
    // forward through which input passes the info gate.
    expectClose(got, aitHand(P, 'attentions.0', transferred, own, 'sqrt'), TOL, 'AIT with the items swapped');
  });
});
