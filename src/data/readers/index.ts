// Table readers: CSV and Parquet files (one table, maybe many shards) into raw blocks of typed
// columns. Two engines give the same blocks: DuckDB (fast, parallel, an optional dependency) and a
// light pure-JS one (papaparse, hyparquet). Node only: DuckDB is loaded on demand.

import type { RawBlock, SourceType } from '../raw.js';
import type { SourceFile } from '../sources.js';
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
 * engine without a word; 'duckdb' throws EngineMissingError when it is missing.
 */
export async function openReader(engine: ReaderEngine = 'auto'): Promise<TableReader> {
  if (engine === 'light') return new LightReader();
  if (engine !== 'auto' && engine !== 'duckdb')
    throw new TypeError(`openReader: unknown engine ${JSON.stringify(engine)}; the engines are 'auto', 'duckdb' and 'light'.`);
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
