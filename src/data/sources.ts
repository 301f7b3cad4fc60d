// Which files make up a table: a file, a folder of shards, or a glob, resolved to a sorted list of
// CSV or Parquet files with their size and modification time (the cache key depends on both); or data
// already in memory ({ name, text } / { name, bytes }), passed through in the given order.
// Paths are Node only: node:fs and tinyglobby are imported when a path is resolved, never at load time;
// in-memory sources touch neither and work in browsers.

import { describeUnknown, unknownKeys } from '../options.js';
import { DataError } from './errors.js';

export type SourceFormat = 'csv' | 'parquet';

export interface SourceFile {
  /** Absolute path; for an in-memory source, the name it was given (error messages show it). */
  path: string;
  format: SourceFormat;
  /** Size in bytes (for in-memory text: its length in UTF-16 code units). */
  bytes: number;
  /** Modification time (0 for an in-memory source). */
  mtimeMs: number;
  /** An in-memory source's content (no file is read): CSV text, or the bytes of a CSV or Parquet file. */
  content?: string | Uint8Array;
}

/**
 * A table's data already in memory: CSV text, or the bytes of a CSV or Parquet file (an ArrayBuffer,
 * a Uint8Array, a Node Buffer). `name` gives the format by its extension (.csv, .parquet) and names
 * the source in error messages; without an extension, bytes starting with "PAR1" are Parquet and
 * anything else is CSV.
 */
export type InMemorySource = { name: string; text: string } | { name: string; bytes: ArrayBuffer | ArrayBufferView };

/** A table's sources: paths (file, folder or glob), or in-memory sources (one, or an array of shards). */
export type TableSources = string | readonly string[] | InMemorySource | readonly InMemorySource[];

/** Whether a resolved source is held in memory (no file behind it). */
export function isInMemory(file: SourceFile): file is SourceFile & { content: string | Uint8Array } {
  return file.content !== undefined;
}

const GLOB_CHARS = /[*?[\]{}]/;

/** The format a file name says, if it says one. */
function formatOfName(path: string): SourceFormat | undefined {
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(parquet|parq|pq)$/i.test(path)) return 'parquet';
  return undefined;
}

function shownSpec(spec: string, flag: string | undefined): string {
  return flag ? `${flag} ${JSON.stringify(spec)}` : JSON.stringify(spec);
}

/** Parquet files start with the magic bytes "PAR1"; anything else named explicitly is read as CSV. */
async function sniffFormat(path: string): Promise<SourceFormat> {
  const { open } = await import('node:fs/promises');
  const file = await open(path, 'r');
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await file.read(head, 0, 4, 0);
    return bytesRead === 4 && new TextDecoder().decode(head) === 'PAR1' ? 'parquet' : 'csv';
  } finally {
    await file.close();
  }
}

/** The data files a folder holds directly (not in subfolders). */
async function folderFiles(dir: string, spec: string, flag: string | undefined): Promise<{ path: string; format: SourceFormat }[]> {
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const entries = await readdir(dir, { withFileTypes: true });
  const found = entries
    .filter((e) => e.isFile() && formatOfName(e.name) !== undefined)
    .map((e) => ({ path: join(dir, e.name), format: formatOfName(e.name)! }));
  if (found.length === 0)
    throw new DataError(
      `The folder ${shownSpec(spec, flag)} holds no .csv or .parquet files (subfolders are not searched). ` +
        `Fix: point at the folder that holds the files, or give a glob such as "${spec.replace(/[\\/]+$/, '')}/**/*.csv".`,
    );
  return found;
}

async function globFiles(pattern: string, spec: string, flag: string | undefined): Promise<{ path: string; format: SourceFormat }[]> {
  const { glob } = await import('tinyglobby');
  const matched = await glob(pattern, { absolute: true, onlyFiles: true, expandDirectories: false });
  const found = matched.filter((p) => formatOfName(p) !== undefined).map((p) => ({ path: p, format: formatOfName(p)! }));
  if (found.length === 0) {
    const others = matched.length > 0 ? ` It matched ${matched.length} file(s), none ending in .csv or .parquet (e.g. ${matched[0]}).` : '';
    throw new DataError(
      `No CSV or Parquet files match the glob ${shownSpec(spec, flag)} (searched from ${process.cwd()}).${others} ` +
        'Fix: check the pattern and the working folder; quote the glob so the shell does not expand it.',
    );
  }
  return found;
}

/**
 * Resolves a table's files: a file, a folder (its *.csv / *.parquet files, not its subfolders), or a
 * glob (tinyglobby), or a list of these. Every file of a table has one format; the result is sorted by
 * path, without duplicates. `flag` names where the spec came from (e.g. '--train') in error messages.
 * In-memory sources (one, or an array of shards) come back in the given order, with their content.
 */
export async function resolveSources(spec: TableSources, flag?: string): Promise<SourceFile[]> {
  const list: readonly unknown[] = Array.isArray(spec) ? spec : [spec];
  if (list.some((s) => s !== null && typeof s === 'object')) return inMemorySources(list, flag);
  const specs = list as string[];
  if (specs.length === 0 || specs.some((s) => typeof s !== 'string' || s.trim() === ''))
    throw new DataError(
      `${flag ?? 'The data source'} needs a file, a folder or a glob, got ${JSON.stringify(spec)}. Fix: give a path such as data/train.csv, data/train/ or "data/part-*.parquet".`,
    );
  const { stat } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const byPath = new Map<string, SourceFormat>();
  for (const one of specs) {
    const info = await stat(one).catch(() => undefined);
    let found: { path: string; format: SourceFormat }[];
    if (info?.isDirectory()) found = await folderFiles(resolve(one), one, flag);
    else if (info?.isFile()) found = [{ path: resolve(one), format: formatOfName(one) ?? (await sniffFormat(one)) }];
    else if (GLOB_CHARS.test(one)) found = await globFiles(one, one, flag);
    else
      throw new DataError(
        `${shownSpec(one, flag)} does not exist (relative paths start at ${process.cwd()}). Fix: check the path, or give a folder or a glob such as "data/*.csv".`,
      );
    for (const f of found) byPath.set(f.path, f.format);
  }
  const paths = [...byPath.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const formats = new Set(byPath.values());
  if (formats.size > 1) {
    const csv = paths.find((p) => byPath.get(p) === 'csv');
    const parquet = paths.find((p) => byPath.get(p) === 'parquet');
    throw new DataError(
      `${shownSpec(specs.join(' '), flag)} mixes CSV and Parquet files (e.g. ${csv} and ${parquet}). ` +
        'Fix: keep one format per table, or narrow the glob (e.g. "*.parquet").',
    );
  }
  return Promise.all(
    paths.map(async (path) => {
      const info = await stat(path);
      return { path, format: byPath.get(path)!, bytes: info.size, mtimeMs: info.mtimeMs };
    }),
  );
}

const IN_MEMORY_KEYS = ['name', 'text', 'bytes'] as const;

function isBinary(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return ArrayBuffer.isView(value) || Object.prototype.toString.call(value) === '[object ArrayBuffer]';
}

function asBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value);
}

const PARQUET_MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

/** Checks in-memory sources and gives them as SourceFiles (no copy of the content), in the given order. */
function inMemorySources(list: readonly unknown[], flag: string | undefined): SourceFile[] {
  const where = flag ?? 'The data source';
  const example = "{ name: 'train.csv', text: csvText } or { name: 'part-0.parquet', bytes: await file.arrayBuffer() }";
  if (list.some((s) => s === null || typeof s !== 'object' || Array.isArray(s)))
    throw new DataError(
      `${where} mixes paths and in-memory sources (or holds something that is neither). ` +
        `Fix: give either paths (strings) or in-memory sources such as ${example}, not both in one list.`,
    );
  const files = (list as Record<string, unknown>[]).map((source, i): SourceFile => {
    const at = list.length > 1 ? `${where} [${i}]` : where;
    if (isBinary(source) || (typeof Blob === 'function' && source instanceof Blob))
      throw new DataError(
        `${at} is ${isBinary(source) ? 'bytes' : 'a File or Blob'} without a name. ` +
          "Fix: wrap it as { name: 'train.csv', bytes } (for a File: { name: file.name, bytes: await file.arrayBuffer() }); the name tells the format and names the source in errors.",
      );
    const unknown = unknownKeys(source, IN_MEMORY_KEYS);
    if (unknown.length)
      throw new DataError(
        `${at}: unknown key ${describeUnknown(unknown, IN_MEMORY_KEYS)} in an in-memory source; its keys are name and text, or name and bytes. Fix: give ${example}.`,
      );
    const { name, text, bytes } = source;
    if (typeof name !== 'string' || name.trim() === '')
      throw new DataError(
        `${at}: an in-memory source needs a name (a non-empty string such as 'train.csv'; its extension tells the format and error messages show it), got ${JSON.stringify(name)}. Fix: give ${example}.`,
      );
    const shown = JSON.stringify(name);
    if ((text === undefined) === (bytes === undefined))
      throw new DataError(
        `${at}: the in-memory source ${shown} needs exactly one of text (a string of CSV) and bytes (an ArrayBuffer or Uint8Array), ${text === undefined ? 'got neither' : 'got both'}. Fix: give ${example}.`,
      );
    if (text !== undefined && typeof text !== 'string')
      throw new DataError(
        `${at}: the text of ${shown} must be a string, got ${typeof text}. Fix: pass CSV as text, or a file's content as bytes (an ArrayBuffer or Uint8Array).`,
      );
    if (bytes !== undefined && !isBinary(bytes))
      throw new DataError(
        `${at}: the bytes of ${shown} must be an ArrayBuffer or a typed array such as Uint8Array, got ${Object.prototype.toString.call(bytes).slice(8, -1)}. ` +
          'Fix: for a File or Blob in a browser, pass bytes: await file.arrayBuffer() (or text: await file.text() for CSV).',
      );
    const named = formatOfName(name);
    if (typeof text === 'string') {
      if (named === 'parquet')
        throw new DataError(
          `${at}: ${shown} is named as Parquet but given as text; Parquet is binary. Fix: pass its content as bytes (an ArrayBuffer or Uint8Array), or name it .csv if it is CSV.`,
        );
      return { path: name, format: 'csv', bytes: text.length, mtimeMs: 0, content: text };
    }
    const content = asBytes(bytes as ArrayBuffer | ArrayBufferView);
    const magic = content.length >= 4 && PARQUET_MAGIC.every((b, k) => content[k] === b);
    return { path: name, format: named ?? (magic ? 'parquet' : 'csv'), bytes: content.byteLength, mtimeMs: 0, content };
  });
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path))
      throw new DataError(
        `${where} holds two in-memory sources named ${JSON.stringify(f.path)}. Fix: give every shard its own name (e.g. part-0.csv, part-1.csv).`,
      );
    seen.add(f.path);
  }
  const csv = files.find((f) => f.format === 'csv');
  const parquet = files.find((f) => f.format === 'parquet');
  if (csv && parquet)
    throw new DataError(
      `${where} mixes CSV and Parquet sources (e.g. ${JSON.stringify(csv.path)} and ${JSON.stringify(parquet.path)}). Fix: keep one format per table.`,
    );
  return files;
}
