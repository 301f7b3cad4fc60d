// The gradient-routing inspector: per-group task gradient norms and cosines checked against gradients
// computed directly, expert shares that sum to 1 and follow the gates, gate means equal to
// lastGateWeights, no side effects on the model, JSON output, every model family, and the recorder.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { ESMM, MMoE, type MultiTaskModel, OMoE, PLE, SharedBottom } from '../src/models/index.js';
import { GradientRecorder, type GradientReport, inspectGradients } from '../src/mtl/index.js';
import * as wm from '../src/tensor/index.js';
import { randomBatch } from './helpers/batches.js';

beforeAll(() => wm.setBackend(new CpuBackend()));

const ROWS = 24;
const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 2 }),
  new DenseFeature('price'),
];
const two = ['classification', 'classification'] as ['classification', 'classification'];

const batch = (fs: Feature[], nLabel: number, seed: number) => randomBatch(fs, ROWS, nLabel, seed);

const mmoe = () => {
  wm.seed(9);
  return new MMoE({
    features: features(),
    taskTypes: two,
    nExpert: 3,
    expertParams: { dims: [6] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
};

const values = (t: wm.Tensor) => Array.from(t.dataSync());
const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, v) => s + v * v, 0));

function checkShape(r: GradientReport) {
  const T = r.tasks.length;
  expect(r.losses).toHaveLength(T);
  for (const g of r.groups) {
    expect(g.norms).toHaveLength(T);
    g.norms.forEach((n) => expect(n).toBeGreaterThanOrEqual(0));
    g.cosine.forEach((row, k) =>
      row.forEach((c, l) => {
        if (c === null) return;
        expect(c).toBeGreaterThanOrEqual(-1);
        expect(c).toBeLessThanOrEqual(1);
        if (k === l) expect(c).toBeCloseTo(1, 5);
        expect(c).toBeCloseTo(g.cosine[l][k]!, 6);
      }),
    );
  }
  for (const e of r.experts) {
    e.share.forEach((row) => expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5));
  }
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
}

describe('inspectGradients on MMoE', () => {
  it('reports norms and cosines equal to directly computed task gradients, per expert slice', async () => {
    const model = mmoe();
    const b = batch(model.features, 2, 1);
    const report = await inspectGradients(model, b);
    checkShape(report);
    expect(report.model).toBe('MMoE');
    expect(report.tasks).toEqual(['task0', 'task1']);
    expect(report.groups.map((g) => g.name)).toEqual(['embeddings', 'experts[0]', 'experts[1]', 'experts[2]']);
    expect(report.groups[1].parameters).toContain('experts.layers.0.weight[0]');
    // One expert: weight 6·6 (input 3 + 2 + 1), bias 6, BatchNorm weight and bias 6 each.
    expect(report.groups[1].size).toBe(6 * 6 + 6 + 6 + 6);

    // Direct: the same forward (train mode uses batch statistics), grad() per task, slices by hand.
    const direct = wm.tidy(() => {
      const out = model.forward(b.x);
      const groups = model.parameterGroups();
      const shared = groups.shared.map(([, t]) => t);
      return [0, 1].map((k) => {
        const col = (t: wm.Tensor) => wm.reshape(wm.slice(t, [0, k], [ROWS, 1]), [ROWS]);
        const g = wm.grad(wm.binaryCrossEntropy(col(out), col(b.y)), shared);
        const byName = new Map(groups.shared.map(([n], i) => [n, values(g[i])]));
        const expert = (e: number) =>
          [...byName]
            .filter(([n]) => n.startsWith('experts.'))
            .flatMap(([, v]) => {
              const per = v.length / 3;
              return v.slice(e * per, (e + 1) * per);
            });
        const embeddings = [...byName].filter(([n]) => n.startsWith('embedding.')).flatMap(([, v]) => v);
        return [embeddings, expert(0), expert(1), expert(2)];
      });
    });
    report.groups.forEach((g, i) => {
      expect(g.norms[0]).toBeCloseTo(norm(direct[0][i]), 6);
      expect(g.norms[1]).toBeCloseTo(norm(direct[1][i]), 6);
      const dotp = direct[0][i].reduce((s, v, k) => s + v * direct[1][i][k], 0);
      expect(g.cosine[0][1]!).toBeCloseTo(dotp / (norm(direct[0][i]) * norm(direct[1][i])), 4);
    });
    const e = report.experts[0];
    expect(e.module).toBe('experts');
    expect(e.groups).toEqual(['experts[0]', 'experts[1]', 'experts[2]']);
    const total0 = report.groups.slice(1).reduce((s, g) => s + g.norms[0], 0);
    expect(e.share[0][1]).toBeCloseTo(report.groups[2].norms[0] / total0, 6);
  });

  it('gate means equal the batch mean of lastGateWeights, and expert shares follow the gates', async () => {
    const model = mmoe();
    // The gate's BatchNorm shift acts on the softmax logits directly: task 0 prefers expert 2, task 1 expert 0.
    wm.assign(model.gates[0].bn.bias!, wm.tensor([0, 0, 4]));
    wm.assign(model.gates[1].bn.bias!, wm.tensor([4, 0, 0]));
    const report = await inspectGradients(model, batch(model.features, 2, 2));
    checkShape(report);
    for (const name of ['task0', 'task1']) {
      const w = model.lastGateWeights![name];
      const mean = [0, 1, 2].map(
        (e) =>
          values(w)
            .filter((_, i) => i % 3 === e)
            .reduce((s, v) => s + v, 0) / ROWS,
      );
      report.gates[name].forEach((v, e) => expect(v).toBeCloseTo(mean[e], 6));
    }
    const e = report.experts[0];
    expect(e.gateMean).toEqual([report.gates.task0, report.gates.task1]);
    const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
    expect(argmax(e.gateMean[0]!)).toBe(2);
    expect(argmax(e.gateMean[1]!)).toBe(0);
    expect(argmax(e.share[0])).toBe(2);
    expect(argmax(e.share[1])).toBe(0);
    expect(e.share[0][2]).toBeGreaterThan(0.6);
    expect(e.share[1][0]).toBeGreaterThan(0.6);
  });

  it('leaves the model as it was: no .grad, BatchNorm running statistics restored', async () => {
    const model = mmoe();
    const before = model.namedBuffers().map(([n, t]) => [n, values(t)]);
    await inspectGradients(model, batch(model.features, 2, 3));
    expect(model.namedBuffers().map(([n, t]) => [n, values(t)])).toEqual(before);
    for (const p of model.parameters()) expect(p.grad).toBeNull();
  });

  it('inspects a subset of tasks by name or index; errors name the tasks', async () => {
    const model = mmoe();
    const b = batch(model.features, 2, 4);
    const one = await inspectGradients(model, b, { tasks: ['task1'] });
    expect(one.tasks).toEqual(['task1']);
    expect(one.groups[0].cosine).toEqual([[1]]);
    expect((await inspectGradients(model, b, { tasks: [1, 0] })).tasks).toEqual(['task1', 'task0']);
    await expect(inspectGradients(model, b, { tasks: ['ctr'] })).rejects.toThrow(/no trained task 'ctr'; the tasks are task0, task1/);
    await expect(inspectGradients(model, { x: b.x, y: wm.zeros([ROWS]) })).rejects.toThrow(/labels y must be \[batch, columns\]/);
  });
});

describe('inspectGradients on the other models', () => {
  const cases: [string, () => MultiTaskModel, number, string[], string[]][] = [
    [
      'SharedBottom',
      () =>
        new SharedBottom({
          features: features(),
          taskTypes: ['classification', 'regression'],
          bottomParams: { dims: [6] },
          towerParamsList: [{ dims: [4] }, { dims: [4] }],
        }),
      2,
      ['embeddings', 'bottom'],
      [],
    ],
    [
      'OMoE',
      () =>
        new OMoE({
          features: features(),
          taskTypes: two,
          nExpert: 2,
          expertParams: { dims: [4] },
          towerParamsList: [{ dims: [3] }, { dims: [3] }],
        }),
      2,
      ['embeddings', 'experts[0]', 'experts[1]', 'gate'],
      ['experts'],
    ],
    [
      'PLE',
      () =>
        new PLE({
          features: features(),
          taskTypes: two,
          nLevel: 2,
          nExpertSpecific: 1,
          nExpertShared: 2,
          expertParams: { dims: [4] },
          towerParamsList: [{ dims: [3] }, { dims: [3] }],
        }),
      2,
      // The first level's task experts feed the shared gate, so both tasks reach them: they are shared.
      [
        'embeddings',
        'levels.0.taskExperts.0[0]',
        'levels.0.taskExperts.1[0]',
        'levels.0.sharedExperts[0]',
        'levels.0.sharedExperts[1]',
        'levels.0.sharedGate',
        'levels.1.sharedExperts[0]',
        'levels.1.sharedExperts[1]',
      ],
      ['levels.0.taskExperts.0', 'levels.0.taskExperts.1', 'levels.0.sharedExperts', 'levels.1.sharedExperts'],
    ],
    // pCTCVR = pCTR·pCVR: both trained losses (ctr, ctcvr) reach the CTR tower.
    [
      'ESMM',
      () => new ESMM({ features: features().filter((f) => f.kind !== 'dense'), cvrParams: { dims: [4] }, ctrParams: { dims: [4] } }),
      3,
      ['embeddings', 'ctrTower'],
      [],
    ],
  ];
  for (const [name, make, nLabel, groups, experts] of cases) {
    it(name, async () => {
      wm.seed(2);
      const model = make();
      const report = await inspectGradients(model, batch(model.features, nLabel, 5));
      checkShape(report);
      expect(report.groups.map((g) => g.name)).toEqual(groups);
      expect(report.experts.map((e) => e.module)).toEqual(experts);
      if (name === 'ESMM') expect(report.tasks).toEqual(['ctr', 'ctcvr']);
      if (name === 'OMoE') expect(report.experts[0].gateMean).toEqual([report.gates.shared, report.gates.shared]);
      if (name === 'PLE') {
        // The last level's task gate mixes [own expert, shared 0, shared 1]: the shared part is its tail.
        expect(report.experts[3].gateMean[0]).toEqual(report.gates.task0.slice(1));
        expect(report.experts[2].gateMean[1]).toEqual(report.gates['level0.task1'].slice(1));
      }
    });
  }
});

describe('GradientRecorder', () => {
  it('records every N steps and keeps at most `limit` reports', async () => {
    const model = mmoe();
    const rec = new GradientRecorder({ every: 2, limit: 2 });
    const b = batch(model.features, 2, 6);
    for (let step = 0; step < 6; step++) if (rec.shouldRecord(step)) rec.record(step, await inspectGradients(model, b));
    expect(rec.history.map((h) => h.step)).toEqual([2, 4]);
    expect(JSON.parse(JSON.stringify(rec))[0].report.model).toBe('MMoE');
    expect(() => new GradientRecorder({ every: 0 })).toThrow(/every must be a positive integer/);
  });
});

describe('inspectGradients on a host batch', () => {
  it('accepts typed-array columns and labels (as a DataLoader yields them) and reports the same as tensors', async () => {
    wm.seed(5);
    const fs = features();
    const model = new MMoE({
      features: fs,
      taskTypes: two,
      nExpert: 3,
      expertParams: { dims: [4] },
      towerParamsList: [{ dims: [2] }, { dims: [2] }],
    });
    const b = batch(fs, 2, 9);
    const host = {
      x: Object.fromEntries(Object.entries(b.x).map(([k, t]) => [k, t.dataSync() as Float32Array | Int32Array])),
      y: b.y.dataSync() as Float32Array,
    };
    const fromHost = await inspectGradients(model, host);
    const fromTensors = await inspectGradients(model, b);
    expect(fromHost).toEqual(fromTensors);
    await expect(inspectGradients(model, { x: host.x, y: host.y.subarray(1) })).rejects.toThrow(/labels of length 47 do not fit 24 rows/);
  });
});
