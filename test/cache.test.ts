import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CACHE_FORMAT,
  CACHE_VERSION,
  type CacheLayout,
  CacheWriter,
  cacheKey,
  openCache,
  sha256Hex,
  stableJson,
} from '../src/data/cache.js';
import { ColumnarDataset, SequenceColumn } from '../src/data/columns.js';
import { DataError } from '../src/data/errors.js';

const LAYOUT: CacheLayout = {
  columns: [
    { name: 'user_id', dtype: 'int32', width: 1 },
    { name: 'price', dtype: 'float32', width: 1 },
    { name: 'history', dtype: 'int32', width: 3 },
  ],
  labelNames: ['click', 'buy'],
};

/** Rows [from, from + n) of a table whose every value is a function of the row. */
function rowsBlock(from: number, n: number): ColumnarDataset {
  const ids = new Int32Array(n);
  const price = new Float32Array(n);
  const history = new Int32Array(n * 3);
  const labels = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const r = from + i;
    ids[i] = r * 7 - 3;
    price[i] = r * 0.25 + 0.1;
    for (let j = 0; j < 3; j++) history[i * 3 + j] = r * 10 + j;
    labels[i * 2] = r % 2;
    labels[i * 2 + 1] = r / 8;
  }
  return new ColumnarDataset({ user_id: ids, price, history: new SequenceColumn(history, 3) }, labels, ['click', 'buy'], n);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-cache-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function writeTable(key: string, blocks: number[], meta: Record<string, unknown> = {}) {
  const writer = await CacheWriter.create(dir, key, LAYOUT);
  let from = 0;
  for (const n of blocks) {
    await writer.append(rowsBlock(from, n));
    from += n;
  }
  return writer.commit(meta);
}

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('cacheKey', () => {
  const base = {
    sources: [
      { path: '/data/a.csv', bytes: 1000, mtimeMs: 1700000000000 },
      { path: '/data/b.csv', bytes: 2000, mtimeMs: 1700000000500 },
    ],
    schema: { format: 'webmtl-schema', version: 1, columns: [{ name: 'click', role: 'label', type: 'int' }] },
    preprocessor: { vocab: { city: ['a', 'b'] }, mean: { age: 38.5 } },
    split: 'train',
  };

  it('is a sha256 hex that ignores key order but sees every input', () => {
    const key = cacheKey(base);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const reordered = {
      split: 'train',
      preprocessor: { mean: { age: 38.5 }, vocab: { city: ['a', 'b'] } },
      schema: base.schema,
      sources: base.sources,
    };
    expect(cacheKey(reordered)).toBe(key);
    // Extra fields of a SourceFile (its format) do not matter; its path, size and time do.
    expect(cacheKey({ ...base, sources: base.sources.map((s) => ({ ...s, format: 'csv' as const })) })).toBe(key);
    const changed = [
      { ...base, sources: [{ ...base.sources[0], bytes: 1001 }, base.sources[1]] },
      { ...base, sources: [{ ...base.sources[0], mtimeMs: 1700000000001 }, base.sources[1]] },
      { ...base, sources: [{ ...base.sources[0], path: '/data/c.csv' }, base.sources[1]] },
      { ...base, sources: [base.sources[1], base.sources[0]] },
      { ...base, sources: [base.sources[0]] },
      { ...base, schema: { ...base.schema, columns: [{ name: 'click', role: 'label', type: 'float' }] } },
      { ...base, preprocessor: { vocab: { city: ['b', 'a'] }, mean: { age: 38.5 } } },
      { ...base, preprocessor: { vocab: { city: ['a', 'b'] }, mean: { age: 38.25 } } },
      { ...base, split: 'val' },
    ];
    const keys = changed.map(cacheKey);
    for (const k of keys) expect(k).not.toBe(key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('calls toJSON (a Preprocessor object) and reads typed arrays as arrays', () => {
    const state = { mean: [1, 2] };
    const asObject = { toJSON: () => state };
    expect(cacheKey({ ...base, preprocessor: asObject })).toBe(cacheKey({ ...base, preprocessor: state }));
    expect(stableJson({ b: new Float32Array([1.5, 2]), a: undefined, c: [undefined] })).toBe('{"b":[1.5,2],"c":[null]}');
  });

  it('rejects unknown fields and malformed sources', () => {
    expect(() => cacheKey({ ...base, splitt: 'x' } as never)).toThrow(/unknown option 'splitt' \(did you mean 'split'\?\)/);
    expect(() => cacheKey({ ...base, sources: [{ path: 'a.csv', bytes: 'big' }] } as never)).toThrow(DataError);
  });

  it('sha256Hex equals node:crypto on ASCII, Unicode and every padding length', () => {
    const texts = ['', 'abc', 'é∑😀', 'x'.repeat(1000)];
    for (let n = 50; n <= 130; n++) texts.push('a'.repeat(n));
    for (const t of texts) expect(sha256Hex(t)).toBe(createHash('sha256').update(t, 'utf8').digest('hex'));
  });
});

describe('CacheWriter and openCache', () => {
  it('round-trips int32, float32 and sequence columns and the labels, over several appends', async () => {
    const table = await writeTable('k1', [5, 0, 17, 1, 40], { note: 'hello', rows: [1, 2] });
    try {
      expect(table.rows).toBe(63);
      expect(table.labelNames).toEqual(['click', 'buy']);
      expect(table.nTask).toBe(2);
      expect(table.meta).toEqual({ note: 'hello', rows: [1, 2] });
      expect(table.columns.map((c) => [c.name, c.dtype, c.width, c.sequence])).toEqual([
        ['user_id', 'int32', 1, false],
        ['price', 'float32', 1, false],
        ['history', 'int32', 3, true],
      ]);
      expect(table.rowBytes).toBe(4 + 4 + 12 + 8);
      const all = table.readRows(0, 63);
      const want = rowsBlock(0, 63);
      expect(all.columns.user_id).toEqual(want.columns.user_id);
      expect(all.columns.price).toEqual(want.columns.price);
      expect(all.columns.history).toBeInstanceOf(SequenceColumn);
      expect((all.columns.history as SequenceColumn).values).toEqual((want.columns.history as SequenceColumn).values);
      expect(all.labels).toEqual(want.labels);
      // Ranges that cross the appended blocks' boundaries, and a feature subset.
      for (const [start, count] of [
        [3, 4],
        [4, 20],
        [21, 42],
        [62, 1],
        [10, 0],
      ]) {
        const part = table.readRows(start, count, ['history', 'price']);
        const ref = rowsBlock(start, count);
        expect(part.featureNames).toEqual(['history', 'price']);
        expect((part.columns.history as SequenceColumn).values).toEqual((ref.columns.history as SequenceColumn).values);
        expect(part.columns.price).toEqual(ref.columns.price);
        expect(part.labels).toEqual(ref.labels);
      }
      const into = new Float32Array(6);
      table.readColumnInto('price', 61, 2, into, 3);
      expect(Array.from(into)).toEqual([0, 0, 0, Math.fround(61 * 0.25 + 0.1), Math.fround(62 * 0.25 + 0.1), 0]);
      expect(() => table.readRows(60, 4)).toThrow(/outside the data cache .* 63 rows/);
      expect(() => table.readRows(0, 1, ['prcie'])).toThrow(/Column "prcie" is missing/);
    } finally {
      table.close();
    }
    expect(() => table.readRows(0, 1)).toThrow(/closed/);
  });

  it('writes one folder per key with meta.json and a little-endian file per column', async () => {
    const table = await writeTable('k2', [3]);
    table.close();
    expect(readdirSync(dir)).toEqual(['k2']);
    const folder = join(dir, 'k2');
    expect(readdirSync(folder).sort()).toEqual(['col-0000.bin', 'col-0001.bin', 'col-0002.bin', 'labels.bin', 'meta.json']);
    const meta = JSON.parse(readFileSync(join(folder, 'meta.json'), 'utf8'));
    expect(meta).toMatchObject({ format: CACHE_FORMAT, version: CACHE_VERSION, rows: 3, labelNames: ['click', 'buy'], meta: {} });
    expect(meta.columns[2]).toEqual({
      name: 'history',
      dtype: 'int32',
      width: 3,
      sequence: true,
      file: 'col-0002.bin',
      rowBytes: 12,
      bytes: 36,
    });
    expect(meta.labels).toEqual({ file: 'labels.bin', rowBytes: 8, bytes: 24 });
    const ids = readFileSync(join(folder, 'col-0000.bin'));
    expect([0, 1, 2].map((i) => ids.readInt32LE(i * 4))).toEqual([-3, 4, 11]);
    const price = readFileSync(join(folder, 'col-0001.bin'));
    expect(price.readFloatLE(4)).toBeCloseTo(0.35, 6);
  });

  it('keeps a sequence of length 1 a sequence, and a table without labels', async () => {
    const writer = await CacheWriter.create(dir, 'seq1', {
      columns: [{ name: 's', dtype: 'int32', width: 1, sequence: true }],
      labelNames: [],
    });
    await writer.append(new ColumnarDataset({ s: new SequenceColumn(Int32Array.from([4, 5, 6]), 1) }, new Float32Array(0), [], 3));
    const table = await writer.commit();
    const back = table.readRows(0, 3);
    table.close();
    expect(back.columns.s).toBeInstanceOf(SequenceColumn);
    expect(Array.from((back.columns.s as SequenceColumn).values)).toEqual([4, 5, 6]);
    expect(back.labelNames).toEqual([]);
  });

  it('checks the layout, the key and every appended block', async () => {
    await expect(CacheWriter.create(dir, '../escape', LAYOUT)).rejects.toThrow(/cannot name a folder/);
    await expect(CacheWriter.create(dir, 'k.tmp-1-ab', LAYOUT)).rejects.toThrow(/cannot name a folder/);
    const dup = { columns: [LAYOUT.columns[0], LAYOUT.columns[0]], labelNames: ['click'] };
    await expect(CacheWriter.create(dir, 'k', dup)).rejects.toThrow(/"user_id" is listed twice/);
    const floatSeq = { columns: [{ name: 'h', dtype: 'float32' as const, width: 3 }], labelNames: [] };
    await expect(CacheWriter.create(dir, 'k', floatSeq)).rejects.toThrow(/ids are 'int32'/);
    await expect(CacheWriter.create(dir, 'k', { ...LAYOUT, labels: [] } as never)).rejects.toThrow(/unknown option 'labels'/);
    const writer = await CacheWriter.create(dir, 'k', LAYOUT);
    const good = rowsBlock(0, 4);
    await expect(writer.append(good.select(['user_id', 'price']))).rejects.toThrow(/Column "history" is missing/);
    await expect(writer.append(good.withColumns({ extra: new Int32Array(4) }))).rejects.toThrow(/"extra".* not in the cache layout/);
    await expect(writer.append(good.withColumns({ price: new Int32Array(4) }))).rejects.toThrow(
      /"price".* is Int32Array; the layout says a Float32Array/,
    );
    const otherLabels = new ColumnarDataset(good.columns, good.labels, ['buy', 'click'], 4);
    await expect(writer.append(otherLabels)).rejects.toThrow(/labels \["buy", "click"\] but the cache has \["click", "buy"\]/);
    // A rejected block writes nothing: the writer goes on.
    await writer.append(good);
    const table = await writer.commit();
    expect(table.rows).toBe(4);
    table.close();
    await expect(writer.append(good)).rejects.toThrow(/committed/);
  });

  it('is atomic: nothing under the key until commit, then no temp folder left', async () => {
    const writer = await CacheWriter.create(dir, 'atomic', LAYOUT);
    await writer.append(rowsBlock(0, 10));
    expect(readdirSync(dir)).toEqual([expect.stringMatching(new RegExp(`^atomic\\.tmp-${process.pid}-[0-9a-f]+$`))]);
    expect(await openCache(dir, 'atomic')).toBeNull();
    const table = await writer.commit();
    table.close();
    expect(readdirSync(dir)).toEqual(['atomic']);
    const again = await openCache(dir, 'atomic');
    expect(again?.rows).toBe(10);
    again?.close();
  });

  it('abort removes the temp folder', async () => {
    const writer = await CacheWriter.create(dir, 'gone', LAYOUT);
    await writer.append(rowsBlock(0, 10));
    await writer.abort();
    await writer.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a full disk mid-append: the temp folder is removed, no cache exists, and the error says so, where, and the fix', async () => {
    let writes = 0;
    const write = async (handle: FileHandle, bytes: Uint8Array) => {
      if (++writes === 6) throw enospc();
      await handle.write(bytes);
    };
    const writer = await CacheWriter.create(dir, 'full', LAYOUT, { write });
    await writer.append(rowsBlock(0, 100));
    const error = await writer.append(rowsBlock(100, 100)).catch((e) => e);
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(/The disk is full/);
    expect(error.message).toContain(dir);
    expect(error.message).toMatch(/after 100 rows/);
    expect(error.message).toMatch(/free space on that disk, or pass another cache folder .*--cache-dir/);
    expect(error.value).toBe('ENOSPC');
    expect(error.cause?.code).toBe('ENOSPC');
    expect(readdirSync(dir)).toEqual([]);
    expect(await openCache(dir, 'full')).toBeNull();
    await expect(writer.commit()).rejects.toThrow(/failed/);
  });

  it('a full disk while writing meta.json at commit leaves nothing either', async () => {
    let failMeta = false;
    const write = async (handle: FileHandle, bytes: Uint8Array) => {
      if (failMeta) throw Object.assign(new Error('quota'), { code: 'EDQUOT' });
      await handle.write(bytes);
    };
    const writer = await CacheWriter.create(dir, 'full2', LAYOUT, { write });
    await writer.append(rowsBlock(0, 50));
    failMeta = true;
    await expect(writer.commit({ a: 1 })).rejects.toThrow(/The disk is full: writing the data cache to .* \(EDQUOT, disk quota exceeded\)/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('other write errors also remove the temp folder and name the folder and the fix', async () => {
    const write = async () => {
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    };
    const writer = await CacheWriter.create(dir, 'eio', LAYOUT, { write });
    await expect(writer.append(rowsBlock(0, 5))).rejects.toThrow(
      /Writing the data cache to .* failed after 0 rows .*EIO: i\/o error.*--cache-dir/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a killed writer's temp folder is never opened and the next writer removes it once its process is gone", async () => {
    // A complete-looking cache, to be moved into the dead writer's temp folder below.
    const table = await writeTable('dead', [4]);
    table.close();
    // A real process that dies (SIGKILL) half way through a cache: its pid is then free.
    const script = `
      const fs = require('node:fs'); const path = require('node:path');
      const tmp = path.join(${JSON.stringify(dir)}, 'dead.tmp-' + process.pid + '-abc123');
      fs.mkdirSync(tmp); fs.writeFileSync(path.join(tmp, 'col-0000.bin'), Buffer.alloc(40));
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['-e', script]);
    expect(child.signal).toBe('SIGKILL');
    const leftover = readdirSync(dir).find((n) => n !== 'dead')!;
    expect(leftover).toMatch(/^dead\.tmp-\d+-abc123$/);
    // A complete cache inside a temp folder is not a cache either.
    rmSync(join(dir, leftover), { recursive: true });
    renameSync(join(dir, 'dead'), join(dir, leftover));
    // A live writer's temp folder (this test's parent process) is kept.
    const live = `other.tmp-${process.ppid}-beef`;
    mkdirSync(join(dir, live));
    // So is one of pid 1, which a non-root user may not signal (EPERM: alive, not ours).
    const init = 'init.tmp-1-beef';
    mkdirSync(join(dir, init));
    expect(await openCache(dir, 'dead')).toBeNull();
    expect(existsSync(join(dir, leftover))).toBe(true);
    const writer = await CacheWriter.create(dir, 'next', LAYOUT);
    const names = readdirSync(dir);
    expect(names).not.toContain(leftover);
    expect(names).toContain(live);
    expect(names).toContain(init);
    await writer.abort();
  });

  it('two writers of one key: both commit, one sound cache remains', async () => {
    const a = await CacheWriter.create(dir, 'same', LAYOUT);
    const b = await CacheWriter.create(dir, 'same', LAYOUT);
    await a.append(rowsBlock(0, 8));
    await b.append(rowsBlock(0, 8));
    const ta = await a.commit();
    const tb = await b.commit();
    expect(ta.rows).toBe(8);
    expect(tb.rows).toBe(8);
    ta.close();
    tb.close();
    expect(readdirSync(dir)).toEqual(['same']);
  });

  describe('a damaged cache is removed and reads as absent', () => {
    const damages: [string, (folder: string) => void, RegExp][] = [
      ['a truncated column file', (f) => truncateSync(join(f, 'col-0001.bin'), 12), /col-0001\.bin holds 12 bytes, meta\.json says 16/],
      ['a longer labels file', (f) => writeFileSync(join(f, 'labels.bin'), Buffer.alloc(40)), /labels\.bin holds 40 bytes/],
      ['a missing file', (f) => rmSync(join(f, 'col-0002.bin')), /col-0002\.bin is missing/],
      ['no meta.json', (f) => rmSync(join(f, 'meta.json')), /meta\.json cannot be read/],
      ['meta.json cut short', (f) => writeFileSync(join(f, 'meta.json'), '{"format": "webmtl-cache", "vers'), /meta\.json cannot be read/],
      ['another version', (f) => editMeta(f, (m) => (m.version = 2)), /version 2/],
      ['a row count that disagrees', (f) => editMeta(f, (m) => (m.rows = 5)), /bad file name or size|labels file/],
      ['a file outside the folder', (f) => editMeta(f, (m) => (m.columns[0].file = '../x.bin')), /bad file name/],
      ['a bad dtype', (f) => editMeta(f, (m) => (m.columns[1].dtype = 'float64')), /bad dtype/],
    ];
    for (const [what, damage, reason] of damages) {
      it(what, async () => {
        const table = await writeTable('dmg', [4]);
        table.close();
        damage(join(dir, 'dmg'));
        const reasons: string[] = [];
        expect(await openCache(dir, 'dmg', { onDamaged: (r) => reasons.push(r) })).toBeNull();
        expect(reasons).toEqual([expect.stringMatching(reason)]);
        expect(existsSync(join(dir, 'dmg'))).toBe(false);
      });
    }
  });

  it('an absent cache is null and leaves the folder alone', async () => {
    expect(await openCache(dir, 'nothing')).toBeNull();
    expect(await openCache(join(dir, 'no', 'such'), 'nothing')).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
  });
});

// biome-ignore lint/suspicious/noExplicitAny: a test edits raw JSON.
function editMeta(folder: string, edit: (meta: any) => void): void {
  const path = join(folder, 'meta.json');
  const meta = JSON.parse(readFileSync(path, 'utf8'));
  edit(meta);
  writeFileSync(path, JSON.stringify(meta));
}
