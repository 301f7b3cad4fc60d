// Shared pieces of the micro-benchmarks: flag parsing, the timing loop, machine and adapter info,
// the table of known device peaks, table printing and the JSON report.
//
// Timing model: a "run" enqueues one variant (one or more backend kernels). A sample enqueues `iters`
// runs back to back and then awaits backend.sync(), so on WebGPU it measures wall time from the first
// enqueue to onSubmittedWorkDone, divided by `iters`. With many iterations per sample the fixed cost of
// the submit and the wait is spread thin. The CPU backend runs kernels synchronously and its sync()
// returns at once, so the same loop times the kernels themselves.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend, type WasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { createWebGPUBackend, type WebGPUBackend, webgpuUnavailableReason } from '../src/backend/webgpu/webgpu-backend.js';

export type BackendName = 'webgpu' | 'cpu' | 'wasm';

// ---------------------------------------------------------------- flags

/** `--name value`, `--name=value` and bare `--flag` (value "true"); anything else is positional. */
export function parseFlags(argv: string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(arg.slice(2), argv[++i]);
    else flags.set(arg.slice(2), 'true');
  }
  return { flags, positional };
}

export function numberList(flags: Map<string, string>, name: string, fallback: number[]): number[] {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.some((v) => !Number.isFinite(v) || v <= 0))
    throw new Error(`--${name}: expected positive numbers separated by commas, got '${raw}'`);
  return values;
}

export function numberFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: expected a non-negative number, got '${raw}'`);
  return v;
}

export function backendList(flags: Map<string, string>): BackendName[] {
  const raw = flags.get('backend') ?? 'webgpu,cpu';
  const names = raw.split(',').map((s) => s.trim());
  for (const n of names)
    if (n !== 'webgpu' && n !== 'cpu' && n !== 'wasm')
      throw new Error(`--backend: use webgpu, wasm, cpu or a list such as wasm,cpu; got '${n}'`);
  return names as BackendName[];
}

// ---------------------------------------------------------------- timing

export interface TimingOptions {
  /** Wall-clock budget for the samples of one variant (warm-up not included). */
  budgetMs: number;
  /** Target duration of one sample; decides how many runs a sample enqueues. */
  sampleMs: number;
  minSamples: number;
  maxSamples: number;
  /** Upper bound on runs per sample. */
  maxIters: number;
}

export interface Timing {
  /** Median over samples of (sample wall time / runs in the sample), in milliseconds. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  samples: number;
  itersPerSample: number;
  /** The warm-up run, pipeline compilation included. */
  firstRunMs: number;
  /** The only measurement is the warm-up run (see COLD_FACTOR). */
  cold: boolean;
}

const now = (): number => performance.now();

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Times `run` (which only enqueues work) on `backend`: a warm-up run (compiles pipelines), a sizing
 * run, then samples until the budget is spent and `minSamples` are taken (or `maxSamples` are
 * reached, or 3× the budget has passed). Slow variants get fewer samples instead of stalling a sweep:
 * when warm-up + sizing already exceed the budget, the sizing run is the only sample; when the
 * warm-up alone takes over COLD_FACTOR × the budget, it is the only (cold) measurement.
 */
export async function measure(
  backend: Pick<Backend, 'sync'> & { timeKernels?(fn: () => void): Promise<number | null> },
  run: () => void,
  opts: TimingOptions,
): Promise<Timing> {
  let t = now();
  run();
  await backend.sync();
  const firstRunMs = now() - t;
  const single = (ms: number, cold: boolean): Timing => ({
    medianMs: ms,
    minMs: ms,
    maxMs: ms,
    samples: 1,
    itersPerSample: 1,
    firstRunMs,
    cold,
  });
  // Pipeline compilation is well under a second, so a first run this slow is dominated by the kernels.
  if (firstRunMs >= COLD_FACTOR * opts.budgetMs) return single(firstRunMs, true);

  t = now();
  run();
  await backend.sync();
  const oneRunMs = Math.max(now() - t, 1e-3);
  if (firstRunMs + oneRunMs >= opts.budgetMs) return single(oneRunMs, false);

  const perRun: number[] = [];
  const iters = Math.max(1, Math.min(opts.maxIters, Math.ceil(opts.sampleMs / oneRunMs)));
  const start = now();
  for (;;) {
    t = now();
    const runAll = () => {
      for (let i = 0; i < iters; i++) run();
    };
    // GPU timestamps when the backend has them (WebGPU with 'timestamp-query'), else wall time to sync.
    const gpuMs = backend.timeKernels ? await backend.timeKernels(runAll) : null;
    if (gpuMs === null) {
      runAll();
      await backend.sync();
    }
    perRun.push((gpuMs ?? now() - t) / iters);
    const spent = now() - start;
    if (perRun.length >= opts.maxSamples) break;
    if (spent >= opts.budgetMs && perRun.length >= opts.minSamples) break;
    if (spent >= 3 * opts.budgetMs) break;
  }
  return {
    medianMs: median(perRun),
    minMs: Math.min(...perRun),
    maxMs: Math.max(...perRun),
    samples: perRun.length,
    itersPerSample: iters,
    firstRunMs,
    cold: false,
  };
}

/** A warm-up run longer than this many budgets is reported as the only measurement. */
export const COLD_FACTOR = 5;

/** The `n` column: samples × runs per sample, or "1 cold" for a lone warm-up run. */
export function fmtSamples(t: Timing): string {
  return t.cold ? '1 cold' : `${t.samples}×${t.itersPerSample}`;
}

export const QUICK_TIMING: TimingOptions = { budgetMs: 400, sampleMs: 40, minSamples: 3, maxSamples: 25, maxIters: 500 };
export const FULL_TIMING: TimingOptions = { budgetMs: 1500, sampleMs: 100, minSamples: 5, maxSamples: 50, maxIters: 2000 };

export function timingOptions(flags: Map<string, string>, full: boolean): TimingOptions {
  const base = full ? FULL_TIMING : QUICK_TIMING;
  return {
    budgetMs: numberFlag(flags, 'budget-ms', base.budgetMs),
    sampleMs: numberFlag(flags, 'sample-ms', base.sampleMs),
    minSamples: Math.max(1, numberFlag(flags, 'min-samples', base.minSamples)),
    maxSamples: Math.max(1, numberFlag(flags, 'max-samples', base.maxSamples)),
    maxIters: Math.max(1, numberFlag(flags, 'max-iters', base.maxIters)),
  };
}

// ---------------------------------------------------------------- backends, machine, peaks

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean | null;
  timestampQueryEnabled: boolean;
  maxStorageBufferBindingSize: number;
}

export interface OpenedBackend {
  name: BackendName;
  backend: Backend;
  adapter: AdapterDescription | null;
  /** Largest buffer one kernel may bind, in bytes (Infinity on the CPU). */
  maxBindingBytes: number;
  close(): void;
}

export async function openBackend(name: BackendName): Promise<OpenedBackend> {
  if (name === 'cpu') {
    return { name, backend: new CpuBackend(), adapter: null, maxBindingBytes: Infinity, close() {} };
  }
  if (name === 'wasm') {
    const wasm: WasmBackend = await createWasmBackend();
    return { name, backend: wasm, adapter: null, maxBindingBytes: Infinity, close: () => wasm.destroy() };
  }
  const gpu: WebGPUBackend | null = await createWebGPUBackend();
  if (!gpu) {
    throw new Error(
      `no WebGPU adapter: ${webgpuUnavailableReason()}. Without a GPU, run through bench/run.mjs (it picks SwiftShader when it is installed) or pass --backend cpu`,
    );
  }
  const info = (gpu.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const adapter: AdapterDescription = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? null,
    timestampQueryEnabled: gpu.device.features.has('timestamp-query'),
    maxStorageBufferBindingSize: gpu.device.limits.maxStorageBufferBindingSize,
  };
  return { name, backend: gpu, adapter, maxBindingBytes: adapter.maxStorageBufferBindingSize, close: () => gpu.destroy() };
}

export function adapterLabel(a: AdapterDescription | null, backend?: Backend): string {
  if (backend?.name === 'wasm') {
    return `wasm backend (WebAssembly SIMD kernels, ${(backend as WasmBackend).threaded ? 'main thread + 1 helper thread' : 'one thread'})`;
  }
  if (!a) return 'CPU backend (TypeScript kernels, one thread)';
  const parts = [a.vendor, a.architecture, a.description].filter((s) => s.length > 0);
  return parts.join(' / ') + (a.isFallbackAdapter ? ' (fallback adapter)' : '');
}

export interface DevicePeak {
  name: string;
  /** Memory bandwidth, GB/s (10^9 bytes per second). */
  bandwidthGBs: number;
  /** FP32 throughput without tensor cores, GFLOP/s. */
  fp32GFLOPs: number;
}

/**
 * Datasheet peaks, matched against "vendor architecture device description" of the adapter.
 * Add a row to get %-of-peak columns on another GPU (or pass --peak-gbs / --peak-gflops).
 * SwiftShader and the CPU backend have no meaningful peak and get none.
 */
export const KNOWN_PEAKS: Array<{ match: RegExp; peak: DevicePeak }> = [
  { match: /\bH200\b/i, peak: { name: 'NVIDIA H200', bandwidthGBs: 4800, fp32GFLOPs: 67_000 } },
];

export function findPeak(adapter: AdapterDescription | null, flags: Map<string, string>): DevicePeak | null {
  const gbs = flags.get('peak-gbs');
  const gflops = flags.get('peak-gflops');
  if (adapter && (gbs !== undefined || gflops !== undefined)) {
    return { name: 'given on the command line', bandwidthGBs: Number(gbs ?? NaN), fp32GFLOPs: Number(gflops ?? NaN) };
  }
  if (!adapter) return null;
  const key = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`;
  return KNOWN_PEAKS.find((p) => p.match.test(key))?.peak ?? null;
}

export function machineInfo(): Record<string, unknown> {
  const cpuList = cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    cpuCount: cpuList.length,
    totalMemGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
    vkIcdFilenames: process.env.VK_ICD_FILENAMES ?? null,
  };
}

export function timingMethod(opened: OpenedBackend): string {
  if (!opened.adapter) return 'wall clock around synchronous CPU kernels (performance.now)';
  if (opened.adapter.timestampQueryEnabled) {
    return 'GPU timestamps (timestamp-query): each compute pass writes its begin and end time, pass durations summed, divided by the runs per sample; warm-up and sizing use wall time';
  }
  return 'wall clock from the first enqueue to await backend.sync() (queue.onSubmittedWorkDone), divided by the runs per sample (the adapter has no timestamp-query)';
}

// ---------------------------------------------------------------- units and printing

/** 10^9 units per second from a count and milliseconds. */
export function perSecondG(count: number, ms: number): number {
  return count / (ms * 1e-3) / 1e9;
}

export function fmtTime(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 3 : 1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtNum(x: number | null, digits = 2): string {
  if (x === null || !Number.isFinite(x)) return '-';
  if (x !== 0 && Math.abs(x) < 10 ** -digits) return x.toExponential(1);
  return x.toFixed(digits);
}

export function fmtPct(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '-';
  return `${(x * 100).toFixed(x < 0.001 ? 3 : 1)}%`;
}

export interface Column {
  title: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
}

/** A fixed-width table; rows can be printed one at a time while the sweep runs. */
export class TablePrinter {
  private readonly widths: number[];
  constructor(
    private readonly columns: Column[],
    widths: number[],
  ) {
    this.widths = columns.map((c, i) => Math.max(c.title.length, widths[i] ?? 0));
  }
  header(): string {
    const head = this.columns.map((c, i) => this.pad(c.title, i)).join('  ');
    return `${head}\n${this.widths.map((w) => '-'.repeat(w)).join('  ')}`;
  }
  row(cells: string[]): string {
    return cells.map((c, i) => this.pad(c, i)).join('  ');
  }
  private pad(text: string, i: number): string {
    const w = this.widths[i];
    return this.columns[i].align === 'left' ? text.padEnd(w) : text.padStart(w);
  }
}

/** Prints a whole table with widths fitted to its contents. */
export function printTable(columns: Column[], rows: string[][]): void {
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length), 0));
  const t = new TablePrinter(columns, widths);
  console.log(t.header());
  for (const r of rows) console.log(t.row(r));
}

// ---------------------------------------------------------------- reports

export function repoRoot(): string {
  return process.env.WEBMTL_BENCH_ROOT ?? process.cwd();
}

/** bench/results/<name>-<backend>-<YYYY-MM-DDTHHMMSS>.json; returns the path. */
export function writeReport(name: string, backend: BackendName, report: unknown): string {
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/:/g, '').replace(/\..*$/, '');
  const path = join(dir, `${name}-${backend}-${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

// ---------------------------------------------------------------- data

/** A small seeded generator (xorshift32) for benchmark inputs; uniform in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

/** Largest |a - b| / (atol + rtol·|b|) over the elements; ≤ 1 means "agrees". */
export function mismatch(a: Float32Array, b: Float32Array, atol = 1e-4, rtol = 1e-3): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (Number.isNaN(r)) return Infinity;
    if (r > worst) worst = r;
  }
  return worst;
}
