// Inference: webmtl's predict() on the wasm backend against the same weights exported with
// exportOnnx and run in onnxruntime-node, side by side in one process and interleaved (every round
// calls each engine in turn, so a slow spell of the shared machine hits all of them alike):
//   batch 1    — latency of one call, host arrays in → host Float32Array out, p50 and p99 over many calls;
//   batch 1024 — samples/s, the median over repeats of a few back-to-back calls.
// Engines: webmtl wasm (default: with its helper thread where the machine has two cores or more),
// webmtl wasm with no helper thread, onnxruntime with intraOpNumThreads 1, and with its default
// (onnxruntime picks the physical core count). Before timing, every engine's predictions are checked
// against webmtl's CPU backend.
//
//   node bench/run.mjs infer [--quick|--full] [--models mmoe,ple] [--calls N] [--batch 1024] [--repeats N] [--no-json]
import * as ort from 'onnxruntime-node';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend, type WasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader, type HostBatch } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import type { Feature } from '../src/features.js';
import { exportOnnx } from '../src/io/onnx/index.js';
import type { MultiTaskModel } from '../src/models/base.js';
import { createModel } from '../src/models/registry.js';
import { setBackend, tidy } from '../src/tensor/engine.js';
import { seed } from '../src/tensor/random.js';
import { fromArray, type Tensor } from '../src/tensor/tensor.js';
import { machineInfo, median, numberFlag, parseFlags, printTable, randomArray, writeReport } from './common.js';

interface Engine {
  name: string;
  /** One call: host columns in, the [rows, nOut] predictions out. */
  run(x: HostInputs): Promise<Float32Array>;
  close(): Promise<void> | void;
}

/** A batch's columns as each engine takes them: webmtl's Int32Array / Float32Array, onnxruntime's int64 / float32. */
interface HostInputs {
  rows: number;
  webmtl: Record<string, Int32Array | Float32Array>;
  ort: Record<string, { type: 'int64' | 'float32'; data: BigInt64Array | Float32Array }>;
}

function hostInputs(features: Feature[], b: HostBatch): HostInputs {
  const webmtl: HostInputs['webmtl'] = {};
  const feeds: HostInputs['ort'] = {};
  for (const f of features) {
    const col = b.x[f.name];
    if (!(col instanceof Int32Array || col instanceof Float32Array)) throw new Error(`infer: column '${f.name}' is not a flat column`);
    webmtl[f.name] = col.slice(0, b.size);
    // onnxruntime takes int64 ids: converted once here, as a caller holding int64 ids would not pay it.
    feeds[f.name] =
      f.kind === 'dense'
        ? { type: 'float32', data: Float32Array.from(col.subarray(0, b.size)) }
        : { type: 'int64', data: BigInt64Array.from(col.subarray(0, b.size) as Int32Array, (v) => BigInt(v)) };
  }
  return { rows: b.size, webmtl, ort: feeds };
}

/** webmtl's predict() on `backend`: upload the columns, forward in eval mode, read the output back. */
async function webmtlEngine(name: string, model: MultiTaskModel, backend: Backend): Promise<Engine> {
  await model.to(backend);
  return {
    name,
    async run(x) {
      setBackend(backend);
      const out = tidy(() => {
        const batch: Record<string, Tensor> = {};
        for (const [k, v] of Object.entries(x.webmtl)) batch[k] = fromArray(v, [x.rows], { backend });
        return model.predict(batch);
      });
      const values = (await out.data()) as Float32Array;
      out.dispose();
      return values;
    },
    close: () => model.dispose(),
  };
}

async function ortEngine(name: string, bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<Engine> {
  const session = await ort.InferenceSession.create(bytes, options);
  const output = session.outputNames[0];
  return {
    name,
    async run(x) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(x.ort)) feeds[k] = new ort.Tensor(v.type, v.data, [x.rows]);
      return (await session.run(feeds))[output].data as Float32Array;
    },
    close: () => session.release(),
  };
}

/**
 * Weights that make the check mean something: the fresh model's embeddings (N(0, 1e-4)) would give
 * nearly the same output for every row, so tables are drawn from [-0.5, 0.5) and BatchNorm running
 * statistics perturbed. Timing does not depend on the values.
 */
function perturb(model: MultiTaskModel): void {
  const state: Record<string, Tensor> = {};
  let k = 1;
  for (const [name, t] of Object.entries(model.stateDict())) {
    const r = randomArray(t.size, k++);
    if (/embed\./.test(name))
      state[name] = fromArray(
        r.map((v) => v / 2),
        t.shape,
      );
    else if (/running_var$/.test(name))
      state[name] = fromArray(
        r.map((v) => 1 + v / 2),
        t.shape,
      );
    else if (/running_mean$/.test(name))
      state[name] = fromArray(
        r.map((v) => v / 4),
        t.shape,
      );
  }
  model.loadStateDict(state, { strict: false });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return Number.isNaN(d) ? Infinity : d;
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Batch-1 calls per engine per round, and the pause before each engine's block. */
const BLOCK = 100;
const SWITCH_PAUSE_MS = 30;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ENGINE_KEYS = ['wasm', 'wasm1', 'ort1', 'ort', 'ort-nospin'] as const;
type EngineKey = (typeof ENGINE_KEYS)[number];

const us = (ms: number) => (Number.isFinite(ms) ? `${(ms * 1000).toFixed(0)} µs` : '-');
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '-');

interface EngineResult {
  engine: string;
  maxAbsDiffVsCpu: number;
  batch1P50Ms: number;
  batch1P99Ms: number;
  batch1Calls: number;
  bigBatchSamplesPerSecond: number;
  bigBatchRepeats: number;
}

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log('node bench/run.mjs infer [--quick|--full] [--models mmoe,ple] [--calls N] [--batch 1024] [--repeats N] [--no-json]');
    return;
  }
  const full = flags.has('full');
  const models = (flags.get('models') ?? 'mmoe,ple').split(',');
  const calls = numberFlag(flags, 'calls', full ? 10_000 : 2000);
  const bigBatch = numberFlag(flags, 'batch', 1024);
  const repeats = numberFlag(flags, 'repeats', full ? 41 : 15);
  const callsPerRepeat = 4;
  const engineKeys = (flags.get('engines') ?? ENGINE_KEYS.join(',')).split(',') as EngineKey[];
  for (const k of engineKeys) if (!ENGINE_KEYS.includes(k)) throw new Error(`--engines: use some of ${ENGINE_KEYS.join(', ')}; got '${k}'`);
  const tolerance = 1e-4;

  const data = generateAliCcpSplits({ train: bigBatch, val: 16, test: 16, seed: 2022 });
  const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };
  const cpu = new CpuBackend();
  const wasm: WasmBackend = await createWasmBackend();
  const wasm1: WasmBackend = await createWasmBackend({ threads: 0 });
  console.log(
    `infer: ${models.join(', ')} on the Ali-CCP schema; batch 1 × ${calls} calls per engine, batch ${bigBatch} × ${callsPerRepeat} calls × ${repeats} repeats; onnxruntime-node ${ort.env.versions.node}; wasm helper thread: ${wasm.threaded ? 'yes' : 'no'}`,
  );

  const report: Record<string, EngineResult[]> = {};
  let failed = false;
  for (const name of models) {
    /** The same weights every time: a seeded preset, then perturb(). */
    const build = () => {
      setBackend(cpu);
      seed(7);
      const m = createModel(name, schema);
      perturb(m);
      return m;
    };
    const reference = build();
    const bytes = await exportOnnx(reference);
    const features = reference.features;
    const big = hostInputs(features, [...new DataLoader(data.train, { batchSize: bigBatch })][0] as HostBatch);
    const ones = [...new DataLoader(data.test, { batchSize: 1 })].map((b) => hostInputs(features, b as HostBatch));

    const makers: Record<EngineKey, () => Promise<Engine>> = {
      wasm: () => webmtlEngine(`webmtl wasm (${wasm.threaded ? '+1 helper thread' : '1 thread'})`, build(), wasm),
      wasm1: () => webmtlEngine('webmtl wasm (1 thread)', build(), wasm1),
      ort1: () => ortEngine('onnxruntime (1 thread)', bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' }),
      ort: () => ortEngine('onnxruntime (default threads)', bytes, {}),
      'ort-nospin': () =>
        ortEngine('onnxruntime (default threads, no spinning)', bytes, { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    };
    const engines: Engine[] = [];
    for (const key of engineKeys) engines.push(await makers[key]());

    // Equal predictions first: every engine against webmtl's CPU backend, batch 1024 and batch 1.
    const cpuEngine = await webmtlEngine('cpu', reference, cpu);
    const want = [await cpuEngine.run(big), ...(await Promise.all(ones.slice(0, 4).map((x) => cpuEngine.run(x))))];
    const diffs: number[] = [];
    for (const e of engines) {
      const got = [await e.run(big)];
      for (const x of ones.slice(0, 4)) got.push(await e.run(x));
      diffs.push(Math.max(...got.map((g, i) => maxAbsDiff(g, want[i]))));
    }
    const check = diffs.every((d) => d <= tolerance);
    failed ||= !check;
    console.log(
      `\n${name} (${reference.numParameters().toLocaleString('en-US')} parameters, ONNX ${(bytes.length / 1024).toFixed(0)} KiB): check vs webmtl CPU, max |Δ| ${diffs.map((d) => d.toExponential(1)).join(' / ')} ${check ? 'ok' : 'CHECK FAILED'}`,
    );
    cpuEngine.close();

    // Warm-up: JIT, kernels, onnxruntime's first-run allocations.
    for (const e of engines) for (let i = 0; i < 50; i++) await e.run(ones[i % ones.length]);
    for (const e of engines) for (let i = 0; i < 3; i++) await e.run(big);

    // Interleaved in rounds: each round gives every engine one block (the order rotated every round),
    // so a slow spell of the shared machine hits all engines alike. A pause at every switch lets
    // onnxruntime's idle pool threads, which spin for a while after a run, stop before the next
    // engine's block: otherwise they take the cores from it.
    const rounds = Math.max(1, Math.ceil(calls / BLOCK));
    const latency = engines.map(() => [] as number[]);
    const rates = engines.map(() => [] as number[]);
    for (let r = 0; r < Math.max(rounds, repeats); r++) {
      for (let j = 0; j < engines.length; j++) {
        const k = (r + j) % engines.length;
        await pause(SWITCH_PAUSE_MS);
        if (r < rounds)
          for (let c = 0; c < BLOCK && r * BLOCK + c < calls; c++) {
            const t = performance.now();
            await engines[k].run(ones[(r * BLOCK + c) % ones.length]);
            latency[k].push(performance.now() - t);
          }
        if (r < repeats) {
          const t = performance.now();
          for (let i = 0; i < callsPerRepeat; i++) await engines[k].run(big);
          rates[k].push((callsPerRepeat * big.rows) / ((performance.now() - t) / 1000));
        }
      }
    }

    const results = engines.map(
      (e, k): EngineResult => ({
        engine: e.name,
        maxAbsDiffVsCpu: diffs[k],
        batch1P50Ms: quantile(latency[k], 0.5),
        batch1P99Ms: quantile(latency[k], 0.99),
        batch1Calls: latency[k].length,
        bigBatchSamplesPerSecond: median(rates[k]),
        bigBatchRepeats: rates[k].length,
      }),
    );
    report[name] = results;
    const base = results[0];
    printTable(
      [
        { title: 'engine', align: 'left' },
        { title: 'batch 1 p50' },
        { title: 'p99' },
        { title: 'p50 vs webmtl' },
        { title: `batch ${bigBatch} samples/s` },
        { title: 'samples/s vs webmtl' },
      ],
      results.map((r) => [
        r.engine,
        us(r.batch1P50Ms),
        us(r.batch1P99Ms),
        ratio(base.batch1P50Ms / r.batch1P50Ms),
        Math.round(r.bigBatchSamplesPerSecond).toLocaleString('en-US'),
        ratio(r.bigBatchSamplesPerSecond / base.bigBatchSamplesPerSecond),
      ]),
    );
    for (const e of engines) await e.close();
  }
  console.log('\n(vs webmtl: relative to the first row; >1× = faster than webmtl wasm)');
  wasm.destroy();
  wasm1.destroy();
  if (!flags.has('no-json')) {
    const path = writeReport('infer', 'wasm', {
      mode: full ? 'full' : 'quick',
      date: new Date().toISOString(),
      machine: machineInfo(),
      onnxruntimeNode: ort.env.versions.node,
      calls,
      bigBatch,
      repeats,
      callsPerRepeat,
      timing:
        'wall clock (performance.now) around one awaited call: host columns → tensors/ort.Tensor → forward → host Float32Array; int64 ids prepared once outside timing',
      results: report,
    });
    console.log(`wrote ${path}`);
  }
  if (failed) process.exitCode = 1;
}
