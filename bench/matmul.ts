// Matmul micro-benchmark: backend.matmul on WebGPU and on the CPU backend, and a plain JavaScript
// triple loop as the floor, over square sizes and the skinny shapes an MTL model actually runs.
//
//   node bench/run.mjs matmul            quick (default)
//   node bench/run.mjs matmul --full     adds larger MTL shapes and more samples
//   node bench/run.mjs matmul --help     every flag
import type { Backend, Buffer, MatmulShape } from '../src/backend/backend.js';
import {
  adapterLabel,
  backendList,
  type DevicePeak,
  findPeak,
  fmtNum,
  fmtPct,
  fmtSamples,
  fmtTime,
  machineInfo,
  measure,
  mismatch,
  numberList,
  type OpenedBackend,
  openBackend,
  parseFlags,
  perSecondG,
  randomArray,
  TablePrinter,
  type Timing,
  timingMethod,
  timingOptions,
  writeReport,
} from './common.js';

const HELP = `bench matmul: backend.matmul GFLOP/s on WebGPU and the CPU backend, against a plain JS triple loop

  --quick                square 64..1024 and four MTL shapes (default)
  --full                 also larger MTL shapes; longer timing budget
  --sizes 64,128,...     square sizes (default 64,128,256,512,1024)
  --backend webgpu,cpu   backends to run (default both; the JS loop always runs)
  --no-js                skip the JS triple loop
  --js-max-gflop 3       skip the JS loop above this many GFLOP per run (it is the slowest)
  --budget-ms, --sample-ms, --min-samples, --max-samples, --max-iters   timing knobs (see bench/README.md)
  --peak-gflops N        device FP32 peak for the %FLOP column when the adapter is not in the table
  --no-json              do not write bench/results/*.json`;

/** One benchmarked product: the backend's matmul shape and a label for the table. */
interface MatmulCase extends MatmulShape {
  label: string;
}

function square(n: number): MatmulCase {
  return { label: `square ${n}`, batch: 1, m: n, n, k: n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
}

/**
 * The matmuls of one expert layer with E experts, batch B, input width D and output width H,
 * as nn/experts.ts issues them (x shared by every expert: aBatchStride 0), plus a gate.
 */
function expertShapes(B: number, D: number, H: number, E: number): MatmulCase[] {
  const tag = `B${B} D${D} H${H} E${E}`;
  return [
    // y[e] = x · W[e]: [B, D] · [D, H]
    { label: `expert fwd ${tag}`, batch: E, m: B, n: H, k: D, transA: false, transB: false, aBatchStride: 0, bBatchStride: D * H },
    // gW[e] = xᵀ · gy[e]: x stored [B, D] is op(A)ᵀ
    { label: `expert dW ${tag}`, batch: E, m: D, n: H, k: B, transA: true, transB: false, aBatchStride: 0, bBatchStride: B * H },
    // gx[e] = gy[e] · W[e]ᵀ: W stored [D, H] is op(B)ᵀ
    { label: `expert dX ${tag}`, batch: E, m: B, n: D, k: H, transA: false, transB: true, aBatchStride: B * H, bBatchStride: D * H },
  ];
}

function gateShape(B: number, D: number, E: number): MatmulCase {
  return { label: `gate B${B} D${D} E${E}`, batch: 1, m: B, n: E, k: D, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
}

const flopsOf = (s: MatmulCase): number => 2 * s.batch * s.m * s.n * s.k;
const aSize = (s: MatmulCase): number => (s.batch - 1) * s.aBatchStride + s.m * s.k;
const bSize = (s: MatmulCase): number => (s.batch - 1) * s.bBatchStride + s.k * s.n;
/** Minimal traffic: each operand read once, the output written once (f32). */
const bytesOf = (s: MatmulCase): number => 4 * (aSize(s) + bSize(s) + s.batch * s.m * s.n);

/** The floor: out[b,i,j] = Σ_k op(A)[i,k]·op(B)[k,j], three nested loops, no blocking. */
function jsTripleLoop(A: Float32Array, B: Float32Array, C: Float32Array, s: MatmulCase): void {
  const [aRow, aCol] = s.transA ? [1, s.m] : [s.k, 1];
  const [bRow, bCol] = s.transB ? [1, s.k] : [s.n, 1];
  for (let t = 0; t < s.batch; t++) {
    const aOff = t * s.aBatchStride;
    const bOff = t * s.bBatchStride;
    const cOff = t * s.m * s.n;
    for (let i = 0; i < s.m; i++) {
      for (let j = 0; j < s.n; j++) {
        let acc = 0;
        for (let kk = 0; kk < s.k; kk++) acc += A[aOff + i * aRow + kk * aCol] * B[bOff + kk * bRow + j * bCol];
        C[cOff + i * s.n + j] = acc;
      }
    }
  }
}

interface ImplResult {
  impl: string;
  timing?: Timing;
  skipped?: string;
  gflops?: number;
  gbs?: number;
  pctFlops?: number | null;
  /** Largest normalised difference from the JS loop's result (≤ 1 agrees). */
  check?: number;
}

const noSync = { sync: async (): Promise<void> => {} };

async function benchOnBackend(
  opened: OpenedBackend,
  s: MatmulCase,
  A: Float32Array,
  B: Float32Array,
  ref: Float32Array | null,
  timing: Parameters<typeof measure>[2],
  peak: DevicePeak | null,
): Promise<ImplResult> {
  const k: Backend = opened.backend;
  const outSize = s.batch * s.m * s.n;
  if (Math.max(A.length, B.length, outSize) * 4 > opened.maxBindingBytes) {
    return { impl: opened.name, skipped: 'an operand is over the device binding limit' };
  }
  const bufs: Buffer[] = [k.alloc(A.length, 'f32'), k.alloc(B.length, 'f32'), k.alloc(outSize, 'f32')];
  const [a, b, c] = bufs;
  k.write(a, A);
  k.write(b, B);
  const run = (): void => k.matmul(a, b, c, s);
  const t = await measure(k, run, timing);
  // Every timed run wrote the same product into c: check the last one against the JS loop.
  const check = ref ? mismatch((await k.read(c)) as Float32Array, ref, 1e-3, 1e-3) : undefined;
  for (const x of bufs) k.free(x);
  const gflops = perSecondG(flopsOf(s), t.medianMs);
  return {
    impl: opened.name,
    timing: t,
    gflops,
    gbs: perSecondG(bytesOf(s), t.medianMs),
    pctFlops: peak ? gflops / peak.fp32GFLOPs : null,
    check,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log(HELP);
    return;
  }
  const full = flags.has('full');
  const timing = timingOptions(flags, full);
  const withJs = !flags.has('no-js');
  const jsMaxFlop = Number(flags.get('js-max-gflop') ?? 3) * 1e9;
  const shapes: MatmulCase[] = [
    ...numberList(flags, 'sizes', [64, 128, 256, 512, 1024]).map(square),
    ...expertShapes(1024, 100, 16, 8),
    gateShape(1024, 100, 8),
  ];
  if (full)
    shapes.push(...expertShapes(4096, 256, 64, 16), gateShape(4096, 256, 16), {
      ...square(512),
      label: 'bottom B4096 D512 H256',
      m: 4096,
      n: 256,
      k: 512,
    });

  console.log(`bench matmul (${full ? 'full' : 'quick'}): ${shapes.length} shapes; GFLOP/s = 2·batch·M·N·K / median time`);
  console.log(
    `timing: median of samples; budget ${timing.budgetMs} ms per implementation, ≥${timing.minSamples} samples of ~${timing.sampleMs} ms each`,
  );
  console.log('machine:', JSON.stringify(machineInfo()));

  const opened: OpenedBackend[] = [];
  for (const name of backendList(flags)) opened.push(await openBackend(name));
  const peaks = new Map(opened.map((o) => [o.name, findPeak(o.adapter, flags)]));
  for (const o of opened) {
    const peak = peaks.get(o.name);
    console.log(`${o.name}: ${adapterLabel(o.adapter)}; peak ${peak ? `${peak.fp32GFLOPs} GFLOP/s FP32 (${peak.name})` : 'unknown'}`);
    console.log(`   timing method: ${timingMethod(o)}`);
  }
  console.log('js-loop: plain triple loop over Float32Array (f64 accumulator), same process, wall clock');

  const table = new TablePrinter(
    [
      { title: 'shape', align: 'left' },
      { title: 'batch×M×N×K', align: 'left' },
      { title: 'impl', align: 'left' },
      { title: 'median' },
      { title: 'min' },
      { title: 'GFLOP/s' },
      { title: 'GB/s' },
      { title: '%FLOP' },
      { title: 'vs js' },
      { title: 'n' },
      { title: 'check', align: 'left' },
    ],
    [30, 18, 7, 9, 9, 8, 7, 6, 7, 7, 5],
  );
  console.log(`\n${table.header()}`);

  const perShape: Array<{ shape: MatmulCase; flops: number; bytes: number; results: ImplResult[] }> = [];
  const started = performance.now();
  let seed = 1;
  for (const s of shapes) {
    const A = randomArray(aSize(s), seed++);
    const B = randomArray(bSize(s), seed++);
    const flops = flopsOf(s);
    const results: ImplResult[] = [];
    let ref: Float32Array | null = null;
    let jsMs = NaN;
    if (withJs && flops <= jsMaxFlop) {
      const C = new Float32Array(s.batch * s.m * s.n);
      const t = await measure(noSync, () => jsTripleLoop(A, B, C, s), timing);
      ref = C;
      jsMs = t.medianMs;
      results.push({
        impl: 'js-loop',
        timing: t,
        gflops: perSecondG(flops, t.medianMs),
        gbs: perSecondG(bytesOf(s), t.medianMs),
        pctFlops: null,
      });
    } else if (withJs) {
      results.push({ impl: 'js-loop', skipped: `over --js-max-gflop ${jsMaxFlop / 1e9}` });
    }
    for (const o of opened) results.push(await benchOnBackend(o, s, A, B, ref, timing, peaks.get(o.name) ?? null));

    const dims = `${s.batch}×${s.m}×${s.n}×${s.k}${s.transA ? ' Aᵀ' : ''}${s.transB ? ' Bᵀ' : ''}`;
    for (const r of results) {
      const t = r.timing;
      const check = r.check === undefined ? '' : r.check <= 1 ? 'ok' : `OFF ${fmtNum(r.check)}×`;
      if (r.check !== undefined && !(r.check <= 1)) process.exitCode = 1;
      console.log(
        table.row(
          t
            ? [
                s.label,
                dims,
                r.impl,
                fmtTime(t.medianMs),
                fmtTime(t.minMs),
                fmtNum(r.gflops ?? null),
                fmtNum(r.gbs ?? null),
                fmtPct(r.pctFlops ?? null),
                Number.isFinite(jsMs) ? `${(jsMs / t.medianMs).toFixed(2)}×` : '-',
                fmtSamples(t),
                check,
              ]
            : [s.label, dims, r.impl, 'skipped', '', '', '', '', '', '', r.skipped ?? ''],
        ),
      );
    }
    perShape.push({ shape: s, flops, bytes: bytesOf(s), results });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\n${shapes.length} shapes in ${seconds.toFixed(1)} s ("vs js" = JS-loop time / this time; check = agreement with the JS loop within 1e-3 + 1e-3·|x|)`,
  );

  if (!flags.has('no-json')) {
    for (const o of opened) {
      const path = writeReport('matmul', o.name, {
        bench: 'matmul',
        mode: full ? 'full' : 'quick',
        date: new Date().toISOString(),
        backend: o.name,
        adapter: o.adapter,
        machine: machineInfo(),
        peak: peaks.get(o.name) ?? null,
        timingMethod: timingMethod(o),
        timing,
        units: {
          time: 'ms per matmul (median over samples)',
          gflops: '1e9 FLOP/s, FLOP = 2·batch·M·N·K',
          gbs: '1e9 bytes/s of minimal traffic 4·(|A| + |B| + |C|)',
        },
        seconds,
        // The JS loop ran in the same process, as the reference for this backend's rows.
        shapes: perShape.map((p) => ({ ...p, results: p.results.filter((r) => r.impl === o.name || r.impl === 'js-loop') })),
      });
      console.log(`wrote ${path}`);
    }
  }
  for (const o of opened) o.close();
}
