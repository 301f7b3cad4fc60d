// Your own table, ready to train on: files (CSV or Parquet: one file, a folder of shards, a glob) or
// data already in memory ({ name, text } / { name, bytes }, or arrays of these) and a schema in; the
// fitted preprocessing and train / validation / test batch sources out.
//
// Two ways, chosen by size:
// - in memory (tables up to `memoryLimitBytes` of source files): one read; the training split's raw
//   rows fit the preprocessing, then every split is encoded into a ColumnarDataset (a DataLoader's input);
// - on disk (larger tables): a first read fits the preprocessing on the training split, a second
//   encodes every split into a binary columnar cache (written atomically, reused while the sources,
//   the schema and the split are unchanged), and training streams the cache in blocks with a block
//   shuffle (BlockShuffleLoader). Memory stays bounded by the read blocks and the shuffle buffer.
//
// Files and the cache are Node only; in-memory sources go through the light engine into memory, which
// also runs in browsers (as does the preprocessing itself, Preprocessor).

import { describeUnknown, unknownKeys } from '../options.js';
import { mix32 } from '../rng.js';
import { BlockShuffleLoader, type BlockShuffleLoaderOptions } from './block-loader.js';
import { type CachedTable, CacheWriter, cacheKey, openCache } from './cache.js';
import { ColumnarDataset, type Columns, SequenceColumn } from './columns.js';
import { DataError } from './errors.js';
import { type BatchSource, DataLoader, type HostBatch } from './loader.js';
import { Preprocessor, PreprocessorFitter } from './preprocessor.js';
import { type RawBlock, selectRawRows } from './raw.js';
import { openReader, type TableReader } from './readers/index.js';
import { checkSameHeader, headerOf, missingInShardError } from './readers/light.js';
import { parseSchema, proposeSchema, type TableSchema } from './schema.js';
import { isInMemory, resolveSources, type SourceFile, type TableSources } from './sources.js';

export type SplitName = 'train' | 'val' | 'test';
const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

export interface IngestProgress {
  /** 'fit': reading the training split to fit the preprocessing; 'encode': encoding every split (to memory or the cache). */
  phase: 'fit' | 'encode';
  /** Bytes read over the whole preparation (on disk the training files are read twice), and their total. */
  bytesDone: number;
  bytesTotal: number;
  /** Rows read in this phase, and the seconds since it began. */
  rows: number;
  seconds: number;
}

export interface PrepareTableOptions {
  /** The table's schema (parsed and checked here): labels, sparse, dense and sequence columns. */
  schema: TableSchema | unknown;
  /**
   * Validation sources, in the shapes `data` takes (a file, folder or glob, or in-memory text / bytes).
   * Without val and test, rows are held out from `data`.
   */
  val?: TableSources;
  /** Test sources, in the shapes `data` takes. */
  test?: TableSources;
  /**
   * Fractions of `data`'s rows held out for validation and test when no val/test files are given
   * (default [0.1, 0.1]); each row's split is a hash of its position and `seed`, the same on every read.
   */
  holdout?: readonly [number, number];
  /** Seed of the holdout split (default 2022). */
  seed?: number;
  /**
   * File engine: 'duckdb' (multi-threaded, optional dependency, files only), 'light' (papaparse, hyparquet),
   * 'auto' (DuckDB when installed; the light engine for in-memory sources).
   */
  engine?: 'auto' | 'duckdb' | 'light';
  /**
   * 'memory', 'disk' (the streamed binary cache) or 'auto' (disk when the sources exceed memoryLimitBytes).
   * In-memory sources need 'memory' (or 'auto' within the limit): the cache is keyed by files.
   */
  storage?: 'auto' | 'memory' | 'disk';
  /** Source bytes above which 'auto' storage goes to disk (default 512 MiB). */
  memoryLimitBytes?: number;
  /** Folder of the binary cache (default: `.webmtl-cache` next to the first data file). */
  cacheDir?: string;
  /** Rows per read block (default 65536). */
  blockRows?: number;
  onProgress?: (p: IngestProgress) => void;
}

const OPTION_KEYS = [
  'schema',
  'val',
  'test',
  'holdout',
  'seed',
  'engine',
  'storage',
  'memoryLimitBytes',
  'cacheDir',
  'blockRows',
  'onProgress',
] as const satisfies readonly (keyof PrepareTableOptions)[];

/** Unknown option names are errors (with the nearest known one), as everywhere in webmtl. */
function checkOptionNames(where: string, options: object, known: readonly string[]): void {
  const unknown = unknownKeys(options, known);
  if (unknown.length) throw new DataError(`${where}: unknown option ${describeUnknown(unknown, known)}`);
}

/** A whole number ≥ min (or undefined, for the default). */
function checkInteger(where: string, name: string, v: unknown, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && (v as number) >= min))
    throw new DataError(`${where}: ${name} must be a whole number ≥ ${min}, got ${JSON.stringify(v)}.`);
}

/** What the models need to know about the table (createModel's schema). */
export interface ModelSchema {
  sparseColumns: string[];
  denseColumns: string[];
  sequenceColumns: string[];
  labelColumns: string[];
  taskTypes: ('classification' | 'regression')[];
  vocabSizes: Record<string, number>;
  sequenceLengths: Record<string, number>;
  /** Embedding sizes the schema sets per column (others take the model preset's). */
  embedDims: Record<string, number>;
  /** Sparse and sequence columns the schema marks "side": "item" (ESMM's item tower). */
  itemColumns: string[];
}

export interface LoaderOptions {
  batchSize?: number;
  /** Shuffle the training rows every epoch (default true; val and test are never shuffled). */
  shuffle?: boolean;
  seed?: number;
  /** Rows per validation/test batch (default max(batchSize, 4096)). */
  evalBatchSize?: number;
  /** Block shuffle of the on-disk cache: rows per block and blocks per shuffle buffer. */
  blockRows?: number;
  bufferBlocks?: number;
}

const LOADER_OPTION_KEYS = [
  'batchSize',
  'shuffle',
  'seed',
  'evalBatchSize',
  'blockRows',
  'bufferBlocks',
] as const satisfies readonly (keyof LoaderOptions)[];

export class PreparedTable {
  constructor(
    readonly preprocessor: Preprocessor,
    readonly storage: 'memory' | 'disk',
    /** Each split as a ColumnarDataset (memory) or a CachedTable (disk); an empty split has 0 rows. */
    readonly splits: Record<SplitName, ColumnarDataset | CachedTable>,
    /** True when the on-disk cache was reused instead of read and encoded again. */
    readonly fromCache: boolean,
  ) {}

  rows(split: SplitName): number {
    const s = this.splits[split];
    return s instanceof ColumnarDataset ? s.length : s.rows;
  }

  get modelSchema(): ModelSchema {
    const p = this.preprocessor;
    return {
      sparseColumns: p.sparseColumns,
      denseColumns: p.denseColumns,
      sequenceColumns: p.sequenceColumns,
      labelColumns: p.labelNames,
      taskTypes: p.taskTypes,
      vocabSizes: p.vocabSizes,
      sequenceLengths: Object.fromEntries(p.sequenceColumns.map((c) => [c, p.sequenceLength(c)])),
      embedDims: Object.fromEntries(p.schema.columns.flatMap((c) => (c.embedDim === undefined ? [] : [[c.name, c.embedDim]]))),
      itemColumns: p.schema.columns.filter((c) => c.side === 'item').map((c) => c.name),
    };
  }

  /** Batch sources for MTLTrainer.fit / evaluate: a DataLoader in memory, a BlockShuffleLoader on disk. */
  loaders(options: LoaderOptions = {}): Record<SplitName, BatchSource<HostBatch>> {
    checkOptionNames('PreparedTable.loaders', options, LOADER_OPTION_KEYS);
    checkInteger('PreparedTable.loaders', 'evalBatchSize', options.evalBatchSize, 1);
    const batchSize = options.batchSize ?? 1024;
    const evalBatchSize = options.evalBatchSize ?? Math.max(batchSize, 4096);
    const make = (split: SplitName): BatchSource<HostBatch> => {
      const train = split === 'train';
      const common = { batchSize: train ? batchSize : evalBatchSize, shuffle: train && (options.shuffle ?? true), seed: options.seed };
      const s = this.splits[split];
      if (s instanceof ColumnarDataset) return new DataLoader(s, common);
      const block: BlockShuffleLoaderOptions = { ...common };
      if (options.blockRows !== undefined) block.blockRows = options.blockRows;
      if (options.bufferBlocks !== undefined) block.bufferBlocks = options.bufferBlocks;
      return new BlockShuffleLoader(s, block);
    };
    return { train: make('train'), val: make('val'), test: make('test') };
  }
}

/**
 * Reads `data` (and val/test when given) as the schema says; see the file comment. `data` is a file,
 * a folder of shards or a glob (or a list of these; Node), or data already in memory (anywhere,
 * browsers included): `{ name: 'train.csv', text }`, `{ name: 'part-0.parquet', bytes }` (an
 * ArrayBuffer or Uint8Array), or an array of these as shards, read in the given order. The name's
 * extension gives the format (else Parquet's magic bytes, else CSV) and error messages show it.
 */
export async function prepareTable(data: TableSources, options: PrepareTableOptions): Promise<PreparedTable> {
  checkOptionNames('prepareTable', options, OPTION_KEYS);
  checkInteger('prepareTable', 'seed', options.seed, 0);
  const limit = options.memoryLimitBytes;
  if (limit !== undefined && !(typeof limit === 'number' && limit >= 0))
    throw new DataError(`prepareTable: memoryLimitBytes must be a number of bytes ≥ 0, got ${JSON.stringify(limit)}.`);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function')
    throw new DataError('prepareTable: onProgress must be a function (it gets { phase, bytesDone, bytesTotal, rows, seconds }).');
  const schema = parseSchema(options.schema, 'the schema');
  const holdout = options.holdout ?? [0.1, 0.1];
  if (holdout.length !== 2 || !holdout.every((f) => Number.isFinite(f) && f >= 0) || holdout[0] + holdout[1] >= 1)
    throw new DataError(
      `prepareTable: holdout ${JSON.stringify(holdout)} must be two fractions ≥ 0 that sum to less than 1, e.g. [0.1, 0.1].`,
    );
  const seed = options.seed ?? 2022;
  checkInteger('prepareTable', 'blockRows', options.blockRows, 1);
  const blockRows = options.blockRows ?? 65536;

  const files: Record<SplitName, SourceFile[]> = {
    train: await resolveSources(data, 'data'),
    val: options.val === undefined ? [] : await resolveSources(options.val, 'val'),
    test: options.test === undefined ? [] : await resolveSources(options.test, 'test'),
  };
  const heldOut = options.val === undefined && options.test === undefined;
  const all = [...files.train, ...files.val, ...files.test];
  const bytes = all.reduce((s, f) => s + f.bytes, 0);
  const storage = options.storage ?? 'auto';
  if (!['auto', 'memory', 'disk'].includes(storage))
    throw new DataError(`prepareTable: storage must be 'auto', 'memory' or 'disk', got '${storage}'.`);
  const onDisk = storage === 'disk' || (storage === 'auto' && bytes > (options.memoryLimitBytes ?? 512 * 2 ** 20));
  const inMemory = all.find(isInMemory);
  if (onDisk && inMemory)
    throw new DataError(
      `prepareTable: ${JSON.stringify(inMemory.path)} is in memory (text or bytes), so the table cannot go to the on-disk cache ` +
        `(storage '${storage}'${storage === 'auto' ? `: ${bytes} bytes exceed memoryLimitBytes` : ''}). ` +
        "Fix: use storage 'memory', or give the sources as file paths (Node) for storage 'disk'.",
    );

  const reader = await openReader(options.engine ?? 'auto', all);
  try {
    const columns = schema.columns.filter((c) => c.role !== 'ignore').map((c) => ({ name: c.name, type: c.type }));
    // Every shard's header is checked (against the schema, and against its split's first shard)
    // before anything is read or fitted.
    for (const s of SPLITS)
      await checkHeaders(
        files[s],
        columns.map((c) => c.name),
      );
    const split = new RowSplitter(heldOut ? holdout : [0, 0], seed);
    const progress = new ProgressClock(options.onProgress);
    const ctx: ReadContext = { reader, files, columns, blockRows, split, progress };
    if (!onDisk) return await prepareInMemory(schema, ctx);
    const dir = options.cacheDir ?? (await defaultCacheDir(files.train[0].path));
    return await prepareOnDisk(schema, ctx, dir, { holdout: heldOut ? holdout : null, seed });
  } finally {
    await reader.close();
  }
}

interface ReadContext {
  reader: TableReader;
  files: Record<SplitName, SourceFile[]>;
  columns: { name: string; type: TableSchema['columns'][number]['type'] }[];
  blockRows: number;
  split: RowSplitter;
  progress: ProgressClock;
}

/**
 * Every file of a split holds the schema's columns, and the shards of a split all have the first
 * one's header (names and order): a shard with other columns is a sign of a different table.
 */
async function checkHeaders(files: readonly SourceFile[], wanted: readonly string[]): Promise<void> {
  let first: string[] | null = null;
  for (const file of files) {
    const have = await headerOf(file);
    const missing = wanted.find((n) => !have.includes(n));
    if (missing !== undefined) throw missingInShardError(file.path, missing, have);
    if (first) checkSameHeader(files[0].path, first, file.path, have);
    else first = have;
  }
}

/**
 * The split a row of the data files goes to when val and test are held out of them: a hash of
 * (seed, the row's position over all data files, from 0) against the fractions. Stable across reads,
 * engines and block sizes; the same rows for the same files, fractions and seed.
 */
export function holdoutSplit(position: number, fractions: readonly [number, number], seed: number): SplitName {
  const h = mix32(mix32(seed >>> 0) ^ mix32(position));
  return h < fractions[0] * 2 ** 32 ? 'val' : h < (fractions[0] + fractions[1]) * 2 ** 32 ? 'test' : 'train';
}

/** Splits the data files' blocks into train / val / test rows by holdoutSplit, in order. */
class RowSplitter {
  private position = 0;

  constructor(
    private readonly fractions: readonly [number, number],
    private readonly seed: number,
  ) {}

  reset(): void {
    this.position = 0;
  }

  next(block: RawBlock): Record<SplitName, RawBlock | null> {
    if (this.fractions[0] + this.fractions[1] === 0) {
      this.position += block.rows;
      return { train: block, val: null, test: null };
    }
    const picks: Record<SplitName, number[]> = { train: [], val: [], test: [] };
    for (let i = 0; i < block.rows; i++) picks[holdoutSplit(this.position + i, this.fractions, this.seed)].push(i);
    this.position += block.rows;
    const take = (rows: number[]) =>
      rows.length === 0 ? null : rows.length === block.rows ? block : selectRawRows(block, Int32Array.from(rows));
    return { train: take(picks.train), val: take(picks.val), test: take(picks.test) };
  }
}

/**
 * Progress over the whole preparation: bytes over every read (the fitting read and the encoding read
 * on disk), rows and seconds within the current phase (so rows/s is the phase's rate).
 */
class ProgressClock {
  private phase: IngestProgress['phase'] | null = null;
  private phaseStart = Date.now();
  bytesTotal = 0;
  bytesBefore = 0;
  /** Rows of the current phase before the split being read. */
  rows = 0;
  constructor(private readonly callback?: (p: IngestProgress) => void) {}

  report(phase: IngestProgress['phase'], bytesDone: number, rows: number): void {
    if (phase !== this.phase) {
      this.phase = phase;
      this.phaseStart = Date.now();
      this.rows = 0;
    }
    this.callback?.({
      phase,
      bytesDone: this.bytesBefore + bytesDone,
      bytesTotal: this.bytesTotal,
      rows: this.rows + rows,
      seconds: (Date.now() - this.phaseStart) / 1000,
    });
  }
}

/** Reads the files of one split block by block, reporting progress. */
async function* readSplit(ctx: ReadContext, split: SplitName, phase: IngestProgress['phase']): AsyncGenerator<RawBlock> {
  const files = ctx.files[split];
  if (!files.length) return;
  let rows = 0;
  for await (const block of ctx.reader.scan(files, ctx.columns, {
    blockRows: ctx.blockRows,
    onProgress: (p) => ctx.progress.report(phase, p.bytesDone, p.rows),
  })) {
    rows += block.rows;
    yield block;
  }
  ctx.progress.rows += rows;
  ctx.progress.bytesBefore += files.reduce((s, f) => s + f.bytes, 0);
}

/** Every split's raw blocks: the data files' rows split by the holdout, plus the val/test files. */
async function* readAllSplits(ctx: ReadContext, phase: IngestProgress['phase']): AsyncGenerator<[SplitName, RawBlock]> {
  ctx.split.reset();
  for await (const block of readSplit(ctx, 'train', phase)) {
    const parts = ctx.split.next(block);
    for (const s of SPLITS) if (parts[s]) yield [s, parts[s]!];
  }
  for (const s of ['val', 'test'] as const) for await (const block of readSplit(ctx, s, phase)) yield [s, block];
}

async function prepareInMemory(schema: TableSchema, ctx: ReadContext): Promise<PreparedTable> {
  const bytes = Object.values(ctx.files)
    .flat()
    .reduce((s, f) => s + f.bytes, 0);
  ctx.progress.bytesTotal = bytes;
  const raw: Record<SplitName, RawBlock[]> = { train: [], val: [], test: [] };
  for await (const [split, block] of readAllSplits(ctx, 'encode')) raw[split].push(block);
  const preprocessor = Preprocessor.fit(schema, raw.train);
  const encoded = {} as Record<SplitName, ColumnarDataset>;
  for (const s of SPLITS) {
    encoded[s] = concatDatasets(
      raw[s].map((b) => preprocessor.transform(b)),
      preprocessor,
    );
    raw[s] = []; // the raw rows can go as soon as a split is encoded
  }
  return new PreparedTable(preprocessor, 'memory', encoded, false);
}

async function prepareOnDisk(
  schema: TableSchema,
  ctx: ReadContext,
  dir: string,
  split: { holdout: readonly [number, number] | null; seed: number },
): Promise<PreparedTable> {
  const keyOf = (s: SplitName) =>
    cacheKey({ sources: Object.values(ctx.files).flat(), schema, preprocessor: { split, blockRows: ctx.blockRows }, split: s });
  const cached = await Promise.all(SPLITS.map((s) => openCache(dir, keyOf(s))));
  if (cached.every((c) => c !== null)) {
    const preprocessor = Preprocessor.fromJSON((cached[0] as CachedTable).meta.preprocessor);
    return new PreparedTable(preprocessor, 'disk', { train: cached[0]!, val: cached[1]!, test: cached[2]! }, true);
  }
  for (const c of cached) c?.close(); // some splits cached, not all: every split is written again
  const trainBytes = ctx.files.train.reduce((s, f) => s + f.bytes, 0);
  const allBytes = Object.values(ctx.files)
    .flat()
    .reduce((s, f) => s + f.bytes, 0);
  // Pass 1: fit on the training rows only (the data files' rows the holdout keeps for training).
  ctx.progress.bytesTotal = trainBytes + allBytes;
  const fitter = new PreprocessorFitter(schema);
  ctx.split.reset();
  for await (const block of readSplit(ctx, 'train', 'fit')) {
    const train = ctx.split.next(block).train;
    if (train) fitter.update(train);
  }
  const preprocessor = fitter.finish();
  // Pass 2: encode every split into its cache.
  const layout = cacheLayout(preprocessor);
  const writers: Partial<Record<SplitName, CacheWriter>> = {};
  try {
    for (const s of SPLITS) writers[s] = await CacheWriter.create(dir, keyOf(s), layout);
    for await (const [s, block] of readAllSplits(ctx, 'encode')) await writers[s]!.append(preprocessor.transform(block));
    const tables = {} as Record<SplitName, CachedTable>;
    for (const s of SPLITS) tables[s] = await writers[s]!.commit({ preprocessor: preprocessor.toJSON(), split: s });
    return new PreparedTable(preprocessor, 'disk', tables, false);
  } catch (e) {
    for (const w of Object.values(writers)) await w?.abort().catch(() => {});
    throw e;
  }
}

function cacheLayout(p: Preprocessor) {
  return {
    columns: [
      ...p.sparseColumns.map((name) => ({ name, dtype: 'int32' as const, width: 1 })),
      ...p.denseColumns.map((name) => ({ name, dtype: 'float32' as const, width: 1 })),
      ...p.sequenceColumns.map((name) => ({ name, dtype: 'int32' as const, width: p.sequenceLength(name), sequence: true })),
    ],
    labelNames: p.labelNames,
  };
}

/** One dataset from encoded blocks (an empty split gives an empty dataset of the right columns). */
function concatDatasets(parts: ColumnarDataset[], p: Preprocessor): ColumnarDataset {
  if (parts.length === 1) return parts[0];
  const n = parts.reduce((s, d) => s + d.length, 0);
  const columns: Columns = {};
  for (const name of p.sparseColumns)
    columns[name] = concatTyped(
      Int32Array,
      parts.map((d) => d.columns[name] as Int32Array),
      n,
    );
  for (const name of p.denseColumns)
    columns[name] = concatTyped(
      Float32Array,
      parts.map((d) => d.columns[name] as Float32Array),
      n,
    );
  for (const name of p.sequenceColumns) {
    const width = p.sequenceLength(name);
    columns[name] = new SequenceColumn(
      concatTyped(
        Int32Array,
        parts.map((d) => (d.columns[name] as SequenceColumn).values),
        n * width,
      ),
      width,
    );
  }
  const labels = concatTyped(
    Float32Array,
    parts.map((d) => d.labels),
    n * p.labelNames.length,
  );
  return new ColumnarDataset(columns, labels, p.labelNames, n);
}

function concatTyped<T extends Int32Array | Float32Array>(Type: { new (n: number): T }, parts: T[], n: number): T {
  const out = new Type(n);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function defaultCacheDir(firstFile: string): Promise<string> {
  const { dirname, join } = await import('node:path');
  return join(dirname(firstFile), '.webmtl-cache');
}

/** The columns of a table's files (names and stored types), every shard checked against the first. */
export async function describeTable(
  data: TableSources,
  options: { engine?: 'auto' | 'duckdb' | 'light' } = {},
): Promise<{ files: SourceFile[]; columns: { name: string; type: TableSchema['columns'][number]['type'] }[] }> {
  checkOptionNames('describeTable', options, ['engine']);
  const files = await resolveSources(data, 'data');
  const reader = await openReader(options.engine ?? 'auto', files);
  try {
    return { files, columns: await reader.describe(files) };
  } finally {
    await reader.close();
  }
}

/**
 * A proposed schema for a table, from its first `sampleRows` rows (default 10000): see proposeSchema
 * for the rules. Write it to a file, check and edit the roles, then train with it.
 */
export async function proposeTableSchema(
  data: TableSources,
  options: { labels?: readonly string[]; ignore?: readonly string[]; sampleRows?: number; engine?: 'auto' | 'duckdb' | 'light' } = {},
): Promise<{ schema: TableSchema; sample: RawBlock; files: SourceFile[] }> {
  checkOptionNames('proposeTableSchema', options, ['labels', 'ignore', 'sampleRows', 'engine']);
  checkInteger('proposeTableSchema', 'sampleRows', options.sampleRows, 1);
  const files = await resolveSources(data, 'data');
  const reader = await openReader(options.engine ?? 'auto', files);
  try {
    const header = (await reader.describe(files)).map((c) => c.name);
    const sample = await reader.sample(files, options.sampleRows ?? 10_000);
    return { schema: proposeSchema(sample, { labels: options.labels, ignore: options.ignore, header }), sample, files };
  } finally {
    await reader.close();
  }
}
