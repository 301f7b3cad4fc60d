// The light engine: CSV through papaparse, Parquet through hyparquet, in plain JavaScript. It follows
// the DuckDB engine's rules cell for cell (what counts as a number, an integer, a missing value), so
// both give identical raw blocks; it also locates the cell behind a DuckDB error that names no line.
// The parsing parts take text or an AsyncBuffer and run anywhere; files are opened with node:fs,
// imported on first use, and in-memory sources (SourceFile.content: text or bytes) never touch it, so
// the light engine reads those in browsers too.

import type { AsyncBuffer, FileMetaData, SchemaElement } from 'hyparquet';
import Papa from 'papaparse';
import { checkOptionNames } from '../../options.js';
import { DataError, listNames } from '../errors.js';
import type { RawBlock, RawColumn, SourceType } from '../raw.js';
import type { SourceFile } from '../sources.js';
import type { ColumnInfo, ScanOptions, TableReader } from './index.js';

// ---------------------------------------------------------------------------------------------------
// Cells: the DuckDB engine reads numeric CSV cells as DOUBLE, so these rules follow DuckDB's DOUBLE cast.

/** The largest integer a float64 (and so an int column stored as Float64Array) holds exactly. */
export const MAX_EXACT_INT = 9007199254740991;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?$/;
const SPECIAL_NUMBER = /^([+-]?)(nan|inf|infinity)$/i;
const EDGE_SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/**
 * A non-empty cell as a number, as DuckDB reads a DOUBLE: blanks around it ignored, `_` between digits,
 * an exponent, `nan` / `inf` / `infinity` in any case; hex, thousands separators and words are not
 * numbers (undefined).
 */
export function parseNumberCell(cell: string): number | undefined {
  const text = cell.replace(EDGE_SPACE, '');
  if (DECIMAL_NUMBER.test(text)) return Number(text.includes('_') ? text.replace(/_/g, '') : text);
  const special = SPECIAL_NUMBER.exec(text);
  if (!special) return undefined;
  if (special[2].toLowerCase() === 'nan') return NaN;
  return special[1] === '-' ? -Infinity : Infinity;
}

/**
 * What DuckDB's CSV sniffer would call a column, from the text of its cells: no '+' sign, and no leading
 * zero on an unsigned number ("007" is text, as zip codes and codes are; "-007" is a number).
 */
const SNIFF_INT = /^(?:-\d{1,18}|0|[1-9]\d{0,17})$/;
const SNIFF_FLOAT = /^(?:(?:-(?:\d+\.?\d*|\.\d+)|(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|-?nan)$/i;

class TypeSniffer {
  private canInt = true;
  private canFloat = true;
  private seen = false;

  add(cell: string): void {
    if (cell === '' || (!this.canInt && !this.canFloat)) return;
    this.seen = true;
    const text = cell.replace(EDGE_SPACE, '');
    if (this.canInt && !SNIFF_INT.test(text)) this.canInt = false;
    if (!this.canInt && this.canFloat && !SNIFF_FLOAT.test(text)) this.canFloat = false;
  }

  get type(): SourceType {
    if (!this.seen) return 'string';
    return this.canInt ? 'int' : this.canFloat ? 'float' : 'string';
  }
}

/** Rows the type sniffers look at (DuckDB's default sample_size). */
export const SNIFF_ROWS = 20480;

// ---------------------------------------------------------------------------------------------------
// Errors shared by both engines (same words, so the engines' messages match).

export type CellProblem = 'not-number' | 'not-integer' | 'too-large';

/** "data.csv line 7" for CSV (physical lines, the header is line 1), "part.parquet row 5" (1-based) for Parquet. */
export function cellPlace(file: string, format: 'csv' | 'parquet', position: number): string {
  return format === 'csv' ? `${file} line ${position}` : `${file} row ${position + 1}`;
}

export function cellTypeError(
  place: string,
  column: string,
  type: SourceType,
  value: string,
  problem: CellProblem,
  row?: number,
): DataError {
  const shown = JSON.stringify(value);
  const what =
    problem === 'not-number'
      ? `${shown}, which is not a number`
      : problem === 'not-integer'
        ? `${shown}, which is not a whole number`
        : `${shown}, beyond ±${MAX_EXACT_INT} (2^53 − 1), too large to keep exactly`;
  const fix =
    problem === 'not-number'
      ? `correct or empty that cell in the file, or change the type of "${column}" to 'string' in the schema (text columns become categories with role 'sparse')`
      : problem === 'not-integer'
        ? `correct that cell in the file, or change the type of "${column}" to 'float' in the schema (role 'dense' for a measurement)`
        : `change the type of "${column}" to 'string' in the schema (identifiers that large are categories)`;
  return new DataError(`Column "${column}" is read as ${type === 'int' ? 'integers' : 'numbers'} but ${place} has ${what}. Fix: ${fix}.`, {
    column,
    row,
    value,
  });
}

export function fieldCountError(file: string, line: number, found: number, expected: number): DataError {
  return new DataError(
    `${file} line ${line} has ${found} field(s), but the header has ${expected}. ` +
      'Fix: put double quotes around cells that contain a comma or a line break, or repair the line.',
  );
}

export function emptyFileError(file: string): DataError {
  return new DataError(`${file} is empty: it has no header line. Fix: write the column names on the first line, or remove the file.`);
}

export function noRowsError(file: string): DataError {
  return new DataError(
    `${file} has a header but no data rows, so the column types cannot be told. Fix: put the file with data first (files are read in path order), or remove the empty one.`,
  );
}

function checkHeaderNames(file: string, names: readonly string[]): void {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (name.trim() === '')
      throw new DataError(
        `${file}: column ${i + 1} of the header has no name. Fix: name every column (pandas writes an unnamed index column unless to_csv(index=False)).`,
      );
    if (seen.has(name)) throw new DataError(`${file}: the header names column "${name}" twice. Fix: give every column its own name.`);
    seen.add(name);
  });
}

/** Every shard must have the first file's columns, in its order. */
export function checkSameHeader(first: string, firstNames: readonly string[], other: string, otherNames: readonly string[]): void {
  if (firstNames.length === otherNames.length && firstNames.every((n, i) => n === otherNames[i])) return;
  const missing = firstNames.filter((n) => !otherNames.includes(n));
  const extra = otherNames.filter((n) => !firstNames.includes(n));
  const diff = [
    missing.length ? `it lacks ${listNames(missing, 10)}` : '',
    extra.length ? `it has ${listNames(extra, 10)} that the first does not` : '',
    !missing.length && !extra.length ? `the same names in another order (${listNames(otherNames, 10)})` : '',
  ]
    .filter(Boolean)
    .join('; ');
  throw new DataError(
    `${other} does not have the same columns as ${first}: ${diff}. ` +
      'Fix: give every shard of a table the same header (same names, same order), or read the shards as separate tables.',
  );
}

export function missingInShardError(file: string, column: string, available: readonly string[]): DataError {
  return new DataError(
    `Column "${column}" is missing from ${file}. Available columns: ${listNames(available)}. ` +
      `Fix: add the column to that file, remove the file from the table, or set the role of "${column}" to 'ignore' in the schema.`,
    { column },
  );
}

/** Checks scan's options (both engines): known names only, and a positive whole blockRows. */
export function checkScanOptions(options: ScanOptions): void {
  checkOptionNames('scan', options ?? {}, ['blockRows', 'onProgress'], (m) => new DataError(m));
  const blockRows = options?.blockRows;
  if (!Number.isInteger(blockRows) || blockRows < 1)
    throw new DataError(
      `scan: blockRows must be a positive integer, got ${JSON.stringify(blockRows)}. Fix: pass e.g. { blockRows: 65536 }.`,
    );
}

// ---------------------------------------------------------------------------------------------------
// Blocks

/** An int column's final form: Int32Array when every value of the block fits, else Float64Array. */
export function intColumn(values: Float64Array, missing: Uint8Array | undefined): RawColumn {
  let fits = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < INT32_MIN || v > INT32_MAX) {
      fits = false;
      break;
    }
  }
  const column: RawColumn = { type: 'int', values: fits ? Int32Array.from(values) : values };
  if (missing) column.missing = missing;
  return column;
}

/** Joins consecutive blocks into one (the first block's source). */
export function concatBlocks(blocks: readonly RawBlock[], columns: readonly ColumnInfo[], fallbackFile: string): RawBlock {
  const rows = blocks.reduce((n, b) => n + b.rows, 0);
  const out: Record<string, RawColumn> = {};
  for (const { name, type } of columns) {
    const parts = blocks.map((b) => b.columns[name]);
    if (type === 'string') {
      out[name] = { type, values: parts.flatMap((p) => (p as { values: (string | null)[] }).values) };
    } else if (type === 'float') {
      const values = new Float64Array(rows);
      let at = 0;
      for (const p of parts) {
        values.set(p.values as Float64Array, at);
        at += p.values.length;
      }
      out[name] = { type, values };
    } else {
      const values = new Float64Array(rows);
      let missing: Uint8Array | undefined;
      let at = 0;
      for (const p of parts) {
        values.set(p.values as Float64Array | Int32Array, at);
        const m = (p as { missing?: Uint8Array }).missing;
        if (m) {
          missing ??= new Uint8Array(rows);
          missing.set(m, at);
        }
        at += p.values.length;
      }
      out[name] = intColumn(values, missing);
    }
  }
  return { rows, columns: out, source: blocks[0]?.source ?? { file: fallbackFile, firstRow: 0 } };
}

/** Up to `rows` rows from the start of the table (both engines). */
export async function sampleTable(reader: TableReader, files: readonly SourceFile[], rows: number): Promise<RawBlock> {
  if (!Number.isInteger(rows) || rows < 1)
    throw new DataError(`sample: rows must be a positive integer, got ${JSON.stringify(rows)}. Fix: pass e.g. 1000.`);
  const columns = await reader.describe(files);
  const blocks: RawBlock[] = [];
  let taken = 0;
  for await (const block of reader.scan(files, columns, { blockRows: Math.min(rows, 65536) })) {
    blocks.push(block);
    taken += block.rows;
    if (taken >= rows) break;
  }
  const whole = concatBlocks(blocks, columns, files[0].path);
  return taken <= rows ? whole : sliceBlock(whole, columns, rows);
}

function sliceBlock(block: RawBlock, columns: readonly ColumnInfo[], rows: number): RawBlock {
  const out: Record<string, RawColumn> = {};
  for (const { name } of columns) {
    const c = block.columns[name];
    if (c.type === 'string') out[name] = { type: 'string', values: c.values.slice(0, rows) };
    else if (c.type === 'float') out[name] = { type: 'float', values: c.values.slice(0, rows) };
    else
      out[name] = intColumn(
        Float64Array.from(c.values.subarray(0, rows)),
        c.missing?.some((m, i) => m && i < rows) ? c.missing.slice(0, rows) : undefined,
      );
  }
  return { rows, columns: out, source: block.source };
}

/** Fills one block cell by cell (the light engine). */
class BlockBuilder {
  private values: (Float64Array | (string | null)[])[] = [];
  private missing: (Uint8Array | undefined)[] = [];
  rows = 0;

  constructor(
    private readonly columns: readonly ColumnInfo[],
    private readonly capacity: number,
  ) {
    this.reset();
  }

  private reset(): void {
    this.values = this.columns.map((c) => (c.type === 'string' ? [] : new Float64Array(this.capacity)));
    this.missing = this.columns.map(() => undefined);
    this.rows = 0;
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  setNumber(c: number, v: number): void {
    (this.values[c] as Float64Array)[this.rows] = v;
  }

  setMissingInt(c: number): void {
    (this.missing[c] ??= new Uint8Array(this.capacity))[this.rows] = 1;
  }

  setString(c: number, v: string | null): void {
    (this.values[c] as (string | null)[]).push(v);
  }

  /** The filled rows as a block, and a fresh builder state. */
  take(source: RawBlock['source']): RawBlock {
    const n = this.rows;
    const columns: Record<string, RawColumn> = {};
    this.columns.forEach(({ name, type }, c) => {
      const v = this.values[c];
      if (type === 'string') columns[name] = { type, values: v as (string | null)[] };
      else if (type === 'float')
        columns[name] = { type, values: n === this.capacity ? (v as Float64Array) : (v as Float64Array).slice(0, n) };
      else {
        const m = this.missing[c];
        const values = v as Float64Array;
        columns[name] = intColumn(n === this.capacity ? values : values.slice(0, n), m && (n === this.capacity ? m : m.slice(0, n)));
      }
    });
    this.reset();
    return { rows: n, columns, source };
  }
}

/** Puts one cell into the builder as its column's type says; returns the problem when it does not fit. */
function putCell(builder: BlockBuilder, c: number, type: SourceType, cell: unknown): CellProblem | undefined {
  if (type === 'string') {
    builder.setString(c, cellText(cell));
    return undefined;
  }
  if (cell === null || cell === undefined || cell === '') {
    if (type === 'int') builder.setMissingInt(c);
    else builder.setNumber(c, NaN);
    return undefined;
  }
  let v: number | undefined;
  if (typeof cell === 'string') v = parseNumberCell(cell);
  else if (typeof cell === 'number') v = cell;
  else if (typeof cell === 'bigint') {
    if (type === 'int' && (cell > BigInt(MAX_EXACT_INT) || cell < -BigInt(MAX_EXACT_INT))) return 'too-large';
    v = Number(cell);
  } else if (typeof cell === 'boolean') v = cell ? 1 : 0;
  if (v === undefined) return 'not-number';
  if (type === 'int') {
    if (!Number.isInteger(v)) return 'not-integer';
    if (v > MAX_EXACT_INT || v < -MAX_EXACT_INT) return 'too-large';
  }
  builder.setNumber(c, type === 'int' && v === 0 ? 0 : v); // an int -0 is 0, as DuckDB's integer cast gives
  return undefined;
}

/**
 * Puts a decoded chunk of one column (rows [at, at + length) of its row group) into the group's cells.
 * A chunk that is the whole group is kept as it is; 64-bit integers become plain numbers when they
 * fit in ±2^53 (read from the two 32-bit halves: no BigInt per cell), else stay BigInt, so that
 * putCell reports them as too large.
 */
function placeChunk(cells: ArrayLike<unknown>, data: ArrayLike<unknown>, at: number, groupRows: number): ArrayLike<unknown> {
  const values = data instanceof BigInt64Array ? int64Numbers(data) : data;
  if (at === 0 && values.length === groupRows) return values;
  const out = cells as unknown[];
  const end = Math.min(groupRows, at + values.length);
  for (let i = Math.max(0, at); i < end; i++) out[i] = values[i - at];
  return out;
}

function int64Numbers(data: BigInt64Array): ArrayLike<unknown> {
  const halves = new Int32Array(data.buffer, data.byteOffset, data.length * 2);
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const hi = halves[2 * i + 1];
    // |value| < 2^53 when the high half is within ±2^21 (little-endian halves).
    if (hi >= -0x200000 && hi < 0x200000) out[i] = hi * 4294967296 + (halves[2 * i] >>> 0);
    else return Array.from(data); // beyond ±2^53 somewhere: keep the BigInts for the error
  }
  return out;
}

/** Text of a cell as DuckDB's CAST(... AS VARCHAR) writes it; empty text is missing. */
function cellText(cell: unknown): string | null {
  if (cell === null || cell === undefined || cell === '') return null;
  if (typeof cell === 'string') return cell;
  if (cell instanceof Date)
    return cell
      .toISOString()
      .replace('T', ' ')
      .replace(/(\.000)?Z$/, '');
  return String(cell);
}

function shownCell(cell: unknown): string {
  return typeof cell === 'string' ? cell : (cellText(cell) ?? '');
}

// ---------------------------------------------------------------------------------------------------
// CSV text

/** Cuts streamed text into pieces of whole rows (a line break inside double quotes does not end a row). */
class RowCutter {
  private buf = '';
  private scanned = 0;
  private quoted = false;
  private started = false;

  push(text: string): string {
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buf += text;
    const b = this.buf;
    let i = this.scanned;
    let cut = -1;
    while (i < b.length) {
      const q = b.indexOf('"', i);
      if (this.quoted) {
        if (q < 0) break;
        this.quoted = false; // a doubled quote "" closes and reopens: the parity stays right
        i = q + 1;
        continue;
      }
      const end = q < 0 ? b.length : q;
      const n = b.lastIndexOf('\n', end - 1);
      if (n >= i) cut = n;
      if (q < 0) break;
      this.quoted = true;
      i = q + 1;
    }
    this.scanned = b.length;
    if (cut < 0) return '';
    this.buf = b.slice(cut + 1);
    this.scanned -= cut + 1;
    return b.slice(0, cut + 1);
  }

  end(): string {
    const rest = this.buf;
    this.buf = '';
    return rest;
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The physical line (1-based, from `startLine`) where the k-th non-empty row of a piece starts. */
function lineOfRow(piece: string, startLine: number, k: number): number {
  let line = startLine;
  let row = 0;
  let quoted = false;
  let rowEmpty = true;
  for (let i = 0; i < piece.length; i++) {
    const ch = piece.charCodeAt(i);
    if (rowEmpty && ch !== 10 && ch !== 13) {
      if (row === k) return line;
      rowEmpty = false;
    }
    if (ch === 34) quoted = !quoted;
    else if (ch === 10) {
      line++;
      if (!quoted && !rowEmpty) {
        row++;
        rowEmpty = true;
      }
    }
  }
  return line;
}

interface CsvBatch {
  header: string[];
  rows: string[][];
  /** The physical line of rows[k]. */
  lineOf(k: number): number;
}

const PAPA_CONFIG = { delimiter: ',', quoteChar: '"', escapeChar: '"', skipEmptyLines: true } as const;

/** Parses streamed CSV text into batches of rows; the first row is the header. */
export class CsvRowParser {
  private cutter = new RowCutter();
  private header: string[] | undefined;
  private newline: '\n' | '\r\n' | undefined;
  private nextLine = 1;

  constructor(private readonly file: string) {}

  push(text: string): CsvBatch | undefined {
    return this.parse(this.cutter.push(text));
  }

  end(): CsvBatch | undefined {
    return this.parse(this.cutter.end());
  }

  get headerNames(): string[] | undefined {
    return this.header;
  }

  private parse(piece: string): CsvBatch | undefined {
    if (piece === '') return undefined;
    const startLine = this.nextLine;
    this.nextLine += countLines(piece);
    if (this.newline === undefined) {
      const n = piece.indexOf('\n');
      this.newline = n > 0 && piece[n - 1] === '\r' ? '\r\n' : '\n';
    }
    const parsed = Papa.parse<string[]>(piece, { ...PAPA_CONFIG, newline: this.newline });
    const quoteError = parsed.errors.find((e) => e.type === 'Quotes');
    if (quoteError)
      throw new DataError(
        `${this.file} line ${lineOfRow(piece, startLine, quoteError.row ?? 0)} opens a double quote that is never closed. Fix: close the quote, or double quotes inside a quoted cell ("").`,
      );
    let rows = parsed.data;
    let skipped = 0;
    if (this.header === undefined) {
      if (rows.length === 0) return undefined;
      this.header = rows[0];
      checkHeaderNames(this.file, this.header);
      rows = rows.slice(1);
      skipped = 1;
    }
    const width = this.header.length;
    for (let k = 0; k < rows.length; k++)
      if (rows[k].length !== width) throw fieldCountError(this.file, lineOfRow(piece, startLine, k + skipped), rows[k].length, width);
    return { header: this.header, rows, lineOf: (k) => lineOfRow(piece, startLine, k + skipped) };
  }
}

/** The name a source goes by in messages: a file's path, or the name given to an in-memory source. */
function nameOf(file: string | SourceFile): string {
  return typeof file === 'string' ? file : file.path;
}

/**
 * A source's text in chunks of about `chunkSize`: streamed from its file (Node), or cut from its
 * in-memory content (text as is, bytes decoded as UTF-8). `onBytes` hears the bytes read so far (for
 * in-memory text: the characters).
 */
async function* textChunks(file: string | SourceFile, chunkSize: number, onBytes?: (bytes: number) => void): AsyncGenerator<string> {
  const content = typeof file === 'string' ? undefined : file.content;
  if (typeof content === 'string') {
    for (let at = 0; at < content.length; at += chunkSize) {
      onBytes?.(Math.min(at + chunkSize, content.length));
      yield content.slice(at, at + chunkSize);
    }
    return;
  }
  if (content !== undefined) {
    const decoder = new TextDecoder('utf-8');
    for (let at = 0; at < content.length; at += chunkSize) {
      onBytes?.(Math.min(at + chunkSize, content.length));
      yield decoder.decode(content.subarray(at, at + chunkSize), { stream: true });
    }
    const rest = decoder.decode();
    if (rest) yield rest;
    return;
  }
  const fs = await import('node:fs');
  const stream = fs.createReadStream(nameOf(file), { encoding: 'utf8', highWaterMark: chunkSize });
  try {
    for await (const chunk of stream) {
      onBytes?.(stream.bytesRead);
      yield chunk as string;
    }
  } finally {
    stream.destroy();
  }
}

/** Streams a CSV source's rows in batches (a file on Node, or in-memory text or bytes anywhere). */
async function* csvBatches(file: SourceFile, onBytes?: (bytes: number) => void): AsyncGenerator<CsvBatch> {
  const parser = new CsvRowParser(file.path);
  for await (const chunk of textChunks(file, 1 << 20, onBytes)) {
    const batch = parser.push(chunk);
    if (batch) yield batch;
  }
  const last = parser.end();
  if (last) yield last;
}

/**
 * The header of a CSV source (a path, or a SourceFile: a file or in-memory content) and whether any
 * data row follows it (reads only the start of a file).
 */
export async function csvFileHeader(
  file: string | SourceFile,
): Promise<{ names: string[] | undefined; hasRows: boolean; bytesPerRow?: number }> {
  const parser = new CsvRowParser(nameOf(file));
  const chunks = textChunks(file, 1 << 16);
  try {
    for await (const chunk of chunks) {
      const batch = parser.push(chunk);
      // The first 64 KiB also tell the average row length (for progress reports).
      if (batch)
        return {
          names: batch.header,
          hasRows: batch.rows.length > 0 || (await restHasRows(chunks)),
          bytesPerRow: chunk.length / (batch.rows.length + 1),
        };
    }
  } finally {
    await chunks.return(undefined);
  }
  const last = parser.end();
  return { names: last?.header ?? parser.headerNames, hasRows: (last?.rows.length ?? 0) > 0 };
}

async function restHasRows(stream: AsyncIterable<unknown>): Promise<boolean> {
  for await (const chunk of stream) if (/[^\r\n]/.test(chunk as string)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Parquet

/** An AsyncBuffer over a source, and its closing: a file (Node), or in-memory bytes (anywhere). */
async function sourceBuffer(file: SourceFile): Promise<{ buffer: AsyncBuffer; close(): Promise<void> }> {
  if (file.content !== undefined) {
    const bytes = typeof file.content === 'string' ? new TextEncoder().encode(file.content) : file.content;
    return {
      buffer: {
        byteLength: bytes.byteLength,
        slice: (start: number, end?: number): ArrayBuffer => bytes.slice(start, end).buffer,
      },
      close: async () => {},
    };
  }
  const { open } = await import('node:fs/promises');
  const handle = await open(file.path, 'r');
  const { size } = await handle.stat();
  return {
    buffer: {
      byteLength: size,
      async slice(start: number, end?: number): Promise<ArrayBuffer> {
        const stop = end ?? size;
        const bytes = new Uint8Array(stop - start);
        let done = 0;
        while (done < bytes.length) {
          const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return bytes.buffer;
      },
    },
    close: () => handle.close(),
  };
}

/** How a Parquet column is typed, as DuckDB's DESCRIBE would map it. */
export function parquetColumnType(el: SchemaElement): SourceType {
  if (el.num_children) return 'string';
  const logical = el.logical_type?.type;
  const converted = el.converted_type;
  if (logical === 'DECIMAL' || converted === 'DECIMAL' || logical === 'FLOAT16') return 'float';
  if (logical && logical !== 'INTEGER') return 'string';
  if (converted && !/^(U?INT_\d+)$/.test(converted)) return 'string';
  if (el.type === 'BOOLEAN' || el.type === 'INT32' || el.type === 'INT64') return 'int';
  if (el.type === 'FLOAT' || el.type === 'DOUBLE') return 'float';
  return 'string';
}

/** The top-level columns of a Parquet file. */
function parquetColumns(metadata: FileMetaData): SchemaElement[] {
  const out: SchemaElement[] = [];
  const schema = metadata.schema;
  // A depth-first list: skip each top-level column's children.
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at].num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    out.push(schema[i]);
    i = skip(i);
  }
  return out;
}

async function parquetFileMeta(file: SourceFile): Promise<FileMetaData> {
  const { buffer, close } = await sourceBuffer(file);
  try {
    const { parquetMetadataAsync } = await import('hyparquet');
    return await parquetMetadataAsync(buffer);
  } catch (error) {
    throw new DataError(
      `${file.path} is not a readable Parquet file (${(error as Error).message}). Fix: check that the file is complete and really Parquet.`,
    );
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------------------------------------------
// The reader

export class LightReader implements TableReader {
  readonly engine = 'light' as const;

  async describe(files: readonly SourceFile[]): Promise<ColumnInfo[]> {
    if (files.length === 0) throw new DataError('describe: no files given. Fix: pass the files resolveSources found.');
    const first = files[0];
    const columns = first.format === 'parquet' ? await this.describeParquet(first) : await this.describeCsv(first);
    const names = columns.map((c) => c.name);
    for (const other of files.slice(1)) checkSameHeader(first.path, names, other.path, await headerOf(other));
    return columns;
  }

  private async describeCsv(file: SourceFile): Promise<ColumnInfo[]> {
    let header: string[] | undefined;
    let sniffers: TypeSniffer[] = [];
    let rows = 0;
    const batches = csvBatches(file);
    try {
      for await (const batch of batches) {
        if (!header) {
          header = batch.header;
          sniffers = header.map(() => new TypeSniffer());
        }
        const take = Math.min(batch.rows.length, SNIFF_ROWS - rows);
        for (let r = 0; r < take; r++) {
          const row = batch.rows[r];
          for (let c = 0; c < sniffers.length; c++) sniffers[c].add(row[c]);
        }
        rows += take;
        if (rows >= SNIFF_ROWS) break;
      }
    } finally {
      await batches.return(undefined);
    }
    if (!header) {
      const { names } = await csvFileHeader(file);
      if (!names) throw emptyFileError(file.path);
      header = names;
    }
    if (rows === 0) throw noRowsError(file.path);
    return header.map((name, c) => ({ name, type: sniffers[c].type }));
  }

  private async describeParquet(file: SourceFile): Promise<ColumnInfo[]> {
    const metadata = await parquetFileMeta(file);
    const columns = parquetColumns(metadata).map((el) => ({ name: el.name, type: parquetColumnType(el) }));
    if (columns.length === 0) throw emptyFileError(file.path);
    if (Number(metadata.num_rows) === 0) throw noRowsError(file.path);
    return columns;
  }

  sample(files: readonly SourceFile[], rows: number): Promise<RawBlock> {
    return sampleTable(this, files, rows);
  }

  async *scan(files: readonly SourceFile[], columns: readonly ColumnInfo[], options: ScanOptions): AsyncGenerator<RawBlock> {
    checkScanOptions(options);
    const { blockRows, onProgress } = options;
    const bytesTotal = files.reduce((n, f) => n + f.bytes, 0);
    let bytesBefore = 0;
    let rows = 0;
    for (const file of files) {
      const report = (bytesInFile: number) =>
        onProgress?.({ bytesDone: bytesBefore + Math.min(bytesInFile, file.bytes), bytesTotal, rows });
      const blocks = file.format === 'parquet' ? scanParquetFile(file, columns, blockRows) : scanCsvFile(file, columns, blockRows, report);
      for await (const block of blocks) {
        rows += block.rows;
        yield block;
      }
      bytesBefore += file.bytes;
      onProgress?.({ bytesDone: bytesBefore, bytesTotal, rows });
    }
  }

  async close(): Promise<void> {}
}

/** The column names of any file (CSV header or Parquet schema); a file without a header is an error. */
export async function headerOf(file: SourceFile): Promise<string[]> {
  if (file.format === 'parquet') return parquetColumns(await parquetFileMeta(file)).map((el) => el.name);
  const { names } = await csvFileHeader(file);
  if (!names) throw emptyFileError(file.path);
  return names;
}

function columnIndices(file: string, header: readonly string[], columns: readonly ColumnInfo[]): number[] {
  return columns.map(({ name }) => {
    const i = header.indexOf(name);
    if (i < 0) throw missingInShardError(file, name, header);
    return i;
  });
}

/** One CSV source's blocks (a file, or in-memory content). Also how the DuckDB engine finds the cell behind an error without a line. */
export async function* scanCsvFile(
  file: SourceFile,
  columns: readonly ColumnInfo[],
  blockRows: number,
  onBytes?: (bytes: number) => void,
): AsyncGenerator<RawBlock> {
  const builder = new BlockBuilder(columns, blockRows);
  let indices: number[] | undefined;
  let firstRow = 0;
  let sawHeader = false;
  const batches = csvBatches(file, onBytes);
  for await (const batch of batches) {
    sawHeader = true;
    indices ??= columnIndices(file.path, batch.header, columns);
    for (let r = 0; r < batch.rows.length; r++) {
      const row = batch.rows[r];
      for (let c = 0; c < indices.length; c++) {
        const problem = putCell(builder, c, columns[c].type, row[indices[c]]);
        if (problem)
          throw cellTypeError(cellPlace(file.path, 'csv', batch.lineOf(r)), columns[c].name, columns[c].type, row[indices[c]], problem);
      }
      builder.rows++;
      if (builder.full) {
        yield builder.take({ file: file.path, firstRow });
        firstRow += blockRows;
      }
    }
  }
  if (!sawHeader) {
    const { names } = await csvFileHeader(file);
    if (!names) throw emptyFileError(file.path);
    columnIndices(file.path, names, columns);
  }
  if (builder.rows > 0) yield builder.take({ file: file.path, firstRow });
}

/** One Parquet file's blocks, a row group at a time. */
export async function* scanParquetFile(file: SourceFile, columns: readonly ColumnInfo[], blockRows: number): AsyncGenerator<RawBlock> {
  const { buffer, close } = await sourceBuffer(file);
  try {
    let metadata: FileMetaData;
    try {
      const { parquetMetadataAsync } = await import('hyparquet');
      metadata = await parquetMetadataAsync(buffer);
    } catch (error) {
      throw new DataError(
        `${file.path} is not a readable Parquet file (${(error as Error).message}). Fix: check that the file is complete and really Parquet.`,
      );
    }
    const names = parquetColumns(metadata).map((el) => el.name);
    columnIndices(file.path, names, columns);
    const builder = new BlockBuilder(columns, blockRows);
    const { parquetRead } = await import('hyparquet');
    const columnOf = new Map(columns.map((c, i) => [c.name, i]));
    let groupStart = 0;
    let firstRow = 0;
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      // Column by column (hyparquet's typed chunks), never a JS object per row: object rows made
      // reading a 200k-row file spend most of its time in the garbage collector.
      const cells: ArrayLike<unknown>[] = columns.map(() => new Array(groupRows));
      await parquetRead({
        file: buffer,
        metadata,
        columns: columns.map((c) => c.name),
        rowStart: groupStart,
        rowEnd: groupStart + groupRows,
        onChunk: (chunk) => {
          const c = columnOf.get(chunk.columnName);
          if (c === undefined) return;
          cells[c] = placeChunk(cells[c], chunk.columnData, chunk.rowStart - groupStart, groupRows);
        },
      });
      for (let r = 0; r < groupRows; r++) {
        for (let c = 0; c < columns.length; c++) {
          const cell = cells[c][r];
          const problem = putCell(builder, c, columns[c].type, cell);
          if (problem) {
            const row = groupStart + r;
            throw cellTypeError(cellPlace(file.path, 'parquet', row), columns[c].name, columns[c].type, shownCell(cell), problem, row);
          }
        }
        builder.rows++;
        if (builder.full) {
          yield builder.take({ file: file.path, firstRow });
          firstRow += blockRows;
        }
      }
      groupStart += groupRows;
    }
    if (builder.rows > 0) yield builder.take({ file: file.path, firstRow });
  } finally {
    await close();
  }
}
