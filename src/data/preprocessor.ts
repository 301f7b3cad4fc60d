// The fitted preprocessing of a table: vocabularies for sparse and sequence columns, statistics for
// dense columns, label checks. Fitted in one streaming pass over the training split's raw blocks
// (PreprocessorFitter), then applied to every block of every split, and to raw JS rows at predict
// time, with exactly the same mapping. Saved as JSON with the model (toJSON / fromJSON). Browser-safe.
//
// Speed: transform is a few typed-array loops per column; integer categories go through an Int32Array
// lookup table when the training values span a compact range, a hash table on typed arrays otherwise.

import { ColumnarDataset, type Columns, SequenceColumn } from './columns.js';
import { DataError, listNames } from './errors.js';
import { type RawBlock, type RawColumn, rowPlace } from './raw.js';
import { parseSchema, type SchemaColumn, type TableSchema, type TaskType } from './schema.js';

/** A category as the vocabulary keeps it: a number (int columns), a text (string columns), or null for "missing". */
export type CategoryKey = number | string | null;

/** The fitted state of one feature column (label columns have none: their task is in the schema). */
export type ColumnState =
  | {
      name: string;
      role: 'sparse';
      /** The categories in id order: vocabulary[k] has id k + 1; null is the "missing" category. */
      vocabulary: CategoryKey[];
    }
  | {
      name: string;
      role: 'sequence';
      /** The tokens in id order: vocabulary[k] has id k + 1. */
      vocabulary: string[];
      maxLength: number;
    }
  | {
      name: string;
      role: 'dense';
      /** Training values seen (missing cells not counted), their mean, population standard deviation, min and max. */
      count: number;
      mean: number;
      std: number;
      min: number;
      max: number;
    };

/** What toJSON saves: the schema and the fitted state of each feature column, in schema order. */
export interface PreprocessorState {
  format: 'webmtl-preprocessor';
  version: 1;
  schema: TableSchema;
  /** Training rows the preprocessor was fitted on. */
  rows: number;
  columns: ColumnState[];
}

/**
 * A fitted vocabulary in id order (index k holds the category of id k + 1): numbers for int columns,
 * texts for string and sequence columns. The "missing" category is NaN or '' there, values no real
 * category takes (an int cell is a whole number; an empty text is a missing cell). Typed arrays keep
 * a million categories unboxed; toJSON writes null for "missing".
 */
type Vocabulary = Float64Array | string[];

type FittedColumn =
  | { name: string; role: 'sparse'; vocabulary: Vocabulary }
  | { name: string; role: 'sequence'; vocabulary: string[]; maxLength: number }
  | Extract<ColumnState, { role: 'dense' }>;

interface Fitted {
  schema: TableSchema;
  rows: number;
  columns: FittedColumn[];
}

/** The private constructor, for PreprocessorFitter (set in Preprocessor's static block). */
let createPreprocessor: (state: Fitted) => Preprocessor;

type Place = (row: number) => string;
const blockPlace =
  (block: RawBlock): Place =>
  (i) =>
    rowPlace(block.source, i);
const rowsPlace: Place = (i) => `row ${i} of the rows given`;

const isFeature = (c: SchemaColumn): boolean => c.role === 'sparse' || c.role === 'dense' || c.role === 'sequence';

/** The block's column for a schema column, checked against the schema's type. */
function rawColumn(block: RawBlock, c: SchemaColumn): RawColumn {
  const col = block.columns[c.name];
  if (col === undefined) {
    throw new DataError(
      `Column "${c.name}" of the schema is missing from ${block.source.file}. Its columns: ${listNames(Object.keys(block.columns))}. ` +
        `Fix: correct the name in the schema, or set its role to "ignore".`,
      { column: c.name },
    );
  }
  if (col.type !== c.type) {
    throw new DataError(
      `Column "${c.name}" of ${block.source.file} came as ${col.type} values, but the schema stores it as "${c.type}". ` +
        `Fix: read the file with the schema's types, or set "type": "${col.type}" for "${c.name}" in the schema.`,
      { column: c.name, value: col.type },
    );
  }
  if (col.values.length < block.rows) {
    throw new DataError(
      `Column "${c.name}" of ${block.source.file} holds ${col.values.length} values for a block of ${block.rows} rows. Fix: this is a reader bug; report it.`,
      { column: c.name },
    );
  }
  return col;
}

// ---------------------------------------------------------------- labels

/**
 * Copies one label column into the row-major label matrix, checking every value: missing is an error
 * (or NaN where labels are optional: rows to predict on), a classification label must be 0 or 1, a
 * regression label a finite number.
 */
function readLabel(
  col: RawColumn,
  c: SchemaColumn,
  rows: number,
  place: Place,
  firstRow: number,
  optional: boolean,
  out: Float32Array,
  task: number,
  nTask: number,
): void {
  if (col.type === 'string') throw new Error('unreachable: the schema keeps labels numeric');
  const classification = (c.task ?? 'classification') === 'classification';
  const values = col.values;
  const missing = col.type === 'int' ? col.missing : undefined;
  for (let i = 0; i < rows; i++) {
    const v = values[i];
    let label = v;
    if (Number.isNaN(v) || (missing !== undefined && missing[i] === 1)) {
      if (!optional) {
        throw new DataError(
          `${place(i)}: the label "${c.name}" is empty (missing); every training row needs its labels. ` +
            `Fix: fill in the label in the file, or drop the row.`,
          { column: c.name, row: firstRow + i, value: null },
        );
      }
      label = Number.NaN;
    } else if (classification ? v !== 0 && v !== 1 : v - v !== 0) {
      throw new DataError(
        classification
          ? `${place(i)}: the label "${c.name}" is ${v}, but a classification label must be 0 or 1. ` +
              `Fix: correct the file (or map the values to 0/1), or set "task": "regression" for "${c.name}" in the schema.`
          : `${place(i)}: the regression label "${c.name}" is ${v}, not a finite number. Fix: correct the value in the file, or drop the row.`,
        { column: c.name, row: firstRow + i, value: v },
      );
    }
    out[i * nTask + task] = label;
  }
}

// ---------------------------------------------------------------- categories

/**
 * Whole numbers (doubles, exact up to 2^53) → positive numbers (counts, ids), by open addressing: a
 * JavaScript Map keyed by numbers beyond the small-integer range boxes every key and runs several
 * times slower. A value of 0 marks an empty slot.
 */
class NumberTable {
  /** Key and value pairs side by side (one cache line per probe): slots[2i] the key, slots[2i + 1] its value. */
  private slots: Float64Array;
  private mask: number;
  size = 0;

  constructor(expected = 16) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Float64Array(capacity * 2);
    this.mask = capacity - 1;
  }

  /** The index of `key`'s pair, or of the empty pair where it would go. */
  private slot(key: number): number {
    // The low and high 32 bits of the integer (ToUint32 keeps the low bits of any whole number),
    // through MurmurHash3's finalizer: ids like k·10^9 share their low bits and would collide.
    const lo = key >>> 0;
    let h = lo ^ Math.imul((key - lo) / 4294967296, 0x27d4eb2d);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    const slots = this.slots;
    const mask = this.mask;
    let at = (h & mask) * 2;
    while (slots[at + 1] !== 0 && slots[at] !== key) at = (at + 2) & (2 * mask + 1);
    return at;
  }

  get(key: number): number {
    return this.slots[this.slot(key) + 1];
  }

  /** Grows the table ahead of `size` keys, so that adding them rehashes nothing. */
  reserve(size: number): void {
    while (size * 2 > this.mask) this.grow();
  }

  /** Adds `amount` (> 0) to the value of `key`, inserting it at 0 when absent. */
  add(key: number, amount: number): void {
    const at = this.slot(key);
    if (this.slots[at + 1] === 0) {
      this.slots[at] = key;
      this.slots[at + 1] = amount;
      if (++this.size * 2 > this.mask) this.grow();
      return;
    }
    this.slots[at + 1] += amount;
  }

  /** The keys and their values, in no order. */
  entries(): { keys: Float64Array; values: Float64Array } {
    const keys = new Float64Array(this.size);
    const values = new Float64Array(this.size);
    const slots = this.slots;
    let n = 0;
    for (let at = 0; at < slots.length; at += 2) {
      if (slots[at + 1] !== 0) {
        keys[n] = slots[at];
        values[n++] = slots[at + 1];
      }
    }
    return { keys, values };
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(old.length * 2);
    this.mask = old.length - 1;
    for (let at = 0; at < old.length; at += 2) {
      if (old[at + 1] !== 0) {
        const to = this.slot(old[at]);
        this.slots[to] = old[at];
        this.slots[to + 1] = old[at + 1];
      }
    }
  }
}

/** Integer columns whose training values span fewer than this are counted in a plain array (8 MiB at most). */
const DIRECT_COUNT_SPAN = 2 ** 20;

/**
 * How often each category was seen in training: numbers (int columns) or texts, and "missing".
 * Numbers are counted in an array indexed by value while the values seen span a compact range (ids
 * of a label-encoded table), and in a hash table once they do not (hashed ids).
 */
class CategoryCounts {
  private direct: Float64Array | null = null;
  private directMin = 0;
  private table: NumberTable | null = null;
  readonly texts = new Map<string, number>();
  missing = 0;

  /** `numbers`: the categories are whole numbers (an int column), else texts. */
  constructor(private readonly numbers: boolean) {}

  addInts(values: Int32Array | Float64Array, missing: Uint8Array | undefined, rows: number): void {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let nMissing = 0;
    for (let i = 0; i < rows; i++) {
      if (missing !== undefined && missing[i] === 1) {
        nMissing++;
        continue;
      }
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.missing += nMissing;
    if (nMissing === rows) return;
    if (this.table === null) {
      const lo = this.direct === null || min < this.directMin ? min : this.directMin;
      const hi = this.direct === null || max > this.directMin + this.direct.length - 1 ? max : this.directMin + this.direct.length - 1;
      if (hi - lo < DIRECT_COUNT_SPAN) {
        this.cover(lo, hi);
        const counts = this.direct!;
        const base = this.directMin;
        for (let i = 0; i < rows; i++) if (missing === undefined || missing[i] !== 1) counts[values[i] - base]++;
        return;
      }
      const { keys, values: counts } = this.entries(); // the direct counts so far
      this.table = new NumberTable(keys.length);
      for (let k = 0; k < keys.length; k++) this.table.add(keys[k], counts[k]);
      this.direct = null;
    }
    const table = this.table;
    const span = max - min;
    if (span <= 4 * rows + 1024 && span <= 2 ** 24) {
      // A block's compact range: counted in an array first, then merged (one table update per value).
      const histogram = new Int32Array(span + 1);
      for (let i = 0; i < rows; i++) if (missing === undefined || missing[i] !== 1) histogram[values[i] - min]++;
      let distinct = 0;
      for (let k = 0; k <= span; k++) if (histogram[k] > 0) distinct++;
      table.reserve(table.size + distinct);
      for (let k = 0; k <= span; k++) if (histogram[k] > 0) table.add(k + min, histogram[k]);
      return;
    }
    for (let i = 0; i < rows; i++) if (missing === undefined || missing[i] !== 1) table.add(values[i], 1);
  }

  addStrings(values: readonly (string | null)[], rows: number): void {
    const texts = this.texts;
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      // An empty text is a missing cell, as an empty CSV cell is.
      if (v === null || v === '') this.missing++;
      else texts.set(v, (texts.get(v) ?? 0) + 1);
    }
  }

  /** Makes the direct counts cover [lo, hi]. */
  private cover(lo: number, hi: number): void {
    const old = this.direct;
    if (old !== null && lo === this.directMin && hi - lo + 1 === old.length) return;
    const counts = new Float64Array(hi - lo + 1);
    if (old !== null) counts.set(old, this.directMin - lo);
    this.direct = counts;
    this.directMin = lo;
  }

  private entries(): { keys: Float64Array; values: Float64Array } {
    if (this.table !== null) return this.table.entries();
    const counts = this.direct ?? new Float64Array(0);
    let n = 0;
    for (let k = 0; k < counts.length; k++) if (counts[k] > 0) n++;
    const keys = new Float64Array(n);
    const values = new Float64Array(n);
    n = 0;
    for (let k = 0; k < counts.length; k++) {
      if (counts[k] > 0) {
        keys[n] = k + this.directMin;
        values[n++] = counts[k];
      }
    }
    return { keys, values };
  }

  /** Ids 1..V by descending count, ties in key order; keys seen fewer than minCount times get no id. */
  vocabulary(minCount: number): Vocabulary {
    if (this.numbers) {
      const { keys, values } = this.entries();
      return orderByCount(keys, values, this.missing, minCount);
    }
    return orderByCount([...this.texts.keys()], Float64Array.from(this.texts.values()), this.missing, minCount);
  }
}

/**
 * Categories in id order: descending count, ties in key order (numbers numerically, texts by UTF-16
 * code units, "missing" last); counts below minCount dropped. A counting sort: keys are grouped by
 * count (the distinct counts are few), then each group is sorted by key with the native sort, so no
 * comparator runs per pair (a million categories take milliseconds).
 */
function orderByCount(keys: Float64Array | string[], counts: Float64Array, missing: number, minCount: number): Vocabulary {
  const withMissing = missing > 0 && missing >= minCount;
  let kept = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] >= minCount) kept++;
  const keptCounts = new Float64Array(kept + (withMissing ? 1 : 0));
  kept = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] >= minCount) keptCounts[kept++] = counts[i];
  if (withMissing) keptCounts[kept] = missing;
  const distinct = uniqueDescending(keptCounts);
  const group = (count: number): number => {
    // binary search in the descending distinct counts
    let lo = 0;
    let hi = distinct.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (distinct[mid] > count) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const groups = new Int32Array(counts.length);
  const sizes = new Float64Array(distinct.length);
  for (let i = 0; i < counts.length; i++) if (counts[i] >= minCount) sizes[(groups[i] = group(counts[i]))]++;
  const starts = new Float64Array(distinct.length + 1);
  for (let g = 0; g < distinct.length; g++) starts[g + 1] = starts[g] + sizes[g] + (withMissing && distinct[g] === missing ? 1 : 0);
  const total = starts[distinct.length];
  const next = starts.slice(0, distinct.length);
  if (keys instanceof Float64Array) {
    const out = new Float64Array(total).fill(Number.NaN);
    for (let i = 0; i < counts.length; i++) if (counts[i] >= minCount) out[next[groups[i]]++] = keys[i];
    for (let g = 0; g < distinct.length; g++) out.subarray(starts[g], starts[g] + sizes[g]).sort();
    return out;
  }
  const out = new Array<string>(total).fill('');
  for (let i = 0; i < counts.length; i++) if (counts[i] >= minCount) out[next[groups[i]]++] = keys[i];
  for (let g = 0; g < distinct.length; g++) {
    const sorted = out.slice(starts[g], starts[g] + sizes[g]).sort();
    for (let k = 0; k < sorted.length; k++) out[starts[g] + k] = sorted[k];
  }
  return out;
}

function uniqueDescending(values: Float64Array): Float64Array {
  const sorted = values.slice().sort().reverse();
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i];
  return sorted.subarray(0, n);
}

/** Maps one column's categories to ids: a lookup table over a compact integer range, or a hash table. */
class CategoryIds {
  readonly missingId: number;
  private readonly table: Int32Array | null = null;
  private readonly tableMin: number;
  private readonly numberIds: NumberTable | null = null;
  private readonly stringIds: Map<string, number> | null = null;

  constructor(vocabulary: Vocabulary) {
    this.tableMin = 0;
    if (!(vocabulary instanceof Float64Array)) {
      this.missingId = vocabulary.indexOf('') + 1; // 0 when "missing" has no id
      this.stringIds = new Map();
      for (let k = 0; k < vocabulary.length; k++) if (vocabulary[k] !== '') this.stringIds.set(vocabulary[k], k + 1);
      return;
    }
    let missingId = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < vocabulary.length; k++) {
      const v = vocabulary[k];
      if (Number.isNaN(v)) missingId = k + 1;
      else {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    this.missingId = missingId;
    const n = vocabulary.length - (missingId > 0 ? 1 : 0);
    const span = max - min;
    if (n > 0 && span <= 4 * n + 1024 && span <= 2 ** 24) {
      const table = new Int32Array(span + 1);
      for (let k = 0; k < vocabulary.length; k++) if (k + 1 !== missingId) table[vocabulary[k] - min] = k + 1;
      this.table = table;
      this.tableMin = min;
    } else {
      const ids = new NumberTable(n);
      for (let k = 0; k < vocabulary.length; k++) if (k + 1 !== missingId) ids.add(vocabulary[k], k + 1);
      this.numberIds = ids;
    }
  }

  encodeInts(values: Int32Array | Float64Array, missing: Uint8Array | undefined, rows: number, out: Int32Array): void {
    const table = this.table;
    if (table !== null) {
      const min = this.tableMin;
      const n = table.length;
      if (values instanceof Int32Array) lookupTableI32(values, rows, table, min, n, out);
      else lookupTableF64(values, rows, table, min, n, out);
    } else {
      const ids = this.numberIds!;
      for (let i = 0; i < rows; i++) out[i] = ids.get(values[i]);
    }
    if (missing !== undefined) {
      const id = this.missingId;
      for (let i = 0; i < rows; i++) if (missing[i] === 1) out[i] = id;
    }
  }

  encodeStrings(values: readonly (string | null)[], rows: number, out: Int32Array): void {
    const ids = this.stringIds!;
    const missingId = this.missingId;
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      out[i] = v === null || v === '' ? missingId : (ids.get(v) ?? 0);
    }
  }
}

// One loop per element type keeps each loop monomorphic (V8 runs a loop shared by both array types slower).
function lookupTableI32(values: Int32Array, rows: number, table: Int32Array, min: number, n: number, out: Int32Array): void {
  for (let i = 0; i < rows; i++) {
    const k = values[i] - min;
    out[i] = k >= 0 && k < n ? table[k] : 0;
  }
}

function lookupTableF64(values: Float64Array, rows: number, table: Int32Array, min: number, n: number, out: Int32Array): void {
  for (let i = 0; i < rows; i++) {
    const k = values[i] - min;
    out[i] = k >= 0 && k < n ? table[k] : 0;
  }
}

// ---------------------------------------------------------------- sequences

/** A cell's tokens: split at the separator, blanks around tokens trimmed, empty tokens dropped. */
function tokensOf(cell: string | null, separator: string): string[] {
  if (cell === null || cell === '') return [];
  const tokens: string[] = [];
  for (const part of cell.split(separator)) {
    const token = part.trim();
    if (token.length > 0) tokens.push(token);
  }
  return tokens;
}

// ---------------------------------------------------------------- dense statistics

/** Count, mean and sum of squared deviations, merged block by block (Chan et al.), with min and max. */
class DenseStats {
  count = 0;
  mean = 0;
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  update(col: RawColumn, c: SchemaColumn, rows: number, place: Place, firstRow: number): void {
    if (col.type === 'string') throw new Error('unreachable: the schema keeps dense columns numeric');
    const values = col.values;
    const missing = col.type === 'int' ? col.missing : undefined;
    let n = 0;
    let sum = 0;
    let min = this.min;
    let max = this.max;
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      if (Number.isNaN(v) || (missing !== undefined && missing[i] === 1)) continue;
      if (v - v !== 0) throw infiniteDense(c, v, place(i), firstRow + i);
      n++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.min = min;
    this.max = max;
    if (n === 0) return;
    const blockMean = sum / n;
    let m2 = 0;
    for (let i = 0; i < rows; i++) {
      const v = values[i];
      if (Number.isNaN(v) || (missing !== undefined && missing[i] === 1)) continue;
      m2 += (v - blockMean) * (v - blockMean);
    }
    const total = this.count + n;
    const delta = blockMean - this.mean;
    this.mean += (delta * n) / total;
    this.m2 += m2 + (delta * delta * this.count * n) / total;
    this.count = total;
  }
}

function infiniteDense(c: SchemaColumn, v: number, where: string, row: number): DataError {
  return new DataError(
    `${where}: the dense column "${c.name}" holds ${v}, not a finite number. Fix: correct the value in the file (leave the cell empty for a missing value).`,
    { column: c.name, row, value: v },
  );
}

// ---------------------------------------------------------------- fitting

type ColumnFitter =
  | { role: 'sparse'; column: SchemaColumn; counts: CategoryCounts }
  | { role: 'sequence'; column: SchemaColumn; counts: CategoryCounts; longest: number }
  | { role: 'dense'; column: SchemaColumn; stats: DenseStats };

/**
 * Fits a Preprocessor in one pass over the training split, block by block: labels are checked (the
 * task type's values, nothing missing), categories and sequence tokens counted, dense statistics
 * accumulated. Fitting over several blocks gives exactly what fitting over their concatenation gives
 * (the vocabularies exactly; the dense mean and spread up to rounding).
 */
export class PreprocessorFitter {
  readonly schema: TableSchema;
  private rows = 0;
  private readonly fitters: ColumnFitter[];

  constructor(schema: TableSchema) {
    this.schema = parseSchema(schema);
    this.fitters = this.schema.columns.filter(isFeature).map((column): ColumnFitter => {
      if (column.role === 'dense') return { role: 'dense', column, stats: new DenseStats() };
      if (column.role === 'sequence') return { role: 'sequence', column, counts: new CategoryCounts(false), longest: 0 };
      return { role: 'sparse', column, counts: new CategoryCounts(column.type === 'int') };
    });
  }

  update(block: RawBlock): void {
    const rows = block.rows;
    const place = blockPlace(block);
    const firstRow = block.source.firstRow;
    const labels = this.schema.columns.filter((c) => c.role === 'label');
    const scratch = new Float32Array(rows);
    // Every column is looked up first, so a missing column is reported before any counting.
    const labelColumns = labels.map((c) => rawColumn(block, c));
    const featureColumns = this.fitters.map((f) => rawColumn(block, f.column));
    labels.forEach((c, t) => readLabel(labelColumns[t], c, rows, place, firstRow, false, scratch, 0, 1));
    this.fitters.forEach((f, k) => {
      const col = featureColumns[k];
      if (f.role === 'dense') f.stats.update(col, f.column, rows, place, firstRow);
      else if (f.role === 'sparse') {
        if (col.type === 'int') f.counts.addInts(col.values, col.missing, rows);
        else if (col.type === 'string') f.counts.addStrings(col.values, rows);
      } else if (col.type === 'string') {
        const separator = f.column.separator ?? '|';
        const texts = f.counts.texts;
        for (let i = 0; i < rows; i++) {
          const tokens = tokensOf(col.values[i], separator);
          if (tokens.length > f.longest) f.longest = tokens.length;
          for (const token of tokens) texts.set(token, (texts.get(token) ?? 0) + 1);
        }
      }
    });
    this.rows += rows;
  }

  /** The fitted preprocessor (the fitter may keep taking blocks; a later finish includes them). */
  finish(): Preprocessor {
    if (this.rows === 0) {
      throw new DataError('The preprocessing was fitted on no rows: the training split is empty. Fix: check the data files and the split.');
    }
    const columns = this.fitters.map((f): FittedColumn => {
      const name = f.column.name;
      const minCount = f.column.minCount ?? 1;
      if (f.role === 'sparse') return { name, role: 'sparse', vocabulary: f.counts.vocabulary(minCount) };
      if (f.role === 'sequence') {
        const maxLength = f.column.maxLength ?? Math.max(1, f.longest);
        return { name, role: 'sequence', vocabulary: f.counts.vocabulary(minCount) as string[], maxLength };
      }
      const s = f.stats;
      if (s.count === 0) {
        throw new DataError(
          `The dense column "${name}" is empty on every one of the ${this.rows} training rows, so it has no mean or scale. ` +
            `Fix: set its role to "ignore" in the schema, or fill it in.`,
          { column: name },
        );
      }
      return { name, role: 'dense', count: s.count, mean: s.mean, std: Math.sqrt(s.m2 / s.count), min: s.min, max: s.max };
    });
    return createPreprocessor({ schema: this.schema, rows: this.rows, columns });
  }
}

// ---------------------------------------------------------------- the fitted preprocessor

type Encoder =
  | { role: 'sparse'; column: SchemaColumn; ids: CategoryIds }
  | { role: 'sequence'; column: SchemaColumn; ids: Map<string, number>; width: number; separator: string }
  | { role: 'dense'; column: SchemaColumn; shift: number; factor: number; fill: number };

function encoderOf(column: SchemaColumn, state: FittedColumn): Encoder {
  if (state.role === 'sparse') return { role: 'sparse', column, ids: new CategoryIds(state.vocabulary) };
  if (state.role === 'sequence') {
    const ids = new Map(state.vocabulary.map((token, k) => [token, k + 1]));
    return { role: 'sequence', column, ids, width: state.maxLength, separator: column.separator ?? '|' };
  }
  // x → (x − shift) · factor; a missing x is the training mean.
  const scale = column.scale ?? 'standard';
  if (scale === 'standard')
    return { role: 'dense', column, shift: state.mean, factor: 1 / (state.std > 0 ? state.std : 1), fill: state.mean };
  if (scale === 'minmax') {
    const range = state.max - state.min;
    return { role: 'dense', column, shift: state.min, factor: range > 0 ? 1 / range : 0, fill: state.mean };
  }
  return { role: 'dense', column, shift: 0, factor: 1, fill: state.mean };
}

/**
 * The fitted preprocessing of a table (see PreprocessorFitter): raw blocks or raw JS rows in, a
 * training-ready ColumnarDataset out.
 *
 * - sparse: ids 1..V by descending training count, ties by value (numbers numerically, texts by UTF-16
 *   code units, "missing" after the values); values seen fewer than minCount times, and values never
 *   seen, get id 0. An int column's categories are numbers (the text "7" given to transformRows is 7;
 *   "7.5" is an error); a string column's are texts as they are (a number given for it is String(n)).
 * - dense: float32 after scaling: 'standard' (x − mean) / std (std 0 → 1), 'minmax' (x − min) / (max − min)
 *   (a constant column → 0; values outside the training range are not clipped), 'none' x.
 * - sequence: each cell's tokens (split at the separator, trimmed, empty ones dropped) get a
 *   vocabulary like sparse values; rows are padded with 0 in front, and long ones cut at the front
 *   (the last maxLength tokens are kept), as padSequences does by default.
 * - labels: row-major [rows, nTask] float32 in schema order, checked on every block (0/1 for a
 *   classification task, finite for regression).
 *
 * Missing values: a label → an error naming the file, line, column and fix (in transformRows an absent
 * label is NaN instead: rows to predict on need none); sparse → "missing" is a category of its own
 * (id 0 when not seen in training); dense → the training mean (0 after standard scaling); sequence →
 * an empty sequence (all padding). Empty text counts as missing, as an empty CSV cell does.
 */
export class Preprocessor {
  readonly schema: TableSchema;
  private readonly state: Fitted;
  private readonly encoders: Encoder[];
  private readonly labelColumns: SchemaColumn[];

  static {
    createPreprocessor = (state) => new Preprocessor(state);
  }

  private constructor(state: Fitted) {
    this.state = state;
    this.schema = state.schema;
    this.labelColumns = state.schema.columns.filter((c) => c.role === 'label');
    const features = state.schema.columns.filter(isFeature);
    this.encoders = features.map((c, k) => encoderOf(c, state.columns[k]));
  }

  /** Fits on the training split's blocks (see PreprocessorFitter). */
  static fit(schema: TableSchema, blocks: Iterable<RawBlock>): Preprocessor {
    const fitter = new PreprocessorFitter(schema);
    for (const block of blocks) fitter.update(block);
    return fitter.finish();
  }

  get labelNames(): string[] {
    return this.labelColumns.map((c) => c.name);
  }

  get taskTypes(): TaskType[] {
    return this.labelColumns.map((c) => c.task ?? 'classification');
  }

  get sparseColumns(): string[] {
    return this.namesOf('sparse');
  }

  get denseColumns(): string[] {
    return this.namesOf('dense');
  }

  get sequenceColumns(): string[] {
    return this.namesOf('sequence');
  }

  /** Embedding rows per sparse and sequence column: the vocabulary + 1 (id 0: unknown, rare, padding). */
  get vocabSizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.state.columns) if (s.role !== 'dense') out[s.name] = s.vocabulary.length + 1;
    return out;
  }

  /** Training rows the preprocessor was fitted on. */
  get fittedRows(): number {
    return this.state.rows;
  }

  /** The padded length of a sequence column. */
  sequenceLength(name: string): number {
    const s = this.state.columns.find((c) => c.name === name);
    if (s?.role !== 'sequence') {
      throw new DataError(`"${name}" is not a sequence column. The sequence columns: ${listNames(this.sequenceColumns) || '(none)'}.`, {
        column: name,
      });
    }
    return s.maxLength;
  }

  private namesOf(role: 'sparse' | 'dense' | 'sequence'): string[] {
    return this.encoders.filter((e) => e.role === role).map((e) => e.column.name);
  }

  /** A raw block of any split → training-ready columns and labels (labels checked again). */
  transform(block: RawBlock): ColumnarDataset {
    return this.encode(block, blockPlace(block), 'required');
  }

  /**
   * A raw block of rows to predict on → the feature columns alone (no labels: the block need not
   * have label columns, and any it has are not read).
   */
  transformFeatures(block: RawBlock): ColumnarDataset {
    return this.encode(block, blockPlace(block), 'none');
  }

  /**
   * Raw JS rows (e.g. to predict on) → the same columns as transform gives for the same values in a
   * file. Every feature column must be a key of every row (null or undefined: missing); label keys may
   * be absent (their labels are then NaN). Values are read as the schema's type says: int columns
   * take whole numbers or their text, float columns numbers or their text, string columns text (a
   * number or boolean becomes its text); a sequence cell may also be a list of tokens.
   */
  transformRows(rows: readonly Record<string, unknown>[]): ColumnarDataset {
    return this.encode(this.rowsBlock(rows, true), rowsPlace, 'optional');
  }

  /** transformRows for rows to predict on: the feature columns alone; label keys are not read (nor checked). */
  transformFeatureRows(rows: readonly Record<string, unknown>[]): ColumnarDataset {
    return this.encode(this.rowsBlock(rows, false), rowsPlace, 'none');
  }

  /** Raw JS rows as a raw block of the schema's columns (labels too when `withLabels`; absent ones missing). */
  private rowsBlock(rows: readonly Record<string, unknown>[], withLabels: boolean): RawBlock {
    const columns: Record<string, RawColumn> = {};
    for (const c of this.schema.columns) {
      if (c.role === 'ignore' || (c.role === 'label' && !withLabels)) continue;
      columns[c.name] = rawFromRows(rows, c, c.role === 'label');
    }
    return { rows: rows.length, columns, source: { file: 'the rows given', firstRow: 0 } };
  }

  /** labels 'required': every row's labels, checked; 'optional': NaN where absent; 'none': features only. */
  private encode(block: RawBlock, place: Place, labels: 'required' | 'optional' | 'none'): ColumnarDataset {
    const rows = block.rows;
    const firstRow = block.source.firstRow;
    const labelled = labels === 'none' ? [] : this.labelColumns;
    const nTask = labelled.length;
    const labelColumns = labelled.map((c) => rawColumn(block, c));
    const featureColumns = this.encoders.map((e) => rawColumn(block, e.column));
    const labelValues = new Float32Array(rows * nTask);
    labelled.forEach((c, t) => readLabel(labelColumns[t], c, rows, place, firstRow, labels === 'optional', labelValues, t, nTask));
    const columns: Columns = {};
    this.encoders.forEach((e, k) => {
      const col = featureColumns[k];
      const name = e.column.name;
      if (e.role === 'sparse') {
        const out = new Int32Array(rows);
        if (col.type === 'int') e.ids.encodeInts(col.values, col.missing, rows, out);
        else if (col.type === 'string') e.ids.encodeStrings(col.values, rows, out);
        columns[name] = out;
      } else if (e.role === 'dense') {
        if (col.type !== 'string') columns[name] = scaleDense(col, e, rows, place, firstRow);
      } else if (col.type === 'string') {
        columns[name] = encodeSequences(col.values, e.ids, e.width, e.separator, rows);
      }
    });
    return new ColumnarDataset(
      columns,
      labelValues,
      labelled.map((c) => c.name),
      rows,
    );
  }

  /** The schema and fitted state, as plain JSON-safe data; fromJSON rebuilds exactly this preprocessor. */
  toJSON(): PreprocessorState {
    return {
      format: 'webmtl-preprocessor',
      version: 1,
      schema: { ...this.schema, columns: this.schema.columns.map((c) => ({ ...c })) },
      rows: this.state.rows,
      columns: this.state.columns.map((s): ColumnState => {
        if (s.role === 'dense') return { ...s };
        if (s.role === 'sequence') return { ...s, vocabulary: [...s.vocabulary] };
        const vocabulary = s.vocabulary;
        const keys: CategoryKey[] = [];
        if (vocabulary instanceof Float64Array) for (const v of vocabulary) keys.push(Number.isNaN(v) ? null : v);
        else for (const v of vocabulary) keys.push(v === '' ? null : v);
        return { name: s.name, role: 'sparse', vocabulary: keys };
      }),
    };
  }

  /** Rebuilds a preprocessor from toJSON's state (or its JSON text), checking every field. */
  static fromJSON(state: unknown): Preprocessor {
    return new Preprocessor(parseState(typeof state === 'string' ? parseJsonText(state) : state));
  }
}

function scaleDense(
  col: Exclude<RawColumn, { type: 'string' }>,
  e: Extract<Encoder, { role: 'dense' }>,
  rows: number,
  place: Place,
  firstRow: number,
): Float32Array {
  const out = new Float32Array(rows);
  const { shift, factor, fill } = e;
  const values = col.values;
  for (let i = 0; i < rows; i++) {
    let v = values[i];
    if (Number.isNaN(v)) v = fill;
    else if (v - v !== 0) throw infiniteDense(e.column, v, place(i), firstRow + i);
    out[i] = (v - shift) * factor;
  }
  const missing = col.type === 'int' ? col.missing : undefined;
  if (missing !== undefined) {
    const filled = (fill - shift) * factor;
    for (let i = 0; i < rows; i++) if (missing[i] === 1) out[i] = filled;
  }
  return out;
}

function encodeSequences(
  values: readonly (string | null)[],
  ids: Map<string, number>,
  width: number,
  separator: string,
  rows: number,
): SequenceColumn {
  const out = new Int32Array(rows * width);
  for (let i = 0; i < rows; i++) {
    const tokens = tokensOf(values[i], separator);
    const keep = tokens.length < width ? tokens.length : width;
    const from = tokens.length - keep; // the last `keep` tokens
    const to = i * width + (width - keep); // at the end of the row, zeros in front
    for (let j = 0; j < keep; j++) out[to + j] = ids.get(tokens[from + j]) ?? 0;
  }
  return new SequenceColumn(out, width);
}

// ---------------------------------------------------------------- raw JS rows

const DECIMAL_TEXT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** One column of raw rows as a RawColumn of the schema's type. */
function rawFromRows(rows: readonly Record<string, unknown>[], c: SchemaColumn, optional: boolean): RawColumn {
  const n = rows.length;
  const cell = (i: number): unknown => {
    const row = rows[i];
    if (row === null || typeof row !== 'object') {
      throw new DataError(
        `${rowsPlace(i)} is ${String(row)}, not an object of column values. Fix: pass one { column: value } object per row.`,
        {
          row: i,
          value: row,
        },
      );
    }
    if (!optional && !(c.name in row)) {
      throw new DataError(
        `${rowsPlace(i)} has no "${c.name}", a ${c.role} column of the schema. Its keys: ${listNames(Object.keys(row))}. ` +
          `Fix: give every feature column (null for a missing value).`,
        { column: c.name, row: i },
      );
    }
    return row[c.name];
  };
  const bad = (i: number, v: unknown, expected: string, fix: string) =>
    new DataError(`${rowsPlace(i)}, column "${c.name}": ${describeValue(v)} is not ${expected}. Fix: ${fix}`, {
      column: c.name,
      row: i,
      value: v,
    });
  if (c.type === 'string') {
    const values = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const v = cell(i);
      if (v === null || v === undefined || v === '' || (typeof v === 'number' && Number.isNaN(v))) values[i] = null;
      else if (typeof v === 'string') values[i] = v;
      else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') values[i] = String(v);
      else if (c.role === 'sequence' && Array.isArray(v)) values[i] = v.map(String).join(c.separator ?? '|');
      else
        throw bad(
          i,
          v,
          c.role === 'sequence' ? 'a text of tokens or a list of tokens' : 'a text or a number',
          `pass the cell's text (null for a missing value).`,
        );
    }
    return { type: 'string', values };
  }
  const values = new Float64Array(n);
  const missing = new Uint8Array(n);
  const wholeNumbers = c.type === 'int';
  const expected = wholeNumbers ? 'a whole number' : 'a number';
  const fix = wholeNumbers
    ? `pass whole numbers (or their text) for "${c.name}", or set "type": "string" in the schema if its values are names.`
    : `pass numbers (or their text) for "${c.name}" (null for a missing value).`;
  for (let i = 0; i < n; i++) {
    const v = cell(i);
    let x: number;
    if (v === null || v === undefined || v === '') x = Number.NaN;
    else if (typeof v === 'number') x = v;
    else if (typeof v === 'bigint') {
      x = Number(v);
      if (!Number.isSafeInteger(x)) throw bad(i, v, 'exactly representable (beyond ±2^53)', fix);
    } else if (typeof v === 'string' && DECIMAL_TEXT.test(v.trim())) x = Number(v);
    else throw bad(i, v, expected, fix);
    if (Number.isNaN(x)) {
      missing[i] = 1;
      x = wholeNumbers ? 0 : Number.NaN;
    } else if (wholeNumbers && !Number.isInteger(x)) throw bad(i, v, expected, fix);
    values[i] = x;
  }
  return wholeNumbers ? { type: 'int', values, missing } : { type: 'float', values };
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

// ---------------------------------------------------------------- checking a saved state

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(
      `The saved preprocessor is not valid JSON (${(e as Error).message}). Fix: save it again with preprocessor.toJSON().`,
    );
  }
}

function stateError(path: string, what: string): DataError {
  return new DataError(
    `The saved preprocessor's ${path} ${what}. Fix: pass the state toJSON() wrote, unchanged (refit the preprocessor if it was lost).`,
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const showValue = (v: unknown): string => (v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v)));

function checkKeys(obj: Record<string, unknown>, keys: readonly string[], path: string): void {
  const extra = Object.keys(obj).filter((k) => !keys.includes(k));
  const absent = keys.filter((k) => !(k in obj));
  if (extra.length) throw stateError(path, `has unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}`);
  if (absent.length) throw stateError(path, `lacks ${absent.map((k) => `"${k}"`).join(', ')}`);
}

function checkNumber(v: unknown, path: string, test: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !test(v)) throw stateError(path, `is ${showValue(v)}, not ${what}`);
  return v;
}

function parseState(raw: unknown): Fitted {
  if (!isRecord(raw)) throw stateError('state', `is ${showValue(raw)}, not an object`);
  checkKeys(raw, ['format', 'version', 'schema', 'rows', 'columns'], 'state');
  if (raw.format !== 'webmtl-preprocessor') throw stateError('format', `is ${showValue(raw.format)}, not "webmtl-preprocessor"`);
  if (raw.version !== 1) throw stateError('version', `is ${showValue(raw.version)}; this webmtl reads version 1`);
  const schema = parseSchema(raw.schema, "the saved preprocessor's schema");
  const rows = checkNumber(raw.rows, 'rows', (x) => Number.isSafeInteger(x) && x >= 1, 'a whole number ≥ 1');
  const features = schema.columns.filter(isFeature);
  const states = raw.columns;
  if (!Array.isArray(states) || states.length !== features.length) {
    throw stateError(
      'columns',
      `is not a list of ${features.length} column states (one per sparse, dense and sequence column of its schema)`,
    );
  }
  const columns = features.map((c, k) => parseColumnState(states[k] as unknown, c, `columns[${k}]`));
  return { schema, rows, columns };
}

function parseColumnState(raw: unknown, c: SchemaColumn, path: string): FittedColumn {
  if (!isRecord(raw)) throw stateError(path, `is ${showValue(raw)}, not an object`);
  if (raw.name !== c.name || raw.role !== c.role) {
    throw stateError(
      path,
      `is for ${showValue(raw.name)} (role ${showValue(raw.role)}), but its schema's column there is "${c.name}" (role "${c.role}")`,
    );
  }
  const finite = (x: number) => Number.isFinite(x);
  if (c.role === 'dense') {
    checkKeys(raw, ['name', 'role', 'count', 'mean', 'std', 'min', 'max'], path);
    const count = checkNumber(raw.count, `${path}.count`, (x) => Number.isSafeInteger(x) && x >= 1, 'a whole number ≥ 1');
    const mean = checkNumber(raw.mean, `${path}.mean`, finite, 'a finite number');
    const std = checkNumber(raw.std, `${path}.std`, (x) => finite(x) && x >= 0, 'a finite number ≥ 0');
    const min = checkNumber(raw.min, `${path}.min`, finite, 'a finite number');
    const max = checkNumber(raw.max, `${path}.max`, (x) => finite(x) && x >= min, `a finite number ≥ min (${min})`);
    return { name: c.name, role: 'dense', count, mean, std, min, max };
  }
  const sequence = c.role === 'sequence';
  checkKeys(raw, sequence ? ['name', 'role', 'vocabulary', 'maxLength'] : ['name', 'role', 'vocabulary'], path);
  if (!Array.isArray(raw.vocabulary)) throw stateError(`${path}.vocabulary`, 'is not a list');
  const vocabulary = raw.vocabulary as unknown[];
  const wholeNumbers = !sequence && c.type === 'int';
  let nulls = 0;
  const numbers = wholeNumbers ? new Float64Array(vocabulary.length) : null;
  const texts: string[] = [];
  for (let k = 0; k < vocabulary.length; k++) {
    const key = vocabulary[k];
    let ok: boolean;
    if (key === null) ok = !sequence && nulls++ === 0;
    else if (numbers !== null) {
      ok = Number.isSafeInteger(key);
      numbers[k - nulls] = key as number;
    } else {
      ok = typeof key === 'string' && key.length > 0;
      texts.push(key as string);
    }
    if (!ok) {
      const kind = sequence ? 'a token' : wholeNumbers ? 'a whole number or null (once)' : 'a non-empty text or null (once)';
      throw stateError(`${path}.vocabulary[${k}]`, `is ${showValue(key)}, not ${kind}`);
    }
  }
  // Repeats, found by sorting a copy (numbers as a typed array: a Set of a million boxed numbers is slow).
  const sorted = numbers !== null ? numbers.subarray(0, vocabulary.length - nulls).sort() : texts.sort();
  for (let k = 1; k < sorted.length; k++) {
    if (sorted[k] === sorted[k - 1]) throw stateError(`${path}.vocabulary`, `holds ${showValue(sorted[k])} twice`);
  }
  if (!sequence) {
    const keys = numbers ?? vocabulary.map((v) => (v === null ? '' : (v as string)));
    if (numbers !== null)
      for (let k = 0; k < vocabulary.length; k++) numbers[k] = vocabulary[k] === null ? Number.NaN : (vocabulary[k] as number);
    return { name: c.name, role: 'sparse', vocabulary: keys };
  }
  const maxLength = checkNumber(raw.maxLength, `${path}.maxLength`, (x) => Number.isSafeInteger(x) && x >= 1, 'a whole number ≥ 1');
  if (c.maxLength !== undefined && c.maxLength !== maxLength) {
    throw stateError(`${path}.maxLength`, `is ${maxLength}, but its schema sets maxLength ${c.maxLength}`);
  }
  return { name: c.name, role: 'sequence', vocabulary: vocabulary as string[], maxLength };
}
