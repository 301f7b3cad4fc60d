// CSV into typed columns, streamed: papaparse hands over chunks of rows, each cell goes straight into
// a growing typed array, and the rows themselves are dropped after each chunk.
// Node reads files with fs streams (imported lazily, so browser bundles never load node:fs);
// browsers pass the text itself.

import Papa from 'papaparse';
import { describeUnknown, unknownKeys } from '../options.js';
import { type Column, type Columns, type PadSequencesOptions, padSequences, SequenceColumn } from './columns.js';
import { DataError, listNames, missingColumnError } from './errors.js';
import { LabelEncoder } from './preprocess.js';

/**
 * How a column is read:
 * - `dense`: numbers → Float32Array; empty / NaN / text is an error (unless `fillNa` covers the column).
 * - `sparse`: pre-encoded integer ids → Int32Array; a non-integer is an error.
 * - `categorical`: raw values kept as strings (in `CsvTable.categorical`) to be label-encoded, or encoded
 *   while reading when `encoders` has a fitted LabelEncoder for the column.
 * - `auto`: integers → Int32Array, promoted to Float32Array at the first non-integer number and to
 *   strings at the first non-number.
 * - `sequence`: pre-encoded integer ids separated by '|' (e.g. a user's recent items "17|4|230"; an
 *   empty cell is an empty history) → a SequenceColumn, padded as `sequences[name]` says
 *   (padSequences' options; default: to the longest, with 0 in front).
 */
export type ColumnKind = 'dense' | 'sparse' | 'categorical' | 'auto' | 'sequence';
export type ColumnSpec = Record<string, ColumnKind>;

/** A file path (Node), or CSV text. A bare string is text when it contains a line break, else a path. */
export type CsvSource = string | { path: string } | { text: string };

export interface ReadCsvOptions {
  /** Columns to read and how; others are dropped unless `others` says 'auto'. Default: every column, 'auto'. */
  columns?: ColumnSpec;
  /** What to do with columns not named in `columns` (default 'drop' when `columns` is given). */
  others?: 'drop' | 'auto';
  /** Value for empty / NaN cells of dense (and auto) columns, for all of them or per column. */
  fillNa?: number | Record<string, number>;
  /** Fitted encoders: their categorical columns are encoded while reading (unseen values → 0). */
  encoders?: Record<string, LabelEncoder>;
  /** Per sequence column: the separator between ids (default '|') and how to pad (padSequences' options). */
  sequences?: Record<string, PadSequencesOptions & { separator?: string }>;
  /** Field separator (default ','); a non-empty string without line breaks, double quotes or a byte-order mark. */
  delimiter?: string;
  /** Characters per chunk of text (file: bytes per read; default 1 MiB); a positive integer. Chunks are cut at row ends. */
  chunkSize?: number;
  /**
   * The model's features (SparseFeature, DenseFeature, SequenceFeature, or { name, kind }): each column
   * is read as its feature says — a DenseFeature's as float32 even when every value is a whole number
   * — on top of `columns`; columns no feature names (labels) are read as `others` says (default 'auto').
   */
  features?: readonly CsvFeature[];
}

/** A feature as readCsv reads it: its column name and kind. */
export interface CsvFeature {
  name: string;
  kind: 'sparse' | 'dense' | 'sequence';
}

export interface CsvTable {
  /** Every column name in the file header, in file order. */
  header: string[];
  /** The numeric columns read, in header order. */
  columns: Columns;
  /** Categorical columns still holding raw strings (label-encode them before training). */
  categorical: Record<string, string[]>;
  numRows: number;
}

type Storage = 'int' | 'float' | 'string';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function toNumber(cell: string): number {
  if (cell.length === 0) return NaN;
  const v = +cell;
  // JavaScript's unary + also reads hex/octal/binary ("0x10" → 16); a CSV number is decimal.
  if (cell.length > 2 && Number.isInteger(v) && isRadixLiteral(cell)) return NaN;
  if (v === 0 && cell.trim() === '') return NaN;
  return v;
}

/** "0x1F", "0o17", "0b101" (after blanks): what Number() reads but a CSV reader must not. */
function isRadixLiteral(cell: string): boolean {
  let i = 0;
  while (i < cell.length && cell.charCodeAt(i) <= 32) i++;
  if (cell.charCodeAt(i) !== 48) return false;
  const c = cell.charCodeAt(i + 1) | 32; // lower case
  return c === 120 || c === 111 || c === 98; // x o b
}

/** Empty, or a usual spelling of "missing" (NaN, NA, null, None). */
function isMissingCell(cell: string): boolean {
  return /^\s*(nan|na|null|none)?\s*$/i.test(cell);
}

/** "line 19 (data row 18)" — line numbers count the header as line 1 (exact unless quoted cells span lines). */
function place(row: number): string {
  return `line ${row + 2} (data row ${row + 1})`;
}

/** One output column that grows by doubling. */
class ColumnBuilder {
  private storage: Storage;
  private ints = new Int32Array(0);
  private floats = new Float32Array(0);
  private strings: string[] = [];
  private lists: number[][] = [];
  /**
   * An 'auto' column turned to strings after numbers were read: those cells are re-read as text in a
   * second pass (parseCsv/readCsvFile), so "1.10" stays "1.10" and "007" stays "007".
   */
  promotedLate = false;
  private n = 0;

  constructor(
    readonly name: string,
    readonly kind: ColumnKind,
    private readonly source: string,
    private readonly fill: number | undefined,
    private readonly encoder: LabelEncoder | undefined,
    private readonly sequence: (PadSequencesOptions & { separator?: string }) | undefined = undefined,
  ) {
    if (kind === 'dense') this.storage = 'float';
    else if (kind === 'categorical') this.storage = encoder ? 'int' : 'string';
    else this.storage = 'int';
    if (encoder && !encoder.fitted) {
      throw new DataError(`The encoder given for column "${name}" is not fitted. Fix: fit it on the training values first.`, {
        column: name,
      });
    }
  }

  push(cell: string, row: number): void {
    switch (this.kind) {
      case 'dense':
        this.pushFloat(this.denseValue(cell, row));
        return;
      case 'sparse':
        this.pushInt(this.sparseId(cell, row));
        return;
      case 'categorical':
        if (this.encoder) {
          this.pushInt(this.encoder.encode(cell));
          return;
        }
        this.strings.push(cell);
        this.n++;
        return;
      case 'auto':
        this.pushAuto(cell, row);
        return;
      case 'sequence':
        this.lists.push(this.sequenceIds(cell, row));
        this.n++;
        return;
    }
  }

  private sequenceIds(cell: string, row: number): number[] {
    if (cell.trim() === '') return [];
    const separator = this.sequence?.separator ?? '|';
    return cell.split(separator).map((token, position) => {
      const v = toNumber(token);
      if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return v;
      throw new DataError(
        `Sequence column "${this.name}" has "${token}" at position ${position} of ${place(row)} of ${this.source}, which is not an integer id. ` +
          `Fix: encode the items as integer ids separated by "${separator}" (readCsv option sequences: { "${this.name}": { separator } } for another separator).`,
        { column: this.name, row, value: token },
      );
    });
  }

  private denseValue(cell: string, row: number): number {
    const v = toNumber(cell);
    if (Number.isFinite(v)) {
      if (!Number.isFinite(Math.fround(v))) throw this.float32Overflow(cell, row);
      return v;
    }
    const missing = isMissingCell(cell);
    if (missing && this.fill !== undefined) return this.fill;
    const shown = cell === '' ? 'an empty cell' : `"${cell}"`;
    throw new DataError(
      `Dense column "${this.name}" has ${shown} at ${place(row)} of ${this.source}, which is not a number. ` +
        `Fix: fill missing values (readCsv option fillNa: { "${this.name}": 0 }, or fill them in the file) or drop those rows` +
        (missing ? '.' : `; if the column holds categories, declare it 'categorical' and label-encode it.`),
      { column: this.name, row, value: cell },
    );
  }

  private float32Overflow(cell: string, row: number): DataError {
    return new DataError(
      `Column "${this.name}" has "${cell}" at ${place(row)} of ${this.source}, which is beyond the float32 range (±3.4e38) and would be read as infinity. ` +
        `Fix: rescale the column, or declare it 'categorical' if it is an identifier.`,
      { column: this.name, row, value: cell },
    );
  }

  private sparseId(cell: string, row: number): number {
    const v = toNumber(cell);
    if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return v;
    const shown = cell === '' ? 'an empty cell' : `"${cell}"`;
    throw new DataError(
      `Sparse column "${this.name}" is declared as pre-encoded integer ids but has ${shown} at ${place(row)} of ${this.source}. ` +
        `Fix: declare it 'categorical' and label-encode it (LabelEncoder), fill missing ids with 0, or declare it 'dense' if it is a number.`,
      { column: this.name, row, value: cell },
    );
  }

  private pushAuto(cell: string, row: number): void {
    if (this.storage === 'string') {
      this.strings.push(cell);
      this.n++;
      return;
    }
    let v = toNumber(cell);
    if (Number.isNaN(v) && this.fill !== undefined && isMissingCell(cell)) {
      v = this.fill;
    } else if (Number.isNaN(v) && cell.trim() === '') {
      throw new DataError(
        `Column "${this.name}" has an empty cell at ${place(row)} of ${this.source}. ` +
          `Fix: fill missing values (readCsv option fillNa: { "${this.name}": 0 }) or drop those rows, ` +
          `or declare the column 'categorical' to keep empty as its own category.`,
        { column: this.name, row, value: cell },
      );
    }
    if (Number.isNaN(v)) {
      this.promoteToStrings();
      this.strings.push(cell);
      this.n++;
    } else if (this.storage === 'int' && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) {
      this.pushInt(v);
    } else {
      if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) throw this.float32Overflow(cell, row);
      if (this.storage === 'int') this.promoteToFloats();
      this.pushFloat(v);
    }
  }

  private pushInt(v: number): void {
    if (this.n === this.ints.length) {
      const grown = new Int32Array(Math.max(1024, this.n * 2));
      grown.set(this.ints);
      this.ints = grown;
    }
    this.ints[this.n++] = v;
  }

  private pushFloat(v: number): void {
    if (this.n === this.floats.length) {
      const grown = new Float32Array(Math.max(1024, this.n * 2));
      grown.set(this.floats);
      this.floats = grown;
    }
    this.floats[this.n++] = v;
  }

  private promoteToFloats(): void {
    this.floats = Float32Array.from(this.ints.subarray(0, this.n));
    this.ints = new Int32Array(0);
    this.storage = 'float';
  }

  private promoteToStrings(): void {
    const numbers = this.storage === 'int' ? this.ints : this.floats;
    // Stand-ins until the second pass puts back the cells as written.
    this.strings = Array.from(numbers.subarray(0, this.n), (v) => (this.storage === 'int' ? String(v) : formatFloat32(v)));
    if (this.n > 0) this.promotedLate = true;
    this.ints = new Int32Array(0);
    this.floats = new Float32Array(0);
    this.storage = 'string';
  }

  finish(): Column | string[] {
    if (this.kind === 'sequence') return padSequences(this.lists, this.sequence);
    if (this.storage === 'string') return this.strings;
    const arr = this.storage === 'int' ? this.ints : this.floats;
    return arr.length === this.n ? arr : arr.slice(0, this.n);
  }
}

const COLUMN_KINDS: readonly ColumnKind[] = ['dense', 'sparse', 'categorical', 'auto', 'sequence'];
const OPTION_NAMES: readonly string[] = ['columns', 'others', 'fillNa', 'encoders', 'sequences', 'delimiter', 'chunkSize', 'features'];

/** The options with `features` folded into `columns` (each feature's column read as its kind), checked against `columns`. */
function withFeatureKinds(options: ReadCsvOptions): ReadCsvOptions {
  const { features, ...rest } = options;
  if (features === undefined) return options;
  if (!Array.isArray(features))
    throw new DataError(`readCsv: features must be a list of features (DenseFeature, SparseFeature, ...), got ${shown(features)}.`);
  const columns: ColumnSpec = {};
  for (const f of features as readonly CsvFeature[]) {
    const kind = (f as Partial<CsvFeature> | null)?.kind;
    const name = (f as Partial<CsvFeature> | null)?.name;
    if (typeof name !== 'string' || (kind !== 'sparse' && kind !== 'dense' && kind !== 'sequence'))
      throw new DataError(`readCsv: each of features needs a name and a kind ('sparse', 'dense' or 'sequence'), got ${shown(f)}.`);
    const declared = own(options.columns, name);
    if (declared !== undefined && declared !== kind && !(kind === 'sparse' && declared === 'categorical'))
      throw new DataError(`readCsv: column "${name}" is a ${kind} feature but columns declares it '${declared}'. Fix: drop one of them.`, {
        column: name,
      });
    Object.defineProperty(columns, name, { value: kind, enumerable: true, writable: true, configurable: true });
  }
  for (const [name, kind] of Object.entries(options.columns ?? {}))
    Object.defineProperty(columns, name, { value: kind, enumerable: true, writable: true, configurable: true });
  return { ...rest, columns, others: options.others ?? (options.columns ? 'drop' : 'auto') };
}
/** What papaparse cannot split on (it silently guesses another delimiter instead). */
const BAD_DELIMITERS = ['\r', '\n', '"', '\uFEFF'];

/** record[name] when it is the record's own property (never something inherited from Object.prototype). */
const own = <T>(record: Record<string, T> | undefined, name: string): T | undefined =>
  record !== undefined && Object.hasOwn(record, name) ? record[name] : undefined;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown): string => {
  try {
    return typeof v === 'string'
      ? JSON.stringify(v)
      : typeof v === 'number' || typeof v === 'boolean'
        ? String(v)
        : (JSON.stringify(v) ?? typeof v);
  } catch {
    return typeof v;
  }
};

/** Refuses option objects that would otherwise be silently ignored or misread (a typo, a wrong type, a bad delimiter). */
function checkOptions(options: ReadCsvOptions): void {
  if (!isPlainObject(options)) throw new DataError(`readCsv: options must be an object, got ${shown(options)}.`);
  const unknown = unknownKeys(options, OPTION_NAMES);
  if (unknown.length) {
    throw new DataError(
      `readCsv: unknown option${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, OPTION_NAMES)}; the options are ${listNames(OPTION_NAMES)}.`,
    );
  }
  const { columns, others, fillNa, encoders, sequences, delimiter, chunkSize } = options as Record<string, unknown>;
  if (columns !== undefined) {
    if (!isPlainObject(columns)) {
      throw new DataError(
        `readCsv: columns must map each column name to its kind, e.g. { click: 'dense', user_id: 'sparse', city: 'categorical' }; got ${Array.isArray(columns) ? 'an array ' : ''}(${shown(columns)}). Fix: pass an object.`,
      );
    }
    for (const [name, kind] of Object.entries(columns)) {
      if (!COLUMN_KINDS.includes(kind as ColumnKind)) {
        throw new DataError(`readCsv: column "${name}" has kind ${shown(kind)}; the kinds are ${listNames(COLUMN_KINDS)}.`, {
          column: name,
          value: kind,
        });
      }
    }
  }
  if (others !== undefined && others !== 'drop' && others !== 'auto')
    throw new DataError(`readCsv: others must be 'drop' or 'auto', got ${shown(others)}.`);
  if (fillNa !== undefined && typeof fillNa !== 'number') {
    if (!isPlainObject(fillNa)) throw new DataError(`readCsv: fillNa must be a number or { column: number }, got ${shown(fillNa)}.`);
    for (const [name, v] of Object.entries(fillNa)) {
      if (typeof v !== 'number')
        throw new DataError(`readCsv: fillNa for column "${name}" must be a number, got ${shown(v)}.`, { column: name, value: v });
    }
  }
  for (const [option, value] of [
    ['encoders', encoders],
    ['sequences', sequences],
  ] as const) {
    if (value === undefined) continue;
    if (!isPlainObject(value)) throw new DataError(`readCsv: ${option} must be an object keyed by column name, got ${shown(value)}.`);
    for (const [name, v] of Object.entries(value)) {
      if (!isPlainObject(v) && !(option === 'encoders' && v instanceof LabelEncoder)) {
        throw new DataError(
          `readCsv: ${option} for column "${name}" must be ${option === 'encoders' ? 'a fitted LabelEncoder' : 'an object'}, got ${shown(v)}.`,
          { column: name },
        );
      }
    }
  }
  if (isPlainObject(sequences)) {
    for (const [name, v] of Object.entries(sequences)) {
      const separator = (v as { separator?: unknown }).separator;
      if (separator !== undefined && (typeof separator !== 'string' || separator.length === 0)) {
        throw new DataError(`readCsv: the separator of sequence column "${name}" must be a non-empty string, got ${shown(separator)}.`, {
          column: name,
        });
      }
    }
  }
  if (
    delimiter !== undefined &&
    (typeof delimiter !== 'string' || delimiter.length === 0 || BAD_DELIMITERS.some((b) => delimiter.includes(b)))
  ) {
    throw new DataError(
      `readCsv: delimiter must be a non-empty string without line breaks, double quotes or a byte-order mark, got ${shown(delimiter)}. Fix: e.g. ',', ';' or '\t'.`,
    );
  }
  if (chunkSize !== undefined && !(typeof chunkSize === 'number' && Number.isSafeInteger(chunkSize) && chunkSize > 0)) {
    throw new DataError(`readCsv: chunkSize must be a positive integer number of bytes, got ${shown(chunkSize)}.`);
  }
}

/** Turns header + rows into columns; knows nothing about where the text comes from. */
class TableBuilder {
  private header: string[] | null = null;
  private builders: ColumnBuilder[] = [];
  private fieldIndex: number[] = [];
  private rows = 0;

  private readonly options: ReadCsvOptions;

  constructor(
    options: ReadCsvOptions,
    private readonly source: string,
  ) {
    checkOptions(options);
    this.options = withFeatureKinds(options);
  }

  addRows(rows: string[][], errors: Papa.ParseError[]): void {
    if (errors.length > 0) {
      const e = errors[0];
      const row = this.rows + (e.row ?? 0) - (this.header === null ? 1 : 0); // papaparse counts from the chunk start
      throw new DataError(
        `CSV syntax error in ${this.source} near ${row < 0 ? 'the header (line 1)' : `data row ${row + 1}`}: ${e.message} (${e.code}). ` +
          `Fix: check the quoting in that row (a field with a comma or line break must be in double quotes).`,
        row < 0 ? {} : { row },
      );
    }
    let start = 0;
    if (this.header === null && rows.length > 0) {
      this.setHeader(rows[0]);
      start = 1;
    }
    const header = this.header;
    if (header === null) return;
    const width = header.length;
    const builders = this.builders;
    const index = this.fieldIndex;
    for (let r = start; r < rows.length; r++) {
      const fields = rows[r];
      if (fields.length !== width) {
        throw new DataError(
          `${place(this.rows)} of ${this.source} has ${fields.length} fields but the header has ${width}. ` +
            `Fix: check for a stray delimiter or a missing value in that row (or pass the right delimiter).`,
          { row: this.rows, value: fields.length },
        );
      }
      for (let c = 0; c < builders.length; c++) builders[c].push(fields[index[c]], this.rows);
      this.rows++;
    }
  }

  private setHeader(fields: string[]): void {
    const header = fields.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f));
    this.header = header;
    const spec = this.options.columns;
    const others = this.options.others ?? (spec ? 'drop' : 'auto');
    const wanted: [string, ColumnKind][] = [];
    if (spec) {
      for (const name of Object.keys(spec)) {
        if (!header.includes(name)) throw missingColumnError(name, header, this.source);
      }
    }
    for (const name of header) {
      // Own keys only: a column named "constructor" or "toString" is not in { a: 'dense' }.
      const kind = own(spec, name) ?? (others === 'auto' ? 'auto' : undefined);
      if (kind) wanted.push([name, kind]);
    }
    const duplicates = header.filter((name, i) => header.indexOf(name) !== i);
    if (duplicates.length > 0) {
      throw new DataError(`The header of ${this.source} repeats column names: ${listNames(duplicates)}. Fix: rename them.`, {
        column: duplicates[0],
      });
    }
    const fill = this.options.fillNa;
    for (const [name, kind] of wanted) {
      const fillValue = typeof fill === 'number' ? fill : own(fill, name);
      this.builders.push(
        new ColumnBuilder(name, kind, this.source, fillValue, own(this.options.encoders, name), own(this.options.sequences, name)),
      );
      this.fieldIndex.push(header.indexOf(name));
    }
  }

  /** 'auto' columns that became text after numbers had been read (their early cells need a second pass). */
  promotedLate(): string[] {
    return this.builders.filter((b) => b.promotedLate).map((b) => b.name);
  }

  finish(): CsvTable {
    if (this.header === null) throw new DataError(`${this.source} is empty: it has no header line.`);
    const columns: Columns = {};
    const categorical: Record<string, string[]> = {};
    for (const b of this.builders) {
      const values = b.finish();
      // defineProperty, not assignment: a column named "__proto__" must be an own property.
      const slot = { value: values, enumerable: true, writable: true, configurable: true };
      if (Array.isArray(values)) Object.defineProperty(categorical, b.name, slot);
      else Object.defineProperty(columns, b.name, slot);
    }
    return { header: this.header, columns, categorical, numRows: this.rows };
  }
}

type Newline = '\r\n' | '\n' | '\r';

/**
 * Cuts a stream of text into pieces that end at a line break outside double quotes, so that papaparse
 * parses whole rows: papaparse's own chunking mis-reports valid files (InvalidQuotes when a chunk ends
 * between a closing quote and "\r\n") and guesses the line break from its first chunk only. The line
 * break is the first one found outside quotes; a leading byte-order mark is dropped.
 */
class LineChunker {
  private buf = '';
  private pos = 0;
  private quoted = false;
  private cut = 0;
  private started = false;
  newline: Newline | undefined;

  constructor(private readonly delimiter: string) {}

  /** Adds text; returns the whole rows now complete ('' when none). */
  push(text: string): string {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buf += text;
    this.scan(this.buf.length - Math.max(2, this.delimiter.length));
    return this.take();
  }

  /** The rest of the text. */
  end(): string {
    this.scan(this.buf.length);
    const rest = this.buf;
    this.buf = '';
    this.pos = this.cut = 0;
    return rest;
  }

  private take(): string {
    if (this.cut === 0) return '';
    const piece = this.buf.slice(0, this.cut);
    this.buf = this.buf.slice(this.cut);
    this.pos -= this.cut;
    this.cut = 0;
    return piece;
  }

  /** Advances the quote state up to `limit` (exclusive), leaving room to look ahead; jumps from quote to line break. */
  private scan(limit: number): void {
    const b = this.buf;
    const d = this.delimiter;
    let i = this.pos;
    while (i < limit) {
      if (this.quoted) {
        const q = b.indexOf('"', i);
        if (q < 0 || q >= limit) {
          i = limit;
          break;
        }
        if (b[q + 1] === '"')
          i = q + 2; // an escaped quote
        else {
          this.quoted = false;
          i = q + 1;
        }
        continue;
      }
      SPECIAL.lastIndex = i;
      const m = SPECIAL.exec(b);
      if (m === null || m.index >= limit) {
        i = limit;
        break;
      }
      const j = m.index;
      const c = b[j];
      if (c === '"') {
        // Only a quote that opens a field starts a quoted field (papaparse keeps others as text).
        const prev = b[j - 1];
        if (j === 0 || prev === '\n' || prev === '\r' || (j >= d.length && b.startsWith(d, j - d.length))) this.quoted = true;
        i = j + 1;
        continue;
      }
      if (this.newline === undefined) this.newline = c === '\n' ? '\n' : b[j + 1] === '\n' ? '\r\n' : '\r';
      if (this.newline === '\r\n' ? c === '\r' && b[j + 1] === '\n' : c === this.newline) {
        i = j + this.newline.length;
        this.cut = i;
      } else i = j + 1;
    }
    this.pos = Math.max(i, this.pos);
  }
}

const SPECIAL = /["\r\n]/g;

/** Parses whole rows with papaparse (synchronously) into the builder. */
function parsePiece(builder: TableBuilder, options: ReadCsvOptions, piece: string, newline: Newline | undefined): void {
  if (piece.length === 0) return;
  const results = Papa.parse<string[]>(piece, {
    header: false,
    skipEmptyLines: true,
    delimiter: options.delimiter ?? ',',
    newline: newline ?? '\n',
  });
  builder.addRows(results.data, results.errors);
}

/** Parses CSV text synchronously (works everywhere, browsers included). */
export function parseCsv(text: string, options: ReadCsvOptions = {}): CsvTable {
  const builder = new TableBuilder(options, 'the CSV text');
  if (typeof text !== 'string') throw new DataError(`readCsv: the CSV text must be a string, got ${shown(text)}.`);
  const chunker = new LineChunker(options.delimiter ?? ',');
  const size = options.chunkSize ?? 1 << 20;
  for (let start = 0; start < text.length; start += size) {
    parsePiece(builder, options, chunker.push(text.slice(start, start + size)), chunker.newline);
  }
  parsePiece(builder, options, chunker.end(), chunker.newline);
  const table = builder.finish();
  const late = builder.promotedLate();
  if (late.length) putBackText(table, late, parseCsv(text, textPassOptions(options, late)));
  return table;
}

/** Options of the second pass that re-reads, as text, the 'auto' columns that turned to strings late. */
function textPassOptions(options: ReadCsvOptions, names: string[]): ReadCsvOptions {
  const columns: ColumnSpec = {};
  for (const name of names)
    Object.defineProperty(columns, name, { value: 'categorical', enumerable: true, writable: true, configurable: true });
  const pass: ReadCsvOptions = { columns, others: 'drop' };
  if (options.delimiter !== undefined) pass.delimiter = options.delimiter;
  if (options.chunkSize !== undefined) pass.chunkSize = options.chunkSize;
  return pass;
}

function putBackText(table: CsvTable, names: string[], text: CsvTable): void {
  if (text.numRows !== table.numRows)
    throw new DataError(
      `readCsv: the second read of ${listNames(names)} found ${text.numRows} rows, not ${table.numRows} (did the file change while it was read?).`,
    );
  for (const name of names)
    Object.defineProperty(table.categorical, name, { value: text.categorical[name], enumerable: true, writable: true, configurable: true });
}

/** Streams a CSV file from disk (Node only). */
export async function readCsvFile(path: string, options: ReadCsvOptions = {}): Promise<CsvTable> {
  const fs = await import('node:fs');
  if (typeof path !== 'string' || !fs.existsSync(path))
    throw new DataError(`CSV file not found: ${path}. Fix: check the path (relative paths start at ${process.cwd()}).`);
  const builder = new TableBuilder(options, path);
  const chunker = new LineChunker(options.delimiter ?? ',');
  const stream = fs.createReadStream(path, { encoding: 'utf8', highWaterMark: options.chunkSize ?? 1 << 20 });
  try {
    for await (const chunk of stream) parsePiece(builder, options, chunker.push(chunk as string), chunker.newline);
  } finally {
    stream.destroy();
  }
  parsePiece(builder, options, chunker.end(), chunker.newline);
  const table = builder.finish();
  const late = builder.promotedLate();
  if (late.length) putBackText(table, late, await readCsvFile(path, textPassOptions(options, late)));
  return table;
}

/** The header fields of CSV text (reads only the first line). */
export function csvHeaderOfText(text: string, delimiter = ','): string[] {
  const first = Papa.parse<string[]>(text, { preview: 1, delimiter, skipEmptyLines: true }).data[0] ?? [];
  return first.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f));
}

/** The header fields of a CSV file (Node; reads only the start of the file). */
export async function csvHeaderOfFile(path: string, delimiter = ','): Promise<string[]> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'r').catch(() => {
    throw new DataError(`CSV file not found: ${path}. Fix: check the path (relative paths start at ${process.cwd()}).`);
  });
  try {
    let text = '';
    const buffer = new Uint8Array(1 << 16);
    const decoder = new TextDecoder();
    for (let position = 0; ; position += buffer.length) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      text += decoder.decode(buffer.subarray(0, bytesRead), { stream: bytesRead > 0 });
      if (bytesRead === 0 || /[\r\n]/.test(text)) break;
    }
    return csvHeaderOfText(text, delimiter);
  } finally {
    await file.close();
  }
}

/** Reads CSV from a file path (streamed, Node) or from text (any platform). */
export async function readCsv(source: CsvSource, options: ReadCsvOptions = {}): Promise<CsvTable> {
  if (typeof source === 'string') {
    return /[\r\n]/.test(source) ? parseCsv(source, options) : readCsvFile(source, options);
  }
  if (typeof source === 'object' && source !== null && typeof (source as { text?: unknown }).text === 'string')
    return parseCsv((source as { text: string }).text, options);
  if (typeof source === 'object' && source !== null && typeof (source as { path?: unknown }).path === 'string')
    return readCsvFile((source as { path: string }).path, options);
  throw new DataError(`readCsv: the source must be a path, CSV text, { path } or { text } (a string), got ${shown(source)}.`);
}

/**
 * Label-encodes categorical columns in place: fits one encoder per column on `train` and applies it to
 * `train` and each of `others` (unseen values → 0). The encoded columns move from `categorical` to `columns`.
 */
export function encodeCategoricalColumns(
  train: CsvTable,
  others: CsvTable[] = [],
  names: readonly string[] = Object.keys(train.categorical),
): { encoders: Record<string, LabelEncoder>; vocabSizes: Record<string, number> } {
  const encoders: Record<string, LabelEncoder> = {};
  const vocabSizes: Record<string, number> = {};
  for (const name of names) {
    const values = train.categorical[name] ?? train.columns[name];
    if (values === undefined)
      throw missingColumnError(name, [...Object.keys(train.columns), ...Object.keys(train.categorical)], 'the training table');
    const enc = new LabelEncoder().fit(values);
    encoders[name] = enc;
    vocabSizes[name] = enc.vocabSize;
    for (const table of [train, ...others]) {
      const raw = table.categorical[name] ?? table.columns[name];
      if (raw === undefined) throw missingColumnError(name, [...Object.keys(table.columns), ...Object.keys(table.categorical)]);
      table.columns[name] = enc.transform(raw);
      delete table.categorical[name];
    }
  }
  return { encoders, vocabSizes };
}

// ---------------------------------------------------------------------------------------------------
// Writing

/**
 * The shortest decimal text that reads back as the same float32. Starting at 6 significant digits is
 * safe: a float32 carries more than 7, so a shorter decimal that round-trips is what rounding to 6
 * digits gives, with trailing zeros that String(Number(…)) drops.
 */
export function formatFloat32(v: number): string {
  if (Number.isInteger(v)) return String(v);
  // Fast path for values with at most 4 decimals (typical of normalised features). Below 512 a float32's
  // spacing is under 1e-4, so no other decimal with 4 or fewer places reads back as the same float.
  if (Math.abs(v) < 512) {
    const d = Math.round(v * 1e4) / 1e4;
    if (Math.fround(d) === v) return String(d);
  }
  for (let p = 6; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

function formatter(values: Column | string[]): (i: number) => string {
  if (values instanceof Float32Array) return (i) => formatFloat32(values[i]);
  if (values instanceof Int32Array) return (i) => String(values[i]);
  if (values instanceof SequenceColumn) return (i) => values.row(i).join('|');
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return (i) => quote(values[i]);
}

/** Yields CSV text in blocks of rows (header first). Columns are written in `header` order. */
export function* csvBlocks(
  columns: Record<string, Column | string[]>,
  header: readonly string[] = Object.keys(columns),
  rowsPerBlock = 8192,
): Generator<string> {
  const format = header.map((name) => {
    const values = columns[name];
    if (values === undefined) throw missingColumnError(name, Object.keys(columns), 'the columns to write');
    return formatter(values);
  });
  const n = header.length > 0 ? columns[header[0]].length : 0;
  yield `${header.join(',')}\n`;
  for (let start = 0; start < n; start += rowsPerBlock) {
    const end = Math.min(n, start + rowsPerBlock);
    const lines: string[] = new Array(end - start);
    for (let i = start; i < end; i++) {
      let line = format[0](i);
      for (let c = 1; c < format.length; c++) line += `,${format[c](i)}`;
      lines[i - start] = line;
    }
    yield `${lines.join('\n')}\n`;
  }
}

export function toCsvText(columns: Record<string, Column | string[]>, header?: readonly string[]): string {
  return [...csvBlocks(columns, header)].join('');
}

/** Writes columns to a CSV file block by block (Node only). */
export async function writeCsv(path: string, columns: Record<string, Column | string[]>, header?: readonly string[]): Promise<void> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'w');
  try {
    for (const block of csvBlocks(columns, header)) await file.write(block);
  } finally {
    await file.close();
  }
}
