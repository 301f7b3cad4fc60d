// CSV reading/writing, the shipped datasets, and preprocessing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  aliCcpFromCsvText,
  aliCcpSchema,
  type Column,
  ColumnarDataset,
  DataError,
  encodeCategoricalColumns,
  formatFloat32,
  generateAliCcp,
  LabelEncoder,
  loadAliCcp,
  loadAliExpress,
  loadCensusIncome,
  MinMaxScaler,
  packageDataDir,
  parseCsv,
  readCsv,
  readCsvFile,
  SequenceColumn,
  StandardScaler,
  scaleColumns,
  UNKNOWN_ID,
  writeAliCcpCsv,
} from '../src/data/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'webmtl-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Index of the first differing element (or length mismatch → -2), -1 when equal. Fast on big arrays. */
function firstDifference(a: ArrayLike<number> | Column, b: ArrayLike<number> | Column): number {
  a = a instanceof SequenceColumn ? a.values : a;
  b = b instanceof SequenceColumn ? b.values : b;
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Runs fn and returns the DataError it throws (fails the test if it throws nothing or something else). */
function errorOf(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError, got none');
}

async function asyncErrorOf(fn: () => Promise<unknown>): Promise<DataError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError, got none');
}

describe('Ali-CCP sample', () => {
  it('loads 100/50/50 rows with the tutorial column roles', async () => {
    const data = await loadAliCcp();
    expect([data.train.length, data.val.length, data.test.length]).toEqual([100, 50, 50]);
    expect(data.labelColumns).toEqual(['click', 'purchase']);
    expect(data.denseColumns).toEqual([...aliCcpSchema.denseColumns]);
    expect(data.sparseColumns).toEqual([...aliCcpSchema.sparseColumns]);
    expect(data.sparseColumns).toHaveLength(23);
    for (const name of data.sparseColumns) expect(data.train.columns[name]).toBeInstanceOf(Int32Array);
    for (const name of data.denseColumns) expect(data.train.columns[name]).toBeInstanceOf(Float32Array);
    expect(data.train.labels).toHaveLength(200);
    expect(data.train.featureNames).toHaveLength(31);
  });

  it('holds the values of the file', async () => {
    const data = await loadAliCcp();
    // train row 0: 0,0,1,1,1,1,1,0,1,1,1,0,1,1,1,0,1,0,0,0,1,1,1,1,1,0.4734,0.562,0.0856,0.1902,0.07556,0.0,0.0,0.0
    expect((data.train.columns.D109_14 as Float32Array | Int32Array)[0]).toBe(Math.fround(0.4734));
    expect((data.train.columns.D508 as Float32Array | Int32Array)[0]).toBe(Math.fround(0.07556));
    expect((data.train.columns['126'] as Float32Array | Int32Array)[0]).toBe(0);
    // train row 1: …,205 = 1, 206 = 2, 207 = 2, …
    expect((data.train.columns['205'] as Float32Array | Int32Array)[1]).toBe(1);
    expect((data.train.columns['206'] as Float32Array | Int32Array)[1]).toBe(2);
    // val row 0 has 206 = 27, 207 = 56
    expect((data.val.columns['206'] as Float32Array | Int32Array)[0]).toBe(27);
    expect((data.val.columns['207'] as Float32Array | Int32Array)[0]).toBe(56);
    // purchase implies click in the sample
    for (const ds of [data.train, data.val, data.test]) {
      for (let i = 0; i < ds.length; i++) if (ds.labels[2 * i + 1] === 1) expect(ds.labels[2 * i]).toBe(1);
    }
  });

  it('takes vocab sizes as max over train+val+test + 1', async () => {
    const data = await loadAliCcp();
    expect(data.vocabSizes['205']).toBe(120); // the val split holds the largest 205 id, 119
    expect(data.vocabSizes['126']).toBe(1); // always 0 in the sample
    expect(data.vocabSizes['101']).toBe(2);
    for (const name of data.sparseColumns) {
      for (const ds of [data.train, data.val, data.test]) {
        for (const id of ds.columns[name] as Int32Array) expect(id).toBeLessThan(data.vocabSizes[name]);
      }
    }
  });

  it('loads the same from CSV text (the browser path)', async () => {
    const dir = await packageDataDir('ali-ccp');
    const text = (split: string) => readFileSync(join(dir, `ali_ccp_${split}_sample.csv`), 'utf8');
    const fromText = aliCcpFromCsvText({ train: text('train'), val: text('val'), test: text('test') });
    const fromFiles = await loadAliCcp();
    expect(fromText.vocabSizes).toEqual(fromFiles.vocabSizes);
    expect(fromText.test.columns.D702).toEqual(fromFiles.test.columns.D702);
    expect(fromText.val.labels).toEqual(fromFiles.val.labels);
  });

  it('finds the package data folder by walking up from the module', async () => {
    const dir = await packageDataDir('ali-ccp');
    expect(dir.endsWith(join('data', 'ali-ccp'))).toBe(true);
    await expect(packageDataDir('no-such-dataset')).rejects.toThrow(/data\/no-such-dataset/);
  });

  it('schema vocab sizes sum to 69,100 ids', () => {
    expect(aliCcpSchema.totalIds).toBe(69_100);
    expect(Object.keys(aliCcpSchema.vocabSizes).sort()).toEqual([...aliCcpSchema.sparseColumns].sort());
    expect(aliCcpSchema.header).toHaveLength(33);
  });
});

describe('other shipped samples', () => {
  it('Census-Income: 80/20/20 rows, 7 dense + 32 sparse, labels income / marital status', async () => {
    const data = await loadCensusIncome();
    expect([data.train.length, data.val.length, data.test.length]).toEqual([80, 20, 20]);
    expect(data.denseColumns).toHaveLength(7);
    expect(data.sparseColumns).toHaveLength(32);
    expect(data.labelColumns).toEqual(['income', 'marital status']);
    expect((data.train.columns.age as Float32Array | Int32Array)[0]).toBe(Math.fround(0.3333));
  });

  it('AliExpress: 100/20 rows, test doubles as validation, search_id dropped', async () => {
    const data = await loadAliExpress();
    expect([data.train.length, data.test.length]).toEqual([100, 20]);
    expect(data.val).toBe(data.test);
    expect(data.sparseColumns).toHaveLength(16);
    expect(data.denseColumns).toHaveLength(63);
    expect(data.train.featureNames).not.toContain('search_id');
    expect(data.labelColumns).toEqual(['conversion', 'click']);
  });
});

describe('readCsv', () => {
  const text = 'id,price,name,flag\n3,1.5,apple,1\n7,2,pear,0\n';

  it('reads typed columns from text with a spec and drops unlisted columns', () => {
    const t = parseCsv(text, { columns: { id: 'sparse', price: 'dense', name: 'categorical' } });
    expect(t.numRows).toBe(2);
    expect(t.header).toEqual(['id', 'price', 'name', 'flag']);
    expect(t.columns.id).toEqual(new Int32Array([3, 7]));
    expect(t.columns.price).toEqual(new Float32Array([1.5, 2]));
    expect(t.categorical.name).toEqual(['apple', 'pear']);
    expect(t.columns.flag).toBeUndefined();
  });

  it('infers types in auto mode, promoting int → float → string', () => {
    const t = parseCsv('a,b,c\n1,1,1\n2,2.5,x\n3,3,2\n');
    expect(t.columns.a).toBeInstanceOf(Int32Array);
    expect(t.columns.b).toEqual(new Float32Array([1, 2.5, 3]));
    expect(t.categorical.c).toEqual(['1', 'x', '2']);
  });

  it('dispatches a bare string on line breaks: text, else a path', async () => {
    const fromText = await readCsv(text, { columns: { id: 'sparse' } });
    expect(fromText.columns.id).toEqual(new Int32Array([3, 7]));
    const err = await asyncErrorOf(() => readCsv(join(tmp, 'missing.csv')));
    expect(err.message).toContain('missing.csv');
  });

  it('names the missing column and lists the available ones', () => {
    const err = errorOf(() => parseCsv(text, { columns: { idd: 'sparse' } }));
    expect(err.message).toContain('"idd"');
    expect(err.message).toContain('"id", "price", "name", "flag"');
    expect(err.column).toBe('idd');
  });

  it('rejects a non-number in a dense column with column, line, value and the fix', () => {
    const err = errorOf(() => parseCsv('x,y\n1,2\n3,oops\n', { columns: { y: 'dense' } }));
    expect(err.message).toContain('"y"');
    expect(err.message).toContain('"oops"');
    expect(err.message).toContain('line 3 (data row 2)');
    expect(err.message).toMatch(/fill/);
    expect(err.message).toMatch(/drop/);
    expect(err.row).toBe(1);
  });

  it('rejects NaN / empty dense cells unless fillNa is given', () => {
    const csv = 'x,y\n1,NaN\n3,\n5,4\n';
    const err = errorOf(() => parseCsv(csv, { columns: { y: 'dense' } }));
    expect(err.message).toContain('"NaN"');
    expect(err.value).toBe('NaN');
    const filled = parseCsv(csv, { columns: { y: 'dense' }, fillNa: { y: -1 } });
    expect(filled.columns.y).toEqual(new Float32Array([-1, -1, 4]));
  });

  it('rejects a non-integer in a pre-encoded sparse column', () => {
    const err = errorOf(() => parseCsv('cat\n4\n2.5\n', { columns: { cat: 'sparse' } }));
    expect(err.message).toContain('"cat"');
    expect(err.message).toContain('"2.5"');
    expect(err.message).toContain('categorical');
  });

  it('reports unbalanced quotes with the row', () => {
    const err = errorOf(() => parseCsv('a,b\n1,"2\n3,4\n'));
    expect(err.message).toContain('data row 1');
    expect(err.message).toContain('MissingQuotes');
  });

  it('rejects a row with the wrong number of fields', () => {
    const err = errorOf(() => parseCsv('a,b\n1,2\n3\n'));
    expect(err.message).toContain('line 3');
    expect(err.message).toContain('1 fields');
  });

  it('streams a 20k-row file in small chunks to exactly the in-memory result', async () => {
    const gen = generateAliCcp({ rows: 20_000, seed: 11, vocabScale: 0.2 });
    const path = join(tmp, 'ali20k.csv');
    await writeAliCcpCsv(gen.dataset, path);
    const streamed = await readCsvFile(path, { chunkSize: 1 << 14 });
    const inMemory = parseCsv(readFileSync(path, 'utf8'));
    expect(streamed.numRows).toBe(20_000);
    expect(streamed.header).toEqual([...aliCcpSchema.header]);
    for (const name of streamed.header) {
      expect(streamed.columns[name].constructor).toBe(inMemory.columns[name].constructor);
      expect(firstDifference(streamed.columns[name], inMemory.columns[name]), name).toBe(-1);
    }
    // …and both equal the generated arrays (floats survive the text round trip bit for bit).
    const ds = ColumnarDataset.fromColumns(streamed.columns, ['click', 'purchase'], gen.dataset.featureNames);
    for (const name of gen.dataset.featureNames) expect(firstDifference(ds.columns[name], gen.dataset.columns[name]), name).toBe(-1);
    expect(firstDifference(ds.labels, gen.dataset.labels)).toBe(-1);
  });

  it('rejects a bad value met while streaming a file, naming column, line and value', async () => {
    const path = join(tmp, 'bad.csv');
    const rows = Array.from({ length: 5000 }, (_, i) => `${i},${i === 4321 ? 'n/a' : i / 2}`);
    writeFileSync(path, ['id,score', ...rows].join('\n'));
    const err = await asyncErrorOf(() => readCsvFile(path, { columns: { id: 'sparse', score: 'dense' }, chunkSize: 4096 }));
    expect(err.message).toContain('"score"');
    expect(err.message).toContain('"n/a"');
    expect(err.message).toContain('line 4323 (data row 4322)');
    expect(err.message).toContain('bad.csv');
  });

  it('formats float32 values with the shortest text that reads back the same', () => {
    expect(formatFloat32(Math.fround(0.4734))).toBe('0.4734');
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(3)).toBe('3');
    expect(formatFloat32(Math.fround(123456.7))).toBe('123456.7');
    expect(formatFloat32(Math.fround(1e-7))).toBe('1e-7');
    const values = new Float32Array(2000).map((_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 13) - 6));
    for (const v of values) expect(Math.fround(Number(formatFloat32(v)))).toBe(v);
  });
});

describe('LabelEncoder', () => {
  it('reserves 0 for unseen values and numbers known ones 1..n in sorted order', () => {
    const enc = new LabelEncoder().fit(['b', 'a', 'c', 'a']);
    expect(enc.classes).toEqual(['a', 'b', 'c']);
    expect(enc.vocabSize).toBe(4);
    expect(enc.transform(['a', 'c', 'zzz', 'b'])).toEqual(new Int32Array([1, 3, UNKNOWN_ID, 2]));
    expect(enc.inverseTransform([2, 0], '?')).toEqual(['b', '?']);
  });

  it('sorts numbers numerically and treats 7 and "7" alike', () => {
    const enc = new LabelEncoder().fit([10, 9, 100]);
    expect(enc.classes).toEqual(['9', '10', '100']);
    expect(enc.transform(['10', 100, 5])).toEqual(new Int32Array([2, 3, 0]));
    expect(LabelEncoder.fromJSON(enc.toJSON()).transform([9])).toEqual(new Int32Array([1]));
  });

  it('encodes categorical CSV columns fitted on train, unseen in test → 0', () => {
    const train = parseCsv('city,y\nrome,1\nparis,0\nrome,0\n', { columns: { city: 'categorical', y: 'dense' } });
    const test = parseCsv('city,y\nparis,1\noslo,0\n', { columns: { city: 'categorical', y: 'dense' } });
    const { vocabSizes, encoders } = encodeCategoricalColumns(train, [test]);
    expect(vocabSizes.city).toBe(3);
    expect(train.columns.city).toEqual(new Int32Array([2, 1, 2]));
    expect(test.columns.city).toEqual(new Int32Array([1, 0]));
    expect(train.categorical.city).toBeUndefined();
    // the same encoder can encode while streaming
    const again = parseCsv('city\noslo\nrome\n', { columns: { city: 'categorical' }, encoders });
    expect(again.columns.city).toEqual(new Int32Array([0, 2]));
  });
});

describe('scalers', () => {
  it('MinMaxScaler maps the training range to [0, 1] and applies it to other data', () => {
    const s = new MinMaxScaler().fit([2, 4, 6]);
    expect(s.transform([2, 4, 6])).toEqual(new Float32Array([0, 0.5, 1]));
    expect(s.transform([8])).toEqual(new Float32Array([1.5]));
    expect(new MinMaxScaler({ clip: true }).fit([2, 6]).transform([8, 0])).toEqual(new Float32Array([1, 0]));
    expect(new MinMaxScaler().fit([3, 3]).transform([3])).toEqual(new Float32Array([0]));
    expect(s.inverseTransform(s.transform([5]))).toEqual(new Float32Array([5]));
  });

  it('StandardScaler centres and scales with training statistics', () => {
    const s = new StandardScaler().fit([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(1.25), 12);
    const z = s.transform([1, 2, 3, 4]);
    expect(z.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
    expect(z[3]).toBeCloseTo(1.5 / Math.sqrt(1.25), 6);
    expect(new StandardScaler().fit([5, 5]).transform([6])).toEqual(new Float32Array([1]));
  });

  it('scaleColumns fits on train and applies to the other tables', () => {
    const train = { a: new Float32Array([0, 10]), b: new Float32Array([1, 3]), id: new Int32Array([4, 5]) };
    const test = { a: new Float32Array([5, 20]), b: new Float32Array([2, 2]), id: new Int32Array([6, 7]) };
    const out = scaleColumns(train, [test], ['a', 'b']);
    expect(out.train.a).toEqual(new Float32Array([0, 1]));
    expect(out.others[0].a).toEqual(new Float32Array([0.5, 2]));
    expect(out.others[0].b).toEqual(new Float32Array([0.5, 0.5]));
    expect(out.others[0].id).toBe(test.id);
    expect(train.a).toEqual(new Float32Array([0, 10])); // inputs untouched
    const std = scaleColumns(train, [test], ['b'], () => new StandardScaler());
    expect(std.others[0].b).toEqual(new Float32Array([0, 0]));
    expect(() => scaleColumns(train, [test], ['zz'])).toThrow(/"zz"/);
  });

  it('refuses to fit on NaN, naming the row and value', () => {
    const err = errorOf(() => new StandardScaler().fit([1, NaN, 3]));
    expect(err.message).toContain('NaN');
    expect(err.message).toContain('row 1');
    expect(() => new MinMaxScaler().transform([1])).toThrow(/before fit/);
  });
});

describe('readCsv option errors', () => {
  it('columns given as an array (a common slip) says what shape is expected', async () => {
    const { readCsv } = await import('../src/data/csv.js');
    await expect(readCsv({ text: 'a,b\n1,2\n' }, { columns: ['a', 'b'] as never })).rejects.toThrow(
      /columns must map each column name to its kind.*got an array/,
    );
  });
});
