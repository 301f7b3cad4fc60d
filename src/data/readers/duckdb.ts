// The DuckDB engine (Node only; @duckdb/node-api is an optional dependency, imported on demand).
// Speed comes from four things: the scan names every column's type (no sniffing of the whole file),
// results come in 2048-row chunks, numeric vectors are copied as raw bytes into block-sized typed
// arrays through the low-level bindings (the validity bitmask marks missing cells), and repeated text
// comes as ENUM codes of a per-file dictionary, so JavaScript decodes each distinct value once.
// Integer columns are parsed as DOUBLE, because DuckDB's own integer cast rounds "1.5" to 2: the fast
// path hands them over as INTEGER with a flag for a fraction, and any value it cannot give sends the
// file to the exact path, which checks every cell in JavaScript. The light engine (./light.ts) applies
// the same rules, and also locates the cell behind a DuckDB error that names no line.

import type { DuckDBConnection, DuckDBDataChunk, DuckDBInstance, DuckDBResult } from '@duckdb/node-api';
import { DataError } from '../errors.js';
import type { RawBlock, RawColumn, SourceType } from '../raw.js';
import type { SourceFile } from '../sources.js';
import type { ColumnInfo, ScanOptions, TableReader } from './index.js';
import {
  cellPlace,
  cellTypeError,
  checkSameHeader,
  checkScanOptions,
  csvFileHeader,
  emptyFileError,
  fieldCountError,
  headerOf,
  intColumn,
  MAX_EXACT_INT,
  missingInShardError,
  noRowsError,
  sampleTable,
  scanCsvFile,
  scanParquetFile,
} from './light.js';

type NodeApi = typeof import('@duckdb/node-api');
type Bindings = typeof import('@duckdb/node-bindings');

export interface DuckDbModules {
  api: NodeApi;
  bindings: Bindings;
}

/** Imports DuckDB's packages; throws when they are not installed (openReader turns that into EngineMissingError). */
export async function loadDuckDbModules(): Promise<DuckDbModules> {
  const api = await import('@duckdb/node-api');
  let bindingsModule: Bindings;
  try {
    bindingsModule = await import('@duckdb/node-bindings');
  } catch {
    // Not hoisted next to us (e.g. pnpm): load it from where node-api finds it.
    const { createRequire } = await import('node:module');
    bindingsModule = createRequire(createRequire(import.meta.url).resolve('@duckdb/node-api'))('@duckdb/node-bindings');
  }
  const bindings = ((bindingsModule as { default?: Bindings }).default ?? bindingsModule) as Bindings;
  return { api, bindings };
}

/** A SQL string literal. */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** A SQL identifier. */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const CSV_DIALECT = `header=true, delim=',', quote='"', escape='"'`;

/** DuckDB type name → SourceType (integers and booleans are int; CSV booleans stay text, see describe). */
function sourceTypeOf(duckType: string, format: 'csv' | 'parquet'): SourceType {
  const t = duckType.toUpperCase();
  if (/^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT))$/.test(t)) return 'int';
  if (t === 'BOOLEAN') return format === 'parquet' ? 'int' : 'string';
  if (t === 'FLOAT' || t === 'DOUBLE' || t.startsWith('DECIMAL')) return 'float';
  return 'string';
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

/** Files up to this size are read whole before their chunks are copied (see DuckDbReader.chunks). */
const MATERIALIZE_BYTES = 128 * 2 ** 20;

/** Streaming results are buffered ahead of the reader up to this size, so DuckDB's threads keep parsing while JS copies. */
const STREAMING_BUFFER = '32MB';

/** A text column with more distinct values than this in a file is read cell by cell (a larger ENUM costs more than it saves). */
const MAX_DICTIONARY = 8192;

export class DuckDbReader implements TableReader {
  readonly engine = 'duckdb' as const;

  private constructor(
    private readonly modules: DuckDbModules,
    private readonly instance: DuckDBInstance,
  ) {}

  /**
   * Readers share one in-memory DuckDB instance per process (created on first use: ~30 ms, and as
   * long again to close); each reader's queries run on connections of their own, closed after use.
   */
  static async open(modules: DuckDbModules): Promise<DuckDbReader> {
    sharedInstance ??= import('node:os').then((os) =>
      modules.api.DuckDBInstance.create(':memory:', { threads: String(os.availableParallelism()) }),
    );
    try {
      return new DuckDbReader(modules, await sharedInstance);
    } catch (e) {
      sharedInstance = null; // a failed start is not kept: the next reader tries again
      throw e;
    }
  }

  private async connect(): Promise<DuckDBConnection> {
    const con = await this.instance.connect();
    await con.run(`SET streaming_buffer_size = ${literal(STREAMING_BUFFER)}`);
    return con;
  }

  async describe(files: readonly SourceFile[]): Promise<ColumnInfo[]> {
    if (files.length === 0) throw new DataError('describe: no files given. Fix: pass the files resolveSources found.');
    const first = files[0];
    const con = await this.connect();
    try {
      let columns: ColumnInfo[];
      if (first.format === 'csv') {
        const { names, hasRows } = await csvFileHeader(first.path);
        if (!names) throw emptyFileError(first.path);
        if (!hasRows) throw noRowsError(first.path);
        // The dialect is fixed (as in scan); DuckDB sniffs only the types, from the first rows.
        const described = await this.describeQuery(con, first, `read_csv(${literal(first.path)}, ${CSV_DIALECT})`);
        if (described.length !== names.length)
          throw new DataError(
            `${first.path}: DuckDB found ${described.length} columns but the header has ${names.length}. Fix: check that the file is comma-separated with one header line.`,
          );
        columns = names.map((name, i) => ({ name, type: sourceTypeOf(described[i].type, 'csv') }));
      } else {
        columns = (await this.describeQuery(con, first, `read_parquet(${literal(first.path)})`)).map((c) => ({
          name: c.name,
          type: sourceTypeOf(c.type, 'parquet'),
        }));
        if (columns.length === 0) throw emptyFileError(first.path);
        const count = await con.runAndReadAll(`SELECT count(*) FROM read_parquet(${literal(first.path)})`);
        if (Number(count.getRows()[0][0]) === 0) throw noRowsError(first.path);
      }
      const names = columns.map((c) => c.name);
      for (const other of files.slice(1)) checkSameHeader(first.path, names, other.path, await headerOf(other));
      return columns;
    } finally {
      con.closeSync();
    }
  }

  private async describeQuery(con: DuckDBConnection, file: SourceFile, from: string): Promise<{ name: string; type: string }[]> {
    try {
      const reader = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${from}`);
      return reader.getRows().map((row) => ({ name: String(row[0]), type: String(row[1]) }));
    } catch (error) {
      throw new DataError(
        `${file.path} could not be read as ${file.format === 'csv' ? 'CSV' : 'Parquet'}: ${firstLine(error)} ` +
          (file.format === 'csv'
            ? 'Fix: check that the file is comma-separated, with one header line and the same number of fields on every line.'
            : 'Fix: check that the file is complete and really Parquet.'),
      );
    }
  }

  sample(files: readonly SourceFile[], rows: number): Promise<RawBlock> {
    // The first rows only: no dictionary pass over the whole file.
    const reader: TableReader = {
      engine: this.engine,
      describe: (f) => this.describe(f),
      sample: (f, n) => this.sample(f, n),
      scan: (f, c, o) => this.scanFiles(f, c, o, false),
      close: () => this.close(),
    };
    return sampleTable(reader, files, rows);
  }

  scan(files: readonly SourceFile[], columns: readonly ColumnInfo[], options: ScanOptions): AsyncGenerator<RawBlock> {
    return this.scanFiles(files, columns, options, true);
  }

  private async *scanFiles(
    files: readonly SourceFile[],
    columns: readonly ColumnInfo[],
    options: ScanOptions,
    withDictionaries: boolean,
  ): AsyncGenerator<RawBlock> {
    checkScanOptions(options);
    const { blockRows, onProgress } = options;
    const bytesTotal = files.reduce((n, f) => n + f.bytes, 0);
    let bytesBefore = 0;
    let rows = 0;
    const con = await this.connect();
    try {
      for (const file of files) {
        for await (const block of this.scanFile(con, file, columns, blockRows, withDictionaries, (fraction) =>
          onProgress?.({ bytesDone: bytesBefore + Math.round(file.bytes * fraction), bytesTotal, rows }),
        )) {
          rows += block.rows;
          yield block;
        }
        bytesBefore += file.bytes;
        onProgress?.({ bytesDone: bytesBefore, bytesTotal, rows });
      }
    } finally {
      con.closeSync();
    }
  }

  /** The FROM clause reading one file, with the asked columns as DOUBLE (numbers) or VARCHAR. */
  private async fileSource(
    con: DuckDBConnection,
    file: SourceFile,
    columns: readonly ColumnInfo[],
  ): Promise<{ from: string; fractionAt(rows: number): number }> {
    if (file.format === 'csv') {
      const { names, bytesPerRow = 0 } = await csvFileHeader(file.path);
      if (!names) throw emptyFileError(file.path);
      for (const { name } of columns) if (!names.includes(name)) throw missingInShardError(file.path, name, names);
      // Every column of the file must be listed (they are matched by position); unread ones stay VARCHAR, which DuckDB skips.
      const asked = new Map(columns.map((c) => [c.name, c.type]));
      const types = names.map(
        (name) => `${literal(name)}: ${literal(asked.get(name) === 'string' || !asked.has(name) ? 'VARCHAR' : 'DOUBLE')}`,
      );
      return {
        from: `read_csv(${literal(file.path)}, auto_detect=false, ${CSV_DIALECT}, columns={${types.join(', ')}})`,
        // DuckDB reports no progress while a result streams: estimate it from the rows read and the average row length.
        fractionAt: (rows) => Math.min(0.99, (rows * bytesPerRow) / Math.max(1, file.bytes)),
      };
    }
    const described = await this.describeQuery(con, file, `read_parquet(${literal(file.path)})`);
    const typeOf = new Map(described.map((c) => [c.name, c.type.toUpperCase()]));
    const inner = columns.map(({ name, type }) => {
      const source = typeOf.get(name);
      if (source === undefined)
        throw missingInShardError(
          file.path,
          name,
          described.map((c) => c.name),
        );
      const col = ident(name);
      if (type === 'string') return `CAST(${col} AS VARCHAR) AS ${col}`;
      return `CAST(${source === 'VARCHAR' ? `NULLIF(${col}, '')` : col} AS DOUBLE) AS ${col}`;
    });
    const count = await con.runAndReadAll(`SELECT count(*) FROM read_parquet(${literal(file.path)})`);
    const total = Math.max(1, Number(count.getRows()[0][0]));
    return {
      from: `(SELECT ${inner.join(', ')} FROM read_parquet(${literal(file.path)}))`,
      fractionAt: (rows) => Math.min(1, rows / total),
    };
  }

  /**
   * One file's blocks. First the fast path: int columns come as INTEGER (DuckDB refuses a value
   * beyond int32, and a flag column marks a fraction: see BlockAssembler.selectList), and the text
   * columns of a file read whole come as ENUM codes of a dictionary found by a first query. When
   * anything is refused, the exact path (int columns as DOUBLE, checked cell by cell) reads the file
   * again from the first row not yet handed out, so the blocks and errors are the exact path's.
   */
  private async *scanFile(
    con: DuckDBConnection,
    file: SourceFile,
    columns: readonly ColumnInfo[],
    blockRows: number,
    withDictionaries: boolean,
    onFraction: (fraction: number) => void,
  ): AsyncGenerator<RawBlock> {
    const { from, fractionAt } = await this.fileSource(con, file, columns);
    let reported = 0; // rows reported, so that progress never goes back when the exact path reads again
    const onRows = (rows: number) => {
      if (rows > reported) onFraction(fractionAt((reported = rows)));
    };
    let done = 0;
    try {
      const dictionaries =
        withDictionaries && file.bytes <= MATERIALIZE_BYTES ? await this.dictionaries(con, from, columns) : columns.map(() => undefined);
      const fast = new BlockAssembler(this.modules.bindings, columns, blockRows, file.path, dictionaries);
      for await (const block of this.assemble(con, from, file.bytes, fast, 0, onRows)) {
        done += block.rows;
        yield block;
      }
      return;
    } catch (error) {
      if (error instanceof DataError) throw error;
      // Refused by DuckDB (a fraction, a value beyond int32, a cell that is no number, a bad line…): the exact path says what.
    }
    const exact = new BlockAssembler(this.modules.bindings, columns, blockRows, file.path, null, done);
    try {
      yield* this.assemble(con, from, file.bytes, exact, done, onRows);
    } catch (error) {
      if (error instanceof DataError) throw error;
      throw await this.explain(error, file, columns);
    }
  }

  /** The blocks of one query's result, from its row `skip` on (the rows before were handed out by a first try). */
  private async *assemble(
    con: DuckDBConnection,
    from: string,
    fileBytes: number,
    assembler: BlockAssembler,
    skip: number,
    onRows: (rows: number) => void,
  ): AsyncGenerator<RawBlock> {
    let consumed = 0;
    for await (const chunk of this.chunks(con, `SELECT ${assembler.selectList()} FROM ${from}`, fileBytes)) {
      const n = chunk.rowCount;
      for (let start = Math.min(n, Math.max(0, skip - consumed)); start < n; ) {
        start += assembler.append(chunk, start, n);
        if (assembler.full) yield assembler.take();
      }
      consumed += n;
      onRows(consumed);
    }
    if (assembler.rows > 0) yield assembler.take();
  }

  /**
   * Each text column's distinct values (empty text aside) in a file, when they repeat enough for a
   * dictionary to pay (at most MAX_DICTIONARY of them, and a quarter of the rows, small files aside);
   * undefined for other columns. One pass of DuckDB over the file, which spares JavaScript decoding
   * every cell: the scan then hands over ENUM codes.
   */
  private async dictionaries(con: DuckDBConnection, from: string, columns: readonly ColumnInfo[]): Promise<(string[] | undefined)[]> {
    const out: (string[] | undefined)[] = columns.map(() => undefined);
    const text = columns.flatMap((c, i) => (c.type === 'string' ? [i] : []));
    if (text.length === 0) return out;
    const lists = text.map((i, k) => {
      const col = ident(columns[i].name);
      return `map_keys(histogram(${col}) FILTER (WHERE ${col} <> '')) AS d${k}`;
    });
    const limit = `least(${MAX_DICTIONARY}, greatest(64, webmtl_rows // 4))`;
    const capped = text.map((_, k) => `CASE WHEN len(d${k}) <= ${limit} THEN d${k} END`);
    const sql = `SELECT ${capped.join(', ')} FROM (SELECT count(*) AS webmtl_rows, ${lists.join(', ')} FROM ${from})`;
    const row = (await con.runAndReadAll(sql)).getRows()[0];
    text.forEach((i, k) => {
      const list = row[k] as { items: unknown[] } | null;
      if (list && list.items.length > 0 && list.items.every((v) => typeof v === 'string')) out[i] = list.items as string[];
    });
    return out;
  }

  /**
   * The result's chunks in order. A file of up to MATERIALIZE_BYTES is read whole first (DuckDB's
   * threads parse it in parallel, then the chunks are taken synchronously: about twice as fast as
   * awaiting each 2048-row chunk of a stream); a larger one streams, so memory stays bounded.
   */
  private async *chunks(con: DuckDBConnection, sql: string, fileBytes: number): AsyncGenerator<DuckDBDataChunk> {
    if (fileBytes <= MATERIALIZE_BYTES) {
      const result = await con.run(sql);
      for (let i = 0; i < result.chunkCount; i++) {
        const chunk = result.getChunk(i);
        if (chunk.rowCount > 0) yield chunk;
      }
      return;
    }
    const result: DuckDBResult = await con.stream(sql);
    for (;;) {
      const chunk: DuckDBDataChunk | null = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) return;
      yield chunk;
    }
  }

  /** A DataError for a failed scan: from DuckDB's message when it names the line, else by finding the cell with the light engine. */
  private async explain(error: unknown, file: SourceFile, columns: readonly ColumnInfo[]): Promise<Error> {
    const message = error instanceof Error ? error.message : String(error);
    const line = /CSV Error on Line: (\d+)/.exec(message);
    if (!(error instanceof BadIntegerError) && file.format === 'csv' && line) {
      const conversion = /Error when converting column "([\s\S]+?)"\. Could not convert string "([\s\S]*?)" to '/.exec(message);
      const column = conversion && columns.find((c) => c.name === conversion[1]);
      if (conversion && column)
        return cellTypeError(cellPlace(file.path, 'csv', Number(line[1])), column.name, column.type, conversion[2], 'not-number');
      const fields = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
      if (fields) return fieldCountError(file.path, Number(line[1]), Number(fields[2]), Number(fields[1]));
    }
    try {
      const blocks = file.format === 'csv' ? scanCsvFile(file, columns, 65536) : scanParquetFile(file, columns, 65536);
      for await (const _ of blocks) {
        // Read to the cell that fails.
      }
    } catch (located) {
      if (located instanceof DataError) return located;
    }
    if (error instanceof BadIntegerError) {
      const problem = Number.isInteger(error.value) ? 'too-large' : 'not-integer';
      return cellTypeError(
        `${file.path} data row ${error.rowInFile + 1}`,
        error.column,
        'int',
        String(error.value),
        problem,
        error.rowInFile,
      );
    }
    return new DataError(
      `Reading ${file.path} with DuckDB failed: ${firstLine(error)} Fix: check the file, or read it with the light engine (engine 'light') for a more precise message.`,
    );
  }

  /** Writes the CSV file `csv` (with a header; types sniffed) as the Parquet file `parquet` (webmtl predict --out x.parquet). */
  async copyCsvToParquet(csv: string, parquet: string): Promise<void> {
    const con = await this.connect();
    try {
      await con.run(`COPY (SELECT * FROM read_csv(${literal(csv)}, ${CSV_DIALECT})) TO ${literal(parquet)} (FORMAT parquet)`);
    } finally {
      con.closeSync();
    }
  }

  /** Nothing to release: connections close after each use, and the shared instance stays for the next reader. */
  async close(): Promise<void> {}
}

let sharedInstance: Promise<DuckDBInstance> | null = null;

/**
 * An int column's cell that is not a whole number within ±2^53 (DuckDB hands int columns over as DOUBLE,
 * because its own integer cast would round "1.5" to 2). The light engine then finds its line.
 */
class BadIntegerError extends Error {
  constructor(
    readonly column: string,
    readonly rowInFile: number,
    readonly value: number,
  ) {
    super(`webmtl: column "${column}" has ${value} at data row ${rowInFile + 1}, not an integer within ±2^53`);
  }
}

/** The fast way of reading a file met a value that it cannot give; the exact way reads it. */
class FastPathRefused extends Error {}

/** Whether any validity bit in [from, to) may be clear (whole words are checked: a clear bit just outside only costs a closer look). */
function hasHoles(validity: Uint32Array, from: number, to: number): boolean {
  for (let w = from >>> 5; w <= (to - 1) >>> 5; w++) if (validity[w] !== 0xffffffff) return true;
  return false;
}

/** Whether element `e` has a value (its validity bit is set). */
function isValid(validity: Uint32Array | null, e: number): boolean {
  return validity === null || ((validity[e >>> 5] >>> (e & 31)) & 1) === 1;
}

/**
 * Stores column j of the row-major source (row i at source[i * stride + j]) for rows [start, end) to
 * ints[at + i]; returns the first row whose value the Int32Array does not hold (a fraction, NaN, or
 * beyond int32), or -1. Rows without a value are skipped (their bytes are meaningless). A function of
 * its own so that V8 optimizes this loop early.
 */
function storeInts(
  source: Float64Array,
  stride: number,
  j: number,
  ints: Int32Array,
  at: number,
  start: number,
  end: number,
  validity: Uint32Array | null,
): number {
  for (let i = start, e = start * stride + j; i < end; i++, e += stride) {
    const v = source[e];
    ints[at + i] = v;
    if (ints[at + i] !== v && isValid(validity, e)) return i;
  }
  return -1;
}

function storeFloats(source: Float64Array, stride: number, j: number, out: Float64Array, at: number, start: number, end: number): void {
  for (let i = start, e = start * stride + j; i < end; i++, e += stride) out[at + i] = source[e];
}

/** A result vector's validity (null when every row has a value). */
function validityOf(b: Bindings, vector: ReturnType<Bindings['data_chunk_get_vector']>, n: number): Uint32Array | null {
  const words = Math.ceil(n / 32);
  const bytes = b.vector_get_validity(vector, Math.ceil(words / 2) * 8) as Uint8Array | null;
  return bytes ? new Uint32Array(bytes.buffer, bytes.byteOffset, words) : null;
}

/** One DOUBLE result vector's values and validity (null when every row has a value). */
function doubleVector(
  b: Bindings,
  chunk: DuckDBDataChunk,
  index: number,
  n: number,
): { values: Float64Array; validity: Uint32Array | null } {
  const vector = b.data_chunk_get_vector(chunk.chunk, index);
  const bytes = b.vector_get_data(vector, n * 8);
  return { values: new Float64Array(bytes.buffer, bytes.byteOffset, n), validity: validityOf(b, vector, n) };
}

/** An ENUM result vector's codes (their width follows the dictionary's size). */
function enumCodes(b: Bindings, vector: ReturnType<Bindings['data_chunk_get_vector']>, n: number): Uint8Array | Uint16Array | Uint32Array {
  const internal = b.enum_internal_type(b.vector_get_column_type(vector));
  const width = internal === b.Type.UTINYINT ? 1 : internal === b.Type.USMALLINT ? 2 : 4;
  const bytes = b.vector_get_data(vector, n * width);
  if (width === 1) return bytes;
  return width === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : new Uint32Array(bytes.buffer, bytes.byteOffset, n);
}

/**
 * Copies 2048-row result chunks into blocks of blockRows rows: each numeric vector's raw bytes in one
 * copy, the validity bitmask into NaN (float) or the missing mask (int), skipping the mask when a
 * chunk's rows all have values.
 *
 * Two ways to ask DuckDB (see selectList). The fast one (dictionaries given): int columns as INTEGER,
 * which DuckDB refuses to give for a value beyond int32 (the query fails) and flags for a fraction
 * (append throws FastPathRefused): the caller then reads the file the exact way. Text columns with a
 * dictionary come as ENUM codes. The exact one
 * (dictionaries null): int columns as DOUBLE (DuckDB's integer cast would round "1.5" to 2), stored
 * to Int32Array with one comparison per cell: a value that does not survive the store is a fraction,
 * NaN (an error), or a whole number beyond int32, which keeps that column of the block as
 * Float64Array. Text columns without a dictionary are read through node-api's vectors.
 */
class BlockAssembler {
  private ints: (Int32Array | undefined)[] = [];
  private floats: (Float64Array | undefined)[] = [];
  private strings: ((string | null)[] | undefined)[] = [];
  private missing: (Uint8Array | undefined)[] = [];
  rows = 0;
  private readonly hasInts: boolean;

  constructor(
    private readonly bindings: Bindings,
    private readonly columns: readonly ColumnInfo[],
    private readonly capacity: number,
    private readonly file: string,
    private readonly dictionaries: readonly (readonly string[] | undefined)[] | null,
    private firstRow = 0,
  ) {
    this.hasInts = columns.some((c) => c.type === 'int');
    this.reset();
  }

  /**
   * The query's SELECT list: the asked columns, in order. The fast way adds one last column that
   * flags a row with a fraction in an int column (CAST to INTEGER would round it).
   */
  selectList(): string {
    const dictionaries = this.dictionaries;
    if (!dictionaries) return this.columns.map((c) => ident(c.name)).join(', ');
    const list = this.columns.map(({ name, type }, c) => {
      const col = ident(name);
      const dictionary = dictionaries[c];
      if (type === 'int') return `CAST(${col} AS INTEGER)`;
      if (type === 'string' && dictionary) return `CAST(NULLIF(${col}, '') AS ENUM(${dictionary.map(literal).join(', ')}))`;
      return col;
    });
    const ints = this.columns.filter((c) => c.type === 'int').map((c) => `${ident(c.name)} <> trunc(${ident(c.name)})`);
    if (ints.length > 0) list.push(`(${ints.join(' OR ')}) IS TRUE`);
    return list.join(', ');
  }

  private reset(): void {
    this.ints = this.columns.map((c) => (c.type === 'int' ? new Int32Array(this.capacity) : undefined));
    this.floats = this.columns.map((c) => (c.type === 'float' ? new Float64Array(this.capacity) : undefined));
    this.strings = this.columns.map((c) => (c.type === 'string' ? [] : undefined));
    this.missing = this.columns.map(() => undefined);
    this.rows = 0;
  }

  get full(): boolean {
    return this.rows === this.capacity;
  }

  /** Copies rows [start, n) of the chunk, as many as fit; returns how many. */
  append(chunk: DuckDBDataChunk, start: number, n: number): number {
    const count = Math.min(n - start, this.capacity - this.rows);
    const end = start + count;
    const at = this.rows - start; // block row of chunk row i is at + i
    const b = this.bindings;
    if (this.dictionaries && this.hasInts) {
      const flags = b.vector_get_data(b.data_chunk_get_vector(chunk.chunk, this.columns.length), n);
      if (flags.subarray(start, end).includes(1)) throw new FastPathRefused('a fraction in an int column');
    }
    for (let c = 0; c < this.columns.length; c++) {
      const type = this.columns[c].type;
      const dictionary = this.dictionaries?.[c];
      if (type === 'string' && dictionary) {
        const vector = b.data_chunk_get_vector(chunk.chunk, c);
        const codes = enumCodes(b, vector, n);
        const validity = validityOf(b, vector, n);
        const out = this.strings[c]!;
        for (let i = start; i < end; i++) out.push(isValid(validity, i) ? dictionary[codes[i]] : null);
        continue;
      }
      if (type === 'string') {
        const vector = chunk.getColumnVector(c);
        const out = this.strings[c]!;
        for (let i = start; i < end; i++) {
          const v = vector.getItem(i) as string | null;
          out.push(v === '' ? null : v);
        }
        continue;
      }
      if (type === 'int' && this.dictionaries) {
        const vector = b.data_chunk_get_vector(chunk.chunk, c);
        const bytes = b.vector_get_data(vector, n * 4);
        const values = new Int32Array(bytes.buffer, bytes.byteOffset, n);
        const validity = validityOf(b, vector, n);
        const ints = this.ints[c]!;
        ints.set(values.subarray(start, end), at + start);
        if (validity !== null && hasHoles(validity, start, end))
          for (let i = start; i < end; i++)
            if (!isValid(validity, i)) {
              (this.missing[c] ??= new Uint8Array(this.capacity))[at + i] = 1;
              ints[at + i] = 0;
            }
        continue;
      }
      const { values, validity } = doubleVector(b, chunk, c, n);
      const holes = validity !== null && hasHoles(validity, start, end) ? validity : null;
      if (type === 'int') {
        this.appendInts(c, 0, values, 1, holes, at, start, end);
        continue;
      }
      const out = this.floats[c]!;
      out.set(values.subarray(start, end), at + start);
      if (holes) for (let i = start; i < end; i++) if (!isValid(holes, i)) out[at + i] = NaN;
    }
    this.rows += count;
    return count;
  }

  private appendInts(
    c: number,
    j: number,
    values: Float64Array,
    stride: number,
    holes: Uint32Array | null,
    at: number,
    start: number,
    end: number,
  ): void {
    const ints = this.ints[c];
    if (ints) {
      const odd = storeInts(values, stride, j, ints, at, start, end, holes);
      if (odd >= 0) this.widen(c, values[odd * stride + j], at + odd);
    }
    const floats = this.ints[c] ? undefined : this.floats[c]!;
    if (floats) {
      // This block's column holds whole numbers beyond int32: kept exact as float64.
      storeFloats(values, stride, j, floats, at, start, end);
      for (let i = start, e = start * stride + j; i < end; i++, e += stride) {
        const v = values[e];
        if (!(Number.isInteger(v) && Math.abs(v) <= MAX_EXACT_INT) && isValid(holes, e))
          throw new BadIntegerError(this.columns[c].name, this.firstRow + at + i, v);
      }
    }
    if (holes) {
      const out = this.ints[c] ?? floats!;
      for (let i = start, e = start * stride + j; i < end; i++, e += stride)
        if (!isValid(holes, e)) {
          (this.missing[c] ??= new Uint8Array(this.capacity))[at + i] = 1;
          out[at + i] = 0;
        }
    }
  }

  /** An int value that an Int32Array does not hold: a whole number beyond int32 moves the column to float64; anything else is an error. */
  private widen(c: number, v: number, rowInBlock: number): void {
    if (!(Number.isInteger(v) && Math.abs(v) <= MAX_EXACT_INT))
      throw new BadIntegerError(this.columns[c].name, this.firstRow + rowInBlock, v);
    const floats = new Float64Array(this.capacity);
    floats.set(this.ints[c]!.subarray(0, this.rows));
    this.floats[c] = floats;
    this.ints[c] = undefined;
  }

  take(): RawBlock {
    const n = this.rows;
    const whole = n === this.capacity;
    const columns: Record<string, RawColumn> = {};
    this.columns.forEach(({ name, type }, c) => {
      if (type === 'string') columns[name] = { type, values: this.strings[c]! };
      else if (type === 'float') columns[name] = { type, values: whole ? this.floats[c]! : this.floats[c]!.slice(0, n) };
      else {
        const m = this.missing[c];
        const missing = m && (whole ? m : m.slice(0, n));
        const ints = this.ints[c];
        if (ints) {
          const column: RawColumn = { type, values: whole ? ints : ints.slice(0, n) };
          if (missing) column.missing = missing;
          columns[name] = column;
        } else columns[name] = intColumn(whole ? this.floats[c]! : this.floats[c]!.slice(0, n), missing);
      }
    });
    const block: RawBlock = { rows: n, columns, source: { file: this.file, firstRow: this.firstRow } };
    this.firstRow += n;
    this.reset();
    return block;
  }
}
