// Shared by the tests of your own tables (ingest, in-memory sources): a raw table's rows as CSV,
// files in a temporary folder, a prepared table's splits as datasets, and comparisons.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ColumnarDataset, type Columns, SequenceColumn } from '../../src/data/columns.js';
import { DataError } from '../../src/data/errors.js';
import type { PreparedTable } from '../../src/data/ingest.js';
import { type RawTable, rawTableCsvText } from '../../src/data/synthetic-raw.js';

/** The labels of the census-shaped raw table. */
export const RAW_LABELS = ['income_50k', 'never_married'];

/** Data rows [from, to) of a raw table as CSV text (with its header). */
export function csvOf(t: RawTable, from = 0, to = t.rows): string {
  const columns = Object.fromEntries(t.header.map((h) => [h, t.columns[h].slice(from, to)]));
  return rawTableCsvText({ header: t.header, columns, rows: to - from });
}

/** Writes `text` to `dir/name` (making folders); returns the path. */
export function writeIn(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** A split of a prepared table as one dataset (a cached split read whole, in order). */
export function splitData(t: PreparedTable, split: 'train' | 'val' | 'test'): ColumnarDataset {
  const s = t.splits[split];
  if (s instanceof ColumnarDataset) return s;
  return s.readRows(0, s.rows);
}

/** Same rows, labels and columns, value for value. */
export function expectSameData(a: ColumnarDataset, b: ColumnarDataset): void {
  expect(b.length).toBe(a.length);
  expect(b.labelNames).toEqual(a.labelNames);
  expect(Array.from(b.labels)).toEqual(Array.from(a.labels));
  expect(Object.keys(b.columns).sort()).toEqual(Object.keys(a.columns).sort());
  for (const [name, col] of Object.entries(a.columns)) {
    const values = (c: Columns[string]) => Array.from(c instanceof SequenceColumn ? c.values : c);
    expect(values(b.columns[name]), name).toEqual(values(col));
  }
}

/** The DataError a promise rejects with (anything else fails the test). */
export async function dataFailure(run: () => Promise<unknown>): Promise<DataError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error('expected a DataError');
}

/** The DataError `fn` throws (fails the test when it throws nothing or something else). */
export function dataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError, nothing was thrown');
}
