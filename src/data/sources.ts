// Which files make up a table: a file, a folder of shards, or a glob, resolved to a sorted list of
// CSV or Parquet files with their size and modification time (the cache key depends on both).
// Node only: node:fs and tinyglobby are imported when a spec is resolved, never at load time.

import { DataError } from './errors.js';

export type SourceFormat = 'csv' | 'parquet';

export interface SourceFile {
  /** Absolute path. */
  path: string;
  format: SourceFormat;
  bytes: number;
  mtimeMs: number;
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
 */
export async function resolveSources(spec: string | readonly string[], flag?: string): Promise<SourceFile[]> {
  const specs = typeof spec === 'string' ? [spec] : [...spec];
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
