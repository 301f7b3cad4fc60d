import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockShuffleLoader } from '../src/data/block-loader.js';
import { type CachedTable, CacheWriter } from '../src/data/cache.js';
import { ColumnarDataset, SequenceColumn } from '../src/data/columns.js';
import { DataError } from '../src/data/errors.js';
import { DataLoader, type HostBatch } from '../src/data/loader.js';

/** A table whose row r holds id r, value r/4, a sequence [3r, 3r+1, 3r+2, 3r+3] and labels [r % 2, r / 2]. */
function dataset(n: number): ColumnarDataset {
  const id = new Int32Array(n);
  const value = new Float32Array(n);
  const seq = new Int32Array(n * 4);
  const labels = new Float32Array(n * 2);
  for (let r = 0; r < n; r++) {
    id[r] = r;
    value[r] = r / 4;
    for (let j = 0; j < 4; j++) seq[r * 4 + j] = 3 * r + j;
    labels[r * 2] = r % 2;
    labels[r * 2 + 1] = r / 2;
  }
  return new ColumnarDataset({ id, value, seq: new SequenceColumn(seq, 4) }, labels, ['click', 'score'], n);
}

let dir: string;
const tables: CachedTable[] = [];
const N = 1000;
let table: CachedTable;

async function cached(n: number, appendRows = 97): Promise<CachedTable> {
  const writer = await CacheWriter.create(dir, `t${n}-${tables.length}`, {
    columns: [
      { name: 'id', dtype: 'int32', width: 1 },
      { name: 'value', dtype: 'float32', width: 1 },
      { name: 'seq', dtype: 'int32', width: 4 },
    ],
    labelNames: ['click', 'score'],
  });
  const all = dataset(n);
  for (let from = 0; from < n; from += appendRows) await writer.append(all.slice(from, from + appendRows));
  const t = await writer.commit();
  tables.push(t);
  return t;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-blocks-'));
  table = await cached(N);
});
afterAll(() => {
  for (const t of tables) t.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The ids of an epoch's batches, after checking that every row's columns and labels belong together. */
function epochIds(batches: Iterable<HostBatch>, batchSize?: number): number[] {
  const ids: number[] = [];
  let index = 0;
  for (const b of batches) {
    expect(b.index).toBe(index++);
    if (batchSize !== undefined) expect(b.size).toBeLessThanOrEqual(batchSize);
    const id = b.x.id as Int32Array;
    const value = b.x.value as Float32Array;
    const seq = b.x.seq as SequenceColumn;
    expect(id).toBeInstanceOf(Int32Array);
    expect(value).toBeInstanceOf(Float32Array);
    expect(seq).toBeInstanceOf(SequenceColumn);
    expect(id.length).toBe(b.size);
    expect(b.y.length).toBe(b.size * 2);
    for (let i = 0; i < b.size; i++) {
      const r = id[i];
      if (value[i] !== r / 4 || seq.values[i * 4] !== 3 * r || seq.values[i * 4 + 3] !== 3 * r + 3)
        throw new Error(`row ${r}: columns out of step`);
      if (b.y[i * 2] !== r % 2 || b.y[i * 2 + 1] !== r / 2) throw new Error(`row ${r}: labels out of step`);
      ids.push(r);
    }
  }
  return ids;
}

const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The table seen through a recorder of every read. */
function recorded(t: CachedTable) {
  const reads: { what: string; count: number }[] = [];
  const spy: CachedTable = Object.create(t);
  spy.readColumnInto = (name, start, count, into, at) => {
    reads.push({ what: name, count });
    t.readColumnInto(name, start, count, into, at);
  };
  spy.readLabelsInto = (start, count, into, at) => {
    reads.push({ what: 'labels', count });
    t.readLabelsInto(start, count, into, at);
  };
  spy.readRows = () => {
    throw new Error('the loader must not read whole row ranges');
  };
  return { spy, reads };
}

describe('BlockShuffleLoader', () => {
  const configs = [
    { batchSize: 50, blockRows: 64, bufferBlocks: 3 },
    { batchSize: 37, blockRows: 64, bufferBlocks: 3 },
    { batchSize: 1, blockRows: 100, bufferBlocks: 1 },
    { batchSize: 2000, blockRows: 7, bufferBlocks: 5 },
    { batchSize: 64, blockRows: 1000, bufferBlocks: 1 },
  ];

  for (const shuffle of [false, true]) {
    for (const config of configs) {
      it(`yields every row exactly once per epoch (shuffle ${shuffle}, ${JSON.stringify(config)})`, () => {
        const loader = new BlockShuffleLoader(table, { ...config, shuffle, seed: 3 });
        expect(loader.length).toBe(Math.ceil(N / config.batchSize));
        for (let epoch = 0; epoch < 2; epoch++) {
          const ids = epochIds(loader, config.batchSize);
          expect(ids.length).toBe(N);
          expect(sorted(ids)).toEqual(iota(N));
          if (!shuffle) expect(ids).toEqual(iota(N));
          else expect(ids).toEqual(Array.from(loader.order(epoch)!));
        }
        expect(loader.epoch).toBe(2);
      });
    }
  }

  it('shuffles differently each epoch, and the same seed gives the same order', () => {
    const options = { batchSize: 32, shuffle: true, seed: 11, blockRows: 50, bufferBlocks: 2 };
    const a = new BlockShuffleLoader(table, options);
    const b = new BlockShuffleLoader(table, options);
    const a0 = epochIds(a);
    const a1 = epochIds(a);
    expect(a1).not.toEqual(a0);
    expect(epochIds(b)).toEqual(a0);
    expect(epochIds(b)).toEqual(a1);
    a.setEpoch(0);
    expect(epochIds(a)).toEqual(a0);
    const other = new BlockShuffleLoader(table, { ...options, seed: 12 });
    expect(epochIds(other)).not.toEqual(a0);
    // batches() reads an epoch without moving on.
    expect(epochIds(a.batches(1))).toEqual(a1);
    expect(a.epoch).toBe(1);
  });

  it('mixes blocks: each batch holds rows of at most 2 × bufferBlocks blocks, and across epochs rows meet rows of other blocks', () => {
    const loader = new BlockShuffleLoader(table, { batchSize: 40, shuffle: true, blockRows: 50, bufferBlocks: 3 });
    const partners = new Set<number>();
    for (let epoch = 0; epoch < 6; epoch++) {
      for (const b of loader) {
        const blocks = new Set(Array.from(b.x.id as Int32Array, (r) => Math.floor(r / 50)));
        expect(blocks.size).toBeLessThanOrEqual(6);
        if ((b.x.id as Int32Array).some((r) => r < 50)) for (const k of blocks) partners.add(k);
      }
    }
    // Block 0 shared a batch with most of the 20 blocks over 6 epochs (with 3 blocks a buffer).
    expect(partners.size).toBeGreaterThan(8);
  });

  it('with the whole table in one buffer it is a full shuffle: exactly DataLoader’s order for the same seed', () => {
    const ds = dataset(N);
    for (const [blockRows, bufferBlocks] of [
      [1000, 1],
      [256, 4],
      [4096, 4],
    ]) {
      const blocks = new BlockShuffleLoader(table, { batchSize: 33, shuffle: true, seed: 5, blockRows, bufferBlocks });
      const full = new DataLoader(ds, { batchSize: 33, shuffle: true, seed: 5 });
      for (let epoch = 0; epoch < 3; epoch++) {
        const ids = epochIds(blocks);
        expect(sorted(ids)).toEqual(iota(N));
        expect(ids).toEqual(Array.from(full.order(epoch)!));
      }
    }
  });

  it('not shuffled, its batches equal DataLoader’s over the same rows (batches straddling buffer fills too)', () => {
    const ds = dataset(N);
    for (const [batchSize, dropLast] of [
      [37, false],
      [37, true],
      [200, false],
      [1, false],
    ] as const) {
      const mine = [...new BlockShuffleLoader(table, { batchSize, dropLast, blockRows: 64, bufferBlocks: 3 })];
      const theirs = [...new DataLoader(ds, { batchSize, dropLast })];
      expect(mine.length).toBe(theirs.length);
      for (let i = 0; i < theirs.length; i++) {
        expect(mine[i].size).toBe(theirs[i].size);
        expect(mine[i].index).toBe(theirs[i].index);
        expect(mine[i].y).toEqual(theirs[i].y);
        expect(Object.keys(mine[i].x)).toEqual(Object.keys(theirs[i].x));
        expect(mine[i].x.id).toEqual(theirs[i].x.id);
        expect(mine[i].x.value).toEqual(theirs[i].x.value);
        expect((mine[i].x.seq as SequenceColumn).values).toEqual((theirs[i].x.seq as SequenceColumn).values);
        expect((mine[i].x.seq as SequenceColumn).width).toBe(4);
      }
    }
  });

  it('dropLast drops the short last batch, shuffled or not', () => {
    for (const shuffle of [false, true]) {
      const loader = new BlockShuffleLoader(table, { batchSize: 64, dropLast: true, shuffle, blockRows: 100, bufferBlocks: 2 });
      expect(loader.length).toBe(15);
      const batches = [...loader];
      expect(batches.length).toBe(15);
      expect(batches.every((b) => b.size === 64)).toBe(true);
      const ids = batches.flatMap((b) => Array.from(b.x.id as Int32Array));
      expect(new Set(ids).size).toBe(960);
    }
    expect(new BlockShuffleLoader(table, { batchSize: 1001, dropLast: true }).length).toBe(0);
    expect([...new BlockShuffleLoader(table, { batchSize: 1001, dropLast: true })]).toEqual([]);
  });

  it('has DataLoader’s fields', () => {
    const loader = new BlockShuffleLoader(table, { batchSize: 64 });
    expect(loader.numRows).toBe(N);
    expect(loader.length).toBe(16);
    expect(loader.labelNames).toEqual(['click', 'score']);
    expect(loader.nTask).toBe(2);
    expect(loader.epoch).toBe(0);
    expect(loader.bufferRows).toBe(N);
    expect(new BlockShuffleLoader(table, { blockRows: 100, bufferBlocks: 3 }).bufferRows).toBe(300);
  });

  it('features: only those columns are read and batched', () => {
    const { spy, reads } = recorded(table);
    const loader = new BlockShuffleLoader(spy, { batchSize: 100, features: ['value'], blockRows: 128 });
    for (const b of loader) expect(Object.keys(b.x)).toEqual(['value']);
    expect(new Set(reads.map((r) => r.what))).toEqual(new Set(['value', 'labels']));
    expect(() => new BlockShuffleLoader(table, { features: ['vlaue'] })).toThrow(/Column "vlaue" is missing .* "value"/);
  });

  it('memory is bounded by the buffer: every read is one block of one column, each row is read once an epoch', () => {
    for (const shuffle of [true, false]) {
      const { spy, reads } = recorded(table);
      const loader = new BlockShuffleLoader(spy, { batchSize: 30, shuffle, blockRows: 64, bufferBlocks: 3 });
      expect(loader.bufferRows).toBe(192);
      epochIds(loader);
      const largest = Math.max(...reads.map((r) => r.count));
      expect(largest).toBeLessThanOrEqual(64);
      for (const what of ['id', 'value', 'seq', 'labels']) {
        expect(reads.filter((r) => r.what === what).reduce((s, r) => s + r.count, 0)).toBe(N);
      }
    }
  });

  it('a peek (the trainer reads one batch, then setEpoch back) does not use up an epoch', () => {
    const loader = new BlockShuffleLoader(table, { batchSize: 10, shuffle: true, blockRows: 64, bufferBlocks: 2 });
    const first = loader[Symbol.iterator]().next();
    expect(first.done).toBe(false);
    loader.setEpoch(0);
    const batches = [...loader];
    expect(batches[0].x.id).toEqual((first.value as HostBatch).x.id);
    expect(loader.epoch).toBe(1);
  });

  it('map() keeps length and epoch', () => {
    const loader = new BlockShuffleLoader(table, { batchSize: 100, shuffle: true });
    const sizes = loader.map((b) => b.size).map((s) => s * 2);
    expect(sizes.length).toBe(10);
    expect(sizes.numRows).toBe(N);
    expect([...sizes]).toEqual(Array(10).fill(200));
    expect(sizes.epoch).toBe(1);
    sizes.setEpoch?.(5);
    expect(loader.epoch).toBe(5);
  });

  it('an empty table gives no batches', async () => {
    const empty = await cached(0);
    const loader = new BlockShuffleLoader(empty, { shuffle: true });
    expect(loader.length).toBe(0);
    expect([...loader]).toEqual([]);
  });

  it('works when the table ends inside a block and on a block boundary', async () => {
    for (const n of [129, 128, 1]) {
      const t = await cached(n, 50);
      for (const shuffle of [false, true]) {
        const ids = epochIds(new BlockShuffleLoader(t, { batchSize: 9, shuffle, blockRows: 32, bufferBlocks: 2 }));
        expect(sorted(ids)).toEqual(iota(n));
      }
    }
  });

  it('any table size, block, buffer and batch size: every row once an epoch, in order() order, batches of batchSize', async () => {
    const sizes = [0, 1, 2, 5, 31, 64, 65, 200];
    const bySize = new Map<number, CachedTable>();
    for (const n of sizes) bySize.set(n, await cached(n, 13));
    fc.assert(
      fc.property(
        fc.constantFrom(...sizes),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(1000),
        (n, batchSize, blockRows, bufferBlocks, shuffle, dropLast, seed) => {
          const loader = new BlockShuffleLoader(bySize.get(n)!, { batchSize, blockRows, bufferBlocks, shuffle, dropLast, seed });
          const batches = [...loader];
          const kept = dropLast ? Math.floor(n / batchSize) * batchSize : n;
          expect(batches.length).toBe(loader.length);
          expect(batches.every((b, i) => b.size === Math.min(batchSize, n - i * batchSize))).toBe(true);
          const ids = epochIds(batches);
          const order = shuffle ? Array.from(loader.order(0)!) : iota(n);
          expect(ids).toEqual(order.slice(0, kept));
          expect(sorted(order)).toEqual(iota(n));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects bad options with the option named', () => {
    expect(() => new BlockShuffleLoader(table, { batchsize: 4 } as never)).toThrow(
      /unknown option 'batchsize' \(did you mean 'batchSize'\?\)/,
    );
    expect(() => new BlockShuffleLoader(table, { blockRows: 0 })).toThrow(DataError);
    expect(() => new BlockShuffleLoader(table, { bufferBlocks: 1.5 })).toThrow(/bufferBlocks must be a positive integer/);
    expect(() => new BlockShuffleLoader(table, { batchSize: -1 })).toThrow(/batchSize/);
  });
});
