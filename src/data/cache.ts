// The on-disk cache of a preprocessed table: one folder per cache key, holding one binary file per
// feature column and one for the labels (little-endian 32-bit values, row after row) and a meta.json
// that describes them. Building a table from CSV/Parquet costs a full scan and a preprocessor pass;
// the cache makes every later run (and every epoch of a larger-than-memory table) a plain file read.
//
// Crash safety: a cache is written into a temp folder `<key>.tmp-<pid>-<random>`, fsync'd, and only
// then renamed to `<key>` (with meta.json written last), so a `<key>` folder is always complete; a
// run killed half way leaves only a temp folder, which readers never open and the next writer in
// that folder removes once its process is gone.
//
// Node only: node:fs and node:path are imported when a cache is created or opened (never at module
// load), so bundling this file for a browser loads no Node module. cacheKey is plain JS.

import type { FileHandle } from 'node:fs/promises';
import { checkOptionNames } from '../options.js';
import { type Column, ColumnarDataset, type Columns, SequenceColumn } from './columns.js';
import { DataError, listNames, missingColumnError } from './errors.js';

/** meta.json's `format` and `version`; a cache of another format or version is rebuilt. */
export const CACHE_FORMAT = 'webmtl-cache';
export const CACHE_VERSION = 1;

type NodeFs = typeof import('node:fs');
type NodePath = typeof import('node:path');

// ---------------------------------------------------------------------------------------------------
// The cache key

/** What decides a cache's content; sources are structural so any `{ path, bytes, mtimeMs }` fits. */
export interface CacheKeyInput {
  /** The files read, in reading order (a SourceFile from sources.ts fits). */
  sources: readonly { path: string; bytes: number; mtimeMs: number }[];
  /** The table schema (its JSON form, or an object with toJSON). */
  schema: unknown;
  /** The fitted preprocessor (its toJSON() state, or the Preprocessor itself: toJSON is called). */
  preprocessor: unknown;
  /** Which part of the data the cache holds ('train', 'val', a split rule …). */
  split: string;
}

/**
 * The cache key of a table: the SHA-256 (hex) of a stable JSON of the inputs (object keys sorted,
 * typed arrays as arrays, toJSON honoured) plus the cache format and version. Any change to a
 * source's path, size or modification time, to the schema, the fitted preprocessor or the split gives
 * another key, so a stale cache is never read: it is simply not found. Paths are taken as given;
 * pass absolute paths for a key that does not depend on the working directory.
 */
export function cacheKey(input: CacheKeyInput): string {
  checkOptionNames('cacheKey', input, ['sources', 'schema', 'preprocessor', 'split'], (m) => new DataError(m));
  if (!Array.isArray(input.sources)) throw new DataError('cacheKey: sources must be an array of { path, bytes, mtimeMs }.');
  const sources = input.sources.map((s, i) => {
    if (typeof s?.path !== 'string' || !Number.isFinite(s.bytes) || !Number.isFinite(s.mtimeMs)) {
      throw new DataError(`cacheKey: sources[${i}] must be { path: string; bytes: number; mtimeMs: number }, got ${JSON.stringify(s)}.`);
    }
    return { path: s.path, bytes: s.bytes, mtimeMs: s.mtimeMs };
  });
  if (typeof input.split !== 'string') throw new DataError(`cacheKey: split must be a string, got ${JSON.stringify(input.split)}.`);
  const text = stableJson({
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    sources,
    schema: input.schema,
    preprocessor: input.preprocessor,
    split: input.split,
  });
  return sha256Hex(text);
}

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function stableJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return JSON.stringify(`${value}n`);
  if (typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return stableJson(withJson.toJSON());
  if (ArrayBuffer.isView(value)) {
    const items = value instanceof DataView ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : value;
    return stableJson(Array.from(items as unknown as ArrayLike<number | bigint>));
  }
  if (Array.isArray(value)) return `[${value.map((v) => (typeof v === 'function' ? 'null' : stableJson(v))).join(',')}]`;
  if (value instanceof Map) return stableJson(Object.fromEntries(value));
  if (value instanceof Set) return stableJson([...value]);
  const entries = Object.keys(value)
    .sort()
    .filter((k) => {
      const v = (value as Record<string, unknown>)[k];
      return v !== undefined && typeof v !== 'function';
    })
    .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** Round constants and initial hash of SHA-256 (FIPS 180-4): fractional bits of cube and square roots of primes. */
const SHA256 = (() => {
  const primes: number[] = [];
  for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  const frac32 = (x: number) => Math.floor((x - Math.floor(x)) * 2 ** 32) >>> 0;
  return {
    k: Uint32Array.from(primes, (p) => frac32(Math.cbrt(p))),
    h: Uint32Array.from(primes.slice(0, 8), (p) => frac32(Math.sqrt(p))),
  };
})();

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** SHA-256 of a string's UTF-8 bytes, as 64 hex digits (plain JS: no node:crypto, works in a browser). */
export function sha256Hex(text: string): string {
  const data = new TextEncoder().encode(text);
  const padded = new Uint8Array((((data.length + 9 + 63) / 64) | 0) * 64);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(data.length / 2 ** 29)); // the bit length's high word
  view.setUint32(padded.length - 4, (data.length * 8) >>> 0);
  const h = SHA256.h.slice();
  const k = SHA256.k;
  const w = new Uint32Array(64);
  for (let at = 0; at < padded.length; at += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(at + 4 * t);
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      w[t] = w[t - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + w[t - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10));
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[t] + w[t]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
}

// ---------------------------------------------------------------------------------------------------
// Layout and meta.json

export type CacheDtype = 'int32' | 'float32';

/** One feature column of a cache: Int32Array ids, Float32Array values, or a SequenceColumn (int32, width ids a row). */
export interface CacheColumnLayout {
  name: string;
  dtype: CacheDtype;
  /** Values per row: 1, or a sequence column's length. */
  width: number;
  /** A SequenceColumn (default: width > 1); lets a sequence of length 1 stay a sequence. */
  sequence?: boolean;
}

export interface CacheLayout {
  columns: readonly CacheColumnLayout[];
  labelNames: readonly string[];
}

/** A column as meta.json records it: its file in the cache folder and its size. */
export interface CachedColumn {
  name: string;
  dtype: CacheDtype;
  width: number;
  sequence: boolean;
  /** File name inside the cache folder. */
  file: string;
  /** Bytes one row takes in the file (width × 4); row r starts at byte r × rowBytes. */
  rowBytes: number;
  /** Size of the file: rows × rowBytes. */
  bytes: number;
}

/** meta.json of a cache folder. */
export interface CacheMeta {
  format: typeof CACHE_FORMAT;
  version: typeof CACHE_VERSION;
  rows: number;
  labelNames: string[];
  columns: CachedColumn[];
  /** The labels file: row-major float32 [rows, labelNames.length]. */
  labels: { file: string; rowBytes: number; bytes: number };
  /** Whatever the writer passed to commit() (e.g. the schema, the preprocessor state, sources). */
  meta: Record<string, unknown>;
}

const META_FILE = 'meta.json';
const LABELS_FILE = 'labels.bin';
const columnFile = (i: number) => `col-${String(i).padStart(4, '0')}.bin`;

/** A temp folder: `<key>.tmp-<pid>-<random hex>`. */
const TEMP_NAME = /^(.+)\.tmp-(\d+)-([0-9a-f]+)$/;

/** A key names a folder: letters, digits, '_', '-', '.', not starting with '.', never a temp name. */
function checkKey(key: string, where: string): void {
  if (typeof key !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(key) || TEMP_NAME.test(key) || key.length > 200) {
    throw new DataError(
      `${where}: the cache key ${JSON.stringify(key)} cannot name a folder. Fix: use cacheKey(...) (64 hex digits) or letters, digits, '_', '-' and '.'.`,
      { value: key },
    );
  }
}

function checkLayout(layout: CacheLayout): CachedColumn[] {
  if (typeof layout !== 'object' || layout === null || !Array.isArray(layout.columns) || !Array.isArray(layout.labelNames)) {
    throw new DataError('CacheWriter.create: layout must be { columns: {name, dtype, width}[]; labelNames: string[] }.');
  }
  checkOptionNames('CacheWriter.create layout', layout, ['columns', 'labelNames'], (m) => new DataError(m));
  const seen = new Set<string>();
  for (const name of layout.labelNames) {
    if (typeof name !== 'string') throw new DataError(`CacheWriter.create: label names must be strings, got ${JSON.stringify(name)}.`);
    if (seen.has(name)) throw new DataError(`CacheWriter.create: label "${name}" is listed twice.`, { column: name });
    seen.add(name);
  }
  seen.clear();
  return layout.columns.map((c, i) => {
    checkOptionNames(`CacheWriter.create: column ${i}`, c, ['name', 'dtype', 'width', 'sequence'], (m) => new DataError(m));
    const { name, dtype, width } = c;
    if (typeof name !== 'string' || name === '')
      throw new DataError(`CacheWriter.create: column ${i} needs a name, got ${JSON.stringify(name)}.`);
    if (seen.has(name)) throw new DataError(`CacheWriter.create: column "${name}" is listed twice.`, { column: name });
    seen.add(name);
    if (dtype !== 'int32' && dtype !== 'float32') {
      throw new DataError(`CacheWriter.create: column "${name}" has dtype ${JSON.stringify(dtype)}; use 'int32' or 'float32'.`, {
        column: name,
      });
    }
    if (!Number.isInteger(width) || width < 1) {
      throw new DataError(`CacheWriter.create: column "${name}" needs an integer width ≥ 1, got ${JSON.stringify(width)}.`, {
        column: name,
      });
    }
    const sequence = c.sequence ?? width > 1;
    if (sequence && dtype !== 'int32') {
      throw new DataError(`CacheWriter.create: column "${name}" is a sequence (width ${width}), whose ids are 'int32', not '${dtype}'.`, {
        column: name,
      });
    }
    if (!sequence && width !== 1) {
      throw new DataError(
        `CacheWriter.create: column "${name}" has width ${width} but sequence: false; only sequence columns have width > 1.`,
        {
          column: name,
        },
      );
    }
    return { name, dtype, width, sequence, file: columnFile(i), rowBytes: width * 4, bytes: 0 };
  });
}

/** Why meta.json does not describe a readable cache, or null when it does. */
function metaProblem(meta: unknown): string | null {
  const m = meta as CacheMeta;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'meta.json is not an object';
  if (m.format !== CACHE_FORMAT || m.version !== CACHE_VERSION) {
    return `meta.json says format ${JSON.stringify(m.format)} version ${JSON.stringify(m.version)}, not ${CACHE_FORMAT} version ${CACHE_VERSION}`;
  }
  if (!Number.isSafeInteger(m.rows) || m.rows < 0) return `meta.json has rows ${JSON.stringify(m.rows)}`;
  if (!Array.isArray(m.labelNames) || !m.labelNames.every((n) => typeof n === 'string')) return 'meta.json has no labelNames list';
  if (typeof m.meta !== 'object' || m.meta === null || Array.isArray(m.meta)) return 'meta.json has no meta object';
  const nTask = m.labelNames.length;
  const l = m.labels;
  if (typeof l !== 'object' || l === null || l.file !== LABELS_FILE || l.rowBytes !== nTask * 4 || l.bytes !== m.rows * nTask * 4) {
    return 'meta.json describes the labels file wrongly';
  }
  if (!Array.isArray(m.columns)) return 'meta.json has no columns list';
  const names = new Set<string>();
  for (let i = 0; i < m.columns.length; i++) {
    const c = m.columns[i];
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || names.has(c.name))
      return `meta.json column ${i} has a bad name`;
    names.add(c.name);
    const shapeOk =
      (c.dtype === 'int32' || c.dtype === 'float32') &&
      Number.isInteger(c.width) &&
      c.width >= 1 &&
      typeof c.sequence === 'boolean' &&
      (c.sequence ? c.dtype === 'int32' : c.width === 1);
    if (!shapeOk) return `meta.json column "${c.name}" has a bad dtype/width`;
    if (c.file !== columnFile(i) || c.rowBytes !== c.width * 4 || c.bytes !== m.rows * c.rowBytes) {
      return `meta.json column "${c.name}" has a bad file name or size`;
    }
  }
  return null;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function checkLittleEndian(): void {
  if (!littleEndian) {
    throw new DataError(
      'The data cache stores little-endian values and this machine is big-endian. Fix: run without a cache (--no-cache).',
    );
  }
}

const bytesOf = (a: Int32Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// ---------------------------------------------------------------------------------------------------
// Writing

export interface CacheWriterOptions {
  /**
   * Writes bytes at the current end of one of the cache's files (default: handle.write until all
   * bytes are out). Replaceable to inject faults in tests, e.g. a full disk (an ENOSPC error).
   */
  write?: (handle: FileHandle, bytes: Uint8Array) => Promise<void>;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

/** Whether a process with this id is running (EPERM: it runs, as another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * Writes one cache: create() makes a temp folder, append() adds blocks of rows (each column to its
 * own file, sequentially), commit() fsyncs, writes meta.json and renames the folder to its key.
 * On any failure the temp folder is removed and the error says what happened and how to fix it: the
 * cache folder never holds a half-written `<key>`.
 */
export class CacheWriter {
  private rows = 0;
  private bytesWritten = 0;
  private state: 'open' | 'committed' | 'failed' | 'aborted' = 'open';
  /** Appends run one after another even when a caller does not await each. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The cache folder (holding one folder per key). */
    readonly dir: string,
    readonly key: string,
    /** The temp folder being written. */
    readonly tempDir: string,
    private readonly columns: CachedColumn[],
    private readonly labelNames: string[],
    private readonly handles: FileHandle[],
    private readonly write: (handle: FileHandle, bytes: Uint8Array) => Promise<void>,
    private readonly fs: NodeFs,
    private readonly path: NodePath,
  ) {}

  /**
   * Starts a cache `<dir>/<key>`: removes the temp folders of writers that died (their process is
   * gone), then opens a fresh temp folder with one empty file per column and one for the labels.
   */
  static async create(dir: string, key: string, layout: CacheLayout, options: CacheWriterOptions = {}): Promise<CacheWriter> {
    checkLittleEndian();
    checkKey(key, 'CacheWriter.create');
    checkOptionNames('CacheWriter.create', options, ['write'], (m) => new DataError(m));
    const columns = checkLayout(layout);
    const fs = await import('node:fs');
    const path = await import('node:path');
    const fsp = fs.promises;
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (e) {
      throw writeError(e, dir, 0, 0);
    }
    await removeStaleTemps(fs, path, dir);
    const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('');
    const tempDir = path.join(dir, `${key}.tmp-${process.pid}-${random}`);
    const handles: FileHandle[] = [];
    try {
      await fsp.mkdir(tempDir);
      for (const c of columns) handles.push(await fsp.open(path.join(tempDir, c.file), 'w'));
      handles.push(await fsp.open(path.join(tempDir, LABELS_FILE), 'w'));
    } catch (e) {
      await Promise.allSettled(handles.map((h) => h.close()));
      await fsp.rm(tempDir, { recursive: true, force: true }).catch(() => {});
      throw writeError(e, dir, 0, 0);
    }
    return new CacheWriter(dir, key, tempDir, columns, [...layout.labelNames], handles, options.write ?? writeAll, fs, path);
  }

  /** Rows appended so far. */
  get rowCount(): number {
    return this.rows;
  }

  /** Appends a block of rows: its columns must be exactly the layout's (types and widths), its labels the layout's. */
  append(block: ColumnarDataset): Promise<void> {
    const run = this.queue.then(() => this.appendNow(block));
    this.queue = run.catch(() => {});
    return run;
  }

  private async appendNow(block: ColumnarDataset): Promise<void> {
    this.checkOpen('append');
    const parts = this.blockBytes(block);
    try {
      for (let i = 0; i < parts.length; i++) {
        if (parts[i].length === 0) continue;
        await this.write(this.handles[i], parts[i]);
        this.bytesWritten += parts[i].length;
      }
    } catch (e) {
      throw await this.fail(e);
    }
    this.rows += block.length;
  }

  /** The bytes each file gets from a block (columns in layout order, then the labels); checks the block first. */
  private blockBytes(block: ColumnarDataset): Uint8Array[] {
    if (!(block instanceof ColumnarDataset)) throw new DataError('CacheWriter.append: expected a ColumnarDataset block.');
    const where = `a block appended to the cache ${this.key}`;
    const same = block.labelNames.length === this.labelNames.length && block.labelNames.every((n, i) => n === this.labelNames[i]);
    if (!same) {
      throw new DataError(
        `CacheWriter.append: ${where} has labels [${listNames(block.labelNames)}] but the cache has [${listNames(this.labelNames)}]. Fix: append blocks of the layout's labels, in its order.`,
      );
    }
    const expected = new Set(this.columns.map((c) => c.name));
    const extra = block.featureNames.filter((n) => !expected.has(n));
    if (extra.length) {
      throw new DataError(
        `CacheWriter.append: ${where} has column(s) ${listNames(extra)} that are not in the cache layout. Fix: add them to the layout or select() the layout's columns.`,
        { column: extra[0] },
      );
    }
    const parts = this.columns.map((c) => {
      const col: Column | undefined = block.columns[c.name];
      if (col === undefined) throw missingColumnError(c.name, block.featureNames, where);
      const wanted = c.sequence ? `a SequenceColumn of width ${c.width}` : c.dtype === 'int32' ? 'an Int32Array' : 'a Float32Array';
      const ok = c.sequence
        ? col instanceof SequenceColumn && col.width === c.width
        : c.dtype === 'int32'
          ? col instanceof Int32Array
          : col instanceof Float32Array;
      if (!ok) {
        const got = col instanceof SequenceColumn ? `a SequenceColumn of width ${col.width}` : col.constructor.name;
        throw new DataError(`CacheWriter.append: column "${c.name}" of ${where} is ${got}; the layout says ${wanted}.`, { column: c.name });
      }
      return bytesOf(col instanceof SequenceColumn ? col.values : col);
    });
    parts.push(bytesOf(block.labels));
    return parts;
  }

  /**
   * Finishes the cache: fsyncs every file, writes meta.json (last), renames the temp folder to `<key>`
   * and returns the table opened for reading. When another writer finished the same key first, its
   * (identical) cache is kept and returned.
   */
  commit(meta: Record<string, unknown> = {}): Promise<CachedTable> {
    const run = this.queue.then(() => this.commitNow(meta));
    this.queue = run.catch(() => {});
    return run;
  }

  private async commitNow(meta: Record<string, unknown>): Promise<CachedTable> {
    this.checkOpen('commit');
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
      throw new DataError('CacheWriter.commit: meta must be a plain object (it is stored in meta.json).');
    }
    const { fs, path } = this;
    const fsp = fs.promises;
    const final = path.join(this.dir, this.key);
    let metaText: string;
    try {
      const rows = this.rows;
      const nTask = this.labelNames.length;
      const record: CacheMeta = {
        format: CACHE_FORMAT,
        version: CACHE_VERSION,
        rows,
        labelNames: this.labelNames,
        columns: this.columns.map((c) => ({ ...c, bytes: rows * c.rowBytes })),
        labels: { file: LABELS_FILE, rowBytes: nTask * 4, bytes: rows * nTask * 4 },
        meta: JSON.parse(JSON.stringify(meta)),
      };
      metaText = `${JSON.stringify(record, null, 2)}\n`;
    } catch (e) {
      await this.abort();
      throw new DataError(`CacheWriter.commit: meta cannot be stored as JSON (${(e as Error).message}). Fix: pass plain data.`);
    }
    try {
      for (const h of this.handles) await h.sync();
      await Promise.all(this.handles.map((h) => h.close()));
      this.handles.length = 0;
      const file = await fsp.open(path.join(this.tempDir, META_FILE), 'w');
      try {
        const bytes = new TextEncoder().encode(metaText);
        await this.write(file, bytes);
        this.bytesWritten += bytes.length;
        await file.sync();
      } finally {
        await file.close();
      }
      await syncDir(fs, this.tempDir);
      try {
        await fsp.rename(this.tempDir, final);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw e;
        // Another writer committed this key first; same key, same content: keep a sound one.
        const existing = await openCache(this.dir, this.key);
        if (existing) {
          await fsp.rm(this.tempDir, { recursive: true, force: true });
          this.state = 'committed';
          return existing;
        }
        await fsp.rename(this.tempDir, final);
      }
      await syncDir(fs, this.dir);
    } catch (e) {
      throw await this.fail(e);
    }
    this.state = 'committed';
    const table = await openCache(this.dir, this.key);
    if (!table)
      throw new DataError(
        `The data cache ${final} was written but does not read back. Fix: check the disk, or pass another cache folder (--cache-dir).`,
      );
    return table;
  }

  /** Drops the cache being written (closes the files, removes the temp folder). Safe to call twice. */
  async abort(): Promise<void> {
    if (this.state === 'committed') return;
    if (this.state === 'open') this.state = 'aborted';
    await Promise.allSettled(this.handles.map((h) => h.close()));
    this.handles.length = 0;
    await this.fs.promises.rm(this.tempDir, { recursive: true, force: true }).catch(() => {});
  }

  private checkOpen(what: string): void {
    if (this.state !== 'open') {
      throw new DataError(`CacheWriter.${what}: this writer is ${this.state}. Fix: start a new cache with CacheWriter.create().`);
    }
  }

  /** Removes the temp folder and turns the cause into the error to throw. */
  private async fail(cause: unknown): Promise<Error> {
    await this.abort();
    this.state = 'failed';
    return writeError(cause, this.dir, this.rows, this.bytesWritten);
  }
}

/** The error a failed cache write throws: a full disk says so, with the folder and the fix. */
function writeError(cause: unknown, dir: string, rows: number, bytes: number): DataError {
  if (cause instanceof DataError) return cause;
  const code = (cause as NodeJS.ErrnoException)?.code;
  const done = `after ${rows} rows (${megabytes(bytes)} written)`;
  const error =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? new DataError(
          `The disk is full: writing the data cache to ${dir} failed ${done} (${code}${code === 'EDQUOT' ? ', disk quota exceeded' : ''}). ` +
            'The partial cache was removed. Fix: free space on that disk, or pass another cache folder on a disk with room (--cache-dir DIR).',
          { value: code },
        )
      : new DataError(
          `Writing the data cache to ${dir} failed ${done}: ${(cause as Error)?.message ?? String(cause)}. The partial cache was removed. ` +
            'Fix: check that the folder exists and is writable, or pass another cache folder (--cache-dir DIR).',
          { value: code },
        );
  (error as { cause?: unknown }).cause = cause;
  return error;
}

/** fsync of a folder, so a rename or a new file in it survives a crash (not possible on Windows: skipped). */
async function syncDir(fs: NodeFs, dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw e;
  } finally {
    await handle?.close();
  }
}

/** Removes `*.tmp-<pid>-*` folders in dir whose writer process is gone (a killed run's leftovers). */
async function removeStaleTemps(fs: NodeFs, path: NodePath, dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || processAlive(pid)) continue;
    await fs.promises.rm(path.join(dir, name), { recursive: true, force: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading

/** An open cache: row ranges read synchronously with positional reads (no stream, no whole-file load). */
export interface CachedTable {
  /** The table's folder (`<cache dir>/<key>`). */
  readonly dir: string;
  readonly key: string;
  readonly rows: number;
  readonly labelNames: string[];
  readonly nTask: number;
  readonly columns: readonly CachedColumn[];
  /** What the writer passed to commit(). */
  readonly meta: Record<string, unknown>;
  /** Bytes one row takes over all columns and the labels. */
  readonly rowBytes: number;
  /** Rows [start, start + count) as a new dataset (only the named feature columns when given). */
  readRows(start: number, count: number, features?: readonly string[]): ColumnarDataset;
  /**
   * Reads rows [start, start + count) of one feature column into `into` from element `at` (a sequence
   * column fills width values a row). `into` may be any 32-bit array: the bytes are copied as stored.
   */
  readColumnInto(name: string, start: number, count: number, into: Int32Array | Float32Array, at?: number): void;
  /** Reads the labels of rows [start, start + count) (row-major, nTask a row) into `into` from element `at`. */
  readLabelsInto(start: number, count: number, into: Int32Array | Float32Array, at?: number): void;
  /** Closes the files; later reads throw. */
  close(): void;
}

/**
 * Opens the cache `<dir>/<key>`: null when there is none. A damaged one (meta.json unreadable, of
 * another format or version, or a file of the wrong size) is removed and null returned, so the
 * caller rebuilds it: a cache is either read whole and right, or not at all. Temp folders of writers
 * (`<key>.tmp-…`) are never opened. `onDamaged` hears why a cache was dropped.
 */
export async function openCache(
  dir: string,
  key: string,
  options: { onDamaged?: (reason: string) => void } = {},
): Promise<CachedTable | null> {
  checkLittleEndian();
  checkKey(key, 'openCache');
  checkOptionNames('openCache', options, ['onDamaged'], (m) => new DataError(m));
  const fs = await import('node:fs');
  const path = await import('node:path');
  const folder = path.join(dir, key);
  const damaged = async (reason: string): Promise<null> => {
    await fs.promises.rm(folder, { recursive: true, force: true });
    options.onDamaged?.(reason);
    return null;
  };
  let stat: import('node:fs').Stats;
  try {
    stat = await fs.promises.stat(folder);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!stat.isDirectory()) return damaged(`${folder} is not a folder`);
  let meta: CacheMeta;
  try {
    meta = JSON.parse(await fs.promises.readFile(path.join(folder, META_FILE), 'utf8'));
  } catch (e) {
    return damaged(`its meta.json cannot be read (${(e as Error).message})`);
  }
  const problem = metaProblem(meta);
  if (problem) return damaged(problem);
  const files = [...meta.columns.map((c) => ({ file: c.file, bytes: c.bytes })), meta.labels];
  for (const { file, bytes } of files) {
    let size: number;
    try {
      size = (await fs.promises.stat(path.join(folder, file))).size;
    } catch {
      return damaged(`${file} is missing`);
    }
    if (size !== bytes) return damaged(`${file} holds ${size} bytes, meta.json says ${bytes}`);
  }
  const fds = files.map(({ file }) => fs.openSync(path.join(folder, file), 'r'));
  return new OpenCachedTable(fs, folder, key, meta, fds);
}

/** readSync moves at most about 2 GiB a call; larger reads go in pieces. */
const MAX_READ = 1 << 30;

class OpenCachedTable implements CachedTable {
  readonly rows: number;
  readonly labelNames: string[];
  readonly columns: readonly CachedColumn[];
  readonly meta: Record<string, unknown>;
  readonly rowBytes: number;
  private readonly index = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly fs: NodeFs,
    readonly dir: string,
    readonly key: string,
    record: CacheMeta,
    /** One file descriptor per column, then the labels'. */
    private readonly fds: number[],
  ) {
    this.rows = record.rows;
    this.labelNames = record.labelNames;
    this.columns = record.columns;
    this.meta = record.meta;
    this.columns.forEach((c, i) => this.index.set(c.name, i));
    this.rowBytes = this.columns.reduce((s, c) => s + c.rowBytes, 0) + record.labels.rowBytes;
  }

  get nTask(): number {
    return this.labelNames.length;
  }

  readRows(start: number, count: number, features?: readonly string[]): ColumnarDataset {
    const names = features ?? this.columns.map((c) => c.name);
    const out: Columns = {};
    for (const name of names) {
      const c = this.column(name);
      const values = c.dtype === 'float32' ? new Float32Array(count * c.width) : new Int32Array(count * c.width);
      this.readColumnInto(name, start, count, values);
      out[name] = c.sequence ? new SequenceColumn(values as Int32Array, c.width) : values;
    }
    const labels = new Float32Array(count * this.nTask);
    this.readLabelsInto(start, count, labels);
    return new ColumnarDataset(out, labels, [...this.labelNames], count);
  }

  readColumnInto(name: string, start: number, count: number, into: Int32Array | Float32Array, at = 0): void {
    const i = this.columnIndex(name);
    this.readInto(i, this.columns[i].width, start, count, into, at);
  }

  readLabelsInto(start: number, count: number, into: Int32Array | Float32Array, at = 0): void {
    this.readInto(this.fds.length - 1, this.nTask, start, count, into, at);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds) this.fs.closeSync(fd);
  }

  private column(name: string): CachedColumn {
    return this.columns[this.columnIndex(name)];
  }

  private columnIndex(name: string): number {
    const i = this.index.get(name);
    if (i === undefined)
      throw missingColumnError(
        name,
        this.columns.map((c) => c.name),
        `the data cache ${this.dir}`,
      );
    return i;
  }

  private readInto(file: number, width: number, start: number, count: number, into: Int32Array | Float32Array, at: number): void {
    if (this.closed) throw new DataError(`The data cache ${this.dir} was closed. Fix: open it again with openCache().`);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.rows) {
      throw new DataError(`Rows [${start}, ${start}+${count}) are outside the data cache ${this.dir}, which has ${this.rows} rows.`, {
        row: start,
      });
    }
    if (!Number.isInteger(at) || at < 0 || at + count * width > into.length) {
      throw new DataError(`A read of ${count} rows × ${width} values at element ${at} does not fit an array of ${into.length}.`);
    }
    const target = new Uint8Array(into.buffer, into.byteOffset + at * 4, count * width * 4);
    const position = start * width * 4;
    for (let done = 0; done < target.length; ) {
      const n = this.fs.readSync(this.fds[file], target, done, Math.min(target.length - done, MAX_READ), position + done);
      if (n === 0) {
        throw new DataError(
          `The data cache ${this.dir} ended early (a file shrank while open). Fix: delete that folder; the next run rebuilds it.`,
        );
      }
      done += n;
    }
  }
}
