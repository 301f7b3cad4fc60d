// prepareTable: a table of raw text categories (census-shaped) from files to training-ready splits,
// in memory and through the on-disk cache, with shards, Parquet, both engines, the holdout split,
// cache reuse and invalidation, bad input that leaves no cache behind, and raw rows at predict time.
import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockShuffleLoader } from '../src/data/block-loader.js';
import { holdoutSplit, type PreparedTable, prepareTable, proposeTableSchema } from '../src/data/ingest.js';
import type { HostBatch } from '../src/data/loader.js';
import { schemaFromLists, type TableSchema } from '../src/data/schema.js';
import { generateRawTable, type RawTable } from '../src/data/synthetic-raw.js';
import { csvOf, dataFailure, expectSameData, RAW_LABELS, splitData, writeIn } from './helpers/tables.js';

let dir: string;
let table: RawTable;
let csv: string;
let schema: TableSchema;

const LABELS = RAW_LABELS;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-ingest-'));
  table = generateRawTable({ rows: 3000, seed: 5, missingRate: 0.03 });
  csv = writeIn(dir, 'census.csv', csvOf(table));
  schema = (await proposeTableSchema(csv, { labels: LABELS })).schema;
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a census-shaped table of raw text, in memory', () => {
  it('the proposed schema: every text column sparse, every number dense, the two labels first', () => {
    const roles = Object.fromEntries(schema.columns.map((c) => [c.name, c.role]));
    expect(schema.columns.slice(0, 2).map((c) => c.name)).toEqual(LABELS);
    for (const name of table.stringColumns) expect(roles[name], name).toBe('sparse');
    for (const name of table.numericColumns) expect(roles[name], name).toBe('dense');
  });

  it('holds out 10% + 10% of the rows by position, the same rows on every read; each text value gets one id', async () => {
    const t = await prepareTable(csv, { schema, engine: 'light' });
    expect(t.storage).toBe('memory');
    const n = { train: t.rows('train'), val: t.rows('val'), test: t.rows('test') };
    expect(n.train + n.val + n.test).toBe(3000);
    expect(n.train).toBe(trainRowIndices(t).length);
    expect(n.val).toBeGreaterThan(220);
    expect(n.val).toBeLessThan(380);
    expect(n.test).toBeGreaterThan(220);
    expect(n.test).toBeLessThan(380);
    const again = await prepareTable(csv, { schema, engine: 'light' });
    for (const s of ['train', 'val', 'test'] as const) expectSameData(splitData(t, s), splitData(again, s));
    // Another seed holds out other rows.
    const other = await prepareTable(csv, { schema, engine: 'light', seed: 7 });
    expect(Array.from(splitData(other, 'val').labels)).not.toEqual(Array.from(splitData(t, 'val').labels));

    // The ids of a text column are a one-to-one map of its training values (sorted by count: id 1 the most common).
    const train = splitData(t, 'train');
    const ms = t.modelSchema;
    expect(ms.labelColumns).toEqual(LABELS);
    expect(ms.sparseColumns).toHaveLength(32);
    expect(ms.denseColumns).toHaveLength(7);
    const ids = train.columns.education as Int32Array;
    const trainRows = trainRowIndices(t);
    const byValue = new Map<string | number | null, number>();
    const counts = new Map<number, number>();
    trainRows.forEach((row, i) => {
      const v = table.columns.education[row];
      const id = ids[i];
      if (byValue.has(v)) expect(byValue.get(v)).toBe(id);
      byValue.set(v, id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    });
    expect(new Set(byValue.values()).size).toBe(byValue.size);
    expect(ms.vocabSizes.education).toBe(byValue.size + 1);
    const [mostCommonId] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    expect(mostCommonId).toBe(1);
    // Dense columns are standardised on the training rows: mean 0, std 1.
    const age = train.columns.age as Float32Array;
    const mean = age.reduce((s, v) => s + v, 0) / age.length;
    const std = Math.sqrt(age.reduce((s, v) => s + (v - mean) ** 2, 0) / age.length);
    expect(mean).toBeCloseTo(0, 4);
    expect(std).toBeCloseTo(1, 3);
  });

  it('raw rows at predict time (transformRows) get exactly the ids and scaled values the files got', async () => {
    const t = await prepareTable(csv, { schema, engine: 'light' });
    const trainRows = trainRowIndices(t);
    const rows = trainRows.slice(0, 50).map((r) => Object.fromEntries(table.header.map((h) => [h, table.columns[h][r]])));
    const fromRows = t.preprocessor.transformRows(rows);
    expectSameData(splitData(t, 'train').take(Int32Array.from({ length: 50 }, (_, i) => i)), fromRows);
    // A value never seen in training maps to id 0.
    const unseen = t.preprocessor.transformRows([{ ...rows[0], education: 'a degree nobody has' }]);
    expect((unseen.columns.education as Int32Array)[0]).toBe(0);
  });

  it('val and test files instead of the holdout: fitted on --data alone, unseen values → 0', async () => {
    const train = writeIn(dir, 'split/train.csv', csvOf(table, 0, 2000));
    const val = writeIn(dir, 'split/val.csv', csvOf(table, 2000, 2500));
    const test = writeIn(dir, 'split/test.csv', csvOf(table, 2500, 3000));
    const t = await prepareTable(train, { schema, val, test, engine: 'light' });
    expect([t.rows('train'), t.rows('val'), t.rows('test')]).toEqual([2000, 500, 500]);
    const trainValues = new Set(table.columns['detailed occupation'].slice(0, 2000));
    const valIds = splitData(t, 'val').columns['detailed occupation'] as Int32Array;
    for (let i = 0; i < 500; i++) {
      const v = table.columns['detailed occupation'][2000 + i];
      if (!trainValues.has(v)) expect(valIds[i]).toBe(0);
      else expect(valIds[i]).toBeGreaterThan(0);
    }
  });
});

/** The data rows prepareTable keeps for training with the default holdout (10% + 10%, seed 2022). */
function trainRowIndices(_t: PreparedTable): number[] {
  return Array.from({ length: table.rows }, (_, i) => i).filter((i) => holdoutSplit(i, [0.1, 0.1], 2022) === 'train');
}

describe('the same table from shards, Parquet and either engine', () => {
  it('a folder of three CSV shards and a glob give the single file’s splits', async () => {
    writeIn(dir, 'shards/part-0.csv', csvOf(table, 0, 1000));
    writeIn(dir, 'shards/part-1.csv', csvOf(table, 1000, 2200));
    writeIn(dir, 'shards/part-2.csv', csvOf(table, 2200, 3000));
    const single = await prepareTable(csv, { schema, engine: 'light' });
    for (const data of [join(dir, 'shards'), join(dir, 'shards', 'part-*.csv')]) {
      const sharded = await prepareTable(data, { schema, engine: 'light' });
      for (const s of ['train', 'val', 'test'] as const) expectSameData(splitData(single, s), splitData(sharded, s));
    }
  });

  it('DuckDB and the light engine, CSV and its Parquet twin: identical splits', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const parquet = join(dir, 'census.parquet');
    await con.run(`COPY (SELECT * FROM read_csv('${csv}', header = true, all_varchar = false)) TO '${parquet}' (FORMAT parquet)`);
    con.closeSync();
    const light = await prepareTable(csv, { schema, engine: 'light' });
    for (const [data, engine] of [
      [csv, 'duckdb'],
      [parquet, 'duckdb'],
      [parquet, 'light'],
    ] as const) {
      const other = await prepareTable(data, { schema, engine });
      for (const s of ['train', 'val', 'test'] as const) expectSameData(splitData(light, s), splitData(other, s));
    }
  }, 60_000);
});

describe('on disk: the binary cache', () => {
  it('gives the in-memory splits, streams them in blocks, and is reused until the source or the schema changes', async () => {
    const cacheDir = join(dir, 'cache');
    // The same read blocks, so that the dense statistics are merged in the same order (bit for bit).
    const memory = await prepareTable(csv, { schema, engine: 'light', blockRows: 700 });
    const disk = await prepareTable(csv, { schema, engine: 'light', storage: 'disk', cacheDir, blockRows: 700 });
    expect(disk.storage).toBe('disk');
    expect(disk.fromCache).toBe(false);
    for (const s of ['train', 'val', 'test'] as const) expectSameData(splitData(memory, s), splitData(disk, s));
    expect(disk.preprocessor.toJSON()).toEqual(memory.preprocessor.toJSON());

    // The training loader streams the cache with a block shuffle: every row once per epoch.
    const loaders = disk.loaders({ batchSize: 128, seed: 3, blockRows: 256, bufferBlocks: 2 });
    expect(loaders.train).toBeInstanceOf(BlockShuffleLoader);
    let rows = 0;
    const labelSum = [0, 0];
    for (const b of loaders.train as Iterable<HostBatch>) {
      rows += b.size;
      for (let i = 0; i < b.size; i++) for (let k = 0; k < 2; k++) labelSum[k] += b.y[i * 2 + k];
    }
    expect(rows).toBe(disk.rows('train'));
    const train = splitData(memory, 'train');
    for (let k = 0; k < 2; k++) expect(labelSum[k]).toBe(train.labels.filter((_, i) => i % 2 === k).reduce((s, v) => s + v, 0));

    const reused = await prepareTable(csv, { schema, engine: 'duckdb', storage: 'disk', cacheDir, blockRows: 700 });
    expect(reused.fromCache).toBe(true);
    expectSameData(splitData(disk, 'train'), splitData(reused, 'train'));
    expect(reused.preprocessor.toJSON()).toEqual(disk.preprocessor.toJSON());

    // A changed schema (min-max scaling of age) and a touched source file each make a new cache.
    const minmax = { ...schema, columns: schema.columns.map((c) => (c.name === 'age' ? { ...c, scale: 'minmax' as const } : c)) };
    const again = { engine: 'light', storage: 'disk', cacheDir, blockRows: 700 } as const;
    expect((await prepareTable(csv, { schema: minmax, ...again })).fromCache).toBe(false);
    const later = new Date(Date.now() + 60_000);
    utimesSync(csv, later, later);
    expect((await prepareTable(csv, { schema, ...again })).fromCache).toBe(false);
    expect((await prepareTable(csv, { schema, ...again })).fromCache).toBe(true);
  }, 60_000);

  it('a bad cell in the test file fails with its place and leaves no cache, not even a half-written one', async () => {
    const cacheDir = join(dir, 'cache-bad');
    const train = writeIn(dir, 'bad/train.csv', csvOf(table, 0, 2000));
    const val = writeIn(dir, 'bad/val.csv', csvOf(table, 2000, 2500));
    const text = csvOf(table, 2500, 3000).split('\n');
    const labelAt = table.header.indexOf('income_50k');
    const cells = text[8].split(',');
    cells[labelAt] = '2';
    text[8] = cells.join(',');
    const test = writeIn(dir, 'bad/test.csv', text.join('\n'));
    const e = await dataFailure(() => prepareTable(train, { schema, val, test, engine: 'light', storage: 'disk', cacheDir }));
    expect(e.message).toContain('test.csv line 9');
    expect(e.message).toContain('income_50k');
    expect(e.message).toMatch(/Fix/);
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

describe('bad input', () => {
  it('a schema column missing from the files, an unknown option, a bad holdout', async () => {
    const renamed = { ...schema, columns: schema.columns.map((c) => (c.name === 'education' ? { ...c, name: 'eduction' } : c)) };
    const e = await dataFailure(() => prepareTable(csv, { schema: renamed, engine: 'light' }));
    expect(e.message).toContain('"eduction"');
    expect(e.message).toContain('census.csv');
    expect(e.message).toMatch(
      /Fix: add the column to that file, remove the file from the table, or set the role of "eduction" to 'ignore' in the schema/,
    );
    const unknown = await dataFailure(() => prepareTable(csv, { schema, engin: 'light' } as never));
    expect(unknown.message).toMatch(/unknown option 'engin' \(did you mean 'engine'\?\)/);
    await expect(prepareTable(csv, { schema, holdout: [0.6, 0.5] })).rejects.toThrow(/sum to less than 1/);
    // Values of the wrong kind are refused too, never read as the default.
    await expect(prepareTable(csv, { schema, seed: 1.5 })).rejects.toThrow(/seed must be a whole number ≥ 0, got 1.5/);
    await expect(prepareTable(csv, { schema, memoryLimitBytes: -1 })).rejects.toThrow(/memoryLimitBytes must be a number of bytes/);
    await expect(prepareTable(csv, { schema, blockRows: 0 })).rejects.toThrow(/blockRows must be a whole number ≥ 1/);
    await expect(proposeTableSchema(csv, { label: ['income_50k'] } as never)).rejects.toThrow(
      /unknown option 'label' \(did you mean 'labels'\?\)/,
    );
    await expect(proposeTableSchema(csv, { sampleRows: 0 })).rejects.toThrow(/sampleRows must be a whole number ≥ 1/);
    const t = await prepareTable(csv, { schema, engine: 'light' });
    expect(() => t.loaders({ batchsize: 64 } as never)).toThrow(/unknown option 'batchsize' \(did you mean 'batchSize'\?\)/);
  });

  it('shards whose headers differ (an extra column, another order) are refused before anything is read', async () => {
    const text = csvOf(table, 0, 500);
    writeIn(dir, 'mixed/part-0.csv', text);
    const lines = text.split('\n');
    lines[0] = `${lines[0]},extra`;
    for (let i = 1; i < lines.length; i++) if (lines[i]) lines[i] = `${lines[i]},1`;
    writeIn(dir, 'mixed/part-1.csv', lines.join('\n'));
    const e = await dataFailure(() => prepareTable(join(dir, 'mixed'), { schema, engine: 'light' }));
    expect(e.message).toContain('part-1.csv does not have the same columns as');
    expect(e.message).toContain('"extra"');
    expect(e.message).toMatch(/Fix: give every shard of a table the same header/);
  });

  it('inline lists: a name that is not a column is refused with the closest one', async () => {
    const columns = table.header.map((name) => ({ name, type: table.types[name] }));
    expect(() => schemaFromLists(columns, { label: ['income_50k'], sparse: ['educaton'] })).toThrow(/education/);
  });
});
