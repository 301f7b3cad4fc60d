// The multi-task models on the CPU backend: parameter counts against torch-rechub, hand-computed
// outputs, shapes and ranges, gate weights, gradients, parameter groups and a short training run.
import { beforeEach, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { AITM, ESMM, MMoE, type MultiTaskModel, OMoE, PLE, SharedBottom } from '../src/models/index.js';
import { Experts } from '../src/nn/experts.js';
import { Dice, MLP } from '../src/nn/layers.js';
import * as wm from '../src/tensor/index.js';

const cpu = new CpuBackend();

// ---- schemas and batches --------------------------------------------------------------------------

const ALI_CCP_VOCAB: Record<string, number> = {
  ...Object.fromEntries(
    ['101', '121', '122', '124', '125', '126', '127', '128', '129', '301', '109_14', '110_14', '127_14', '150_14'].map((n) => [n, 200]),
  ),
  '205': 12000,
  '206': 5500,
  '207': 14000,
  '210': 15800,
  '216': 8200,
  '508': 3400,
  '509': 2300,
  '702': 2400,
  '853': 2700,
};
const ALI_CCP_DENSE = ['D109_14', 'D110_14', 'D127_14', 'D150_14', 'D508', 'D509', 'D702', 'D853'];
const ALI_CCP_ITEM = ['129', '205', '206', '207', '210', '216'];

function aliCcpSparse(embedDim: number): SparseFeature[] {
  return Object.entries(ALI_CCP_VOCAB).map(([name, vocabSize]) => new SparseFeature({ name, vocabSize, embedDim }));
}
const aliCcpFeatures = (): Feature[] => [...aliCcpSparse(4), ...ALI_CCP_DENSE.map((n) => new DenseFeature(n))];

/** A small schema for fast tests: three sparse fields and two dense. */
const smallFeatures = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 3 }),
  new SparseFeature({ name: 'cate', vocabSize: 4, embedDim: 2 }),
  new DenseFeature('price'),
  new DenseFeature('age'),
];

function randomBatch(features: Feature[], batch: number, seed: number): Record<string, wm.Tensor> {
  const r = new wm.Random(seed);
  const x: Record<string, wm.Tensor> = {};
  for (const f of features) {
    if (f.kind === 'dense')
      x[f.name] = wm.fromArray(
        Float32Array.from({ length: batch }, () => r.normal()),
        [batch],
      );
    else
      x[f.name] = wm.fromArray(
        Int32Array.from({ length: batch }, (_, i) => (i < f.vocabSize ? i : r.int(f.vocabSize))),
        [batch],
      );
  }
  return x;
}

const randomLabels = (batch: number, nTask: number, seed: number): wm.Tensor => {
  const r = new wm.Random(seed);
  return wm.fromArray(
    Float32Array.from({ length: batch * nTask }, () => (r.uniform() < 0.5 ? 1 : 0)),
    [batch, nTask],
  );
};

/** Every model on the small schema, two classification tasks (ESMM: its three outputs). */
const smallModels: Record<string, () => MultiTaskModel> = {
  SharedBottom: () =>
    new SharedBottom({
      features: smallFeatures(),
      taskTypes: ['classification', 'classification'],
      bottomParams: { dims: [12] },
      towerParamsList: [{ dims: [6] }, { dims: [4] }],
    }),
  MMoE: () =>
    new MMoE({
      features: smallFeatures(),
      taskTypes: ['classification', 'classification'],
      nExpert: 3,
      expertParams: { dims: [8, 6] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
  OMoE: () =>
    new OMoE({
      features: smallFeatures(),
      taskTypes: ['classification', 'classification'],
      nExpert: 3,
      expertParams: { dims: [8] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
  PLE: () =>
    new PLE({
      features: smallFeatures(),
      taskTypes: ['classification', 'classification'],
      nLevel: 2,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [8] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    }),
  ESMM: () => {
    const f = smallFeatures();
    return new ESMM({
      userFeatures: [f[0], f[3]],
      itemFeatures: [f[1], f[2], f[4]],
      cvrParams: { dims: [8, 4] },
      ctrParams: { dims: [8, 4] },
    });
  },
  AITM: () =>
    new AITM({
      features: smallFeatures(),
      nTask: 3,
      bottomParams: { dims: [8, 6] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }, { dims: [4] }],
    }),
};

function setParams(model: MultiTaskModel, values: Record<string, number[]>): void {
  const state = model.stateDict();
  const next = { ...state };
  for (const [name, v] of Object.entries(values)) {
    expect(state[name], `parameter ${name}`).toBeDefined();
    next[name] = wm.fromArray(Float32Array.from(v), state[name].shape);
  }
  model.loadStateDict(next);
}

beforeEach(() => {
  wm.setBackend(cpu);
  wm.seed(7);
});

// ---- parameter counts -----------------------------------------------------------------------------

describe('parameter counts match torch-rechub on the Ali-CCP schema', () => {
  const two: ['classification', 'classification'] = ['classification', 'classification'];
  const towers = [{ dims: [8] }, { dims: [8] }];

  it('MMoE(8 experts [16], towers [8]) = 291,554', () => {
    const m = new MMoE({ features: aliCcpFeatures(), taskTypes: two, nExpert: 8, expertParams: { dims: [16] }, towerParamsList: towers });
    expect(m.numParameters()).toBe(291_554);
  });

  it('PLE(1 level, 2 specific per task, 1 shared, experts [16], towers [8]) = 285,580', () => {
    const m = new PLE({
      features: aliCcpFeatures(),
      taskTypes: two,
      nLevel: 1,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [16] },
      towerParamsList: towers,
    });
    expect(m.numParameters()).toBe(285_580);
  });

  it('SharedBottom(bottom [117], towers [8]) = 290,389', () => {
    const m = new SharedBottom({ features: aliCcpFeatures(), taskTypes: two, bottomParams: { dims: [117] }, towerParamsList: towers });
    expect(m.numParameters()).toBe(290_389);
  });

  it('AITM(bottoms [32, 16], towers [8]) = 285,506', () => {
    const m = new AITM({ features: aliCcpFeatures(), nTask: 2, bottomParams: { dims: [32, 16] }, towerParamsList: towers });
    expect(m.numParameters()).toBe(285_506);
  });

  it('ESMM(sparse only, embed 16, towers [16, 8]) = 1,117,794', () => {
    const sparse = aliCcpSparse(16);
    const m = new ESMM({
      userFeatures: sparse.filter((f) => !ALI_CCP_ITEM.includes(f.name)),
      itemFeatures: sparse.filter((f) => ALI_CCP_ITEM.includes(f.name)),
      cvrParams: { dims: [16, 8] },
      ctrParams: { dims: [16, 8] },
    });
    expect(m.numParameters()).toBe(1_117_794);
  });

  it('OMoE(8 experts [16], towers [8]) = 290,730 (counted by hand)', () => {
    // embeddings 69,100·4 = 276,400; per expert Linear(100→16) + BN(16) = 1,616 + 32, ×8 = 13,184;
    // one gate Linear(100→8) + BN(8) = 808 + 16 = 824; per tower Linear(16→8) + BN(8) + Linear(8→1) = 161, ×2.
    const m = new OMoE({ features: aliCcpFeatures(), taskTypes: two, nExpert: 8, expertParams: { dims: [16] }, towerParamsList: towers });
    expect(276_400 + 13_184 + 824 + 322).toBe(290_730);
    expect(m.numParameters()).toBe(290_730);
  });

  it("the tutorial's simpler names build the same models", () => {
    const mmoe = new MMoE({ features: aliCcpFeatures(), numTasks: 2, numExperts: 8, expertUnits: [16], towerUnits: [8] });
    expect(mmoe.numParameters()).toBe(291_554);
    expect(mmoe.taskTypes).toEqual(['classification', 'classification']);
    const ple = new PLE({
      features: aliCcpFeatures(),
      taskTypes: ['binary', 'binary'],
      numLayers: 1,
      numExperts: 2,
      numSharedExperts: 1,
      expertUnits: [16],
      taskHiddenUnits: [8],
    });
    expect(ple.numParameters()).toBe(285_580);
    const sb = new SharedBottom({ features: aliCcpFeatures(), taskTypes: ['binary', 'binary'], hiddenUnits: [117], taskHiddenUnits: [8] });
    expect(sb.numParameters()).toBe(290_389);
    const aitm = new AITM({ features: aliCcpFeatures(), numTasks: 2, hiddenUnits: [32, 16], towerUnits: [8] });
    expect(aitm.numParameters()).toBe(285_506);
    const esmm = new ESMM({ features: aliCcpSparse(4), towerUnits: [16, 8], embeddingDim: 16 });
    expect(esmm.numParameters()).toBe(1_117_794);
  });

  it('Experts hold exactly the parameters of E separate MLPs', () => {
    const experts = new Experts(5, 100, { dims: [32, 16] });
    const perExpert = 100 * 32 + 32 + 2 * 32 + 32 * 16 + 16 + 2 * 16;
    expect(experts.numParameters()).toBe(5 * perExpert);
    expect(experts.stateDict()['layers.0.weight'].shape).toEqual([5, 100, 32]);
    expect(experts.stateDict()['layers.1.bn.running_mean'].shape).toEqual([5, 1, 16]);
  });

  it('Dice by hand (eval mode, running mean 0 and variance 1): p·x + (1 − p)·α·x with p = sigmoid(x)', async () => {
    const dice = new Dice(1);
    wm.assign(dice.alpha, wm.tensor([0.5]));
    dice.eval();
    const out = (await dice.forward(wm.tensor([[2], [-1]])).data()) as Float32Array;
    const sig = (v: number) => 1 / (1 + Math.exp(-v / Math.sqrt(1 + 1e-8)));
    const expected = [2, -1].map((x) => sig(x) * x + (1 - sig(x)) * 0.5 * x); // [1.8808, -0.6345]
    expect(out[0]).toBeCloseTo(expected[0], 5);
    expect(out[1]).toBeCloseTo(expected[1], 5);
  });

  for (const act of ['relu', 'tanh', 'prelu', 'dice'] as const) {
    it(`Experts compute what E separate MLPs compute (activation ${act}, training mode)`, async () => {
      const [E, IN, H, B] = [3, 5, 4, 7];
      wm.seed(3);
      const experts = new Experts(E, IN, { dims: [H], activation: act });
      const r = new wm.Random(4);
      const draw = (t: wm.Tensor) =>
        wm.assign(
          t,
          wm.fromArray(
            Float32Array.from({ length: t.size }, () => r.normal()),
            t.shape,
          ),
        );
      // Learnable activation values away from their initial 0.25 / 0, so they matter.
      for (const [name, t] of experts.namedParameters()) if (name.includes('.act.')) draw(t);
      const state = experts.stateDict();
      const x = wm.fromArray(
        Float32Array.from({ length: B * IN }, () => r.normal()),
        [B, IN],
      );
      const got = (await experts.forward(x).data()) as Float32Array; // [E, B, H]
      for (let e = 0; e < E; e++) {
        const mlp = new MLP(IN, { dims: [H], activation: act, outputLayer: false });
        const own: Record<string, wm.Tensor> = {};
        for (const [name, t] of Object.entries(mlp.stateDict())) {
          const key = name.replace(/^0\.linear\./, 'layers.0.').replace(/^0\./, 'layers.0.');
          const per = state[key].size / E;
          own[name] = wm.fromArray((state[key].dataSync() as Float32Array).slice(e * per, (e + 1) * per), t.shape);
        }
        mlp.loadStateDict(own);
        const want = (await mlp.forward(x).data()) as Float32Array;
        const mine = got.slice(e * B * H, (e + 1) * B * H);
        mine.forEach((v, i) => expect(v, `expert ${e}, value ${i}`).toBeCloseTo(want[i], 5));
      }
    });
  }
});

// ---- hand-computed outputs ------------------------------------------------------------------------

describe('outputs computed by hand (eval mode: BatchNorm scales by 1/√(1 + ε))', () => {
  // Input rows: [embedding of s, d] = [0.5, 2] and [−1, 1].
  const features = (): Feature[] => [new SparseFeature({ name: 's', vocabSize: 2, embedDim: 1 }), new DenseFeature('d')];
  const batch = () => ({ s: wm.fromArray(Int32Array.from([0, 1]), [2]), d: wm.fromArray(Float32Array.from([2, 1]), [2]) });
  const bn = 1 / Math.sqrt(1 + 1e-5);
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  const softmax2 = (a: number, b: number) => [Math.exp(a) / (Math.exp(a) + Math.exp(b)), Math.exp(b) / (Math.exp(a) + Math.exp(b))];

  it('MMoE', async () => {
    const model = new MMoE({
      features: features(),
      taskTypes: ['classification', 'classification'],
      nExpert: 2,
      expertParams: { dims: [1] },
      towerParamsList: [{ dims: [] }, { dims: [] }],
    });
    setParams(model, {
      'embedding.embed.s.weight': [0.5, -1],
      // expert 0: x0 + x1; expert 1: −x0 + 0.5·x1 + 0.5   (weights [E, in, out])
      'experts.layers.0.weight': [1, 1, -1, 0.5],
      'experts.layers.0.bias': [0, 0.5],
      // gate 0 logits: [x0, 0]; gate 1 logits: [0, x1 − 1]   (weights [in, out])
      'gates.0.linear.weight': [1, 0, 0, 0],
      'gates.0.linear.bias': [0, 0],
      'gates.1.linear.weight': [0, 0, 0, 1],
      'gates.1.linear.bias': [0, -1],
      'towers.0.output.weight': [2],
      'towers.0.output.bias': [-1],
      'towers.1.output.weight': [-1],
      'towers.1.output.bias': [0.5],
    });
    model.eval();
    const out = model.forward(batch());

    const expert0 = [2.5 * bn, 0]; // relu(BN(x0 + x1))
    const expert1 = [1 * bn, 2 * bn]; // relu(BN(−x0 + 0.5·x1 + 0.5))
    const gate0 = [softmax2(0.5 * bn, 0), softmax2(-1 * bn, 0)];
    const gate1 = [softmax2(0, 1 * bn), softmax2(0, 0)];
    const expected = [0, 1].flatMap((r) => {
      const mix0 = gate0[r][0] * expert0[r] + gate0[r][1] * expert1[r];
      const mix1 = gate1[r][0] * expert0[r] + gate1[r][1] * expert1[r];
      return [sigmoid(2 * mix0 - 1), sigmoid(-1 * mix1 + 0.5)];
    });
    expect(out.shape).toEqual([2, 2]);
    const got = Array.from(await out.data());
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    const w0 = Array.from(await model.lastGateWeights!.task0.data());
    w0.forEach((v, i) => expect(v).toBeCloseTo(gate0[i >> 1][i & 1], 6));
  });

  it('SharedBottom with a regression task (raw output)', async () => {
    const model = new SharedBottom({
      features: features(),
      taskTypes: ['classification', 'regression'],
      bottomParams: { dims: [2] },
      towerParamsList: [{ dims: [] }, { dims: [] }],
    });
    setParams(model, {
      'embedding.embed.s.weight': [0.5, -1],
      // bottom: [x0 + x1, −x0 + 1]
      'bottom.0.linear.weight': [1, -1, 1, 0],
      'bottom.0.linear.bias': [0, 1],
      'towers.0.output.weight': [1, 2],
      'towers.0.output.bias': [0],
      'towers.1.output.weight': [-1, 1],
      'towers.1.output.bias': [0.25],
    });
    model.eval();
    const out = Array.from(await model.forward(batch()).data());
    const bottom = [
      [2.5 * bn, 0.5 * bn],
      [0, 2 * bn],
    ];
    const expected = bottom.flatMap(([h0, h1]) => [sigmoid(h0 + 2 * h1), -h0 + h1 + 0.25]);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });
});

// ---- shapes, ranges, gates --------------------------------------------------------------------------

describe('outputs, gates and parameter groups', () => {
  for (const [name, make] of Object.entries(smallModels)) {
    it(`${name}: [batch, nTask] probabilities in (0, 1); predict restores training mode`, async () => {
      const model = make();
      const x = randomBatch(model.features, 16, 1);
      const out = model.forward(x);
      expect(out.shape).toEqual([16, model.nTask]);
      for (const v of await out.data()) expect(v > 0 && v < 1).toBe(true);
      expect(model.training).toBe(true);
      const p = model.predict(x);
      expect(p.shape).toEqual([16, model.nTask]);
      expect(p.requiresGrad).toBe(false);
      expect(model.training).toBe(true);
    });

    it(`${name}: parameterGroups partitions the parameters`, () => {
      const model = make();
      const { shared, perTask } = model.parameterGroups();
      expect(perTask.length).toBe(model.nTask);
      const names = [...shared, ...perTask.flat()].map(([n]) => n).sort();
      expect(names).toEqual(
        model
          .namedParameters()
          .map(([n]) => n)
          .sort(),
      );
      expect(shared.some(([n]) => n.startsWith('embedding.'))).toBe(true);
      expect(perTask.flat().some(([n]) => n.startsWith('embedding.'))).toBe(false);
    });
  }

  it('parameter groups: experts shared, gates and towers per task (MMoE); specific experts per task (PLE)', () => {
    const mmoe = smallModels.MMoE().parameterGroups();
    expect(mmoe.shared.map(([n]) => n)).toContain('experts.layers.0.weight');
    expect(mmoe.perTask[1].map(([n]) => n)).toEqual(expect.arrayContaining(['gates.1.linear.weight', 'towers.1.output.bias']));
    const ple = smallModels.PLE().parameterGroups();
    expect(ple.shared.map(([n]) => n)).toEqual(
      expect.arrayContaining(['levels.0.sharedExperts.layers.0.weight', 'levels.0.sharedGate.linear.weight']),
    );
    expect(ple.perTask[0].map(([n]) => n)).toEqual(
      expect.arrayContaining(['levels.1.taskExperts.0.layers.0.weight', 'levels.1.taskGates.0.bn.weight']),
    );
    const omoe = smallModels.OMoE().parameterGroups();
    expect(omoe.shared.map(([n]) => n)).toContain('gate.linear.weight');
    // ESMM by output: pCTCVR reads both towers, so no output owns one; by trained loss the CVR tower is
    // ctcvr's alone and the CTR tower is shared by ctr and ctcvr.
    const esmm = smallModels.ESMM();
    expect(esmm.parameterGroups().perTask.map((g) => g.length)).toEqual([0, 0, 0]);
    expect(esmm.trainedParameterGroups().perTask.map((g) => g.length)).toEqual([0, 10]);
  });

  it('gate weights: one [batch, E] per gate, rows sum to 1, no gradient', async () => {
    const cases: [MultiTaskModel, string[], number[]][] = [
      [smallModels.MMoE(), ['task0', 'task1'], [3, 3]],
      [smallModels.OMoE(), ['shared'], [3]],
      [smallModels.PLE(), ['level0.task0', 'level0.task1', 'level0.shared', 'task0', 'task1'], [3, 3, 5, 3, 3]],
    ];
    for (const [model, names, widths] of cases) {
      model.forward(randomBatch(model.features, 16, 2));
      const gates = model.lastGateWeights!;
      expect(Object.keys(gates)).toEqual(names);
      for (const [i, name] of names.entries()) {
        const w = gates[name];
        expect(w.shape).toEqual([16, widths[i]]);
        expect(w.requiresGrad).toBe(false);
        const v = await w.data();
        for (let r = 0; r < 16; r++) {
          let s = 0;
          for (let e = 0; e < widths[i]; e++) s += v[r * widths[i] + e];
          expect(s).toBeCloseTo(1, 5);
        }
      }
      const previous = gates.task0 ?? gates.shared;
      model.predict(randomBatch(model.features, 8, 3));
      expect(previous.disposed).toBe(true);
      expect(Object.values(model.lastGateWeights!)[0].shape[0]).toBe(8);
    }
    expect(smallModels.SharedBottom().lastGateWeights).toBeNull();
  });

  it('ESMM: [pCVR, pCTR, pCTCVR] with pCTCVR = pCTR · pCVR', async () => {
    const model = smallModels.ESMM();
    expect(model.taskNames).toEqual(['cvr', 'ctr', 'ctcvr']);
    const v = await model.forward(randomBatch(model.features, 16, 4)).data();
    for (let r = 0; r < 16; r++) expect(v[r * 3 + 2]).toBeCloseTo(v[r * 3] * v[r * 3 + 1], 7);
  });

  it('ESMM accepts dense features in its groups', () => {
    const model = new ESMM({
      userFeatures: [new SparseFeature({ name: 'u', vocabSize: 3, embedDim: 4 }), new DenseFeature('age')],
      itemFeatures: [new SparseFeature({ name: 'i', vocabSize: 3, embedDim: 4 })],
      cvrParams: { dims: [4] },
      ctrParams: { dims: [4] },
    });
    expect(model.embedding.outputDim).toBe(9);
    expect(model.forward(randomBatch(model.features, 8, 5)).shape).toEqual([8, 3]);
  });

  it('embeddingDim rebuilds the sparse features without touching the given ones', () => {
    const given = smallFeatures();
    const model = new MMoE({ features: given, numTasks: 2, numExperts: 2, expertUnits: [4], towerUnits: [2], embeddingDim: 5 });
    expect(model.embedding.outputDim).toBe(3 * 5 + 2);
    expect((given[0] as SparseFeature).embedDim).toBe(3);
  });

  it('clear errors for inconsistent options', () => {
    expect(
      () =>
        new MMoE({
          features: smallFeatures(),
          taskTypes: ['classification'],
          nExpert: 2,
          expertParams: { dims: [4] },
          towerParamsList: [{ dims: [2] }, { dims: [2] }],
        }),
    ).toThrow(/2 tower parameter sets for 1 tasks/);
    expect(() => new MMoE({ features: smallFeatures(), numTasks: 2, expertParams: { dims: [4] }, towerUnits: [2] })).toThrow(/nExpert/);
    expect(
      () =>
        new PLE({
          features: smallFeatures(),
          taskTypes: ['click' as 'binary'],
          nExpertSpecific: 1,
          nExpertShared: 1,
          expertUnits: [4],
          towerUnits: [2],
        }),
    ).toThrow(/unknown task type 'click'/);
    expect(() => new SharedBottom({ features: smallFeatures(), numTasks: 2, towerUnits: [2] })).toThrow(/bottomParams/);
  });
});

// ---- gradients and training -------------------------------------------------------------------------

describe('gradients and training', () => {
  // A Linear followed by BatchNorm: in training mode the batch mean cancels its bias, whose gradient is
  // then zero up to rounding (as in torch). In eval mode (running statistics) every parameter gets one.
  const PRE_BN_BIAS = /(linear\.bias|layers\.\d+\.bias)$/;

  async function gradients(model: MultiTaskModel): Promise<[string, Float32Array][]> {
    const x = randomBatch(model.features, 24, 6);
    wm.binaryCrossEntropy(model.forward(x), randomLabels(24, model.nTask, 7)).backward();
    const out: [string, Float32Array][] = [];
    for (const [name, p] of model.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      out.push([name, (await p.grad!.data()) as Float32Array]);
    }
    return out;
  }
  const maxAbs = (g: Float32Array) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

  for (const [name, make] of Object.entries(smallModels)) {
    it(`${name}: a BCE loss sends a gradient to every parameter`, async () => {
      const training = await gradients(make());
      const scale = Math.max(...training.map(([, g]) => maxAbs(g)));
      for (const [p, g] of training) {
        expect(g.every(Number.isFinite), `${p} finite`).toBe(true);
        if (PRE_BN_BIAS.test(p)) expect(maxAbs(g), `${p} (bias before BatchNorm)`).toBeLessThan(1e-5 * scale);
        else expect(maxAbs(g), `${p} has a zero gradient`).toBeGreaterThan(0);
      }
      const model = make();
      const x = randomBatch(model.features, 24, 6);
      // Bring the running statistics close to the batch's so units are not all dead in eval mode.
      for (let i = 0; i < 40; i++) wm.tidy(() => wm.noGrad(() => model.forward(x)));
      for (const [p, g] of await gradients(model.eval())) expect(maxAbs(g), `${p} has a zero gradient in eval mode`).toBeGreaterThan(0);
    });
  }

  it('loss falls on a small planted dataset with plain SGD (every model)', async () => {
    // task 0 is decided by the id of 'item' (ids 0–1 positive), task 1 by the sign of 'price'.
    const n = 64;
    const features = smallFeatures();
    const x = randomBatch(features, n, 11);
    const item = x.item.dataSync();
    const price = x.price.dataSync();
    const labels = Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 === 0 ? Number(item[i >> 1] < 2) : Number(price[i >> 1] > 0)));
    for (const [name, make] of Object.entries(smallModels)) {
      if (name === 'AITM' || name === 'ESMM') continue; // three outputs: trained below with their own labels
      const model = make();
      const y = wm.fromArray(labels, [n, 2]);
      const losses = sgd(model, x, (out) => wm.binaryCrossEntropy(out, y), 40, 0.3);
      expect(losses[losses.length - 1], `${name}: ${losses[0]} → ${losses[losses.length - 1]}`).toBeLessThan(0.7 * losses[0]);
    }
    for (const make of [smallModels.AITM, smallModels.ESMM]) {
      const model = make();
      // AITM: a funnel (click, add to cart, buy), ESMM: cvr, ctr, ctcvr; both use [a, b, a·b].
      const y3 = wm.fromArray(
        Float32Array.from({ length: n * 3 }, (_, i) => {
          const r = (i / 3) | 0;
          const a = labels[r * 2 + 1];
          const b = labels[r * 2];
          return [b, a, a * b][i % 3];
        }),
        [n, 3],
      );
      const losses = sgd(model, x, (out) => wm.binaryCrossEntropy(out, y3), 40, 0.3);
      expect(losses[losses.length - 1]).toBeLessThan(0.8 * losses[0]);
    }
  });
});

function sgd(
  model: MultiTaskModel,
  x: Record<string, wm.Tensor>,
  lossOf: (out: wm.Tensor) => wm.Tensor,
  steps: number,
  lr: number,
): number[] {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    wm.tidy(() => {
      model.zeroGrad();
      const loss = lossOf(model.forward(x));
      loss.backward();
      losses.push(loss.dataSync()[0]);
      wm.noGrad(() => {
        for (const p of model.parameters()) if (p.grad) wm.assign(p, wm.sub(p, wm.mul(p.grad, lr)));
      });
    });
  }
  return losses;
}
