// DataGenerator / DataLoader: splits, batch shapes, shuffling, label formats.
import { describe, expect, it } from 'vitest';
import { ColumnarDataset, DataError, DataGenerator, DataLoader, type HostBatch } from '../src/data/index.js';

/** x with a row-id column (to track rows through shuffles and splits) and a dense column. */
function table(n: number) {
  const id = Int32Array.from({ length: n }, (_, i) => i);
  const dense = Float32Array.from({ length: n }, (_, i) => i / 10);
  const y = Float32Array.from({ length: n * 2 }, (_, k) => (k % 2 === 0 ? Math.floor(k / 2) % 2 : Math.floor(k / 2) % 3 === 0 ? 1 : 0));
  return { x: { id, dense }, y };
}

function rowIds(batches: Iterable<HostBatch>): number[] {
  const out: number[] = [];
  for (const b of batches) out.push(...(b.x.id as Int32Array));
  return out;
}

describe('DataLoader', () => {
  const { x, y } = table(103);
  const ds = new ColumnarDataset(x, y, ['click', 'purchase']);

  it('yields ceil(n / batchSize) batches with a partial last batch, in order when not shuffled', () => {
    const loader = new DataLoader(ds, { batchSize: 10 });
    expect(loader.length).toBe(11);
    expect(loader.numRows).toBe(103);
    const batches = [...loader];
    expect(batches).toHaveLength(11);
    expect(batches.map((b) => b.size)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
    expect(batches.map((b) => b.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const last = batches[10];
    expect(last.x.id).toEqual(new Int32Array([100, 101, 102]));
    expect(last.x.dense).toBeInstanceOf(Float32Array);
    expect(last.y).toHaveLength(6);
    expect(Array.from(last.y)).toEqual([y[200], y[201], y[202], y[203], y[204], y[205]]);
    expect(rowIds(batches)).toEqual(Array.from({ length: 103 }, (_, i) => i));
  });

  it('drops the partial batch with dropLast', () => {
    const loader = new DataLoader(ds, { batchSize: 10, dropLast: true });
    expect(loader.length).toBe(10);
    expect([...loader].every((b) => b.size === 10)).toBe(true);
  });

  it('shuffles each epoch with a seeded permutation, keeping x and y aligned', () => {
    const a = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 7 });
    const b = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 7 });
    const c = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 8 });
    const epoch0 = rowIds(a);
    const epoch1 = rowIds(a);
    expect(rowIds(b)).toEqual(epoch0); // same seed, same first epoch
    expect(rowIds(b)).toEqual(epoch1); // …and same second epoch
    expect(epoch1).not.toEqual(epoch0); // epochs differ
    expect(rowIds(c)).not.toEqual(epoch0); // seeds differ
    expect([...epoch0].sort((p, q) => p - q)).toEqual(Array.from({ length: 103 }, (_, i) => i)); // a permutation
    for (const batch of a.batches(3)) {
      for (let k = 0; k < batch.size; k++) {
        const row = (batch.x.id as Int32Array)[k];
        expect((batch.x.dense as Float32Array)[k]).toBe(Math.fround(row / 10));
        expect(batch.y[2 * k]).toBe(y[2 * row]);
        expect(batch.y[2 * k + 1]).toBe(y[2 * row + 1]);
      }
    }
  });

  it('shuffled batches (gathered from a row-major copy) keep column types and exact bits', () => {
    const f = Float32Array.from({ length: 103 }, (_, i) => (i % 7 === 0 ? NaN : i === 5 ? -0 : i * 1.1));
    new Uint32Array(f.buffer)[14] = 0x7fc01234; // a NaN with a payload
    const d = new ColumnarDataset({ id: x.id, f, neg: Int32Array.from({ length: 103 }, (_, i) => -i * 1000003) }, y, ['click', 'purchase']);
    const loader = new DataLoader(d, { batchSize: 16, shuffle: true, seed: 3, features: ['f', 'id', 'neg'] });
    for (const batch of loader.batches(1)) {
      expect(batch.x.f).toBeInstanceOf(Float32Array);
      expect(batch.x.id).toBeInstanceOf(Int32Array);
      expect(batch.x.neg).toBeInstanceOf(Int32Array);
      const bits = new Uint32Array((batch.x.f as Float32Array).buffer);
      for (let k = 0; k < batch.size; k++) {
        const row = (batch.x.id as Int32Array)[k];
        expect(bits[k]).toBe(new Uint32Array(f.buffer)[row]);
        expect((batch.x.neg as Int32Array)[k]).toBe((-row * 1000003) | 0);
        expect([batch.y[2 * k], batch.y[2 * k + 1]]).toEqual([y[2 * row], y[2 * row + 1]]);
      }
    }
  });

  it('maps batches (e.g. to device tensors) keeping length, and can select features', () => {
    const loader = new DataLoader(ds, { batchSize: 50, features: ['dense'] });
    const sizes = loader.map((b) => ({ n: b.size, keys: Object.keys(b.x) })).map((s) => s.n);
    expect(sizes.length).toBe(3);
    expect([...sizes]).toEqual([50, 50, 3]);
    const first = loader.batches(0).next().value as HostBatch;
    expect(Object.keys(first.x)).toEqual(['dense']);
    expect(() => new DataLoader(ds, { features: ['nope'] })).toThrow(/"nope".*Available columns: "id", "dense"/);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(/batchSize/);
  });
});

describe('DataGenerator', () => {
  it('splits by splitRatio into disjoint train/val/test covering every row', () => {
    const { x, y } = table(1000);
    const [train, val, test] = new DataGenerator(x, y).generateDataloader({ splitRatio: [0.8, 0.1], batchSize: 64, seed: 1 });
    expect([train.numRows, val.numRows, test.numRows]).toEqual([800, 100, 100]);
    expect(train.length).toBe(13);
    expect(val.length).toBe(2);
    const all = [...rowIds(train), ...rowIds(val), ...rowIds(test)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(train.shuffle).toBe(true);
    expect(val.shuffle).toBe(false);
    // labels travel with their rows through the split
    for (const batch of val) for (let k = 0; k < batch.size; k++) expect(batch.y[2 * k]).toBe(y[2 * (batch.x.id as Int32Array)[k]]);
    // default split is [0.8, 0.1] too, and deterministic for a seed
    const [t2] = new DataGenerator(x, y).generateDataloader({ seed: 1, batchSize: 64 });
    expect(rowIds(t2.batches(0)).sort((a, b) => a - b)).toEqual(rowIds(train.batches(0)).sort((a, b) => a - b));
    const [t3] = new DataGenerator(x, y).generateDataloader({ seed: 2, batchSize: 64 });
    expect(rowIds(t3.batches(0)).sort((a, b) => a - b)).not.toEqual(rowIds(train.batches(0)).sort((a, b) => a - b));
  });

  it('uses given val/test sets as they are', () => {
    const a = table(300);
    const b = table(40);
    const c = table(25);
    const [train, val, test] = new DataGenerator(a.x, a.y).generateDataloader({
      xVal: b.x,
      yVal: b.y,
      xTest: c.x,
      yTest: c.y,
      batchSize: 32,
      shuffle: false,
    });
    expect([train.numRows, val.numRows, test.numRows]).toEqual([300, 40, 25]);
    expect(train.shuffle).toBe(false);
    expect(rowIds(test)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(() => new DataGenerator(a.x, a.y).generateDataloader({ xVal: b.x, yVal: b.y })).toThrow(/xTest/);
  });

  it('accepts y as rows of task values, one array per label, or a flat row-major array', () => {
    const x = { f: Int32Array.from([1, 2, 3]) };
    const rows = new DataGenerator(x, [
      [1, 0],
      [0, 0],
      [1, 1],
    ]).dataset;
    const named = new DataGenerator(x, { click: [1, 0, 1], purchase: [0, 0, 1] }).dataset;
    const flat = new DataGenerator(x, new Float32Array([1, 0, 0, 0, 1, 1])).dataset;
    expect(rows.labels).toEqual(named.labels);
    expect(flat.labels).toEqual(named.labels);
    expect(named.labelNames).toEqual(['click', 'purchase']);
    expect(rows.labelNames).toEqual(['task0', 'task1']);
    expect(new DataGenerator({ f: [0.5, 1, 2] }, [1, 0, 1]).dataset.columns.f).toBeInstanceOf(Float32Array);
    expect(new DataGenerator({ f: [5, 1, 2] }, [1, 0, 1]).dataset.columns.f).toBeInstanceOf(Int32Array);
  });

  it('rejects x and y with different row counts, naming both counts', () => {
    const x = { f: Int32Array.from([1, 2, 3]) };
    let err: unknown;
    try {
      new DataGenerator(x, [
        [1, 0],
        [0, 0],
      ]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/x has 3 rows but y has 2/);
    expect(() => new DataGenerator(x, { click: [1, 0] })).toThrow(/label "click" has 2/);
    expect(() => new DataGenerator(x, new Float32Array(7))).toThrow(/3 rows.*7 values/);
    expect(() => new DataGenerator({ a: [1, 2, 3], b: [1, 2] }, [1, 0, 1])).toThrow(/"a" has 3 rows but "b" has 2/);
  });

  it('accepts a ColumnarDataset directly', () => {
    const { x, y } = table(50);
    const ds = new ColumnarDataset(x, y, ['click', 'purchase']);
    const [train, val, test] = new DataGenerator(ds).generateDataloader({ splitRatio: [0.6, 0.2], batchSize: 8 });
    expect([train.numRows, val.numRows, test.numRows]).toEqual([30, 10, 10]);
    expect(train.labelNames).toEqual(['click', 'purchase']);
  });
});

describe('ColumnarDataset', () => {
  it('checks row counts and supports take / slice / select / label', () => {
    const { x, y } = table(10);
    const ds = new ColumnarDataset(x, y, ['click', 'purchase']);
    expect(() => new ColumnarDataset(x, new Float32Array(18), ['click', 'purchase'])).toThrow(/10 rows but the labels .* have 9/);
    const taken = ds.take([9, 0]);
    expect(taken.columns.id).toEqual(new Int32Array([9, 0]));
    expect(Array.from(taken.labels)).toEqual([y[18], y[19], y[0], y[1]]);
    const sliced = ds.slice(2, 5);
    expect(sliced.length).toBe(3);
    expect((sliced.columns.id as Int32Array).buffer).toBe(x.id.buffer);
    expect(ds.select(['dense']).featureNames).toEqual(['dense']);
    expect(Array.from(ds.label('purchase'))).toEqual(Array.from({ length: 10 }, (_, i) => y[2 * i + 1]));
    expect(() => ds.column('nope')).toThrow(/"nope".*"id", "dense"/);
  });
});

describe('a mapped loader', () => {
  it('passes its epoch through, so a trainer can move it to a resumed epoch or undo a peek', () => {
    const { x, y } = table(40);
    const loader = new DataLoader(new DataGenerator(x, y).dataset, { batchSize: 8, shuffle: true, seed: 1 });
    const mapped = loader.map((b) => b);
    mapped.setEpoch?.(3);
    expect([loader.epoch, mapped.epoch]).toEqual([3, 3]);
    const firstOf = (l: Iterable<HostBatch>) => Array.from(l[Symbol.iterator]().next().value!.x.id as Int32Array);
    const epoch3 = firstOf(mapped);
    expect(loader.epoch).toBe(4);
    expect(epoch3).toEqual(Array.from([...loader.batches(3)][0].x.id as Int32Array));
  });
});
