// The fitted preprocessing: vocabularies (count order, ties, minCount, missing, unseen, the lookup
// table and the Map), label checks with their places, dense scaling, sequences, raw JS rows, the
// saved state, streaming fits, and the speed of transform.
import { describe, expect, it } from 'vitest';
import { SequenceColumn } from '../src/data/columns.js';
import { Preprocessor, PreprocessorFitter, type PreprocessorState } from '../src/data/preprocessor.js';
import type { RawBlock, RawColumn } from '../src/data/raw.js';
import type { SchemaColumn, TableSchema } from '../src/data/schema.js';
import { dataError } from './helpers/tables.js';

const ints = (xs: readonly (number | null)[]): RawColumn => ({
  type: 'int',
  values: Float64Array.from(xs, (x) => x ?? 0),
  missing: Uint8Array.from(xs, (x) => (x === null ? 1 : 0)),
});
const floats = (xs: readonly (number | null)[]): RawColumn => ({ type: 'float', values: Float64Array.from(xs, (x) => x ?? Number.NaN) });
const strings = (xs: readonly (string | null)[]): RawColumn => ({ type: 'string', values: [...xs] });
const block = (columns: Record<string, RawColumn>, file = 'train.csv', firstRow = 0): RawBlock => ({
  rows: Object.values(columns)[0].values.length,
  columns,
  source: { file, firstRow },
});
const schemaOf = (...columns: SchemaColumn[]): TableSchema => ({ format: 'webmtl-schema', version: 1, columns });
const label = (name = 'click', task?: 'classification' | 'regression'): SchemaColumn => ({
  name,
  role: 'label',
  type: 'int',
  ...(task && { task }),
});
const zeros = (n: number) => ints(new Array(n).fill(0));
const ids = (p: Preprocessor, b: RawBlock, name: string): number[] => [...(p.transform(b).columns[name] as Int32Array)];
const denseOf = (p: Preprocessor, b: RawBlock, name: string): number[] => [...(p.transform(b).columns[name] as Float32Array)];

describe('vocabularies', () => {
  const schema = schemaOf(label(), { name: 'item', role: 'sparse', type: 'int' }, { name: 'city', role: 'sparse', type: 'string' });
  const train = block({
    click: zeros(9),
    item: ints([10, 2, 10, 2, 7, 100, -3, 100, 100]),
    city: strings(['b', 'a', 'c', 'a', 'b', 'd', 'a', 'B', 'b']),
  });

  it('gives ids 1..V by descending count, ties by value: numbers numerically, texts by code units', () => {
    const p = Preprocessor.fit(schema, [train]);
    // item counts 100:3, 2:2, 10:2, -3:1, 7:1 (numerically 2 < 10 and -3 < 7, unlike their texts)
    expect(ids(p, train, 'item')).toEqual([3, 2, 3, 2, 5, 1, 4, 1, 1]);
    // city counts a:3, b:3, B:1, c:1, d:1 ('B' is code unit 66, before 'a' at 97)
    expect(ids(p, train, 'city')).toEqual([2, 1, 4, 1, 2, 5, 1, 3, 2]);
    expect(p.toJSON().columns).toEqual([
      { name: 'item', role: 'sparse', vocabulary: [100, 2, 10, -3, 7] },
      { name: 'city', role: 'sparse', vocabulary: ['a', 'b', 'B', 'c', 'd'] },
    ]);
    expect(p.vocabSizes).toEqual({ item: 6, city: 6 });
    expect(p.sparseColumns).toEqual(['item', 'city']);
  });

  it('maps values seen fewer than minCount times, and unseen values, to 0', () => {
    const rare = schemaOf(
      label(),
      { name: 'item', role: 'sparse', type: 'int', minCount: 2 },
      { name: 'city', role: 'sparse', type: 'string', minCount: 3 },
    );
    const p = Preprocessor.fit(rare, [train]);
    expect(ids(p, train, 'item')).toEqual([3, 2, 3, 2, 0, 1, 0, 1, 1]);
    expect(ids(p, train, 'city')).toEqual([2, 1, 0, 1, 2, 0, 1, 0, 2]);
    expect(p.vocabSizes).toEqual({ item: 4, city: 3 });
    const unseen = block({ click: zeros(3), item: ints([11, 10, -100]), city: strings(['z', 'A', 'b']) }, 'val.csv');
    expect(ids(p, unseen, 'item')).toEqual([0, 3, 0]);
    expect(ids(p, unseen, 'city')).toEqual([0, 0, 2]);
  });

  it('counts "missing" as a category of its own, after values of equal count; id 0 when training had none', () => {
    const s = schemaOf(label(), { name: 'shop', role: 'sparse', type: 'int' }, { name: 'color', role: 'sparse', type: 'string' });
    const p = Preprocessor.fit(s, [
      block({ click: zeros(5), shop: ints([5, null, null, 5, 5]), color: strings(['red', null, '', 'red', 'blue']) }),
    ]);
    // shop: 5:3, missing:2; color: red:2 and missing:2 (null and '' alike) tie → missing after red, blue:1
    expect(p.toJSON().columns).toEqual([
      { name: 'shop', role: 'sparse', vocabulary: [5, null] },
      { name: 'color', role: 'sparse', vocabulary: ['red', null, 'blue'] },
    ]);
    const val = block({ click: zeros(3), shop: ints([null, 6, 5]), color: strings(['', null, 'blue']) });
    expect(ids(p, val, 'shop')).toEqual([2, 0, 1]);
    expect(ids(p, val, 'color')).toEqual([2, 2, 3]);
    const noMissing = Preprocessor.fit(s, [block({ click: zeros(2), shop: ints([5, 6]), color: strings(['red', 'red']) })]);
    expect(ids(noMissing, val, 'shop')).toEqual([0, 2, 1]);
    expect(ids(noMissing, val, 'color')).toEqual([0, 0, 0]);
    // Only "missing" in training: it is the one category, of either type.
    const onlyMissing = Preprocessor.fit(s, [block({ click: zeros(2), shop: ints([null, null]), color: strings([null, '']) })]);
    expect(onlyMissing.toJSON().columns).toEqual([
      { name: 'shop', role: 'sparse', vocabulary: [null] },
      { name: 'color', role: 'sparse', vocabulary: [null] },
    ]);
    expect(ids(onlyMissing, val, 'shop')).toEqual([1, 0, 0]);
    expect(ids(onlyMissing, val, 'color')).toEqual([1, 1, 0]);
  });

  it('gives the same ids through the lookup table (compact range) and the Map (a range of 1e12)', () => {
    const s = schemaOf(label(), { name: 'compact', role: 'sparse', type: 'int' }, { name: 'huge', role: 'sparse', type: 'int' });
    // compact: 2:3, 3:2, 1:1 → 2→1, 3→2, 1→3; huge: 7:3, 1e12:2, 1:1 → 7→1, 1e12→2, 1→3.
    const p = Preprocessor.fit(s, [block({ click: zeros(6), compact: ints([1, 3, 2, 3, 2, 2]), huge: ints([1, 1e12, 7, 1e12, 7, 7]) })]);
    const probe = block({
      click: zeros(7),
      compact: ints([1, 2, 3, 4, -5, 1e12, null]),
      huge: ints([1, 7, 1e12, 4, -5, 1e12 + 1, null]),
    });
    expect(ids(p, probe, 'compact')).toEqual([3, 1, 2, 0, 0, 0, 0]);
    expect(ids(p, probe, 'huge')).toEqual([3, 1, 2, 0, 0, 0, 0]);
    // Int32Array cells (what a 32-bit integer column holds) give the same ids as Float64Array cells.
    const int32 = block({
      click: zeros(5),
      compact: { type: 'int', values: Int32Array.from([1, 2, 3, 4, -5]) },
      huge: ints([0, 0, 0, 0, 0]),
    });
    expect(ids(p, int32, 'compact')).toEqual([3, 1, 2, 0, 0]);
  });

  it('counts alike across blocks whose ranges widen: the direct array, its move to the hash table, block histograms', () => {
    const s = schemaOf(label(), { name: 'id', role: 'sparse', type: 'int' });
    const fitter = new PreprocessorFitter(s);
    const blocks = [
      [5, 6, 5, null], // counted directly, range [5, 6]
      [2, 5, 2, 4], // range widens to [2, 6]
      [5, 3e9, 3e9, 2], // a jump of 3e9: the counts move to the hash table
      [1e12 + 2, 1e12, 1e12 + 2, 1e12 + 2, 3e9], // a wide block range: counted cell by cell
      [1e12, 1e12 + 1, 1e12 + 1, 1e12], // compact within the block: a histogram merged into the table
    ];
    let firstRow = 0;
    for (const values of blocks) {
      fitter.update(block({ click: zeros(values.length), id: ints(values) }, 'train.csv', firstRow));
      firstRow += values.length;
    }
    // counts: 5:4, 1e12:3, 1e12+2:3, 3e9:3, 2:3, 1e12+1:2, 6:1, 4:1, missing:1
    expect(fitter.finish().toJSON().columns[0]).toEqual({
      name: 'id',
      role: 'sparse',
      vocabulary: [5, 2, 3e9, 1e12, 1e12 + 2, 1e12 + 1, 4, 6, null],
    });
  });

  it('keeps ids up to 2^53 exact', () => {
    const s = schemaOf(label(), { name: 'hash', role: 'sparse', type: 'int' });
    const big = 2 ** 53 - 1;
    const p = Preprocessor.fit(s, [block({ click: zeros(4), hash: ints([big, big - 1, big, -big]) })]);
    expect(p.toJSON().columns[0]).toEqual({ name: 'hash', role: 'sparse', vocabulary: [big, -big, big - 1] });
    expect(ids(p, block({ click: zeros(3), hash: ints([big - 1, -big, big - 2]) }), 'hash')).toEqual([3, 2, 0]);
  });
});

describe('labels', () => {
  const s = schemaOf(label('click'), { name: 'purchase', role: 'label', type: 'float' }, { name: 'x', role: 'dense', type: 'float' });

  it('fills a row-major [rows, tasks] matrix in schema order', () => {
    const b = block({ click: ints([0, 1, 1]), purchase: floats([0, 0, 1]), x: floats([1, 2, 3]) });
    const d = Preprocessor.fit(s, [b]).transform(b);
    expect([...d.labels]).toEqual([0, 0, 1, 0, 1, 1]);
    expect(d.labelNames).toEqual(['click', 'purchase']);
  });

  it('rejects a classification label outside 0/1, naming the file, line, column and value, when fitting and transforming', () => {
    const bad = block({ click: ints([0, 1, 0, 2]), purchase: floats([0, 0, 0, 0]), x: floats([1, 2, 3, 4]) }, 'train.csv', 100);
    const e = dataError(() => Preprocessor.fit(s, [bad]));
    expect(e.message).toContain('train.csv line 105 (data row 104): the label "click" is 2, but a classification label must be 0 or 1');
    expect(e.message).toContain('set "task": "regression" for "click"');
    expect([e.column, e.row, e.value]).toEqual(['click', 103, 2]);
    const p = Preprocessor.fit(s, [block({ click: ints([0, 1]), purchase: floats([0, 1]), x: floats([1, 2]) })]);
    const parquet = block({ click: ints([0, 1]), purchase: floats([0, 0.5]), x: floats([1, 2]) }, 'part-3.parquet', 10);
    expect(dataError(() => p.transform(parquet)).message).toContain('part-3.parquet row 12: the label "purchase" is 0.5');
  });

  it('rejects a missing label (empty int cell or NaN) with the place and the fix', () => {
    const missingInt = block({ click: ints([0, null]), purchase: floats([0, 0]), x: floats([1, 2]) }, 'val.csv', 7);
    const e = dataError(() => Preprocessor.fit(s, [missingInt]));
    expect(e.message).toContain('val.csv line 10 (data row 9): the label "click" is empty (missing)');
    expect(e.message).toContain('Fix: fill in the label in the file, or drop the row');
    const missingFloat = block({ click: ints([0, 1]), purchase: floats([Number.NaN, 0]), x: floats([1, 2]) });
    expect(dataError(() => Preprocessor.fit(s, [missingFloat])).message).toContain('line 2 (data row 1): the label "purchase" is empty');
  });

  it('takes any finite number for a regression label, not Infinity', () => {
    const r = schemaOf({ name: 'spend', role: 'label', type: 'float', task: 'regression' }, { name: 'x', role: 'dense', type: 'float' });
    const b = block({ spend: floats([0.5, 3, -2]), x: floats([1, 2, 3]) });
    const p = Preprocessor.fit(r, [b]);
    expect([...p.transform(b).labels]).toEqual([0.5, 3, -2]);
    expect(p.taskTypes).toEqual(['regression']);
    const inf = block({ spend: floats([1, Number.POSITIVE_INFINITY]), x: floats([1, 2]) });
    expect(dataError(() => p.transform(inf)).message).toContain('line 3 (data row 2): the regression label "spend" is Infinity');
  });
});

describe('dense scaling', () => {
  const fitDense = (scale: 'standard' | 'minmax' | 'none', values: (number | null)[]) =>
    Preprocessor.fit(schemaOf(label(), { name: 'age', role: 'dense', type: 'int', scale }), [
      block({ click: zeros(values.length), age: ints(values) }),
    ]);
  const probe = (values: (number | null)[]) => block({ click: zeros(values.length), age: ints(values) });

  it('standard: (x − mean) / std with the population std; missing → the mean → 0', () => {
    // 1..4: mean 2.5, std √(5/4) = 1.118034
    const p = fitDense('standard', [1, 2, 3, 4, null]);
    const got = denseOf(p, probe([1, 2, 3, 4, null, 10]), 'age');
    const want = [-1.341641, -0.447214, 0.447214, 1.341641, 0, 6.708204];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(p.toJSON().columns[0]).toMatchObject({ count: 4, mean: 2.5, min: 1, max: 4 });
    expect((p.toJSON().columns[0] as { std: number }).std).toBeCloseTo(Math.sqrt(1.25), 12);
  });

  it('minmax: (x − min) / (max − min), not clipped; missing → the scaled mean', () => {
    const got = denseOf(fitDense('minmax', [1, 2, 3, 4, null]), probe([1, 2, 3, 4, null, 7, -2]), 'age');
    const want = [0, 1 / 3, 2 / 3, 1, 0.5, 2, -1];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
  });

  it("none: x as it is; missing → the mean; a constant column → 0 with 'standard' and 'minmax'", () => {
    expect(denseOf(fitDense('none', [1, 2, 3, 4, null]), probe([1, 4, null, -7]), 'age')).toEqual([1, 4, 2.5, -7]);
    expect(denseOf(fitDense('standard', [5, 5, 5]), probe([5, 6, null]), 'age')).toEqual([0, 1, 0]);
    expect(denseOf(fitDense('minmax', [5, 5, 5]), probe([5, 6, null]), 'age')).toEqual([0, 0, 0]);
  });

  it('reads float columns with NaN as missing, and rejects Infinity and an all-missing training column', () => {
    const s = schemaOf(label(), { name: 'price', role: 'dense', type: 'float' });
    const p = Preprocessor.fit(s, [block({ click: zeros(3), price: floats([2, null, 6]) })]);
    expect(denseOf(p, block({ click: zeros(3), price: floats([2, null, 6]) }), 'price')).toEqual([-1, 0, 1]);
    const e = dataError(() => p.transform(block({ click: zeros(2), price: floats([1, Number.NEGATIVE_INFINITY]) }, 'test.csv')));
    expect(e.message).toContain('test.csv line 3 (data row 2): the dense column "price" holds -Infinity');
    expect(dataError(() => Preprocessor.fit(s, [block({ click: zeros(2), price: floats([null, null]) })])).message).toContain(
      'The dense column "price" is empty on every one of the 2 training rows',
    );
  });
});

describe('sequences', () => {
  const seq = (extra: Partial<SchemaColumn> = {}) => schemaOf(label(), { name: 'hist', role: 'sequence', type: 'string', ...extra });
  const cells = ['a|b|c', 'b', '', null, 'c|b|a|b', ' b | a ||'];
  const train = block({ click: zeros(cells.length), hist: strings(cells) });
  const rowsOf = (p: Preprocessor, b: RawBlock) => {
    const col = p.transform(b).columns.hist as SequenceColumn;
    return Array.from({ length: col.length }, (_, i) => [...col.row(i)]);
  };

  it('gives tokens a vocabulary by count, pads with 0 in front to the longest training sequence', () => {
    // b:5, a:3, c:2 → b1 a2 c3; longest 4 (tokens are trimmed, empty ones dropped)
    const p = Preprocessor.fit(seq(), [train]);
    expect(p.transform(train).columns.hist).toBeInstanceOf(SequenceColumn);
    expect(rowsOf(p, train)).toEqual([
      [0, 2, 1, 3],
      [0, 0, 0, 1],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [3, 1, 2, 1],
      [0, 0, 1, 2],
    ]);
    expect(p.sequenceLength('hist')).toBe(4);
    expect(p.vocabSizes).toEqual({ hist: 4 });
    expect(p.sequenceColumns).toEqual(['hist']);
    expect(dataError(() => p.sequenceLength('click')).message).toContain('"click" is not a sequence column');
  });

  it('cuts long sequences at the front (keeps the last maxLength tokens); unseen and rare tokens → 0', () => {
    const p = Preprocessor.fit(seq({ maxLength: 2, minCount: 3 }), [train]);
    expect(rowsOf(p, train)).toEqual([
      [1, 0],
      [0, 1],
      [0, 0],
      [0, 0],
      [2, 1],
      [1, 2],
    ]);
    expect(rowsOf(p, block({ click: zeros(1), hist: strings(['z|a']) }))).toEqual([[0, 2]]);
  });

  it('splits at the schema separator', () => {
    const p = Preprocessor.fit(seq({ separator: ';' }), [block({ click: zeros(2), hist: strings(['x;y', 'y;a|b']) })]);
    // y:2, a|b:1, x:1 ('a' < 'x')
    expect(rowsOf(p, block({ click: zeros(1), hist: strings(['a|b;y']) }))).toEqual([[2, 1]]);
  });
});

describe('transformRows', () => {
  const s = schemaOf(
    label('click'),
    { name: 'item', role: 'sparse', type: 'int' },
    { name: 'city', role: 'sparse', type: 'string' },
    { name: 'age', role: 'dense', type: 'int' },
    { name: 'price', role: 'dense', type: 'float', scale: 'minmax' },
    { name: 'hist', role: 'sequence', type: 'string' },
    { name: 'note', role: 'ignore', type: 'string' },
  );
  const train = block({
    click: ints([0, 1, 1]),
    item: ints([7, 10, 10]),
    city: strings(['7', 'x', 'x']),
    age: ints([20, 30, 40]),
    price: floats([1, 3, 5]),
    hist: strings(['a|b', 'b', null]),
    note: strings(['n', 'n', 'n']),
  });
  const p = Preprocessor.fit(s, [train]);

  it('maps raw JS values exactly as transform maps the same cells of a file', () => {
    const rows = [
      { click: 1, item: '7', city: 7, age: '30', price: 2, hist: 'b|a' },
      { item: 10, city: 'x', age: null, price: '', hist: null },
      { click: '0', item: 12345678901, city: null, age: 40, price: '5', hist: ['a', 'zz'] },
    ];
    const fromRows = p.transformRows(rows);
    const fromBlock = p.transform(
      block({
        click: ints([1, 0, 0]),
        item: ints([7, 10, 12345678901]),
        city: strings(['7', 'x', null]),
        age: ints([30, null, 40]),
        price: floats([2, null, 5]),
        hist: strings(['b|a', null, 'a|zz']),
      }),
    );
    // item: 10→1, 7→2; city: x→1, '7'→2; hist: b→1, a→2
    expect([...(fromRows.columns.item as Int32Array)]).toEqual([2, 1, 0]);
    expect([...(fromRows.columns.city as Int32Array)]).toEqual([2, 1, 0]);
    expect(fromRows.columns).toEqual(fromBlock.columns);
    // An absent label is NaN: rows to predict on need none.
    expect([...fromRows.labels]).toEqual([1, Number.NaN, 0]);
  });

  it('rejects a fraction for an int column, text for a number, and a missing feature key, naming the row and column', () => {
    const row = { click: 1, item: 7, city: 'x', age: 30, price: 2, hist: 'a' };
    const e = dataError(() => p.transformRows([row, { ...row, item: '7.5' }]));
    expect(e.message).toContain('row 1 of the rows given, column "item": "7.5" is not a whole number');
    expect([e.column, e.row, e.value]).toEqual(['item', 1, '7.5']);
    expect(dataError(() => p.transformRows([{ ...row, item: 7.5 }])).message).toContain('7.5 is not a whole number');
    expect(dataError(() => p.transformRows([{ ...row, price: 'cheap' }])).message).toContain('column "price": "cheap" is not a number');
    expect(dataError(() => p.transformRows([{ ...row, city: { a: 1 } }])).message).toContain('an object is not a text or a number');
    const { price: _, ...noPrice } = row;
    expect(dataError(() => p.transformRows([noPrice])).message).toContain('row 0 of the rows given has no "price", a dense column');
    expect(dataError(() => p.transformRows([{ ...row, click: 2 }])).message).toContain('row 0 of the rows given: the label "click" is 2');
  });
});

describe('saved state and streaming fit', () => {
  const schema = schemaOf(
    label('click'),
    { name: 'spend', role: 'label', type: 'float', task: 'regression' },
    { name: 'user', role: 'sparse', type: 'int', minCount: 2 },
    { name: 'city', role: 'sparse', type: 'string' },
    { name: 'age', role: 'dense', type: 'int' },
    { name: 'price', role: 'dense', type: 'float', scale: 'minmax' },
    { name: 'hist', role: 'sequence', type: 'string' },
  );
  /** Deterministic rows: a small LCG, so the blocks are the same on every run. */
  function table(n: number, firstRow: number): RawBlock {
    let state = 12345 + firstRow;
    const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const col = <T>(f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
    return block(
      {
        click: ints(col(() => (next() < 0.3 ? 1 : 0))),
        spend: floats(col(() => Math.round(next() * 1000) / 10)),
        user: ints(col(() => (next() < 0.05 ? null : Math.floor(next() * 50) * 1000))),
        city: strings(col(() => (next() < 0.1 ? null : `c${Math.floor(next() * 20)}`))),
        age: ints(col(() => (next() < 0.1 ? null : 18 + Math.floor(next() * 60)))),
        price: floats(col(() => (next() < 0.1 ? null : next() * 1e6))),
        hist: strings(
          col(() =>
            col(() => `t${Math.floor(next() * 30)}`)
              .slice(0, Math.floor(next() * 6))
              .join('|'),
          ),
        ),
      },
      'train.csv',
      firstRow,
    );
  }
  const whole = table(1000, 0);
  const slice = (b: RawBlock, start: number, end: number): RawBlock => {
    const columns: Record<string, RawColumn> = {};
    for (const [name, c] of Object.entries(b.columns)) {
      if (c.type === 'int') columns[name] = { type: 'int', values: c.values.slice(start, end), missing: c.missing?.slice(start, end) };
      else if (c.type === 'float') columns[name] = { type: 'float', values: c.values.slice(start, end) };
      else columns[name] = { type: 'string', values: c.values.slice(start, end) };
    }
    return { rows: end - start, columns, source: { file: b.source.file, firstRow: start } };
  };

  it('fitting block by block gives what fitting the concatenated block gives', () => {
    const once = Preprocessor.fit(schema, [whole]).toJSON();
    const fitter = new PreprocessorFitter(schema);
    for (const [a, b] of [
      [0, 1],
      [1, 300],
      [300, 650],
      [650, 1000],
    ]) {
      fitter.update(slice(whole, a, b));
    }
    const streamed = fitter.finish().toJSON();
    expect(streamed.rows).toBe(1000);
    streamed.columns.forEach((c, k) => {
      const w = once.columns[k];
      if (c.role !== 'dense' || w.role !== 'dense') return expect(c).toEqual(w);
      expect(c.count).toBe(w.count);
      for (const key of ['mean', 'std', 'min', 'max'] as const) expect(c[key]).toBeCloseTo(w[key], 6);
    });
    // Rare users (minCount 2) are gone from the vocabulary, the others kept.
    const user = once.columns[0] as { vocabulary: unknown[] };
    expect(user.vocabulary.length).toBeGreaterThan(40);
  });

  it('toJSON / fromJSON is an exact round trip through JSON text', () => {
    const p = Preprocessor.fit(schema, [whole]);
    const text = JSON.stringify(p.toJSON());
    const q = Preprocessor.fromJSON(JSON.parse(text));
    expect(q.toJSON()).toEqual(p.toJSON());
    expect(JSON.stringify(q.toJSON())).toBe(text);
    expect(Preprocessor.fromJSON(text).toJSON()).toEqual(p.toJSON());
    const val = table(200, 5000);
    expect(q.transform(val)).toEqual(p.transform(val));
    expect([q.labelNames, q.taskTypes, q.vocabSizes, q.denseColumns]).toEqual([p.labelNames, p.taskTypes, p.vocabSizes, p.denseColumns]);
    expect(p.taskTypes).toEqual(['classification', 'regression']);
    expect(p.fittedRows).toBe(1000);
  });

  it('fromJSON checks every field of a saved state', () => {
    const state = () =>
      JSON.parse(JSON.stringify(Preprocessor.fit(schema, [whole]).toJSON())) as PreprocessorState & Record<string, unknown>;
    const cases: [(s: PreprocessorState & Record<string, unknown>) => void, string][] = [
      [(s) => (s.format = 'webmtl-schema' as never), 'format is "webmtl-schema"'],
      [(s) => (s.extra = 1), 'has unknown key "extra"'],
      [(s) => s.columns.pop(), 'is not a list of 5 column states'],
      [
        (s) => ((s.columns[0] as { vocabulary: unknown[] }).vocabulary[3] = (s.columns[0] as { vocabulary: unknown[] }).vocabulary[2]),
        'columns[0].vocabulary holds',
      ],
      [
        (s) => ((s.columns[0] as { vocabulary: unknown[] }).vocabulary[0] = 1.5),
        'columns[0].vocabulary[0] is 1.5, not a whole number or null',
      ],
      [(s) => ((s.columns[2] as { mean: unknown }).mean = 'x'), 'columns[2].mean is "x", not a finite number'],
      [(s) => ((s.columns[3] as { max: number }).max = -1), 'columns[3].max is -1'],
      [(s) => ((s.columns[4] as { maxLength: number }).maxLength = 0), 'columns[4].maxLength is 0'],
      [
        (s) => ([s.columns[0], s.columns[1]] = [s.columns[1], s.columns[0]]),
        'columns[0] is for "city" (role "sparse"), but its schema\'s column there is "user" (role "sparse")',
      ],
      [(s) => (s.schema.columns[2].role = 'sparce' as never), "(did you mean 'sparse'?)"],
    ];
    for (const [edit, expected] of cases) {
      const s = state();
      edit(s);
      expect(dataError(() => Preprocessor.fromJSON(s)).message).toContain(expected);
    }
  });

  it("reports a column missing from a block, or stored as another type than the schema's", () => {
    const p = Preprocessor.fit(schema, [whole]);
    const { price: _, ...columns } = whole.columns;
    const e = dataError(() => p.transform({ ...whole, columns }));
    expect(e.message).toContain('Column "price" of the schema is missing from train.csv');
    const retyped = { ...whole, columns: { ...whole.columns, age: floats([1]) } };
    expect(dataError(() => p.transform(retyped)).message).toContain(
      'Column "age" of train.csv came as float values, but the schema stores it as "int"',
    );
    expect(dataError(() => new PreprocessorFitter(schema).finish()).message).toContain('fitted on no rows');
  });
});

describe('speed', () => {
  it('transforms 200k rows × 23 int sparse + 8 float dense columns (time printed, not asserted)', () => {
    const rows = 200_000;
    const names = Array.from({ length: 23 }, (_, k) => `s${k}`);
    const dense = Array.from({ length: 8 }, (_, k) => `d${k}`);
    const schema = schemaOf(
      label('click'),
      label('purchase'),
      ...names.map((name): SchemaColumn => ({ name, role: 'sparse', type: 'int' })),
      ...dense.map((name): SchemaColumn => ({ name, role: 'dense', type: 'float' })),
    );
    let seed = 7;
    const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const columns: Record<string, RawColumn> = {
      click: { type: 'int', values: Int32Array.from({ length: rows }, () => (rand() < 0.1 ? 1 : 0)) },
      purchase: { type: 'int', values: new Int32Array(rows) },
    };
    names.forEach((name, k) => {
      // Most columns compact (lookup table), every fourth one hashed ids over 1e12 (Map), half of them as BIGINT cells.
      const vocab = 10 + k * 4000;
      const values =
        k % 4 === 3
          ? Float64Array.from({ length: rows }, () => Math.floor(rand() * vocab) * 1e9)
          : Float64Array.from({ length: rows }, () => Math.floor(rand() * vocab));
      columns[name] = { type: 'int', values: k % 2 === 0 ? Int32Array.from(values) : values };
      if (k % 4 === 3) columns[name] = { type: 'int', values };
    });
    for (const name of dense) columns[name] = { type: 'float', values: Float32Array.from({ length: rows }, () => rand() * 100) };
    const b: RawBlock = { rows, columns, source: { file: 'bench.csv', firstRow: 0 } };
    const t0 = performance.now();
    const p = Preprocessor.fit(schema, [b]);
    const fitMs = performance.now() - t0;
    let best = Number.POSITIVE_INFINITY;
    let out = p.transform(b);
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      out = p.transform(b);
      best = Math.min(best, performance.now() - t);
    }
    console.log(`preprocessor: fit ${fitMs.toFixed(0)} ms, transform ${best.toFixed(1)} ms for ${rows} rows × 23 sparse + 8 dense`);
    expect(out.length).toBe(rows);
    // Every id lies in its vocabulary; the mapping is one-to-one on the training values.
    for (const name of names) {
      const col = out.columns[name] as Int32Array;
      const size = p.vocabSizes[name];
      for (let i = 0; i < rows; i++) if (col[i] < 1 || col[i] >= size) throw new Error(`${name}[${i}] = ${col[i]} outside 1..${size - 1}`);
    }
  });
});
