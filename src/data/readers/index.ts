// Table readers: CSV and Parquet files (one table, maybe many shards) into raw blocks of typed
// columns. Two engines give the same blocks: DuckDB (fast, parallel, an optional dependency) and a
// light pure-JS one (papaparse, hyparquet). DuckDB (Node only) is loaded on demand; the light engine
// also reads in-memory sources (text or bytes), in browsers too.

import { DataError } from '../errors.js';
import type { RawBlock, SourceType } from '../raw.js';
import { isInMemory, type SourceFile } from '../sources.js';
import { LightReader } from './light.js';

export interface ColumnInfo {
  name: string;
  type: SourceType;
}

export interface ScanProgress {
  bytesDone: number;
  bytesTotal: number;
  rows: number;
}

export interface ScanOptions {
  /** Rows per block (a block never spans two files, so a file's last block may be shorter). */
  blockRows: number;
  onProgress?: (p: ScanProgress) => void;
}

export interface TableReader {
  readonly engine: 'duckdb' | 'light';
  /**
   * The columns of the first file and their types as inferred from its first rows (DuckDB's sniffer,
   * or the light engine's same rules). Every other shard must have the same names in the same order.
   * An empty first file (no header, or no rows) is an error.
   */
  describe(files: readonly SourceFile[]): Promise<ColumnInfo[]>;
  /** Up to `rows` rows from the start of the table, typed as `describe` says (source: the first file). */
  sample(files: readonly SourceFile[], rows: number): Promise<RawBlock>;
  /**
   * Only `columns`, typed exactly as asked, file by file in row order. Cells that do not fit the type
   * are a DataError naming file, line (or Parquet row), column and value.
   */
  scan(files: readonly SourceFile[], columns: readonly ColumnInfo[], options: ScanOptions): AsyncIterable<RawBlock>;
  close(): Promise<void>;
}

export type ReaderEngine = 'auto' | 'duckdb' | 'light';

/** DuckDB was asked for but its package is not installed (or does not load on this platform). */
export class EngineMissingError extends Error {
  constructor(cause?: unknown) {
    const why = cause instanceof Error ? ` (${cause.message.split('\n')[0]})` : '';
    super(
      `The DuckDB engine is not available${why}. Fix: npm install @duckdb/node-api (an optional dependency), ` +
        "or use the light engine (engine 'light', slower on large files).",
    );
    this.name = 'EngineMissingError';
    this.cause = cause;
  }
}

/**
 * Opens a reader. 'auto' (the default) takes DuckDB when it is installed and loads, else the light
 * engine without a word; 'duckdb' throws EngineMissingError when it is missing. `files`, when given,
 * are the sources the reader will read: if any is in memory (text or bytes), 'auto' takes the light
 * engine (DuckDB is not even loaded) and 'duckdb' is a DataError, as DuckDB reads files only.
 */
export async function openReader(engine: ReaderEngine = 'auto', files: readonly SourceFile[] = []): Promise<TableReader> {
  if (engine === 'light') return new LightReader();
  if (engine !== 'auto' && engine !== 'duckdb')
    throw new TypeError(`openReader: unknown engine ${JSON.stringify(engine)}; the engines are 'auto', 'duckdb' and 'light'.`);
  const inMemory = files.find(isInMemory);
  if (inMemory && engine === 'auto') return new LightReader();
  if (inMemory)
    throw new DataError(
      `The DuckDB engine reads files only, and ${JSON.stringify(inMemory.path)} is in memory (text or bytes). ` +
        "Fix: use engine 'light', or 'auto' (which takes the light engine for in-memory data).",
    );
  const duck = await import('./duckdb.js');
  let modules: Awaited<ReturnType<typeof duck.loadDuckDbModules>>;
  try {
    modules = await duck.loadDuckDbModules();
  } catch (error) {
    if (engine === 'auto') return new LightReader();
    throw new EngineMissingError(error);
  }
  return duck.DuckDbReader.open(modules);
}
