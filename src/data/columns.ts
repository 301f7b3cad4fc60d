// Columnar tables: one typed array per column, labels as one row-major [n, nTask] matrix.
// No per-row objects: every operation works on whole columns.

import { DataError, missingColumnError } from './errors.js';

/**
 * A column of fixed-length id sequences, one per row (a user's last L clicked items, padded):
 * row i is values[i·width … (i+1)·width). `length` counts rows, as for the other columns.
 */
export class SequenceColumn {
  readonly length: number;

  constructor(
    readonly values: Int32Array,
    readonly width: number,
  ) {
    if (!Number.isInteger(width) || width < 1) throw new DataError(`A sequence column needs a width (sequence length) ≥ 1, got ${width}.`);
    if (values.length % width !== 0) {
      throw new DataError(`A sequence column of width ${width} got ${values.length} ids, not a whole number of rows.`);
    }
    this.length = values.length / width;
  }

  /**
   * From one id list per row, all of one length (pad or cut them first with padSequences). Rows of
   * different lengths are an error.
   */
  static fromRows(rows: ArrayLike<ArrayLike<number>>, name = 'a sequence column'): SequenceColumn {
    const width = rows.length > 0 ? rows[0].length : 1;
    const values = new Int32Array(rows.length * width);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row.length !== width) {
        throw new DataError(
          `${name}: row ${i} holds ${row.length} ids but row 0 holds ${width}. Fix: bring every sequence to one length with padSequences(rows, { maxlen }).`,
          { row: i, value: row.length },
        );
      }
      for (let j = 0; j < width; j++) {
        const id = row[j];
        if (!isInt32(id)) {
          throw new DataError(`${name}: row ${i} position ${j} holds ${id}, not an integer id. Fix: label-encode the items first.`, {
            row: i,
            value: id,
          });
        }
        values[i * width + j] = id;
      }
    }
    return new SequenceColumn(values, width);
  }

  /** Rows [start, end) as a view (no copy). */
  subarray(start: number, end = this.length): SequenceColumn {
    return new SequenceColumn(this.values.subarray(start * this.width, end * this.width), this.width);
  }

  /** Row i's ids (a view). */
  row(i: number): Int32Array {
    return this.values.subarray(i * this.width, (i + 1) * this.width);
  }
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const isInt32 = (v: number): boolean => Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX;

export type Column = Float32Array | Int32Array | SequenceColumn;
export type Columns = Record<string, Column>;
/** What users may pass for a column; normalised by `toColumn`. */
export type ColumnLike = Column | ArrayLike<number> | readonly (readonly number[] | Int32Array)[];

/** The ids (or values) of a column as one flat array: a sequence column's, row by row. */
export function columnValues(col: Column): Float32Array | Int32Array {
  return col instanceof SequenceColumn ? col.values : col;
}

export interface PadSequencesOptions {
  /** Length of every sequence (default: the longest). */
  maxlen?: number;
  /** The padding id (default 0; use the feature's paddingIdx). */
  value?: number;
  /** Pad at the start ('pre', the default) or the end ('post'). */
  padding?: 'pre' | 'post';
  /** Cut long sequences at the start ('pre', the default: keep the most recent ids) or the end. */
  truncating?: 'pre' | 'post';
}

/**
 * torch-rechub's (and Keras') pad_sequences: lists of ids of any length → a SequenceColumn of one
 * length, padded with `value` and cut to `maxlen`.
 */
export function padSequences(rows: ArrayLike<ArrayLike<number>>, options: PadSequencesOptions = {}): SequenceColumn {
  const { value = 0, padding = 'pre', truncating = 'pre' } = options;
  for (const [what, v] of [
    ['padding', padding],
    ['truncating', truncating],
  ] as const) {
    if (v !== 'pre' && v !== 'post') throw new DataError(`padSequences: ${what} must be 'pre' or 'post', got ${JSON.stringify(v)}.`);
  }
  let maxlen = options.maxlen;
  if (maxlen === undefined) {
    maxlen = 1;
    for (let i = 0; i < rows.length; i++) maxlen = Math.max(maxlen, rows[i].length);
  }
  if (!Number.isInteger(maxlen) || maxlen < 1) throw new DataError(`padSequences: maxlen must be a positive integer, got ${maxlen}.`);
  if (!isInt32(value)) throw new DataError(`padSequences: the padding value must be an integer id, got ${value}.`);
  const out = new Int32Array(rows.length * maxlen).fill(value);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const keep = Math.min(row.length, maxlen);
    const from = truncating === 'pre' ? row.length - keep : 0;
    const to = i * maxlen + (padding === 'pre' ? maxlen - keep : 0);
    for (let j = 0; j < keep; j++) {
      const id = row[from + j];
      if (!isInt32(id)) throw new DataError(`padSequences: row ${i} holds ${id}, not an integer id.`, { row: i, value: id });
      out[to + j] = id;
    }
  }
  return new SequenceColumn(out, maxlen);
}

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
export function toColumn(values: ColumnLike, name?: string): Column {
  if (values instanceof Float32Array || values instanceof Int32Array || values instanceof SequenceColumn) return values;
  if (Array.isArray(values) && values.length > 0 && (Array.isArray(values[0]) || ArrayBuffer.isView(values[0]))) {
    return SequenceColumn.fromRows(values as readonly (readonly number[])[], name ? `Column "${name}"` : undefined);
  }
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
  const flat = values as ArrayLike<number>;
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) {
      allIntegers = false;
      break;
    }
  }
  return allIntegers ? Int32Array.from(flat) : Float32Array.from(flat);
}

export function toColumns(x: Record<string, ColumnLike>): Columns {
  const out: Columns = {};
  for (const [name, values] of Object.entries(x)) out[name] = toColumn(values, name);
  return out;
}

/** Copies the given rows of a column into a new array of the same type. */
export function gatherColumn<T extends Column>(col: T, rows: ArrayLike<number>): T {
  // One loop per element type: a loop shared by Float32Array and Int32Array columns is polymorphic
  // and several times slower in V8 (it is the data loader's hot loop).
  if (col instanceof SequenceColumn) return gatherSequences(col, rows) as T;
  return (col instanceof Float32Array ? gatherF32(col, rows) : gatherI32(col as Int32Array, rows)) as T;
}

function gatherSequences(col: SequenceColumn, rows: ArrayLike<number>): SequenceColumn {
  const w = col.width;
  const out = new Int32Array(rows.length * w);
  for (let i = 0; i < rows.length; i++) out.set(col.values.subarray(rows[i] * w, (rows[i] + 1) * w), i * w);
  return new SequenceColumn(out, w);
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
      if (col instanceof SequenceColumn)
        throw new DataError(`Label "${name}" is a sequence column; a label needs one value per row.`, { column: name });
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

  /** The same feature columns without labels (a set to predict on). */
  withoutLabels(): ColumnarDataset {
    return new ColumnarDataset(this.columns, new Float32Array(0), [], this.length);
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
      const ids = columnValues(col);
      for (let i = 0; i < ids.length; i++) if (ids[i] > m) m = ids[i];
    }
    out[name] = Math.max(m, 0) + 1;
  }
  return out;
}
