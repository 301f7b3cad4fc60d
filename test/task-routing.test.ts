// Which parameters are shared follows from each model's wiring. For every model and config, with the
// real training losses in train mode: a parameter marked as task k's gets exactly zero gradient from
// every other task's loss, and a parameter that two tasks' losses reach is shared. (The old hand-kept
// lists broke both in PLE with 2+ levels — lower-level task experts feed the shared gate — and in AITM,
// where bottom i feeds task i + 1.) Also: the routing probe changes nothing in the model.
import { describe, expect, it } from 'vitest';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import * as wm from '../src/index.js';
import { randomBatch } from './helpers/batches.js';

const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 2 }),
  new DenseFeature('price'),
];
const towers = (n: number) => Array.from({ length: n }, () => ({ dims: [4] }));
const cls = (n: number) => Array<'classification'>(n).fill('classification');

const configs: Record<string, () => wm.MultiTaskModel> = {
  SharedBottom: () =>
    new wm.SharedBottom({ features: features(), taskTypes: cls(2), bottomParams: { dims: [6] }, towerParamsList: towers(2) }),
  MMoE: () => new wm.MMoE({ features: features(), taskTypes: cls(3), nExpert: 3, expertParams: { dims: [5] }, towerParamsList: towers(3) }),
  OMoE: () => new wm.OMoE({ features: features(), taskTypes: cls(2), nExpert: 2, expertParams: { dims: [5] }, towerParamsList: towers(2) }),
  'CGC (PLE, 1 level)': () =>
    new wm.PLE({
      features: features(),
      taskTypes: cls(2),
      nLevel: 1,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [5] },
      towerParamsList: towers(2),
    }),
  'PLE, 2 levels': () =>
    new wm.PLE({
      features: features(),
      taskTypes: cls(2),
      nLevel: 2,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [5] },
      towerParamsList: towers(2),
    }),
  'PLE, 3 levels, 3 tasks': () =>
    new wm.PLE({
      features: features(),
      taskTypes: cls(3),
      nLevel: 3,
      nExpertSpecific: 1,
      nExpertShared: 2,
      expertParams: { dims: [5, 4] },
      towerParamsList: towers(3),
    }),
  'PLE, no shared experts': () =>
    new wm.PLE({
      features: features(),
      taskTypes: cls(2),
      nLevel: 2,
      nExpertSpecific: 2,
      nExpertShared: 0,
      expertParams: { dims: [5] },
      towerParamsList: towers(2),
    }),
  ESMM: () => {
    const [u, i, p] = features();
    return new wm.ESMM({ userFeatures: [u, p], itemFeatures: [i], cvrParams: { dims: [6, 4] }, ctrParams: { dims: [6, 4] } });
  },
  'AITM, 2 tasks': () => new wm.AITM({ features: features(), nTask: 2, bottomParams: { dims: [6, 4] }, towerParamsList: towers(2) }),
  'AITM, 3 tasks': () => new wm.AITM({ features: features(), nTask: 3, bottomParams: { dims: [6] }, towerParamsList: towers(3) }),
};

function batch(model: wm.MultiTaskModel, rows: number, seed: number): { x: wm.FeatureBatch; y: wm.Tensor } {
  return randomBatch(model.features, rows, model.taskPlan(model instanceof wm.ESMM ? 2 : model.nTask).nLabel, seed);
}

/** Per trained loss, whether each parameter's gradient has a non-zero entry. */
function reached(model: wm.MultiTaskModel, seed: number): boolean[][] {
  const { x, y } = batch(model, 16, seed);
  const plan = model.taskPlan(y.shape[1]);
  const params = model.parameters();
  return wm.tidy(() => {
    model.train();
    const out = model.forward(x);
    return plan.train.map((t) => {
      const pred = wm.reshape(wm.slice(out, [0, t.output], [16, 1]), [16]);
      const label = wm.reshape(wm.slice(y, [0, t.label], [16, 1]), [16]);
      return wm.grad(wm.binaryCrossEntropy(pred, label), params).map((g) => (g.dataSync() as Float32Array).some((v) => v !== 0));
    });
  });
}

describe('parameter groups follow the wiring', () => {
  for (const [name, make] of Object.entries(configs)) {
    it(`${name}: task-owned tensors get no gradient from other tasks; tensors two tasks reach are shared`, () => {
      wm.seed(3);
      const model = make();
      const groups = model.trainedParameterGroups();
      const index = new Map(model.parameters().map((p, j) => [p, j]));
      // Two batches: a tensor counts as reached when either batch shows it.
      const a = reached(model, 1);
      const b = reached(model, 2);
      const reach = a.map((row, k) => row.map((v, j) => v || b[k][j]));
      groups.perTask.forEach((own, k) => {
        for (const [pname, p] of own) {
          reach.forEach((row, other) => {
            if (other !== k) expect(row[index.get(p)!], `${pname} is task ${k}'s but task ${other}'s loss reaches it`).toBe(false);
          });
        }
      });
      for (const [pname, p] of groups.shared) {
        const tasks = reach.filter((row) => row[index.get(p)!]).length;
        expect(tasks, `${pname} is marked shared but ${tasks} task(s) reach it`).not.toBe(1);
      }
      groups.perTask.forEach((own, k) => {
        for (const [pname, p] of own)
          expect(reach[k][index.get(p)!] || /\.bias$/.test(pname), `${pname} is task ${k}'s but its loss does not reach it`).toBe(true);
      });
    });
  }

  it("PLE with 2 levels: first-level task experts are shared (they feed the shared gate); last-level ones are their task's", () => {
    const model = configs['PLE, 2 levels']();
    const g = model.parameterGroups();
    const names = (list: [string, wm.Tensor][]) => list.map(([n]) => n);
    expect(names(g.shared)).toContain('levels.0.taskExperts.0.layers.0.weight');
    expect(names(g.shared)).toContain('levels.0.taskExperts.1.layers.0.weight');
    expect(names(g.perTask[0])).toContain('levels.1.taskExperts.0.layers.0.weight');
    expect(names(g.perTask[1])).toContain('levels.1.taskExperts.1.layers.0.weight');
    expect(names(g.perTask[0])).toContain('levels.0.taskGates.0.linear.weight');
  });

  it("AITM: bottom 0 feeds task 1 through the info gate, so it is shared; the last task's bottom is its own", () => {
    const model = configs['AITM, 3 tasks']();
    const g = model.parameterGroups();
    const shared = g.shared.map(([n]) => n);
    expect(shared).toContain('bottoms.0.0.linear.weight');
    expect(shared).toContain('bottoms.1.0.linear.weight');
    expect(g.perTask[2].map(([n]) => n)).toContain('bottoms.2.0.linear.weight');
    expect(g.perTask[0].map(([n]) => n)).toEqual(g.perTask[0].map(([n]) => n).filter((n) => n.startsWith('towers.0.')));
  });

  it("ESMM: the trained losses are ctr and ctcvr; the CVR tower is ctcvr's alone, the CTR tower both reach", () => {
    const model = configs.ESMM();
    const g = model.trainedParameterGroups();
    expect(model.trainedTasks().map((t) => t.name)).toEqual(['ctr', 'ctcvr']);
    expect(g.perTask[0]).toEqual([]);
    expect(g.perTask[1].every(([n]) => n.startsWith('cvrTower.'))).toBe(true);
    expect(g.shared.some(([n]) => n.startsWith('ctrTower.'))).toBe(true);
  });

  it('the routing probe changes nothing: values, running statistics, modes, gate weights and the random stream', async () => {
    wm.seed(11);
    const model = configs['PLE, 2 levels']();
    model.train();
    const { x } = batch(model, 8, 5);
    model.forward(x); // leaves gate weights and moved running statistics behind
    const before = Object.fromEntries(Object.entries(model.stateDict()).map(([n, t]) => [n, Array.from(t.dataSync())]));
    const gates = model.lastGateWeights;
    const rngBefore = wm.globalRng().getState();
    model.parameterGroups();
    expect(Object.fromEntries(Object.entries(model.stateDict()).map(([n, t]) => [n, Array.from(t.dataSync())]))).toEqual(before);
    expect(model.lastGateWeights).toBe(gates);
    expect([...model.namedModules()].every(([, m]) => m.training)).toBe(true);
    expect(wm.globalRng().getState()).toEqual(rngBefore);
    for (const p of model.parameters()) expect(p.grad).toBeNull();
  });
});
