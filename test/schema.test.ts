// The table schema: parsing with JSON-path errors, the JSON text, column lists, and the proposal
// heuristics on census-like and Ali-CCP-like samples.
import { describe, expect, it } from 'vitest';
import type { RawBlock, RawColumn } from '../src/data/raw.js';
import {
  parseSchema,
  proposeSchema,
  type SchemaColumn,
  schemaColumns,
  schemaFromLists,
  schemaToJSON,
  type TableSchema,
} from '../src/data/schema.js';
import { dataError } from './helpers/tables.js';

const ints = (xs: readonly (number | null)[]): RawColumn => ({
  type: 'int',
  values: Float64Array.from(xs, (x) => x ?? 0),
  missing: Uint8Array.from(xs, (x) => (x === null ? 1 : 0)),
});
const floats = (xs: readonly (number | null)[]): RawColumn => ({ type: 'float', values: Float64Array.from(xs, (x) => x ?? Number.NaN) });
const strings = (xs: readonly (string | null)[]): RawColumn => ({ type: 'string', values: [...xs] });
const block = (columns: Record<string, RawColumn>, file = 'sample.csv'): RawBlock => ({
  rows: Object.values(columns)[0].values.length,
  columns,
  source: { file, firstRow: 0 },
});

const schemaOf = (columns: SchemaColumn[]): TableSchema => ({ format: 'webmtl-schema', version: 1, columns });
const valid = (): Record<string, unknown> => ({
  format: 'webmtl-schema',
  version: 1,
  columns: [
    { name: 'click', role: 'label', type: 'int' },
    { name: 'user_id', role: 'sparse', type: 'int', minCount: 2 },
    { name: 'age', role: 'dense', type: 'float', scale: 'minmax' },
    { name: 'items', role: 'sequence', type: 'string', separator: ';', maxLength: 5 },
  ],
});

describe('parseSchema', () => {
  it('reads a valid schema, from an object or its JSON text, keeping each column as given', () => {
    const s = parseSchema(valid());
    expect(s.columns).toEqual(valid().columns);
    expect(parseSchema(JSON.stringify(valid()))).toEqual(s);
  });

  it('schemaToJSON writes one column per line in a fixed key order, and parseSchema reads it back unchanged', () => {
    const s = parseSchema({
      format: 'webmtl-schema',
      version: 1,
      columns: [
        { type: 'int', role: 'label', name: 'click', task: 'classification' },
        { minCount: 3, name: 'city', type: 'string', role: 'sparse' },
      ],
    });
    const text = schemaToJSON(s);
    expect(text).toBe(
      '{\n  "format": "webmtl-schema",\n  "version": 1,\n  "columns": [\n' +
        '    { "name": "click", "role": "label", "type": "int", "task": "classification" },\n' +
        '    { "name": "city", "role": "sparse", "type": "string", "minCount": 3 }\n' +
        '  ]\n}\n',
    );
    expect(parseSchema(text)).toEqual(s);
    expect(schemaToJSON(parseSchema(text))).toBe(text);
  });

  it('names the JSON path, the value and a near miss for a wrong role', () => {
    const json = valid();
    (json.columns as Record<string, unknown>[])[1].role = 'spares';
    const e = dataError(() => parseSchema(json, 'schema.json'));
    expect(e.message).toContain('schema.json: columns[1].role');
    expect(e.message).toContain("'spares' (did you mean 'sparse'?)");
    expect(e.message).toContain('Fix:');
    expect(e.column).toBe('user_id');
  });

  it('rejects unknown keys with a near miss, in a column and at the top level', () => {
    const json = valid();
    (json.columns as Record<string, unknown>[])[1].minCout = 2;
    expect(dataError(() => parseSchema(json)).message).toMatch(/columns\[1\] has unknown key 'minCout' \(did you mean 'minCount'\?\)/);
    const top = { ...valid(), colums: [] };
    expect(dataError(() => parseSchema(top)).message).toContain("'colums' (did you mean 'columns'?)");
  });

  it('rejects an option that belongs to another role, naming its path', () => {
    const json = valid();
    (json.columns as Record<string, unknown>[])[1].scale = 'standard';
    const e = dataError(() => parseSchema(json));
    expect(e.message).toContain('columns[1].scale');
    expect(e.message).toContain('only to "dense" columns');
  });

  it('checks every value: format, version, type, task, scale, counts, separator, names', () => {
    const cases: [(j: Record<string, unknown>, c: Record<string, unknown>[]) => void, string][] = [
      [(j) => (j.format = 'csv'), 'format is "csv"'],
      [(j) => (j.version = 2), 'version is 2'],
      [(j) => (j.columns = {}), 'columns is {}'],
      [(_, c) => (c[0].type = 'integer'), 'columns[0].type'],
      [(_, c) => (c[0].task = 'regresion'), "(did you mean 'regression'?)"],
      [(_, c) => (c[2].scale = 'zscore'), 'columns[2].scale'],
      [(_, c) => (c[1].minCount = 0), 'columns[1].minCount is 0, not a whole number ≥ 1'],
      [(_, c) => (c[1].minCount = 1.5), 'columns[1].minCount is 1.5'],
      [(_, c) => (c[3].maxLength = '5'), 'columns[3].maxLength is "5"'],
      [(_, c) => (c[3].separator = ''), 'columns[3].separator'],
      [(_, c) => (c[2].name = ''), 'columns[2].name'],
      [(_, c) => (c[2].name = 'click'), 'columns[2].name is "click", which columns[0] already names'],
      [(_, c) => (c[1] = 'user_id' as never), 'columns[1] is "user_id", not a column object'],
    ];
    for (const [edit, expected] of cases) {
      const json = valid();
      edit(json, json.columns as Record<string, unknown>[]);
      expect(dataError(() => parseSchema(json)).message).toContain(expected);
    }
  });

  it("rejects a role the column's type cannot take, with the fix", () => {
    const dense = schemaOf([
      { name: 'y', role: 'label', type: 'int' },
      { name: 'city', role: 'dense', type: 'string' },
    ]);
    const e = dataError(() => parseSchema(dense));
    expect(e.message).toContain('columns[1] is "city" with role "dense" and type "string"');
    expect(e.message).toContain('set "role": "sparse"');
    const label = schemaOf([
      { name: 'y', role: 'label', type: 'string' },
      { name: 'x', role: 'dense', type: 'float' },
    ]);
    expect(dataError(() => parseSchema(label)).message).toContain('a label must be stored as numbers');
    const sequence = schemaOf([
      { name: 'y', role: 'label', type: 'int' },
      { name: 'hist', role: 'sequence', type: 'int' },
    ]);
    expect(dataError(() => parseSchema(sequence)).message).toContain('"type": "string"');
    const floatSparse = schemaOf([
      { name: 'y', role: 'label', type: 'int' },
      { name: 'code', role: 'sparse', type: 'float' },
    ]);
    expect(dataError(() => parseSchema(floatSparse)).message).toContain('categories are whole numbers or text');
  });

  it('needs a label and a feature', () => {
    expect(dataError(() => parseSchema(schemaOf([{ name: 'x', role: 'dense', type: 'float' }]))).message).toContain('has no label column');
    expect(dataError(() => parseSchema(schemaOf([{ name: 'y', role: 'label', type: 'int' }]))).message).toContain('has no feature column');
  });

  it('says when the text is not JSON or not an object', () => {
    expect(dataError(() => parseSchema('{"format": ', 'my.json')).message).toMatch(/^my\.json is not valid JSON/);
    expect(dataError(() => parseSchema([1, 2])).message).toContain('is [1,2], not a schema object');
  });
});

describe('schemaFromLists and schemaColumns', () => {
  const header = [
    { name: 'user_id', type: 'int' as const },
    { name: 'click', type: 'int' as const },
    { name: 'price', type: 'float' as const },
    { name: 'purchase', type: 'int' as const },
    { name: 'city', type: 'string' as const },
    { name: 'history', type: 'string' as const },
  ];

  it('puts labels first in the order given, types from the header, unnamed columns ignored', () => {
    const s = schemaFromLists(header, { label: ['purchase', 'click'], sparse: ['user_id', 'city'], sequence: ['history'] });
    expect(s.columns).toEqual([
      { name: 'purchase', role: 'label', type: 'int' },
      { name: 'click', role: 'label', type: 'int' },
      { name: 'user_id', role: 'sparse', type: 'int' },
      { name: 'price', role: 'ignore', type: 'float' },
      { name: 'city', role: 'sparse', type: 'string' },
      { name: 'history', role: 'sequence', type: 'string' },
    ]);
    expect(schemaColumns(s, 'label').map((c) => c.name)).toEqual(['purchase', 'click']);
    expect(schemaColumns(s, 'dense')).toEqual([]);
  });

  it('rejects a name not in the header (with a near miss), a name in two lists, and a text dense column', () => {
    const e = dataError(() => schemaFromLists(header, { label: ['clik'] }));
    expect(e.message).toContain("The label column 'clik' (did you mean 'click'?) is not in the file's header");
    expect(e.message).toContain('"user_id", "click"');
    expect(dataError(() => schemaFromLists(header, { label: ['click'], sparse: ['city'], dense: ['city'] })).message).toContain(
      'listed both as sparse and as dense',
    );
    expect(dataError(() => schemaFromLists(header, { label: ['click'], dense: ['city'] })).message).toContain('set "role": "sparse"');
    expect(dataError(() => schemaFromLists(header, { label: ['click'], spars: ['city'] } as never)).message).toContain(
      "(did you mean 'sparse'?)",
    );
  });
});

describe('proposeSchema', () => {
  // A census-income-like sample: raw text categoricals (missing as "?"), integer-valued numbers, a
  // float, 0/1 labels, plus columns that exercise each rule.
  const census = block({
    age: ints([23, 45, 37, 61, 29, 52, 45, 18]),
    'class of worker': strings(['Private', 'Self-employed-inc', 'Private', '?', 'Local government', 'Private', 'Never worked', 'Private']),
    education: strings([
      'Bachelors degree',
      'High school graduate',
      'Masters degree',
      'Children',
      null,
      'Bachelors degree',
      '10th grade',
      'Children',
    ]),
    'weeks worked in year': ints([52, 0, 40, 52, 12, 30, 52, 0]),
    'wage per hour': ints([0, 1200, 0, 550, 0, 0, 900, 0]),
    'instance weight': floats([1700.09, 1053.55, 991.95, 1758.14, 1069.16, 406.2, 1286.7, 2014.34]),
    sex: strings(['Female', 'Male', 'Male', 'Female', 'Female', 'Male', 'Female', 'Male']),
    'own business or self employed': ints([0, 2, 0, 1, 0, 0, 2, 0]),
    'industry code': ints([4, 33, 4, 0, 43, 4, 0, 45]),
    year: strings(['94', '95', '94', '95', '94', '94', '95', '95']),
    'hours ratio': strings(['0.5', '1.25', '1', '0.75', '0.5', '1', '0.25', '1.5']),
    zip: strings(['007', '012', '007', '110', '012', '007', '110', '012']),
    'device hash': strings(['18446744073709551615', '42', '42', '7', '9007199254740993', '42', '7', '42']),
    'recent purchases': strings(['3|7|9', '2|7', '', '7', '1|2|3', '9|9', null, '4|5']),
    country: strings(['US', 'US', 'US', 'US', 'US', 'US', 'US', 'US']),
    'fill inc questionnaire': strings([null, null, null, null, null, null, null, null]),
    income_50k: ints([0, 1, 0, 1, 0, 1, 0, 0]),
    never_married: ints([1, 0, 0, 0, 1, 0, 0, 1]),
  });

  it('census-like table: text → sparse, integer quantities → dense, labels by name, constants ignored', () => {
    const s = proposeSchema(census);
    expect(s.columns).toEqual([
      { name: 'income_50k', role: 'label', type: 'int', task: 'classification' },
      { name: 'age', role: 'dense', type: 'int', scale: 'standard' },
      { name: 'class of worker', role: 'sparse', type: 'string' },
      { name: 'education', role: 'sparse', type: 'string' },
      { name: 'weeks worked in year', role: 'dense', type: 'int', scale: 'standard' },
      { name: 'wage per hour', role: 'dense', type: 'int', scale: 'standard' },
      { name: 'instance weight', role: 'dense', type: 'float', scale: 'standard' },
      { name: 'sex', role: 'sparse', type: 'string' },
      { name: 'own business or self employed', role: 'dense', type: 'int', scale: 'standard' },
      // an integer named like a code is a category
      { name: 'industry code', role: 'sparse', type: 'int' },
      // numbers written as text are numbers; two distinct values make a flag
      { name: 'year', role: 'sparse', type: 'int' },
      { name: 'hours ratio', role: 'dense', type: 'float', scale: 'standard' },
      // a leading zero marks an identifier: stays text
      { name: 'zip', role: 'sparse', type: 'string' },
      // whole numbers beyond 2^53 are exact only as text
      { name: 'device hash', role: 'sparse', type: 'string' },
      { name: 'recent purchases', role: 'sequence', type: 'string' },
      { name: 'country', role: 'ignore', type: 'string' },
      { name: 'fill inc questionnaire', role: 'ignore', type: 'string' },
      { name: 'never_married', role: 'sparse', type: 'int' },
    ]);
    // What it proposes is a valid schema, and survives its own JSON text.
    expect(parseSchema(schemaToJSON(s))).toEqual(s);
  });

  it('takes the labels option in its order, and the ignore option', () => {
    const s = proposeSchema(census, { labels: ['never_married', 'income_50k'], ignore: ['zip'] });
    expect(s.columns.slice(0, 2)).toEqual([
      { name: 'never_married', role: 'label', type: 'int', task: 'classification' },
      { name: 'income_50k', role: 'label', type: 'int', task: 'classification' },
    ]);
    expect(s.columns.find((c) => c.name === 'zip')?.role).toBe('ignore');
    expect(s.columns).toHaveLength(18);
  });

  it('Ali-CCP-like block: digit names → sparse, D… floats → dense, click/purchase → labels', () => {
    const header = ['click', 'purchase', '101', '121', '109_14', '205', 'D109_14', 'D127_14'];
    const aliCcp = block({
      click: ints([0, 1, 0, 0, 1, 0]),
      purchase: ints([0, 0, 0, 0, 1, 0]),
      '101': ints([3, 88, 412, 3, 9001, 17]),
      '121': ints([1, 2, 3, 4, 5, 6]),
      '109_14': ints([55, 55, 2, 9, 13, 2]),
      '205': ints([1e9, 7, 123456, 42, 7, 8]),
      D109_14: floats([0.1, 0.52, 0.3, 0, 0.94, 0.2]),
      D127_14: floats([1.5, 0.25, 0.3, 0.125, 0.75, 2]),
    });
    const s = proposeSchema(aliCcp, { header });
    expect(s.columns).toEqual([
      { name: 'click', role: 'label', type: 'int', task: 'classification' },
      { name: 'purchase', role: 'label', type: 'int', task: 'classification' },
      { name: '101', role: 'sparse', type: 'int' },
      { name: '121', role: 'sparse', type: 'int' },
      { name: '109_14', role: 'sparse', type: 'int' },
      { name: '205', role: 'sparse', type: 'int' },
      { name: 'D109_14', role: 'dense', type: 'float', scale: 'standard' },
      { name: 'D127_14', role: 'dense', type: 'float', scale: 'standard' },
    ]);
    // Without the header, a JavaScript object's key order puts integer-like names first.
    expect(proposeSchema(aliCcp).columns.map((c) => c.name)).toEqual([
      'click',
      'purchase',
      '101',
      '121',
      '205',
      '109_14',
      'D109_14',
      'D127_14',
    ]);
    expect(dataError(() => proposeSchema(aliCcp, { header: header.slice(1) })).message).toContain('must name each column of the sample');
  });

  it('infers regression for a label with values other than 0/1, and finds labels in two-word names', () => {
    const s = proposeSchema(
      block({
        is_click: ints([0, 1, 1]),
        target_amount: floats([3.5, 0, 12]),
        userId: ints([10, 20, 30]),
        clicks_per_day: ints([4, 8, 15]),
      }),
    );
    expect(s.columns).toEqual([
      { name: 'is_click', role: 'label', type: 'int', task: 'classification' },
      { name: 'target_amount', role: 'label', type: 'float', task: 'regression' },
      { name: 'userId', role: 'sparse', type: 'int' },
      // three words: a feature about clicks, not a label
      { name: 'clicks_per_day', role: 'dense', type: 'int', scale: 'standard' },
    ]);
  });

  it('AliExpress-style names: integer "categorical_N" columns are categories, "numerical_N" ones numbers', () => {
    const s = proposeSchema(
      block({
        click: ints([0, 1, 1, 0]),
        conversion: ints([0, 0, 1, 0]),
        categorical_2: ints([0, 3, 1, 2]),
        numerical_1: floats([0.5, 0.1, 0.9, 0.3]),
        numerical_2: ints([4, 8, 15, 16]),
      }),
    );
    const roles = Object.fromEntries(s.columns.map((c) => [c.name, c.role]));
    expect(roles).toEqual({ click: 'label', conversion: 'label', categorical_2: 'sparse', numerical_1: 'dense', numerical_2: 'dense' });
  });

  it('says what to do when no label is found, a label is text, or a named column is absent', () => {
    const noLabel = block({ a: ints([1, 2, 3]), b: strings(['x', 'y', 'z']) }, 'part-0.parquet');
    const e = dataError(() => proposeSchema(noLabel));
    expect(e.message).toContain('No label column found in part-0.parquet');
    expect(e.message).toContain('--label');
    const textLabel = dataError(() => proposeSchema(noLabel, { labels: ['b'] }));
    expect(textLabel.message).toContain('Label column "b" in part-0.parquet holds text ("x", "y", "z")');
    expect(dataError(() => proposeSchema(noLabel, { labels: ['A'] })).message).toContain("'A' (did you mean 'a'?)");
    expect(dataError(() => proposeSchema(noLabel, { label: ['a'] } as never)).message).toContain("'label' (did you mean 'labels'?)");
  });
});
