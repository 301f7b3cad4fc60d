// One small model of each kind, with every feature kind (sparse, shared-table sequence, dense) and
// options that the weights' shapes do not show (sigmoid gates, dropout, calibrator weight, pooling).
import { DenseFeature, SequenceFeature, SparseFeature } from '../../src/features.js';
import { AITM } from '../../src/models/aitm.js';
import type { MultiTaskModel } from '../../src/models/base.js';
import { ESMM } from '../../src/models/esmm.js';
import { MMoE } from '../../src/models/mmoe.js';
import { OMoE } from '../../src/models/omoe.js';
import { PLE } from '../../src/models/ple.js';
import { SharedBottom } from '../../src/models/shared-bottom.js';
import { assign } from '../../src/tensor/ops.js';
import { Random } from '../../src/tensor/random.js';
import { fromArray } from '../../src/tensor/tensor.js';

export const zooFeatures = () => [
  new SparseFeature({ name: 'user', vocabSize: 11, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 7, embedDim: 3, paddingIdx: 0 }),
  new SequenceFeature({ name: 'history', vocabSize: 7, embedDim: 3, sharedWith: 'item', pooling: 'sum' }),
  new DenseFeature('price'),
];

/** A builder per registry name. */
export const MODEL_ZOO = {
  sharedbottom: () =>
    new SharedBottom({
      features: zooFeatures(),
      taskTypes: ['classification', 'regression'],
      bottomParams: { dims: [6] },
      taskNames: ['click', 'dwell'],
    }),
  mmoe: () =>
    new MMoE({
      features: zooFeatures(),
      taskTypes: ['classification', 'classification'],
      nExpert: 3,
      expertParams: { dims: [5], dropout: 0.1 },
      gateActivation: 'sigmoid',
    }),
  omoe: () =>
    new OMoE({ features: zooFeatures(), taskTypes: ['classification', 'classification'], nExpert: 2, expertParams: { dims: [4] } }),
  ple: () =>
    new PLE({
      features: zooFeatures(),
      taskTypes: ['classification', 'classification'],
      nLevel: 2,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [4, 3] },
    }),
  esmm: () =>
    new ESMM({
      userFeatures: zooFeatures().slice(0, 1),
      itemFeatures: zooFeatures().slice(1, 2),
      cvrParams: { dims: [4] },
      ctrParams: { dims: [4] },
    }),
  aitm: () =>
    new AITM({ features: zooFeatures(), nTask: 2, bottomParams: { dims: [6] }, calibratorWeight: 0.3, taskNames: ['click', 'buy'] }),
};

/**
 * Moves every float weight and BatchNorm statistic of `model` away from its initial value (weights by
 * `scale`·N(0, 1), running variances to [0.5, 1.5)), so that a test comparing a loaded or exported
 * model with it cannot pass on fresh weights.
 */
export function perturbWeights(model: MultiTaskModel, seed: number, scale = 0.3): void {
  const r = new Random(seed);
  for (const [name, t] of Object.entries(model.stateDict())) {
    if (t.dtype !== 'f32') continue;
    const v = t.dataSync() as Float32Array;
    const moved = Float32Array.from(v, (x) => (name.endsWith('running_var') ? 0.5 + r.uniform() : x + scale * r.normal()));
    assign(t, fromArray(moved, t.shape));
  }
}
