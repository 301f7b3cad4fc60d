// Data for the ingestion benchmarks: a generated Ali-CCP-schema CSV of any size (written once, then
// reused), its Parquet twin (DuckDB), and the peak memory of a child process.
//
//   node bench/run.mjs data --rows 20000000 --dir /tmp/webmtl-bench-data [--parquet]
//
// writes (or finds) <dir>/ali_ccp_<rows>.csv and prints its size and the writing rate in rows/s.
//
// The CSV is written chunk by chunk: chunk k holds generateAliCcp({ rows: chunkRows, seed:
// deriveSeed(seed, k) }) rows (one world, so every chunk has the same users, items and planted
// signal), formatted straight into a byte buffer. Memory stays at one chunk's columns and bytes
// (about 60 MB for 262,144 rows) however many rows are asked, and the write of one chunk overlaps the
// drawing of the next. A small sidecar (<csv>.json) records how the file was made and its size: a
// later call with the same rows, seed and chunk size reuses the file when the size still matches.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { formatFloat32 } from '../src/data/csv.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { deriveSeed } from '../src/data/random.js';
import { generateAliCcp } from '../src/data/synthetic-ali-ccp.js';
import { writeRawTableCsv } from '../src/data/synthetic-raw.js';
import { fmtTime, parseFlags } from './common.js';

// ---------------------------------------------------------------- Ali-CCP CSV

export interface GeneratedFile {
  path: string;
  rows: number;
  bytes: number;
  /** True when an earlier run's file was found and kept. */
  reused: boolean;
  /** Seconds spent writing (0 when reused). */
  seconds: number;
  /** Rows written per second (null when reused). */
  rowsPerSecond: number | null;
}

export interface AliCcpCsvOptions {
  /** Seed of the impressions (default 2022, gen-data's). */
  seed?: number;
  /** Rows per chunk (default 262,144). Part of the file's identity: another size draws other rows. */
  chunkRows?: number;
  /** Called after each chunk with the rows written so far. */
  onProgress?: (rowsWritten: number, rows: number) => void;
}

/** Bumped whenever the bytes for given (rows, seed, chunkRows) would change. */
const ALI_CCP_FORMAT_VERSION = 1;

interface AliCcpSidecar {
  generator: 'generateAliCcp';
  version: number;
  rows: number;
  seed: number;
  chunkRows: number;
  bytes: number;
  header: string[];
  seconds: number;
}

async function readSidecar(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(`${path}.json`, 'utf8'));
  } catch {
    return null;
  }
}

async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/**
 * `<dir>/ali_ccp_<rows>.csv`: a generated Ali-CCP-schema CSV (header click, purchase, 23 sparse ids,
 * 8 dense) of `rows` rows. Written once (to a temporary name, renamed when complete), then reused.
 */
export async function ensureAliCcpCsv(rows: number, dir: string, options: AliCcpCsvOptions = {}): Promise<GeneratedFile> {
  const { seed = 2022, chunkRows = 262_144, onProgress } = options;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`ensureAliCcpCsv: rows must be a positive integer, got ${rows}`);
  if (!Number.isSafeInteger(chunkRows) || chunkRows < 1)
    throw new Error(`ensureAliCcpCsv: chunkRows must be a positive integer, got ${chunkRows}`);
  const path = join(dir, `ali_ccp_${rows}.csv`);
  const sidecar = await readSidecar(path);
  const size = await fileSize(path);
  if (
    sidecar &&
    size !== null &&
    sidecar.version === ALI_CCP_FORMAT_VERSION &&
    sidecar.rows === rows &&
    sidecar.seed === seed &&
    sidecar.chunkRows === chunkRows &&
    sidecar.bytes === size
  ) {
    return { path, rows, bytes: size, reused: true, seconds: 0, rowsPerSecond: null };
  }

  await mkdir(dir, { recursive: true });
  await rm(`${path}.json`, { force: true });
  const temp = `${path}.tmp-${process.pid}`;
  const file = await open(temp, 'w');
  const start = performance.now();
  let bytes = 0;
  try {
    const headerLine = Buffer.from(`${aliCcpSchema.header.join(',')}\n`, 'latin1');
    await file.write(headerLine);
    bytes += headerLine.length;
    // One write in flight while the next chunk is drawn: the file system works on another thread.
    let pending: Promise<unknown> = Promise.resolve();
    for (let chunk = 0, done = 0; done < rows; chunk++) {
      const n = Math.min(chunkRows, rows - done);
      const data = aliCcpCsvChunk(n, deriveSeed(seed, chunk));
      await pending;
      pending = file.write(data);
      bytes += data.length;
      done += n;
      onProgress?.(done, rows);
    }
    await pending;
    await file.sync();
  } catch (err) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw err;
  }
  await file.close();
  await rename(temp, path);
  const seconds = (performance.now() - start) / 1000;
  const meta: AliCcpSidecar = {
    generator: 'generateAliCcp',
    version: ALI_CCP_FORMAT_VERSION,
    rows,
    seed,
    chunkRows,
    bytes,
    header: [...aliCcpSchema.header],
    seconds,
  };
  await writeFile(`${path}.json`, `${JSON.stringify(meta, null, 2)}\n`);
  return { path, rows, bytes, reused: false, seconds, rowsPerSecond: rows / seconds };
}

/** Bumped whenever generateRawTable's rows or their CSV text change. */
const CENSUS_RAW_FORMAT_VERSION = 1;

/**
 * `<dir>/census_raw_<rows>.csv`: generateRawTable's census-shaped raw table (32 string columns, 7
 * numeric, labels income_50k and never_married), streamed by writeRawTableCsv; reused like
 * ensureAliCcpCsv. Slower to write than Ali-CCP (~500 bytes of text per row): 60–100k rows/s on this 2-core machine.
 */
export async function ensureCensusRawCsv(
  rows: number,
  dir: string,
  options: { seed?: number; missingRate?: number } = {},
): Promise<GeneratedFile> {
  const { seed = 2022, missingRate = 0.02 } = options;
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`ensureCensusRawCsv: rows must be a positive integer, got ${rows}`);
  const path = join(dir, `census_raw_${rows}.csv`);
  const sidecar = await readSidecar(path);
  const size = await fileSize(path);
  if (
    sidecar &&
    size !== null &&
    sidecar.version === CENSUS_RAW_FORMAT_VERSION &&
    sidecar.rows === rows &&
    sidecar.seed === seed &&
    sidecar.missingRate === missingRate &&
    sidecar.bytes === size
  ) {
    return { path, rows, bytes: size, reused: true, seconds: 0, rowsPerSecond: null };
  }
  await mkdir(dir, { recursive: true });
  await rm(`${path}.json`, { force: true });
  const temp = `${path}.tmp-${process.pid}`;
  const start = performance.now();
  let bytes: number;
  try {
    bytes = (await writeRawTableCsv(temp, { rows, seed, missingRate })).bytes;
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await rename(temp, path);
  const seconds = (performance.now() - start) / 1000;
  const meta = { generator: 'generateRawTable', version: CENSUS_RAW_FORMAT_VERSION, rows, seed, missingRate, bytes, seconds };
  await writeFile(`${path}.json`, `${JSON.stringify(meta, null, 2)}\n`);
  return { path, rows, bytes, reused: false, seconds, rowsPerSecond: rows / seconds };
}

/**
 * `rows` generated impressions as CSV lines (no header), formatted into bytes directly: the text is
 * the same as aliCcpCsvText's, but without building a string per cell (3–4× faster).
 */
export function aliCcpCsvChunk(rows: number, seed: number): Buffer {
  const { dataset } = generateAliCcp({ rows, seed });
  const clickIndex = dataset.labelNames.indexOf('click');
  const purchaseIndex = dataset.labelNames.indexOf('purchase');
  const nTask = dataset.labelNames.length;
  const labels = dataset.labels;
  const columns = aliCcpSchema.header.map((name) => {
    if (name === 'click' || name === 'purchase') return null;
    const column = dataset.column(name);
    if (!(column instanceof Int32Array || column instanceof Float32Array)) throw new Error(`Ali-CCP column ${name} is not a flat column`);
    return column;
  });
  // Widest row: an int32 is at most 11 characters, a float32 at most ~16, plus separators.
  const buffer = Buffer.allocUnsafe(rows * (columns.length * 17 + 1));
  let pos = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) buffer[pos++] = 44; // ','
      const column = columns[c];
      if (column === null) {
        const label = labels[r * nTask + (c === 0 ? clickIndex : purchaseIndex)];
        buffer[pos++] = label > 0.5 ? 49 : 48;
      } else if (column instanceof Int32Array) {
        pos = writeInt(buffer, pos, column[r]);
      } else {
        pos = writeFloat(buffer, pos, column[r]);
      }
    }
    buffer[pos++] = 10; // '\n'
  }
  return buffer.subarray(0, pos);
}

function writeInt(buffer: Buffer, pos: number, value: number): number {
  if (value < 0) {
    buffer[pos++] = 45; // '-'
    value = -value;
  }
  if (value < 10) {
    buffer[pos++] = 48 + value;
    return pos;
  }
  let digits = 0;
  for (let v = value; v > 0; v = Math.floor(v / 10)) digits++;
  for (let k = digits - 1, v = value; k >= 0; k--, v = Math.floor(v / 10)) buffer[pos + k] = 48 + (v % 10);
  return pos + digits;
}

/** formatFloat32's text: a fast path for values in [0, 1] with at most 4 decimals (the generator quantizes to 1e-4). */
function writeFloat(buffer: Buffer, pos: number, value: number): number {
  const tenThousandths = Math.round(value * 1e4);
  if (value >= 0 && value <= 1 && Math.fround(tenThousandths / 1e4) === value) {
    if (tenThousandths === 10000) {
      buffer[pos++] = 49;
      return pos;
    }
    buffer[pos++] = 48; // '0'
    if (tenThousandths === 0) return pos;
    buffer[pos++] = 46; // '.'
    let frac = tenThousandths;
    let width = 4;
    while (frac % 10 === 0) {
      frac /= 10;
      width--;
    }
    for (let k = width - 1; k >= 0; k--, frac = Math.floor(frac / 10)) buffer[pos + k] = 48 + (frac % 10);
    return pos + width;
  }
  return pos + buffer.write(formatFloat32(value), pos, 'latin1');
}

// ---------------------------------------------------------------- Parquet twin

export interface ParquetTwin {
  path: string;
  bytes: number;
  reused: boolean;
  seconds: number;
}

/**
 * `<csv without .csv>.parquet`: the CSV converted by DuckDB (types sniffed from the file, default
 * compression), reused while it is newer than the CSV and its sidecar records the CSV's size.
 */
export async function ensureParquetTwin(csvPath: string): Promise<ParquetTwin> {
  const path = `${csvPath.replace(/\.csv$/i, '')}.parquet`;
  const csv = await stat(csvPath);
  const sidecar = await readSidecar(path);
  const size = await fileSize(path);
  if (sidecar && size !== null && sidecar.csvBytes === csv.size && sidecar.csvMtimeMs === csv.mtimeMs && sidecar.bytes === size) {
    return { path, bytes: size, reused: true, seconds: 0 };
  }
  let duckdb: typeof import('@duckdb/node-api');
  try {
    duckdb = await import('@duckdb/node-api');
  } catch (err) {
    throw new Error(
      `ensureParquetTwin needs DuckDB, which is not installed (${(err as Error).message}). Fix: npm install @duckdb/node-api`,
    );
  }
  await rm(`${path}.json`, { force: true });
  const temp = `${path}.tmp-${process.pid}`;
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const start = performance.now();
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (SELECT * FROM read_csv(${quote(csvPath)})) TO ${quote(temp)} (FORMAT parquet)`);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  await rename(temp, path);
  const seconds = (performance.now() - start) / 1000;
  const bytes = (await stat(path)).size;
  const meta = { source: csvPath, csvBytes: csv.size, csvMtimeMs: csv.mtimeMs, bytes, seconds };
  await writeFile(`${path}.json`, `${JSON.stringify(meta, null, 2)}\n`);
  return { path, bytes, reused: false, seconds };
}

// ---------------------------------------------------------------- peak memory of a child process

export interface ChildRun {
  /** Peak resident set size of the command, in bytes (from GNU time's "Maximum resident set size"). */
  peakRssBytes: number;
  wallMs: number;
  exitCode: number;
  stdout: string;
  /** The command's stderr, without GNU time's report. */
  stderr: string;
}

const GNU_TIME = '/usr/bin/time';

/**
 * Runs `command args…` under GNU time (`/usr/bin/time -v`) and returns its peak RSS. Without GNU
 * time, /proc/<pid>/status's VmHWM (the kernel's high-water mark of the resident set) is polled every
 * 20 ms; the last reading before exit stands in. Either way it is the command's own process: children
 * it starts are not counted (GNU time reports the largest of the process and its waited-for children).
 * A non-zero exit is not an error: check `exitCode`.
 */
export async function peakRssOf(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildRun> {
  const viaTime = existsSync(GNU_TIME);
  const start = performance.now();
  const child = viaTime
    ? spawn(GNU_TIME, ['-v', command, ...args], { cwd: options.cwd, env: options.env ?? process.env })
    : spawn(command, [...args], { cwd: options.cwd, env: options.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let polledKb = 0;
  const poll = viaTime
    ? null
    : setInterval(async () => {
        try {
          const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
          const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
          if (m) polledKb = Math.max(polledKb, Number(m[1]));
        } catch {
          // The process has just exited.
        }
      }, 20);
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  if (poll) clearInterval(poll);
  const wallMs = performance.now() - start;
  if (!viaTime) return { peakRssBytes: polledKb * 1024, wallMs, exitCode, stdout, stderr };
  // GNU time appends its report to stderr; "Command exited with non-zero status N" may precede it.
  const at = stderr.search(/(Command exited with non-zero status \d+\n)?\s*Command being timed:/);
  const report = at >= 0 ? stderr.slice(at) : '';
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  if (!m)
    throw new Error(`peakRssOf: no "Maximum resident set size" in GNU time's report for ${command}; stderr ends: ${stderr.slice(-500)}`);
  return { peakRssBytes: Number(m[1]) * 1024, wallMs, exitCode, stdout, stderr: at >= 0 ? stderr.slice(0, at) : stderr };
}

// ---------------------------------------------------------------- CLI: generate the data

const HELP = `node bench/run.mjs data [flags]
  Writes (or reuses) a generated CSV and reports the writing rate.
  --table <name>    ali-ccp (default: ids and floats, ~146 bytes/row) or census (raw strings, ~500 bytes/row)
  --rows <n>        rows (default 1000000)
  --dir <path>      folder (default /tmp/webmtl-bench-data)
  --seed <n>        seed (default 2022)
  --chunk-rows <n>  rows per chunk (default 262144)
  --parquet         also write its Parquet twin with DuckDB
  --peak-rss        also measure this generation's peak RSS in a child process
`;

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log(HELP);
    return;
  }
  const rows = Number(flags.get('rows') ?? 1_000_000);
  const dir = flags.get('dir') ?? '/tmp/webmtl-bench-data';
  const seed = Number(flags.get('seed') ?? 2022);
  const chunkRows = Number(flags.get('chunk-rows') ?? 262_144);
  const table = flags.get('table') ?? 'ali-ccp';
  if (table !== 'ali-ccp' && table !== 'census') throw new Error(`--table: use ali-ccp or census, got '${table}'`);
  let last = 0;
  const onProgress = (done: number, total: number) => {
    if (performance.now() - last < 5000) return;
    last = performance.now();
    process.stderr.write(`  ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} rows\n`);
  };
  const csv =
    table === 'census' ? await ensureCensusRawCsv(rows, dir, { seed }) : await ensureAliCcpCsv(rows, dir, { seed, chunkRows, onProgress });
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  console.log(
    csv.reused
      ? `${csv.path}: ${csv.rows.toLocaleString('en-US')} rows, ${gb(csv.bytes)} (reused)`
      : `${csv.path}: ${csv.rows.toLocaleString('en-US')} rows, ${gb(csv.bytes)} in ${fmtTime(csv.seconds * 1000)} = ${Math.round(csv.rowsPerSecond ?? 0).toLocaleString('en-US')} rows/s, ${(csv.bytes / 1e6 / csv.seconds).toFixed(0)} MB/s`,
  );
  if (flags.has('parquet')) {
    const parquet = await ensureParquetTwin(csv.path);
    console.log(`${parquet.path}: ${gb(parquet.bytes)}${parquet.reused ? ' (reused)' : ` in ${fmtTime(parquet.seconds * 1000)}`}`);
  }
  if (flags.has('peak-rss')) {
    // A fresh, unreused generation of a tenth of the rows in a child: proves the memory bound.
    const probeDir = join(dirname(csv.path), `peak-rss-probe-${process.pid}`);
    const probeRows = Math.max(1, Math.round(rows / 10));
    const script = process.argv[1];
    const run = await peakRssOf(process.execPath, [
      script,
      'data',
      '--table',
      table,
      '--rows',
      String(probeRows),
      '--dir',
      probeDir,
      '--seed',
      String(seed),
    ]);
    await rm(probeDir, { recursive: true, force: true });
    console.log(
      `peak RSS writing ${probeRows.toLocaleString('en-US')} rows in a child: ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB (exit ${run.exitCode})`,
    );
  }
}
