// SequenceFeature: an id sequence per row, embedded with its own (or a shared) table and pooled to one
// vector — mean and sum skip the padding id, concat flattens — then fed to a model like any feature.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DenseFeature, SequenceFeature, SparseFeature } from '../src/features.js';
import { MMoE } from '../src/models/mmoe.js';
import { EmbeddingLayer } from '../src/nn/embedding-layer.js';
import * as wm from '../src/tensor/index.js';

wm.setBackend(new CpuBackend());

// Table rows: id k embeds to [k, 10k] (row 0 is the padding id).
const table = wm.tensor([[0, 0], [1, 10], [2, 20], [3, 30]]);
const ids = () => wm.tensor(Int32Array.of(1, 2, 0, 3, 3, 3), { shape: [2, 3] }); // row 0 has one padding id

function layerWith(pooling: 'mean' | 'sum' | 'concat') {
  const f = new SequenceFeature({ name: 'history', vocabSize: 4, embedDim: 2, pooling, paddingIdx: 0, maxLen: 3 });
  const layer = new EmbeddingLayer([f]);
  layer.loadStateDict({ 'embed.history.weight': table });
  return layer;
}

describe('SequenceFeature pooling', () => {
  it('mean skips the padding id', async () => {
    const out = layerWith('mean').forward({ history: ids() });
    expect(await out.toArray()).toEqual([[1.5, 15], [3, 30]]);
  });

  it('sum skips the padding id', async () => {
    expect(await layerWith('sum').forward({ history: ids() }).toArray()).toEqual([[3, 30], [9, 90]]);
  });

  it('concat flattens the sequence (padding rows included, as zeros of row 0)', async () => {
    expect(await layerWith('concat').forward({ history: ids() }).toArray()).toEqual([
      [1, 10, 2, 20, 0, 0],
      [3, 30, 3, 30, 3, 30],
    ]);
  });

  it('shares the table of the sparse feature it names', () => {
    const item = new SparseFeature({ name: 'item', vocabSize: 4, embedDim: 2 });
    const history = new SequenceFeature({ name: 'history', vocabSize: 4, embedDim: 2, sharedWith: 'item' });
    const layer = new EmbeddingLayer([item, history]);
    expect(layer.namedParameters().map(([n]) => n)).toEqual(['embed.item.weight']);
    expect(layer.outputDim).toBe(4);
  });

  it('feeds a model: MMoE trains through a pooled sequence (the table gets a gradient on used rows only)', async () => {
    wm.seed(1);
    const features = [
      new SequenceFeature({ name: 'history', vocabSize: 6, embedDim: 3, pooling: 'mean', paddingIdx: 0 }),
      new DenseFeature('price'),
    ];
    const model = new MMoE({ features, numTasks: 2, nExpert: 2, expertParams: { dims: [4] }, towerParamsList: [{ dims: [2] }, { dims: [2] }] });
    const x = { history: wm.tensor(Int32Array.of(1, 2, 0, 2, 0, 0, 1, 1, 1, 2, 2, 0), { shape: [4, 3] }), price: wm.tensor([0.1, -0.3, 0.7, 0.2]) };
    const out = model.forward(x);
    expect(out.shape).toEqual([4, 2]);
    wm.binaryCrossEntropy(out, wm.tensor([[1, 0], [0, 1], [1, 1], [0, 0]])).backward();
    const g = (await model.embedding.tables.get('history')!.weight.grad!.toArray()) as number[][];
    expect(g[0].every((v) => v === 0)).toBe(true); // padding id: masked out of the mean
    for (const id of [3, 4, 5]) expect(g[id].every((v) => v === 0)).toBe(true); // never used
    expect(g[1].some((v) => v !== 0) && g[2].some((v) => v !== 0)).toBe(true);
  });
});
