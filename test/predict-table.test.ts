// predictTable (webmtl predict): a bundle scores a table of raw rows block by block, from CSV or
// Parquet shards, into CSV or Parquet; the scores are the bundle's own predict() on the same rows, with
// either engine and any block size; a table the model cannot read fails before anything is written.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareTable, proposeTableSchema } from '../src/data/ingest.js';
import { openReader } from '../src/data/readers/index.js';
import { resolveSources } from '../src/data/sources.js';
import { generateRawTable, type RawTable, rawTableCsvText } from '../src/data/synthetic-raw.js';
import { decodeModel, encodeModel, type ModelBundle } from '../src/deploy/bundle.js';
import { predictTable } from '../src/deploy/predict-table.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import { createModel } from '../src/models/registry.js';
import { SharedBottom } from '../src/models/shared-bottom.js';
import { csvOf, dataFailure, RAW_LABELS, writeIn } from './helpers/tables.js';

let dir: string;
let raw: RawTable;
let bundle: ModelBundle;
/** The rows to score (no labels) as the user's objects, and the same rows as two CSV shards. */
let rows: Record<string, unknown>[];
let shards: string;

const ROWS = 700;

function withoutLabels(t: RawTable, from: number, to: number): string {
  const header = t.header.filter((h) => !RAW_LABELS.includes(h));
  return rawTableCsvText({ header, columns: Object.fromEntries(header.map((h) => [h, t.columns[h].slice(from, to)])), rows: to - from });
}

/** A CSV's rows as arrays of cells (header first), read as text by the light engine's CSV parser. */
async function readCsvLines(file: string): Promise<string[][]> {
  const reader = await openReader('light');
  const files = await resolveSources(file);
  const header = await reader.describe(files);
  const block = await reader.sample(files, 1e6);
  const text = header.map((c) => {
    const col = block.columns[c.name];
    return Array.from({ length: block.rows }, (_, r) => (col.type === 'string' ? (col.values[r] ?? '') : String(col.values[r])));
  });
  return [header.map((c) => c.name), ...Array.from({ length: block.rows }, (_, r) => text.map((col) => col[r]))];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-predict-table-'));
  raw = generateRawTable({ rows: 2000 + ROWS, seed: 21, missingRate: 0.03 });
  const train = writeIn(dir, 'train.csv', csvOf(raw, 0, 2000));
  const { schema } = await proposeTableSchema(train, { labels: RAW_LABELS, engine: 'light' });
  const table = await prepareTable(train, { schema, engine: 'light' });
  const model = createModel('ple', table.modelSchema);
  bundle = decodeModel(await encodeModel(model, { preprocessor: table.preprocessor }));
  shards = join(dir, 'score');
  writeIn(shards, 'part-0.csv', withoutLabels(raw, 2000, 2300));
  writeIn(shards, 'part-1.csv', withoutLabels(raw, 2300, 2000 + ROWS));
  const header = raw.header.filter((h) => !RAW_LABELS.includes(h));
  rows = Array.from({ length: ROWS }, (_, r) => Object.fromEntries(header.map((h) => [h, raw.columns[h][2000 + r]])));
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('predictTable', () => {
  it('scores shards of raw rows in order, kept columns first; the scores are predict() on the same rows', async () => {
    const out = join(dir, 'preds.csv');
    const { rows: n } = await predictTable(bundle, shards, {
      out,
      keep: ['age', 'education'],
      engine: 'light',
      blockRows: 128,
      batchSize: 50,
    });
    expect(n).toBe(ROWS);
    const lines = await readCsvLines(out);
    expect(lines[0]).toEqual(['age', 'education', ...RAW_LABELS]);
    expect(lines).toHaveLength(ROWS + 1);
    const want = await bundle.predict(rows);
    for (let r = 0; r < ROWS; r++) {
      expect(lines[r + 1][0]).toBe(String(raw.columns.age[2000 + r]));
      expect(lines[r + 1][1]).toBe(raw.columns.education[2000 + r] ?? '');
      // Nine significant digits give back the float32 score exactly.
      RAW_LABELS.forEach((task, k) => expect(Math.fround(Number(lines[r + 1][2 + k])), `${task} row ${r}`).toBe(want[task][r]));
    }
  });

  it('DuckDB and the light engine, large and small blocks: the same file, byte for byte', async () => {
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    await predictTable(bundle, join(shards, '*.csv'), { out: a, engine: 'duckdb' });
    await predictTable(bundle, join(shards, '*.csv'), { out: b, engine: 'light', blockRows: 97 });
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'));
  });

  it('writes Parquet through DuckDB, with the same values', async () => {
    const csv = join(dir, 'p.csv');
    const parquet = join(dir, 'p.parquet');
    await predictTable(bundle, shards, { out: csv, keep: ['age'] });
    await predictTable(bundle, shards, { out: parquet, keep: ['age'] });
    const reader = await openReader('light');
    const files = await resolveSources(parquet);
    const cols = await reader.describe(files);
    expect(cols.map((c) => c.name)).toEqual(['age', ...RAW_LABELS]);
    const block = await reader.sample(files, ROWS);
    const lines = (await readCsvLines(csv)).slice(1);
    expect(block.rows).toBe(ROWS);
    const score = block.columns[RAW_LABELS[1]];
    if (score.type === 'string') throw new Error('scores must be numbers');
    for (let r = 0; r < ROWS; r++) expect(score.values[r]).toBeCloseTo(Number(lines[r][2]), 8);
  });

  it('a missing model column, an unknown --keep column or a bad output name fail before anything is written', async () => {
    const out = join(dir, 'never.csv');
    const noAge = writeIn(dir, 'no-age/x.csv', withoutLabels({ ...raw, header: raw.header.filter((h) => h !== 'age') }, 2000, 2010));
    expect((await dataFailure(() => predictTable(bundle, noAge, { out }))).message).toMatch(
      /Column "age", which the model reads, is missing/,
    );
    expect((await dataFailure(() => predictTable(bundle, shards, { out, keep: ['row_id'] }))).message).toMatch(
      /--keep "row_id" is not a column/,
    );
    expect((await dataFailure(() => predictTable(bundle, shards, { out: join(dir, 'x.txt') }))).message).toMatch(
      /must end in .csv or .parquet/,
    );
    expect((await dataFailure(() => predictTable(bundle, shards, { out, keep: [RAW_LABELS[0]] }))).message).toMatch(/name of a task score/);
    expect((await dataFailure(() => predictTable(bundle, shards, { out, keep: 'age' as never }))).message).toMatch(
      /keep must be a list of column names/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('a bad cell midway leaves no output and no temporary file', async () => {
    const bad = join(dir, 'bad');
    const text = withoutLabels(raw, 2000, 2400).split('\n');
    const ageAt = text[0].split(',').indexOf('age');
    const cells = text[300].split(',');
    cells[ageAt] = 'old';
    text[300] = cells.join(',');
    writeIn(bad, 'x.csv', text.join('\n'));
    const out = join(bad, 'preds.csv');
    const err = await dataFailure(() => predictTable(bundle, join(bad, 'x.csv'), { out, engine: 'light', blockRows: 64 }));
    expect(err.message).toMatch(/x.csv line 301.*age/);
    expect(readdirSync(bad)).toEqual(['x.csv']);
  });

  it('a bundle without preprocessing reads ids and numbers as they are, and refuses an id out of range', async () => {
    const model = new SharedBottom({
      features: [new SparseFeature({ name: 'user', vocabSize: 5, embedDim: 2 }), new DenseFeature('price')],
      taskTypes: ['classification', 'regression'],
      taskNames: ['click', 'spend'],
      bottomParams: { dims: [4] },
    });
    const plain = decodeModel(await encodeModel(model));
    const ok = writeIn(dir, 'ids.csv', 'user,price\n1,0.5\n4,-2\n0,3\n');
    const out = join(dir, 'ids-preds.csv');
    await predictTable(plain, ok, { out });
    const want = await plain.predict([
      { user: 1, price: 0.5 },
      { user: 4, price: -2 },
      { user: 0, price: 3 },
    ]);
    const lines = await readCsvLines(out);
    expect(lines[0]).toEqual(['click', 'spend']);
    lines.slice(1).forEach((l, r) => expect(Math.fround(Number(l[1]))).toBe(want.spend[r]));
    // An id past int32 as read from the file is refused, not wrapped to another id (4294967297 would be 1).
    const wide = writeIn(dir, 'ids-wide.csv', 'user,price\n4294967297,0.5\n');
    expect((await dataFailure(() => predictTable(plain, wide, { out: join(dir, 'ids-wide-out.csv') }))).message).toMatch(
      /"user": id 4294967297 at row 0 is outside \[0, 5\)/,
    );
    const bad = writeIn(dir, 'ids-bad.csv', 'user,price\n1,0.5\n7,1\n');
    expect((await dataFailure(() => predictTable(plain, bad, { out: join(dir, 'ids-bad.csv.out.csv') }))).message).toMatch(
      /"user": id 7 at row 1 is outside \[0, 5\)/,
    );
  });
});
