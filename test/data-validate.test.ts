// Validation errors: each names what is wrong, where, and how to fix it.
import { describe, expect, it } from 'vitest';
import {
  ColumnarDataset,
  DataError,
  validateDataset,
  validateDense,
  validateFeatures,
  validateLabels,
  validateRowCounts,
  validateSparseIds,
} from '../src/data/index.js';

function errorOf(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError, got none');
}

describe('validateSparseIds', () => {
  it('passes ids inside [0, vocab)', () => {
    expect(() => validateSparseIds('205', new Int32Array([0, 5, 11999]), 12000)).not.toThrow();
  });

  it('names the feature, the id, its row and the vocab size', () => {
    const err = errorOf(() => validateSparseIds('205', new Int32Array([3, 7, 12000, 12004]), 12000));
    expect(err.message).toContain('"205"');
    expect(err.message).toContain('id 12000');
    expect(err.message).toContain('row 2');
    expect(err.message).toContain('vocab_size 12000');
    expect(err.message).toContain('2 row(s)');
    expect(err.message).toContain('at least 12005'); // the fix: max id + 1
    expect([err.column, err.row, err.value]).toEqual(['205', 2, 12000]);
  });

  it('rejects negative ids with a label-encoding hint', () => {
    const err = errorOf(() => validateSparseIds('user', new Int32Array([1, -1]), 10));
    expect(err.message).toContain('"user"');
    expect(err.message).toContain('id -1');
    expect(err.message).toMatch(/negative/);
    expect(err.message).toContain('LabelEncoder');
  });
});

describe('validateDense / validateFeatures', () => {
  it('reports NaN in a dense column with column and row', () => {
    const err = errorOf(() => validateDense('D508', new Float32Array([0.1, NaN])));
    expect(err.message).toContain('"D508"');
    expect(err.message).toContain('NaN at row 1');
    expect(err.message).toMatch(/fill/);
  });

  it('reports a missing feature column with the available ones', () => {
    const x = { a: new Int32Array(3), b: new Float32Array(3) };
    const err = errorOf(() => validateFeatures(x, { sparse: { a: 5, c: 5 }, dense: ['b'] }));
    expect(err.message).toContain('"c"');
    expect(err.message).toContain('"a", "b"');
  });
});

describe('validateLabels', () => {
  it('accepts 0/1 for classification and any finite value for regression', () => {
    expect(() => validateLabels(new Float32Array([0, 2.5, 1, -1]), 2, ['classification', 'regression'])).not.toThrow();
  });

  it('names the label, row and value that is not 0/1', () => {
    const y = new Float32Array([0, 1, 1, 2, 0, 0]);
    const err = errorOf(() => validateLabels(y, 2, ['binary', 'classification'], ['click', 'purchase']));
    expect(err.message).toContain('"purchase"');
    expect(err.message).toContain('value 2 at row 1');
    expect(err.message).toMatch(/0 or 1/);
    expect([err.column, err.row, err.value]).toEqual(['purchase', 1, 2]);
  });

  it('rejects NaN regression labels and a wrong number of task types', () => {
    expect(() => validateLabels(new Float32Array([1, NaN]), 1, ['regression'])).toThrow(/NaN at row 1/);
    expect(() => validateLabels(new Float32Array([1, 0]), 2, ['classification'])).toThrow(/1 task types for 2/);
  });
});

describe('validateRowCounts / validateDataset', () => {
  it('reports mismatched x / y row counts', () => {
    const err = errorOf(() => validateRowCounts({ a: new Int32Array(4) }, new Float32Array(6), 2));
    expect(err.message).toContain('x has 4 rows but y has 3 rows');
  });

  it('runs all checks on a dataset', () => {
    const ds = new ColumnarDataset({ id: new Int32Array([0, 1, 4]), d: new Float32Array([0, 1, 2]) }, new Float32Array([0, 1, 1]), [
      'click',
    ]);
    expect(() => validateDataset(ds, { sparse: { id: 5 }, dense: ['d'], taskTypes: ['classification'] })).not.toThrow();
    expect(() => validateDataset(ds, { sparse: { id: 4 }, dense: ['d'] })).toThrow(/"id": id 4 at row 2/);
  });
});
