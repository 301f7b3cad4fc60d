// Columnar tables: one typed array per column, labels as one row-major [n, nTask] matrix.
// No per-row objects: every operation works on whole columns.

import { DataError, missingColumnError } from './errors.js';

export type Column = Float32Array | Int32Array;
export type Columns = Record<string, Column>;
/** What users may pass for a column; normalised by `toColumn`. */
export type ColumnLike = Column | ArrayLike<number>;

/** Number of rows shared by all columns; throws if they disagree. */
export function columnsLength(columns: Columns, where = 'x'): number {
  let n = -1;
  let first = '';
  for (const [name, col] of Object.entries(columns)) {
    if (n < 0) {
      n = col.length;
      first = name;
    } else if (col.length !== n) {
      throw new DataError(
        `Columns of ${where} have different lengths: "${first}" has ${n} rows but "${name}" has ${col.length}. ` +
          `Fix: all feature columns must come from the same rows (filter or split them together).`,
        { column: name, value: col.length },
      );
    }
  }
  return Math.max(n, 0);
}

/**
 * Normalises a user-supplied column: Float32Array and Int32Array are kept as they are; other integer
 * typed arrays become Int32Array; Float64Array becomes Float32Array; a plain array becomes Int32Array
 * when every value is an integer and Float32Array otherwise.
 */
export function toColumn(values: ColumnLike): Column {
  if (values instanceof Float32Array || values instanceof Int32Array) return values;
  if (values instanceof Float64Array) return Float32Array.from(values);
  if (
    values instanceof Int8Array ||
    values instanceof Uint8Array ||
    values instanceof Uint8ClampedArray ||
    values instanceof Int16Array ||
    values instanceof Uint16Array ||
    values instanceof Uint32Array
  ) {
    return Int32Array.from(values);
  }
  let allIntegers = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      allIntegers = false;
      break;
    }
  }
  return allIntegers ? Int32Array.from(values) : Float32Array.from(values);
}

export function toColumns(x: Record<string, ColumnLike>): Columns {
  const out: Columns = {};
  for (const [name, values] of Object.entries(x)) out[name] = toColumn(values);
  return out;
}

/** Copies the given rows of a column into a new array of the same type. */
export function gatherColumn<T extends Column>(col: T, rows: ArrayLike<number>): T {
  // One loop per element type: a loop shared by Float32Array and Int32Array columns is polymorphic
  // and several times slower in V8 (it is the data loader's hot loop).
  return (col instanceof Float32Array ? gatherF32(col, rows) : gatherI32(col as Int32Array, rows)) as T;
}

function gatherF32(col: Float32Array, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = col[rows[i]];
  return out;
}

function gatherI32(col: Int32Array, rows: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = col[rows[i]];
  return out;
}

/** Copies the given rows of a row-major [n, width] matrix. */
export function gatherMatrixRows(matrix: Float32Array, width: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * width);
  if (width === 1) {
    for (let i = 0; i < rows.length; i++) out[i] = matrix[rows[i]];
    return out;
  }
  for (let i = 0; i < rows.length; i++) {
    const src = rows[i] * width;
    out.set(matrix.subarray(src, src + width), i * width);
  }
  return out;
}

/**
 * A table of feature columns plus a label matrix.
 * `labels` is row-major [length, labelNames.length]: labels[row * nTask + task].
 */
export class ColumnarDataset {
  readonly length: number;

  constructor(
    readonly columns: Columns,
    readonly labels: Float32Array,
    readonly labelNames: string[],
    length?: number,
  ) {
    const nTask = labelNames.length;
    const fromColumns = Object.keys(columns).length > 0 ? columnsLength(columns) : -1;
    const fromLabels = nTask > 0 ? labels.length / nTask : -1;
    if (nTask > 0 && !Number.isInteger(fromLabels)) {
      throw new DataError(
        `Labels hold ${labels.length} values, which is not a multiple of the ${nTask} label names ` +
          `(${labelNames.join(', ')}). Fix: pass labels as a row-major [rows, ${nTask}] Float32Array.`,
      );
    }
    if (nTask === 0 && labels.length !== 0) {
      throw new DataError(`Labels hold ${labels.length} values but no label names were given. Fix: pass labelNames.`);
    }
    const n = length ?? (fromColumns >= 0 ? fromColumns : Math.max(fromLabels, 0));
    if (fromColumns >= 0 && fromColumns !== n) {
      throw new DataError(`Feature columns have ${fromColumns} rows but the dataset was declared with ${n}.`);
    }
    if (fromLabels >= 0 && fromLabels !== n) {
      throw new DataError(
        `Row count mismatch: the features have ${n} rows but the labels (${labelNames.join(', ')}) have ${fromLabels}. ` +
          `Fix: x and y must describe the same rows, in the same order.`,
        { value: fromLabels },
      );
    }
    this.length = n;
  }

  /**
   * Builds a dataset from one table whose label columns are among its columns
   * (e.g. what `readCsv` returns); the label columns are moved into `labels`.
   */
  static fromColumns(table: Columns, labelNames: readonly string[], featureNames?: readonly string[]): ColumnarDataset {
    const available = Object.keys(table);
    for (const name of [...labelNames, ...(featureNames ?? [])]) {
      if (!(name in table)) throw missingColumnError(name, available);
    }
    const n = columnsLength(table);
    const labels = new Float32Array(n * labelNames.length);
    labelNames.forEach((name, task) => {
      const col = table[name];
      const nTask = labelNames.length;
      for (let i = 0; i < n; i++) labels[i * nTask + task] = col[i];
    });
    const isLabel = new Set(labelNames);
    const names = featureNames ?? available.filter((name) => !isLabel.has(name));
    const columns: Columns = {};
    for (const name of names) columns[name] = table[name];
    return new ColumnarDataset(columns, labels, [...labelNames], n);
  }

  get nTask(): number {
    return this.labelNames.length;
  }

  get featureNames(): string[] {
    return Object.keys(this.columns);
  }

  /** The feature columns (torch-rechub's `x`). */
  get x(): Columns {
    return this.columns;
  }

  /** The label matrix (torch-rechub's `y`), row-major [length, nTask]. */
  get y(): Float32Array {
    return this.labels;
  }

  column(name: string): Column {
    const col = this.columns[name];
    if (col === undefined) throw missingColumnError(name, this.featureNames, 'the dataset');
    return col;
  }

  /** One task's labels as a contiguous array (by task index or label name). */
  label(task: number | string): Float32Array {
    const t = typeof task === 'number' ? task : this.labelNames.indexOf(task);
    if (t < 0 || t >= this.nTask) {
      throw new DataError(`No label "${task}". Labels: ${this.labelNames.join(', ') || '(none)'}.`, { column: String(task) });
    }
    const out = new Float32Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.labels[i * this.nTask + t];
    return out;
  }

  /** A new dataset holding copies of the given rows, in the given order. */
  take(rows: ArrayLike<number>): ColumnarDataset {
    const columns: Columns = {};
    for (const [name, col] of Object.entries(this.columns)) columns[name] = gatherColumn(col, rows);
    return new ColumnarDataset(columns, gatherMatrixRows(this.labels, this.nTask, rows), [...this.labelNames], rows.length);
  }

  /** Rows [start, end) as views that share memory with this dataset (no copy). */
  slice(start: number, end = this.length): ColumnarDataset {
    const s = Math.max(0, Math.min(start, this.length));
    const e = Math.max(s, Math.min(end, this.length));
    const columns: Columns = {};
    for (const [name, col] of Object.entries(this.columns)) columns[name] = col.subarray(s, e);
    const t = this.nTask;
    return new ColumnarDataset(columns, this.labels.subarray(s * t, e * t), [...this.labelNames], e - s);
  }

  /** The same rows with only the named feature columns (arrays are shared, not copied). */
  select(featureNames: readonly string[]): ColumnarDataset {
    const columns: Columns = {};
    for (const name of featureNames) columns[name] = this.column(name);
    return new ColumnarDataset(columns, this.labels, [...this.labelNames], this.length);
  }

  /** The same rows with some feature columns replaced or added (e.g. after scaling or encoding). */
  withColumns(replacements: Columns): ColumnarDataset {
    return new ColumnarDataset({ ...this.columns, ...replacements }, this.labels, [...this.labelNames], this.length);
  }
}

/** Largest value of an integer column, or -1 when it is empty. */
export function maxId(col: Int32Array): number {
  let m = -1;
  for (let i = 0; i < col.length; i++) if (col[i] > m) m = col[i];
  return m;
}

/** torch-rechub's vocabulary rule: max id over all the given tables + 1, per sparse column. */
export function vocabSizesFromMax(tables: readonly Columns[], sparseColumns: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of sparseColumns) {
    let m = -1;
    for (const table of tables) {
      const col = table[name];
      if (col === undefined) throw missingColumnError(name, Object.keys(table));
      for (let i = 0; i < col.length; i++) if (col[i] > m) m = col[i];
    }
    out[name] = Math.max(m, 0) + 1;
  }
  return out;
}
