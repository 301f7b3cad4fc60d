// The wasm backend's kernels against the TypeScript CPU reference, one run side by side:
// GFLOP/s of the batched expert matmul (MMoE: 8 experts of 16 over a 100-wide input, batch 1024) in
// its forward and both backward forms, and the time of the other kernels of a training step
// (fused BatchNorm, gating, Adam over every parameter). The wasm backend runs twice: on one thread,
// and with its helper thread (chunks of each large kernel shared between two threads).
//
//   node bench/run.mjs kernels-wasm [--quick|--full] [--cpu false] [--budget-ms N]
import type { Backend, Buffer } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import {
  fmtNum,
  fmtTime,
  machineInfo,
  measure,
  parseFlags,
  printTable,
  randomArray,
  type Timing,
  timingOptions,
  writeReport,
} from './common.js';

interface Case {
  name: string;
  shape: string;
  /** Floating-point operations of one run (matmuls), for GFLOP/s. */
  flops?: number;
  /** Allocates the operands on a backend; returns the run (enqueue only) and the buffers to free, or null where the backend lacks the kernel. */
  setup(b: Backend): { run: () => void; buffers: Buffer[] } | null;
}

function upload(b: Backend, n: number, seed: number, lo = -1, hi = 1): Buffer {
  const buf = b.alloc(n, 'f32');
  b.write(buf, randomArray(n, seed, lo, hi));
  return buf;
}

function matmulCase(
  name: string,
  batch: number,
  m: number,
  n: number,
  k: number,
  o: { transA?: boolean; transB?: boolean; shareA?: boolean; shareB?: boolean } = {},
): Case {
  const p = {
    batch,
    m,
    n,
    k,
    transA: o.transA ?? false,
    transB: o.transB ?? false,
    aBatchStride: o.shareA ? 0 : m * k,
    bBatchStride: o.shareB ? 0 : k * n,
  };
  const ta = p.transA ? 'ᵀ' : '';
  const tb = p.transB ? 'ᵀ' : '';
  return {
    name,
    shape: `${batch > 1 ? `${batch}× ` : ''}[${m}×${k}]${ta}·[${k}×${n}]${tb}${o.shareA ? ' (A shared)' : ''}`,
    flops: 2 * batch * m * n * k,
    setup(b) {
      const a = upload(b, (o.shareA ? 1 : batch) * m * k, 1);
      const bb = upload(b, (o.shareB ? 1 : batch) * k * n, 2);
      const c = b.alloc(batch * m * n, 'f32');
      return { run: () => b.matmul(a, bb, c, p), buffers: [a, bb, c] };
    },
  };
}

const CASES: Case[] = [
  matmulCase('experts forward', 8, 1024, 16, 100, { shareA: true }),
  matmulCase('experts dW', 8, 100, 16, 1024, { transA: true, shareA: true }),
  matmulCase('experts dX, stacked', 1, 1024, 100, 128),
  matmulCase('experts dX, batched', 8, 1024, 100, 16, { transB: true }),
  matmulCase('gate forward', 1, 1024, 8, 100),
  matmulCase('square 256', 1, 256, 256, 256),
  matmulCase('square 512', 1, 512, 512, 512),
  {
    name: 'batchNorm fwd + bwd',
    shape: '[8, 1024, 16] grouped',
    setup(b) {
      const [G, N, C] = [8, 1024, 16];
      const x = upload(b, G * N * C, 3);
      const gy = upload(b, G * N * C, 4);
      const gamma = upload(b, G * C, 5, 0.5, 1.5);
      const beta = upload(b, G * C, 6);
      const stats = [0, 1, 2, 3, 4].map(() => b.alloc(G * C, 'f32'));
      const y = b.alloc(G * N * C, 'f32');
      const gx = b.alloc(G * N * C, 'f32');
      const p = { groups: G, rows: N, channels: C, eps: 1e-5 };
      const [mean, variance, std, gg, gb] = stats;
      if (!b.batchNormForward || !b.batchNormBackward) {
        for (const buf of [x, gy, gamma, beta, y, gx, ...stats]) b.free(buf);
        return null; // the CPU reference has no fused BatchNorm (ops use elementwise kernels there)
      }
      return {
        run: () => {
          b.batchNormForward!(x, gamma, beta, y, mean, variance, std, p);
          b.batchNormBackward!(x, gamma, mean, std, gy, gx, gg, gb, p);
        },
        buffers: [x, gy, gamma, beta, y, gx, ...stats],
      };
    },
  },
  {
    name: 'gateMix fwd + bwd',
    shape: 'T 2, B 1024, E 8, H 16',
    setup(b) {
      const s = { tasks: 2, batch: 1024, experts: 8, hidden: 16 };
      const logits = upload(b, 2 * 1024 * 8, 7, -3, 3);
      const experts = upload(b, 8 * 1024 * 16, 8);
      const gMix = upload(b, 2 * 1024 * 16, 9);
      const mix = b.alloc(2 * 1024 * 16, 'f32');
      const w = b.alloc(2 * 1024 * 8, 'f32');
      const gl = b.alloc(2 * 1024 * 8, 'f32');
      const ge = b.alloc(8 * 1024 * 16, 'f32');
      return {
        run: () => {
          b.gateMixForward!(logits, experts, mix, w, s);
          b.gateMixBackward!(w, experts, gMix, gl, ge, s);
        },
        buffers: [logits, experts, gMix, mix, w, gl, ge],
      };
    },
  },
  {
    name: 'adam',
    shape: '291,554 parameters (MMoE)',
    setup(b) {
      const n = 291_554;
      const p = upload(b, n, 10);
      const g = upload(b, n, 11);
      const m = b.alloc(n, 'f32');
      const v = b.alloc(n, 'f32');
      let step = 0;
      const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 };
      return { run: () => b.adam!(p, g, m, v, n, { ...h, step: ++step }), buffers: [p, g, m, v] };
    },
  },
];

export async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv);
  if (flags.has('help')) {
    console.log('node bench/run.mjs kernels-wasm [--quick|--full] [--cpu false] [--budget-ms N] [--sample-ms N]');
    return;
  }
  const timing = timingOptions(flags, flags.has('full'));
  const withCpu = flags.get('cpu') !== 'false';
  const wasm1 = await createWasmBackend({ threads: 0 });
  const wasm2 = await createWasmBackend({ threads: 1 });
  const backends: [string, Backend][] = [
    ...(withCpu ? [['cpu', new CpuBackend()] as [string, Backend]] : []),
    ['wasm, 1 thread', wasm1],
    [wasm2.threaded ? 'wasm, 2 threads' : 'wasm (no helper thread here)', wasm2],
  ];
  console.log(`kernels: ${backends.map(([n]) => n).join(' vs ')}; median of samples, ${timing.budgetMs} ms budget per case`);
  const results: Record<string, unknown>[] = [];
  for (const c of CASES) {
    const row: Record<string, unknown> = { name: c.name, shape: c.shape, flops: c.flops ?? null };
    for (const [label, b] of backends) {
      const set = c.setup(b);
      if (!set) continue;
      const { run, buffers } = set;
      // A long CPU run is measured once (a single sample still tells the order of magnitude).
      const t: Timing = await measure(
        b,
        run,
        label === 'cpu' ? { ...timing, budgetMs: Math.min(timing.budgetMs, 300), minSamples: 1 } : timing,
      );
      for (const buf of buffers) b.free(buf);
      row[label] = { medianMs: t.medianMs, minMs: t.minMs, samples: t.samples, gflops: c.flops ? c.flops / (t.medianMs * 1e6) : null };
    }
    results.push(row);
  }
  const cell = (r: Record<string, unknown>, label: string): string => {
    const t = r[label] as { medianMs: number; gflops: number | null } | undefined;
    if (!t) return '-';
    return t.gflops !== null ? `${fmtTime(t.medianMs)} · ${fmtNum(t.gflops, 1)} GFLOP/s` : fmtTime(t.medianMs);
  };
  printTable(
    [{ title: 'kernel', align: 'left' }, { title: 'shape', align: 'left' }, ...backends.map(([label]) => ({ title: label }))],
    results.map((r) => [String(r.name), String(r.shape), ...backends.map(([label]) => cell(r, label))]),
  );
  const path = writeReport('kernels-wasm', 'wasm', { machine: machineInfo(), timing, backends: backends.map(([n]) => n), results });
  console.log(`wrote ${path}`);
  wasm1.destroy();
  wasm2.destroy();
}
