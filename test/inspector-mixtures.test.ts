// The inspector knows which gate mixes which experts only from the model's own declaration,
// model.mixtures(): every gated model declares every gate once, consistently with its forward, and a
// model of any class that declares its gates gets gate means in the report.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { AITM, ESMM, type GateMixture, MMoE, MultiTaskModel, OMoE, PLE, SharedBottom } from '../src/models/index.js';
import { inspectGradients } from '../src/mtl/index.js';
import { EmbeddingLayer, type FeatureBatch } from '../src/nn/embedding-layer.js';
import { Experts, Gate } from '../src/nn/experts.js';
import { MLP } from '../src/nn/layers.js';
import * as wm from '../src/tensor/index.js';
import * as ops from '../src/tensor/ops.js';
import { randomBatch } from './helpers/batches.js';

beforeAll(() => wm.setBackend(new CpuBackend()));

const ROWS = 16;
const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 2 }),
  new DenseFeature('price'),
];
const two = ['classification', 'classification'] as ['classification', 'classification'];

const batch = (fs: Feature[], nLabel: number) => randomBatch(fs, ROWS, nLabel, 4);

const towers = [{ dims: [3] }, { dims: [3] }];
const gated: Record<string, () => MultiTaskModel> = {
  MMoE: () => new MMoE({ features: features(), taskTypes: two, nExpert: 3, expertParams: { dims: [4] }, towerParamsList: towers }),
  OMoE: () => new OMoE({ features: features(), taskTypes: two, nExpert: 2, expertParams: { dims: [4] }, towerParamsList: towers }),
  'PLE (CGC)': () =>
    new PLE({
      features: features(),
      taskTypes: two,
      nLevel: 1,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [4] },
      towerParamsList: towers,
    }),
  'PLE, 3 levels': () =>
    new PLE({
      features: features(),
      taskTypes: ['classification', 'classification', 'regression'],
      nLevel: 3,
      nExpertSpecific: 1,
      nExpertShared: 2,
      expertParams: { dims: [4] },
      towerParamsList: [...towers, { dims: [3] }],
    }),
};

describe('every gated model declares its gates', () => {
  for (const [name, make] of Object.entries(gated)) {
    it(`${name}: each Gate once, keyed as its forward reports it, its experts filling its weights in order`, () => {
      wm.seed(1);
      const model = make();
      const mixtures = model.mixtures();
      const gates = [...model.namedModules()].filter(([, m]) => m instanceof Gate).map(([, m]) => m);
      expect(mixtures.map((m) => m.gate).sort()).toEqual(gates.sort());
      expect(new Set(mixtures.map((m) => m.gate)).size).toBe(gates.length);
      model.predict(batch(model.features, model.nTask).x);
      expect(mixtures.map((m) => m.key).sort()).toEqual(Object.keys(model.lastGateWeights!).sort());
      const modules = new Set([...model.namedModules()].map(([, m]) => m));
      for (const m of mixtures) {
        let at = 0;
        for (const e of m.experts) {
          expect(modules.has(e.module)).toBe(true);
          expect(e.offset).toBe(at);
          at += e.module.nExpert;
        }
        expect(at).toBe(model.lastGateWeights![m.key].shape[1]);
        m.tasks.forEach((t) => expect(t).toBeLessThan(model.nTask));
      }
      // Every task reads some gate.
      for (let t = 0; t < model.nTask; t++) expect(mixtures.some((m) => m.tasks.includes(t))).toBe(true);
    });
  }

  it('ungated models declare none', () => {
    expect(
      new SharedBottom({ features: features(), taskTypes: two, bottomParams: { dims: [4] }, towerParamsList: towers }).mixtures(),
    ).toEqual([]);
    expect(new AITM({ features: features(), nTask: 2, bottomParams: { dims: [4] }, towerParamsList: towers }).mixtures()).toEqual([]);
    expect(new ESMM({ features: features(), cvrParams: { dims: [4] }, ctrParams: { dims: [4] } }).mixtures()).toEqual([]);
  });
});

/** A mixture of experts that is no class the library knows: per task a gate over shared experts. */
class SoftRouting extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly experts: Experts;
  readonly gates: Gate[];
  readonly towers: MLP[];
  constructor(fs: Feature[], nExpert: number) {
    super(['classification', 'classification']);
    this.features = fs;
    this.embedding = this.child('embedding', new EmbeddingLayer(fs));
    this.experts = this.child('experts', new Experts(nExpert, this.embedding.outputDim, { dims: [4] }));
    this.gates = [0, 1].map((i) => this.child(`gates.${i}`, new Gate(this.embedding.outputDim, nExpert)));
    this.towers = [0, 1].map((i) => this.child(`towers.${i}`, new MLP(4, { dims: [2], outputLayer: true })));
  }
  override mixtures(): GateMixture[] {
    return this.gates.map((gate, i) => ({ key: `route${i}`, gate, experts: [{ module: this.experts, offset: 0 }], tasks: [i] }));
  }
  forward(x: FeatureBatch): wm.Tensor {
    const input = this.embedding.forward(x);
    const { mix, weights } = ops.gateMix(ops.stack(this.gates.map((g) => g.forward(input))), this.experts.forward(input));
    const gateWeights: Record<string, wm.Tensor> = {};
    this.takeGateWeights(weights, ['route0', 'route1'], gateWeights);
    this.setGateWeights(gateWeights);
    const [b, h] = [input.shape[0], this.experts.outputDim];
    return this.taskOutputs(this.towers.map((t, i) => t.forward(ops.reshape(ops.slice(mix, [i, 0, 0], [1, b, h]), [b, h]))));
  }
}

describe('the inspector reads only the declaration', () => {
  it('a model of its own class gets gate means from the gates it declares', async () => {
    wm.seed(2);
    const model = new SoftRouting(features(), 3);
    const report = await inspectGradients(model, batch(model.features, 2));
    expect(report.experts.map((e) => e.module)).toEqual(['experts']);
    expect(report.experts[0].gateMean).toEqual([report.gates.route0, report.gates.route1]);
  });

  it('an MMoE that declares no gates gets none (the class alone tells the inspector nothing)', async () => {
    class Undeclared extends MMoE {
      override mixtures(): GateMixture[] {
        return [];
      }
    }
    wm.seed(2);
    const model = new Undeclared({
      features: features(),
      taskTypes: two,
      nExpert: 3,
      expertParams: { dims: [4] },
      towerParamsList: towers,
    });
    const report = await inspectGradients(model, batch(model.features, 2));
    expect(report.experts[0].gateMean).toEqual([null, null]);
  });

  it('PLE: a task gate mixes its own experts first, then the shared ones; the shared gate none of its own', async () => {
    wm.seed(3);
    const model = gated['PLE, 3 levels']();
    const report = await inspectGradients(model, batch(model.features, 3));
    const byModule = Object.fromEntries(report.experts.map((e) => [e.module, e]));
    // Level 0's task experts are shared (the shared gate feeds them on): task 0 reads them through its own gate, at 0.
    expect(byModule['levels.0.taskExperts.0'].gateMean[0]).toEqual(report.gates['level0.task0'].slice(0, 1));
    expect(byModule['levels.0.taskExperts.0'].gateMean[1]).toBeNull();
    expect(byModule['levels.2.sharedExperts'].gateMean[2]).toEqual(report.gates.task2.slice(1, 3));
    expect(byModule['levels.1.sharedExperts'].gateMean[1]).toEqual(report.gates['level1.task1'].slice(1, 3));
  });
});
