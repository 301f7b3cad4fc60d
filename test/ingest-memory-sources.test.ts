// prepareTable, proposeTableSchema and describeTable from data already in memory ({ name, text } /
// { name, bytes }, and arrays of these as shards): the same splits as from the same files, the format
// from the name or the bytes, no file system touched, and every misuse an error that says the fix.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ColumnarDataset } from '../src/data/columns.js';
import { describeTable, type PreparedTable, prepareTable, proposeTableSchema } from '../src/data/ingest.js';
import { openReader } from '../src/data/readers/index.js';
import { schemaFromLists, type TableSchema } from '../src/data/schema.js';
import { resolveSources } from '../src/data/sources.js';
import { generateRawTable, type RawTable } from '../src/data/synthetic-raw.js';
import { csvOf, dataFailure, expectSameData, RAW_LABELS, writeIn } from './helpers/tables.js';

let dir: string;
let table: RawTable;
let csvText: string;
let csvPath: string;
let parquetPath: string;
let schema: TableSchema;

const LABELS = RAW_LABELS;

/** A split that must be in memory. */
function _splitData(t: PreparedTable, split: 'train' | 'val' | 'test'): ColumnarDataset {
  const s = t.splits[split];
  if (!(s instanceof ColumnarDataset)) throw new Error('expected an in-memory split');
  return s;
}

/**
 * The same splits, vocabularies and model schema. `sameBlocks`: both were read in the same blocks, so
 * the dense statistics (merged block by block) agree bit for bit too; other block cuts (shards, a
 * smaller blockRows) round them differently in the last digits, below float32's precision.
 */
function expectSameTable(a: PreparedTable, b: PreparedTable, sameBlocks = true): void {
  const splitData = (t: PreparedTable, split: 'train' | 'val' | 'test'): ColumnarDataset => {
    const s = t.splits[split];
    if (!(s instanceof ColumnarDataset)) throw new Error('expected an in-memory split');
    return s;
  };
  expect(b.storage).toBe('memory');
  expect(b.modelSchema).toEqual(a.modelSchema);
  if (sameBlocks) expect(b.preprocessor.toJSON()).toEqual(a.preprocessor.toJSON());
  for (const s of ['train', 'val', 'test'] as const) expectSameData(splitData(a, s), splitData(b, s));
}

/** The bytes of a file as a Uint8Array that views part of a larger buffer (as Node's pooled Buffers do). */
function offsetView(bytes: Uint8Array): Uint8Array {
  const big = new Uint8Array(bytes.length + 16);
  big.set(bytes, 7);
  return big.subarray(7, 7 + bytes.length);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-memory-sources-'));
  table = generateRawTable({ rows: 2000, seed: 11, missingRate: 0.03 });
  csvText = csvOf(table);
  csvPath = writeIn(dir, 'census.csv', csvText);
  schema = (await proposeTableSchema(csvPath, { labels: LABELS, engine: 'light' })).schema;
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  parquetPath = join(dir, 'census.parquet');
  await con.run(`COPY (SELECT * FROM read_csv('${csvPath}', header = true)) TO '${parquetPath}' (FORMAT parquet)`);
  con.closeSync();
  db.closeSync();
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('in-memory sources give the same table as the same files', () => {
  it('CSV text, CSV bytes (Uint8Array view, ArrayBuffer) and a CSV file: identical splits and vocabularies', async () => {
    const fromFile = await prepareTable(csvPath, { schema, engine: 'light' });
    expect(fromFile.rows('train') + fromFile.rows('val') + fromFile.rows('test')).toBe(2000);
    const fromText = await prepareTable({ name: 'census.csv', text: csvText }, { schema });
    expectSameTable(fromFile, fromText);
    const bytes = new Uint8Array(readFileSync(csvPath));
    expectSameTable(fromFile, await prepareTable({ name: 'census.csv', bytes: offsetView(bytes) }, { schema }));
    expectSameTable(fromFile, await prepareTable({ name: 'census.csv', bytes: bytes.slice().buffer }, { schema, engine: 'light' }));
    // Without an extension: text is CSV, and bytes that are not Parquet are CSV too.
    expectSameTable(fromFile, await prepareTable({ name: 'census', text: csvText }, { schema }));
    expectSameTable(fromFile, await prepareTable({ name: 'upload', bytes }, { schema }));
    // A small block size cuts the text into many blocks: still the same rows.
    expectSameTable(fromFile, await prepareTable({ name: 'census.csv', text: csvText }, { schema, blockRows: 97 }), false);
  });

  it('Parquet bytes and the Parquet file (written by DuckDB): identical splits, also to the CSV', async () => {
    const fromFile = await prepareTable(parquetPath, { schema, engine: 'light' });
    const bytes = new Uint8Array(readFileSync(parquetPath));
    const fromBytes = await prepareTable({ name: 'census.parquet', bytes: offsetView(bytes) }, { schema });
    expectSameTable(fromFile, fromBytes);
    // The magic bytes "PAR1" tell Parquet when the name does not.
    expectSameTable(fromFile, await prepareTable({ name: 'blob', bytes: bytes.slice().buffer }, { schema }));
    expectSameTable(await prepareTable(csvPath, { schema, engine: 'light' }), fromBytes);
  });

  it('shards as arrays, and val / test in memory: the same as the same files', async () => {
    const parts = [csvOf(table, 0, 700), csvOf(table, 700, 1500), csvOf(table, 1500, 2000)];
    // The holdout hashes a row's position over all data shards: three shards give the whole file's splits.
    const whole = await prepareTable(csvPath, { schema, engine: 'light' });
    const shards = await prepareTable(
      parts.map((text, i) => ({ name: `part-${i}.csv`, text })),
      { schema },
    );
    expectSameTable(whole, shards, false);
    // Shards keep the given order (not sorted by name).
    const reversed = await prepareTable(
      [
        { name: 'b.csv', text: csvOf(table, 0, 1000) },
        { name: 'a.csv', text: csvOf(table, 1000, 2000) },
      ],
      { schema },
    );
    expectSameTable(whole, reversed, false);

    const trainPath = writeIn(dir, 'split/train.csv', csvOf(table, 0, 1400));
    const valPath = writeIn(dir, 'split/val.csv', csvOf(table, 1400, 1700));
    const testPath = writeIn(dir, 'split/test.csv', csvOf(table, 1700, 2000));
    const files = await prepareTable(trainPath, { schema, engine: 'light', val: valPath, test: testPath });
    expect([files.rows('train'), files.rows('val'), files.rows('test')]).toEqual([1400, 300, 300]);
    const memory = await prepareTable(
      [
        { name: 'train-0.csv', text: csvOf(table, 0, 900) },
        { name: 'train-1.csv', bytes: new TextEncoder().encode(csvOf(table, 900, 1400)) },
      ],
      { schema, val: { name: 'val.csv', text: csvOf(table, 1400, 1700) }, test: [{ name: 'test.csv', text: csvOf(table, 1700, 2000) }] },
    );
    expectSameTable(files, memory, false);
    // Files for data, memory for val: each split takes its own shape.
    expectSameTable(
      files,
      await prepareTable(trainPath, { schema, val: { name: 'val.csv', text: csvOf(table, 1400, 1700) }, test: testPath }),
    );
  });

  it('proposeTableSchema and describeTable read in-memory sources like files', async () => {
    const fromFile = await proposeTableSchema(csvPath, { labels: LABELS, engine: 'light' });
    const fromText = await proposeTableSchema({ name: 'census.csv', text: csvText }, { labels: LABELS });
    expect(fromText.schema).toEqual(fromFile.schema);
    expect(fromText.sample.rows).toBe(2000);
    expect(fromText.files).toMatchObject([{ path: 'census.csv', format: 'csv', bytes: csvText.length, mtimeMs: 0 }]);

    const described = await describeTable(parquetPath, { engine: 'light' });
    const fromBytes = await describeTable({ name: 'census.parquet', bytes: readFileSync(parquetPath) });
    expect(fromBytes.columns).toEqual(described.columns);
    expect(fromBytes.files).toMatchObject([{ path: 'census.parquet', format: 'parquet', bytes: described.files[0].bytes }]);
  });

  it('the reader progress counts the in-memory bytes (characters for text)', async () => {
    const seen: number[] = [];
    await prepareTable({ name: 'census.csv', text: csvText }, { schema, onProgress: (p) => seen.push(p.bytesDone / p.bytesTotal) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(1);
    expect(seen.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= seen[i - 1]))).toBe(true);
  });
});

describe('in-memory sources never touch the file system', () => {
  it('with node:fs, node:fs/promises, node:path and tinyglobby unloadable, text and bytes still work (and a path does not)', async () => {
    vi.resetModules();
    const banned = ['node:fs', 'node:fs/promises', 'node:path', 'tinyglobby', '@duckdb/node-api'];
    for (const name of banned)
      vi.doMock(name, () => {
        throw new Error(`${name} was loaded`);
      });
    try {
      const fresh = await import('../src/data/ingest.js');
      const text = csvOf(table, 0, 600);
      const t = await fresh.prepareTable([{ name: 'a.csv', text }], { schema });
      expect(t.rows('train') + t.rows('val') + t.rows('test')).toBe(600);
      const p = await fresh.prepareTable({ name: 'p.parquet', bytes: readFileSync(parquetPath) }, { schema });
      expect(p.rows('train') + p.rows('val') + p.rows('test')).toBe(2000);
      expect((await fresh.proposeTableSchema({ name: 'a.csv', text }, { labels: LABELS })).schema.columns.length).toBe(
        schema.columns.length,
      );
      // The guard works: a path needs node:fs.
      await expect(fresh.prepareTable(csvPath, { schema, engine: 'light' })).rejects.toThrow(/was loaded|error when mocking a module/);
    } finally {
      for (const name of banned) vi.doUnmock(name);
      vi.resetModules();
    }
  });
});

describe('misuse of in-memory sources: errors that say the fix', () => {
  const text = 'a,b,y\n1,x,0\n2,z,1\n';
  const small = schemaFromLists(
    [
      { name: 'a', type: 'float' },
      { name: 'b', type: 'string' },
      { name: 'y', type: 'int' },
    ],
    { label: ['y'], dense: ['a'], sparse: ['b'] },
  );

  it('unknown keys (with a near miss), no name, neither or both of text and bytes, wrong types', async () => {
    const unknown = await dataFailure(() => resolveSources({ name: 'a.csv', txt: text } as never));
    expect(unknown.message).toContain("unknown key 'txt' (did you mean 'text'?) in an in-memory source");
    const extra = await dataFailure(() => prepareTable({ name: 'a.csv', text, encoding: 'utf8' } as never, { schema: small }));
    expect(extra.message).toMatch(/^data: unknown key 'encoding'.*Fix: give \{ name: 'train\.csv', text: csvText \}/);
    const second = await dataFailure(() =>
      resolveSources(
        [
          { name: 'a.csv', text },
          { name: 'b.csv', text, path: 'x' },
        ] as never,
        'val',
      ),
    );
    expect(second.message).toMatch(/^val \[1\]: unknown key 'path'/);
    const noName = await dataFailure(() => resolveSources({ text } as never));
    expect(noName.message).toContain('an in-memory source needs a name');
    const neither = await dataFailure(() => resolveSources({ name: 'a.csv' } as never));
    expect(neither.message).toContain('"a.csv" needs exactly one of text (a string of CSV) and bytes');
    expect(neither.message).toContain('got neither');
    const both = await dataFailure(() => resolveSources({ name: 'a.csv', text, bytes: new Uint8Array(1) } as never));
    expect(both.message).toContain('got both');
    const notText = await dataFailure(() => resolveSources({ name: 'a.csv', text: 42 } as never));
    expect(notText.message).toContain('the text of "a.csv" must be a string, got number');
    const blob = await dataFailure(() => resolveSources({ name: 'a.csv', bytes: [1, 2, 3] } as never));
    expect(blob.message).toContain('must be an ArrayBuffer or a typed array such as Uint8Array, got Array');
    expect(blob.message).toContain('bytes: await file.arrayBuffer()');
    const bare = await dataFailure(() => resolveSources(new Uint8Array(5) as never));
    expect(bare.message).toContain("The data source is bytes without a name. Fix: wrap it as { name: 'train.csv', bytes }");
    const file = await dataFailure(() => prepareTable(new File([text], 'a.csv') as never, { schema: small }));
    expect(file.message).toMatch(
      /^data is a File or Blob without a name\. Fix: .*\{ name: file\.name, bytes: await file\.arrayBuffer\(\) \}/,
    );
  });

  it('mixing paths and objects, two shards of one name, CSV with Parquet, Parquet as text', async () => {
    const mixed = await dataFailure(() => resolveSources([csvPath, { name: 'a.csv', text }] as never, 'data'));
    expect(mixed.message).toContain('data mixes paths and in-memory sources');
    const twice = await dataFailure(() =>
      resolveSources([
        { name: 'a.csv', text },
        { name: 'a.csv', text },
      ]),
    );
    expect(twice.message).toContain('two in-memory sources named "a.csv"');
    const formats = await dataFailure(() =>
      resolveSources([
        { name: 'a.csv', text },
        { name: 'b.parquet', bytes: readFileSync(parquetPath) },
      ]),
    );
    expect(formats.message).toContain('mixes CSV and Parquet sources (e.g. "a.csv" and "b.parquet")');
    const parquetText = await dataFailure(() => resolveSources({ name: 'b.parquet', text }));
    expect(parquetText.message).toContain('"b.parquet" is named as Parquet but given as text');
  });

  it("storage 'disk', or 'auto' beyond memoryLimitBytes: an error that says storage 'memory'", async () => {
    const disk = await dataFailure(() => prepareTable({ name: 'a.csv', text }, { schema: small, storage: 'disk' }));
    expect(disk.message).toBe(
      `prepareTable: "a.csv" is in memory (text or bytes), so the table cannot go to the on-disk cache (storage 'disk'). ` +
        "Fix: use storage 'memory', or give the sources as file paths (Node) for storage 'disk'.",
    );
    // An in-memory val with file data counts too.
    const val = await dataFailure(() =>
      prepareTable(csvPath, { schema, storage: 'disk', val: { name: 'v.csv', text: csvOf(table, 0, 10) } }),
    );
    expect(val.message).toContain('"v.csv" is in memory');
    const auto = await dataFailure(() => prepareTable({ name: 'a.csv', text }, { schema: small, memoryLimitBytes: 4 }));
    expect(auto.message).toContain(`(storage 'auto': ${text.length} bytes exceed memoryLimitBytes). Fix: use storage 'memory'`);
    const fine = await prepareTable({ name: 'a.csv', text }, { schema: small, storage: 'memory', memoryLimitBytes: 4, holdout: [0, 0] });
    expect(fine.rows('train')).toBe(2);
  });

  it("engine 'duckdb' is an error naming the light engine; 'auto' takes the light one", async () => {
    const duck = await dataFailure(() => prepareTable({ name: 'a.csv', text }, { schema: small, engine: 'duckdb' }));
    expect(duck.message).toBe(
      `The DuckDB engine reads files only, and "a.csv" is in memory (text or bytes). Fix: use engine 'light', or 'auto' (which takes the light engine for in-memory data).`,
    );
    await expect(describeTable({ name: 'a.csv', text }, { engine: 'duckdb' })).rejects.toThrow(/engine 'light'/);
    const files = await resolveSources({ name: 'a.csv', text });
    const reader = await openReader('auto', files);
    expect(reader.engine).toBe('light');
    await reader.close();
  });

  it('bad CSV: the given name and the line, for text and for bytes', async () => {
    const fields = await dataFailure(() => prepareTable({ name: 'train.csv', text: 'a,b,y\n1,x,0\n2,z,1,9\n' }, { schema: small }));
    expect(fields.message).toBe(
      'train.csv line 3 has 4 field(s), but the header has 3. Fix: put double quotes around cells that contain a comma or a line break, or repair the line.',
    );
    const cell = await dataFailure(() =>
      prepareTable({ name: 'upload.csv', bytes: new TextEncoder().encode('a,b,y\n1,x,0\n\noops,z,1\n') }, { schema: small }),
    );
    expect(cell.message).toContain('Column "a" is read as numbers but upload.csv line 4 has "oops", which is not a number');
    const missing = await dataFailure(() => prepareTable({ name: 'cols.csv', text: 'a,y\n1,0\n' }, { schema: small }));
    expect(missing.message).toContain('Column "b" is missing from cols.csv');
    const empty = await dataFailure(() => prepareTable({ name: 'empty.csv', text: '' }, { schema: small }));
    expect(empty.message).toContain('empty.csv is empty: it has no header line');
    const notParquet = await dataFailure(() =>
      prepareTable({ name: 'broken.parquet', bytes: new Uint8Array([1, 2, 3, 4, 5]) }, { schema: small }),
    );
    expect(notParquet.message).toContain('broken.parquet is not a readable Parquet file');
  });
});

describe('the light engine cuts in-memory content into chunks like a file stream', () => {
  it('over 2 MiB of text and bytes with multi-byte characters and quoted line breaks: the same cells as the file', async () => {
    const lines = ['id,note,y'];
    for (let i = 0; i < 60_000; i++) lines.push(`${i},"naïve 漢字 😀 ${i}${i % 7 === 0 ? '\nsecond line' : ''}, ok",${i % 2}`);
    const text = `\ufeff${lines.join('\r\n')}\r\n`;
    const path = writeIn(dir, 'chunks.csv', text);
    const bytes = new Uint8Array(readFileSync(path));
    expect(bytes.length).toBeGreaterThan(2 * 2 ** 20);
    const reader = await openReader('light');
    const read = async (spec: Parameters<typeof resolveSources>[0]) => {
      const files = await resolveSources(spec);
      const columns = await reader.describe(files);
      const blocks = [];
      for await (const block of reader.scan(files, columns, { blockRows: 25_000 })) blocks.push(block);
      return { columns, blocks };
    };
    const fromFile = await read(path);
    expect(fromFile.columns.map((c) => c.type)).toEqual(['int', 'string', 'int']);
    expect(fromFile.blocks.map((b) => b.rows)).toEqual([25_000, 25_000, 10_000]);
    expect(fromFile.blocks[0].columns.note.values[7]).toBe('naïve 漢字 😀 7\nsecond line, ok');
    const strip = ({ columns, blocks }: typeof fromFile) => ({
      columns,
      blocks: blocks.map((b) => ({ rows: b.rows, columns: b.columns })),
    });
    expect(strip(await read({ name: 'chunks.csv', text }))).toEqual(strip(fromFile));
    expect(strip(await read({ name: 'chunks.csv', bytes }))).toEqual(strip(fromFile));
    const named = await read({ name: 'chunks.csv', text });
    expect(named.blocks.map((b) => b.source)).toEqual([
      { file: 'chunks.csv', firstRow: 0 },
      { file: 'chunks.csv', firstRow: 25_000 },
      { file: 'chunks.csv', firstRow: 50_000 },
    ]);
    await reader.close();
  }, 60_000);
});
