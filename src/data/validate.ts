// Checks to run before training. Each failure says what is wrong, where (column, row, value) and how to fix it.

import type { Columns } from './columns.js';
import { columnsLength, SequenceColumn } from './columns.js';
import { DataError, missingColumnError } from './errors.js';

/** 'binary' is accepted as a synonym of 'classification' (the tutorials use both). */
export type TaskTypeName = 'classification' | 'binary' | 'regression';

/** Throws when any of `names` is not a column of `columns`, listing the available ones. */
export function validateColumnsPresent(columns: Columns, names: readonly string[], where = 'x'): void {
  const available = Object.keys(columns);
  for (const name of names) if (!(name in columns)) throw missingColumnError(name, available, where);
}

/**
 * Every id must lie in [0, vocabSize): an embedding lookup outside it reads garbage or crashes.
 * `perRow`: ids per row (a sequence column's width), for the row and position in the message.
 */
export function validateSparseIds(columnName: string, ids: ArrayLike<number>, vocabSize: number, perRow = 1): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new DataError(`Sparse feature "${columnName}" has vocab_size ${vocabSize}; it must be a positive integer.`, {
      column: columnName,
      value: vocabSize,
    });
  }
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (Number.isInteger(id) && id >= 0 && id < vocabSize) continue;
    let bad = 0;
    let maxSeen = -Infinity;
    for (let j = i; j < ids.length; j++) {
      const v = ids[j];
      if (!(Number.isInteger(v) && v >= 0 && v < vocabSize)) bad++;
      if (v > maxSeen) maxSeen = v;
    }
    const why = !Number.isInteger(id) ? 'is not an integer id' : id < 0 ? 'is negative' : `is outside [0, ${vocabSize})`;
    const fix =
      !Number.isInteger(id) || id < 0
        ? `Fix: label-encode the column (LabelEncoder maps values to 1..n and unknown ones to 0) or fill missing ids with 0.`
        : `Fix: set vocab_size to at least ${Math.max(maxSeen, id) + 1} (max id + 1, computed over train, val and test), ` +
          `or map ids unseen in training to 0 with a LabelEncoder.`;
    const row = Math.floor(i / perRow);
    const where = perRow === 1 ? `at row ${row}` : `at row ${row}, position ${i % perRow}`;
    throw new DataError(
      `${perRow === 1 ? 'Sparse' : 'Sequence'} feature "${columnName}": id ${id} ${where} ${why} (vocab_size ${vocabSize}; ${bad} ${perRow === 1 ? 'row(s)' : 'id(s)'} affected). ${fix}`,
      { column: columnName, row, value: id },
    );
  }
}

/** Dense values must be finite numbers. */
export function validateDense(columnName: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) continue;
    throw new DataError(
      `Dense feature "${columnName}" has ${values[i]} at row ${i}. Fix: fill missing values (e.g. with 0 or the ` +
        `training mean) or drop those rows before training.`,
      { column: columnName, row: i, value: values[i] },
    );
  }
}

/** x and y must have the same number of rows (y is row-major [rows, nTask]). */
export function validateRowCounts(x: Columns, y: ArrayLike<number>, nTask: number): number {
  const n = columnsLength(x);
  if (nTask < 1) throw new DataError(`nTask must be at least 1, got ${nTask}.`);
  if (y.length !== n * nTask) {
    const yRows = y.length / nTask;
    throw new DataError(
      `Row count mismatch: x has ${n} rows but y has ${Number.isInteger(yRows) ? `${yRows} rows` : `${y.length} values`} ` +
        `for ${nTask} task(s). Fix: x and y must describe the same rows; y is row-major [rows, ${nTask}].`,
      { value: y.length },
    );
  }
  return n;
}

/** Classification labels must be exactly 0 or 1; regression labels must be finite. */
export function validateLabels(
  y: ArrayLike<number>,
  nTask: number,
  taskTypes: readonly TaskTypeName[],
  labelNames?: readonly string[],
): void {
  if (taskTypes.length !== nTask) {
    throw new DataError(`Got ${taskTypes.length} task types for ${nTask} label column(s). Fix: give one task type per label.`);
  }
  for (let t = 0; t < nTask; t++) {
    const name = labelNames?.[t] ?? `task ${t}`;
    const type = taskTypes[t];
    if (type !== 'classification' && type !== 'binary' && type !== 'regression') {
      throw new DataError(`Unknown task type "${type}" for label "${name}". Use 'classification' (or 'binary') or 'regression'.`, {
        column: name,
        value: type,
      });
    }
    const classification = type !== 'regression';
    for (let i = t; i < y.length; i += nTask) {
      const v = y[i];
      const ok = classification ? v === 0 || v === 1 : Number.isFinite(v);
      if (ok) continue;
      const row = (i - t) / nTask;
      throw new DataError(
        classification
          ? `Label "${name}" (task ${t}, classification) has value ${v} at row ${row}; binary labels must be 0 or 1. ` +
              `Fix: binarise the label (e.g. y > 0 ? 1 : 0), drop rows with missing labels, or declare the task 'regression'.`
          : `Label "${name}" (task ${t}, regression) has value ${v} at row ${row}. Fix: fill or drop rows with missing labels.`,
        { column: name, row, value: v },
      );
    }
  }
}

export interface FeatureSchema {
  /** Sparse feature name → vocabulary size. */
  sparse?: Record<string, number>;
  dense?: readonly string[];
  /** Sequence feature name → vocabulary size (padding ids included) and, when fixed, the sequence length. */
  sequence?: Record<string, { vocabSize: number; maxLen?: number }>;
}

/** Runs every feature check against one table of columns: presence, id ranges, finite dense values. */
export function validateFeatures(x: Columns, schema: FeatureSchema, where = 'x'): void {
  const sparse = schema.sparse ?? {};
  const dense = schema.dense ?? [];
  const sequence = schema.sequence ?? {};
  validateColumnsPresent(x, [...Object.keys(sparse), ...dense, ...Object.keys(sequence)], where);
  columnsLength(x, where);
  const scalar = (name: string, kind: string) => {
    const col = x[name];
    if (col instanceof SequenceColumn) {
      throw new DataError(
        `${kind} feature "${name}" has a sequence column (${col.width} ids per row) in ${where}. Fix: declare it a SequenceFeature, or pass one value per row.`,
        { column: name },
      );
    }
    return col;
  };
  for (const [name, vocab] of Object.entries(sparse)) validateSparseIds(name, scalar(name, 'Sparse'), vocab);
  for (const name of dense) validateDense(name, scalar(name, 'Dense'));
  for (const [name, { vocabSize, maxLen }] of Object.entries(sequence)) {
    const col = x[name];
    if (!(col instanceof SequenceColumn)) {
      throw new DataError(
        `Sequence feature "${name}" has one value per row in ${where}; it needs one list of ids per row. Fix: pass the lists (padded to one length with padSequences) or a SequenceColumn.`,
        { column: name },
      );
    }
    if (maxLen !== undefined && col.width !== maxLen) {
      throw new DataError(
        `Sequence feature "${name}" is declared with maxLen ${maxLen} but its column in ${where} holds ${col.width} ids per row. Fix: pad or cut the sequences to ${maxLen} (padSequences(rows, { maxlen: ${maxLen} })) or change maxLen.`,
        { column: name, value: col.width },
      );
    }
    validateSparseIds(name, col.values, vocabSize, col.width);
  }
}

/** Features (presence, ids, dense values) and labels of a dataset, before any training. */
export function validateDataset(
  dataset: { columns: Columns; labels: Float32Array; labelNames: readonly string[] },
  schema: FeatureSchema & { taskTypes?: readonly TaskTypeName[] },
  where = 'the dataset',
): void {
  validateFeatures(dataset.columns, schema, where);
  const nTask = dataset.labelNames.length;
  if (nTask > 0) validateRowCounts(dataset.columns, dataset.labels, nTask);
  if (schema.taskTypes) validateLabels(dataset.labels, nTask, schema.taskTypes, dataset.labelNames);
}
