// SequenceFeature: an id sequence per row, embedded with its own (or a shared) table and pooled to one
// vector — mean and sum skip the padding id, concat flattens — then fed to a model like any feature;
// and the data side: sequence columns (padSequences, SequenceColumn) through datasets, shuffled
// DataLoader batches, validation and MTLTrainer.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DataError, DataGenerator, DataLoader, padSequences, parseCsv, SequenceColumn, toCsvText } from '../src/data/index.js';
import { DenseFeature, SequenceFeature, SparseFeature } from '../src/features.js';
import { MMoE } from '../src/models/mmoe.js';
import { inspectGradients } from '../src/mtl/index.js';
import { EmbeddingLayer } from '../src/nn/embedding-layer.js';
import * as wm from '../src/tensor/index.js';
import { toDevice } from '../src/train/batch.js';
import type { ClassificationReport } from '../src/train/metrics.js';
import { MTLTrainer } from '../src/train/trainer.js';

wm.setBackend(new CpuBackend());

// Table rows: id k embeds to [k, 10k] (row 0 is the padding id).
const table = wm.tensor([
  [0, 0],
  [1, 10],
  [2, 20],
  [3, 30],
]);
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
    expect(await out.toArray()).toEqual([
      [1.5, 15],
      [3, 30],
    ]);
  });

  it('sum skips the padding id', async () => {
    expect(await layerWith('sum').forward({ history: ids() }).toArray()).toEqual([
      [3, 30],
      [9, 90],
    ]);
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
    const model = new MMoE({
      features,
      numTasks: 2,
      nExpert: 2,
      expertParams: { dims: [4] },
      towerParamsList: [{ dims: [2] }, { dims: [2] }],
    });
    const x = {
      history: wm.tensor(Int32Array.of(1, 2, 0, 2, 0, 0, 1, 1, 1, 2, 2, 0), { shape: [4, 3] }),
      price: wm.tensor([0.1, -0.3, 0.7, 0.2]),
    };
    const out = model.forward(x);
    expect(out.shape).toEqual([4, 2]);
    wm.binaryCrossEntropy(
      out,
      wm.tensor([
        [1, 0],
        [0, 1],
        [1, 1],
        [0, 0],
      ]),
    ).backward();
    const g = (await model.embedding.tables.get('history')!.weight.grad!.toArray()) as number[][];
    expect(g[0].every((v) => v === 0)).toBe(true); // padding id: masked out of the mean
    for (const id of [3, 4, 5]) expect(g[id].every((v) => v === 0)).toBe(true); // never used
    expect(g[1].some((v) => v !== 0) && g[2].some((v) => v !== 0)).toBe(true);
  });
});

describe('sequence columns', () => {
  it('padSequences pads and cuts like torch-rechub / Keras (default pre, keep the latest ids)', () => {
    const rows = [[5, 6, 7, 8], [9], []];
    expect(Array.from(padSequences(rows, { maxlen: 3 }).values)).toEqual([6, 7, 8, 0, 0, 9, 0, 0, 0]);
    const post = padSequences(rows, { maxlen: 3, padding: 'post', truncating: 'post', value: 4 });
    expect(Array.from(post.values)).toEqual([5, 6, 7, 9, 4, 4, 4, 4, 4]);
    const longest = padSequences(rows);
    expect([longest.width, longest.length]).toEqual([4, 3]);
    expect(Array.from(longest.row(1))).toEqual([0, 0, 0, 9]);
    expect(() => padSequences([[1.5]])).toThrow(DataError);
    expect(() => padSequences([[1]], { padding: 'left' as never })).toThrow(/padding must be 'pre' or 'post'/);
    expect(() => padSequences([[2 ** 31]])).toThrow(/not an integer id/);
  });

  it('lists of ids in x become a SequenceColumn; lists of different lengths are refused with the fix', () => {
    const gen = new DataGenerator(
      {
        hist: [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        price: [0.5, 1.5, 2.5],
      },
      [[1], [0], [1]],
    );
    const col = gen.dataset.columns.hist as SequenceColumn;
    expect(col).toBeInstanceOf(SequenceColumn);
    expect([col.length, col.width]).toEqual([3, 2]);
    expect(() => new DataGenerator({ hist: [[1, 2], [3]] }, [[1], [0]])).toThrow(/row 1 holds 1 ids but row 0 holds 2.*padSequences/);
    expect(toCsvText({ hist: col })).toBe('hist\n1|2\n3|4\n5|6\n');
  });

  it('shuffled and in-order batches, take and slice keep each row’s sequence with its row', () => {
    const n = 1030;
    const hist = Array.from({ length: n }, (_, i) => [i % 97, (i * 7) % 97, (i * 13) % 97]);
    const x = { row: Int32Array.from({ length: n }, (_, i) => i), hist, price: Float32Array.from({ length: n }, (_, i) => i / 10) };
    const gen = new DataGenerator(
      x,
      Float32Array.from({ length: n }, (_, i) => i % 2),
    );
    for (const shuffle of [true, false]) {
      let seen = 0;
      for (const b of new DataLoader(gen.dataset, { batchSize: 128, shuffle, seed: 3 })) {
        const rows = b.x.row as Int32Array;
        const seq = b.x.hist as SequenceColumn;
        expect(seq.length).toBe(b.size);
        for (let k = 0; k < b.size; k++) {
          expect(Array.from(seq.row(k))).toEqual(hist[rows[k]]);
          expect((b.x.price as Float32Array)[k]).toBe(Math.fround(rows[k] / 10));
          expect(b.y[k]).toBe(rows[k] % 2);
        }
        seen += b.size;
      }
      expect(seen).toBe(n);
    }
    const taken = gen.dataset.take([5, 2]).columns.hist as SequenceColumn;
    expect(Array.from(taken.values)).toEqual([...hist[5], ...hist[2]]);
    const sliced = gen.dataset.slice(10, 12).columns.hist as SequenceColumn;
    expect(Array.from(sliced.values)).toEqual([...hist[10], ...hist[11]]);
    const batch = [...new DataLoader(gen.dataset, { batchSize: 4 })][0];
    const onDevice = toDevice(batch, wm.getBackend(), ['hist']);
    expect(onDevice.x.hist.shape).toEqual([4, 3]);
    expect(onDevice.x.hist.dtype).toBe('i32');
  });

  // Click depends only on whether the history holds a "liked" item (ids 1–5); purchase on a price.
  function planted(n: number, seed: number) {
    const r = new wm.Random(seed);
    const hist: number[][] = [];
    const price = new Float32Array(n);
    const y: number[][] = [];
    for (let i = 0; i < n; i++) {
      const len = 1 + r.int(5);
      const items = Array.from({ length: len }, () => 1 + r.int(40));
      hist.push(items);
      price[i] = r.normal();
      const liked = items.some((id) => id <= 5);
      y.push([r.bernoulli(liked ? 0.8 : 0.15) ? 1 : 0, r.bernoulli(price[i] > 0 ? 0.7 : 0.2) ? 1 : 0]);
    }
    return { x: { hist: padSequences(hist, { maxlen: 5 }), price }, y };
  }

  const seqModel = () => {
    wm.seed(2);
    const features = [
      new SequenceFeature({ name: 'hist', vocabSize: 41, embedDim: 4, pooling: 'mean', paddingIdx: 0, maxLen: 5 }),
      new DenseFeature('price'),
    ];
    return new MMoE({
      features,
      numTasks: 2,
      nExpert: 2,
      expertParams: { dims: [8] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
      taskNames: ['click', 'purchase'],
    });
  };

  it('MTLTrainer learns from a sequence column: click AUC far above chance when only the history tells', async () => {
    const train = planted(3000, 1);
    const test = planted(1000, 2);
    const [trainLoader] = new DataGenerator(train.x, train.y, { labelNames: ['click', 'purchase'] }).generateDataloader({
      splitRatio: [1, 0],
      batchSize: 128,
    });
    const testLoader = new DataLoader(new DataGenerator(test.x, test.y, { labelNames: ['click', 'purchase'] }).dataset, {
      batchSize: 1000,
    });
    const trainer = new MTLTrainer(seqModel(), { nEpoch: 4, optimizerParams: { lr: 1e-2 }, device: 'cpu', progress: 'none' });
    await trainer.fit(trainLoader);
    const report = await trainer.evaluate(testLoader);
    expect((report.click as ClassificationReport).auc).toBeGreaterThan(0.75);
  });

  it('the gradient inspector takes a loader batch with a sequence column', async () => {
    const { x, y } = planted(64, 3);
    const [batch] = new DataLoader(new DataGenerator(x, y).dataset, { batchSize: 64 });
    const report = await inspectGradients(seqModel(), batch);
    const embeddings = report.groups.find((g) => g.kind === 'embeddings')!;
    expect(embeddings.parameters).toContain('embedding.embed.hist.weight');
    expect(embeddings.norms.every((v) => v > 0)).toBe(true);
  });

  it('bad sequence data is refused before training, naming the feature, the row and the fix', async () => {
    const fit = (x: Record<string, unknown>) =>
      new MTLTrainer(seqModel(), { nEpoch: 1, device: 'cpu', progress: 'none' }).fit(
        new DataLoader(
          new DataGenerator(x as never, [
            [1, 0],
            [0, 1],
          ]).dataset,
          { batchSize: 2 },
        ),
      );
    await expect(
      fit({
        hist: [
          [1, 2, 3, 4, 41],
          [1, 0, 0, 0, 0],
        ],
        price: [0, 1],
      }),
    ).rejects.toThrow(/Sequence feature "hist": id 41 at row 0, position 4 is outside \[0, 41\)/);
    await expect(
      fit({
        hist: [
          [1, 2, 3],
          [1, 0, 0],
        ],
        price: [0, 1],
      }),
    ).rejects.toThrow(/declared with maxLen 5 but its column .* holds 3 ids per row/);
    await expect(fit({ hist: [1, 2], price: [0, 1] })).rejects.toThrow(/Sequence feature "hist" has one value per row/);
  });
});

describe('sequence columns from CSV', () => {
  it("reads 'sequence' columns as padded id lists, and names the cell that is not an id", () => {
    const text = 'click,hist,price\n1,3|17|4,0.5\n0,,1.5\n1,9,2\n';
    const table = parseCsv(text, { columns: { click: 'dense', hist: 'sequence', price: 'dense' }, sequences: { hist: { maxlen: 2 } } });
    const hist = table.columns.hist as SequenceColumn;
    expect([hist.length, hist.width]).toEqual([3, 2]);
    expect(Array.from(hist.values)).toEqual([17, 4, 0, 0, 0, 9]);
    const semi = parseCsv('hist\n1;2\n', {
      columns: { hist: 'sequence' },
      sequences: { hist: { separator: ';', padding: 'post', maxlen: 3 } },
    });
    expect(Array.from((semi.columns.hist as SequenceColumn).values)).toEqual([1, 2, 0]);
    expect(() => parseCsv('hist\n1|x\n', { columns: { hist: 'sequence' } })).toThrow(
      /Sequence column "hist" has "x" at position 1 of line 2/,
    );
  });
});
