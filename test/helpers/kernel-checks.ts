// Shared by the raw-kernel suites (webgpu-kernels, wasm-kernels): seeded inputs, running one kernel on
// the CPU reference and on another backend with the same inputs, and the comparisons.
import { expect } from 'vitest';
import { type Backend, type Buffer, contiguousStrides, dropoutUniform, type TypedArray } from '../../src/backend/backend.js';
import { CpuBackend } from '../../src/backend/cpu/cpu-backend.js';

const reference = new CpuBackend();

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export function ints(n: number, lo: number, hi: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => lo + Math.floor((hi - lo) * r()));
}

export interface OutSpec {
  size: number;
  dtype?: 'f32' | 'i32';
  init?: TypedArray;
}

export function upload(b: Backend, data: TypedArray): Buffer {
  const buf = b.alloc(data.length, data instanceof Int32Array ? 'i32' : 'f32');
  b.write(buf, data);
  return buf;
}

/** Runs `kernel` on the CPU reference and on `backend` with identical inputs; returns each output from both. */
export async function onBoth(
  backend: Backend,
  inputs: TypedArray[],
  outputs: OutSpec[],
  kernel: (b: Backend, ins: Buffer[], outs: Buffer[]) => void,
): Promise<{ want: TypedArray[]; got: TypedArray[] }> {
  const results: TypedArray[][] = [];
  for (const b of [reference, backend]) {
    const ins = inputs.map((d) => upload(b, d));
    const outs = outputs.map((o) => {
      const buf = b.alloc(o.size, o.dtype ?? 'f32');
      if (o.init) b.write(buf, o.init);
      return buf;
    });
    kernel(b, ins, outs);
    results.push(await Promise.all(outs.map((o) => b.read(o))));
    for (const buf of [...ins, ...outs]) b.free(buf);
  }
  return { want: results[0], got: results[1] };
}

/** |got − want| ≤ atol + rtol·|want| everywhere (NaN matches NaN); lists the first mismatches. */
export function expectClose(got: TypedArray, want: TypedArray, rtol: number, atol: number | ((i: number) => number), label: string): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (w === g || (Number.isNaN(w) && Number.isNaN(g))) continue;
    const tol = (typeof atol === 'number' ? atol : atol(i)) + rtol * Math.abs(w);
    if (!(Math.abs(g - w) <= tol)) {
      bad.push(`[${i}] got ${g}, cpu ${w}`);
      if (bad.length >= 5) break;
    }
  }
  expect(bad, `${label}: mismatches`).toEqual([]);
}

/** Same bits (a NaN matches any NaN unless `payloads`: copies must keep NaN payloads too). */
export function expectBitExact(got: TypedArray, want: TypedArray, label: string, payloads = false): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  expect(g.length, `${label}: length`).toBe(w.length);
  const floats = got instanceof Float32Array && !payloads;
  let first = -1;
  for (let i = 0; i < w.length && first < 0; i++)
    if (g[i] !== w[i] && !(floats && Number.isNaN(got[i]) && Number.isNaN(want[i]))) first = i;
  expect(first, `${label}: first differing word${first >= 0 ? ` (got ${got[first]}, cpu ${want[first]})` : ''}`).toBe(-1);
}

/**
 * gatherRows into columns of a wider output ({ offset, stride }): the rows land where the hand-made
 * expectation puts them, on the reference and on `backend`, and the other columns keep their values.
 */
export async function checkGatherPlacement(backend: Backend, payloads: boolean): Promise<void> {
  for (const [vocab, dim, count, offset, width] of [
    [50, 4, 1030, 8, 23],
    [9, 3, 17, 0, 5],
    [20, 17, 33, 20, 37],
  ]) {
    const ids = ints(count, 0, vocab, vocab + dim);
    const table = uniform(vocab * dim, -1, 1, dim + 2);
    const init = uniform(count * width, 5, 6, 3);
    const into = { offset, stride: width };
    const r = await onBoth(backend, [table, ids], [{ size: count * width, init }], (b, [t, i], [o]) =>
      b.gatherRows(t, i, ids, o, dim, into),
    );
    const want = Float32Array.from(init);
    for (let i = 0; i < count; i++) want.set(table.subarray(ids[i] * dim, (ids[i] + 1) * dim), offset + i * width);
    expectBitExact(r.want[0], want, `reference gather into [${count}, ${width}] at column ${offset}`);
    expectBitExact(r.got[0], want, `gather into [${count}, ${width}] at column ${offset}`, payloads);
  }
}

// ------------------------------------------------------------------ checks both suites run

/** Strided copies (transpose, slice, concat, broadcast, rank 6), f32 with NaN payloads and i32: same bits. */
export async function checkCopy(backend: Backend): Promise<void> {
  const cases: Array<{ srcSize: number; dstSize: number; shape: number[]; so: number; ss: number[]; doff: number; ds: number[] }> = [
    { srcSize: 17 * 33, dstSize: 17 * 33, shape: [33, 17], so: 0, ss: [1, 33], doff: 0, ds: [17, 1] },
    { srcSize: 200, dstSize: 60, shape: [5, 12], so: 2 * 20 + 3, ss: [20, 1], doff: 0, ds: [12, 1] },
    { srcSize: 40, dstSize: 120, shape: [4, 10], so: 0, ss: [10, 1], doff: 10, ds: [30, 1] },
    { srcSize: 21, dstSize: 105, shape: [5, 7, 3], so: 0, ss: [0, 3, 1], doff: 0, ds: [21, 3, 1] },
    {
      srcSize: 240,
      dstSize: 240,
      shape: [2, 3, 1, 4, 5, 2],
      so: 0,
      ss: [1, 2, 240, 6, 24, 120],
      doff: 0,
      ds: contiguousStrides([2, 3, 1, 4, 5, 2]),
    },
    { srcSize: 1, dstSize: 3, shape: [], so: 0, ss: [], doff: 2, ds: [] },
    { srcSize: 5000, dstSize: 5000, shape: [5000], so: 0, ss: [1], doff: 0, ds: [1] },
    { srcSize: 3, dstSize: 40, shape: [8, 5], so: 1, ss: [0, 0], doff: 0, ds: [5, 1] },
  ];
  for (const c of cases) {
    const f = uniform(c.srcSize, -3, 3, c.srcSize);
    const words = new Uint32Array(f.buffer);
    for (let i = 0; i < words.length; i += 7) words[i] = 0x7fc00000 + i; // NaNs with payloads
    const init = uniform(c.dstSize, 9, 10, 2);
    const r = await onBoth(backend, [f], [{ size: c.dstSize, init }], (b, [src], [d]) => b.copy(src, d, c.shape, c.so, c.ss, c.doff, c.ds));
    expectBitExact(r.got[0], r.want[0], `copy f32 ${JSON.stringify(c.shape)}`, true);
    const i32 = ints(c.srcSize, -(2 ** 31), 2 ** 31 - 1, c.dstSize);
    const r2 = await onBoth(backend, [i32], [{ size: c.dstSize, dtype: 'i32' }], (b, [src], [d]) =>
      b.copy(src, d, c.shape, c.so, c.ss, c.doff, c.ds),
    );
    expectBitExact(r2.got[0], r2.want[0], `copy i32 ${JSON.stringify(c.shape)}`, true);
  }
}

/** Row gathers from f32 and i32 tables, with the ids in i32 and in f32 buffers: same bits. */
export async function checkGatherRows(backend: Backend): Promise<void> {
  for (const [vocab, dim, count] of [
    [50, 17, 1000],
    [1, 1, 1],
    [7, 3, 1025],
    [300, 4, 1024],
    [20, 16, 33],
  ]) {
    const ids = ints(count, 0, vocab, vocab + count);
    const table = uniform(vocab * dim, -1, 1, dim);
    const r = await onBoth(backend, [table, ids], [{ size: count * dim }], (b, [t, i], [o]) => b.gatherRows(t, i, ids, o, dim));
    expectBitExact(r.got[0], r.want[0], `gather ${vocab}x${dim}`, true);
    const itable = ints(vocab * dim, -1000, 1000, dim + 1);
    const fids = Float32Array.from(ids);
    const r2 = await onBoth(backend, [itable, fids], [{ size: count * dim, dtype: 'i32' }], (b, [t, i], [o]) =>
      b.gatherRows(t, i, ids, o, dim),
    );
    expectBitExact(r2.got[0], r2.want[0], `gather i32 ${vocab}x${dim}`, true);
  }
}

/**
 * Scatter-add: 5000 rows onto 3 ids lose no update (exact f32 sums), and random rows sum in the
 * reference's per-id order, so the f32 sums are identical.
 */
export async function checkScatterAdd(backend: Backend): Promise<void> {
  const vocab = 50;
  const dim = 7;
  const n = 5000;
  const hot = [3, 17, 42];
  const pick = rng(77);
  const ids = Int32Array.from({ length: n }, () => hot[Math.floor(pick() * 3)]);
  const src = Float32Array.from({ length: n * dim }, (_, i) => 1 + (i % dim));
  const r = await onBoth(backend, [src, ids], [{ size: vocab * dim, init: uniform(vocab * dim, 1, 2, 3) }], (b, [s, i], [o]) =>
    b.scatterAddRows(s, i, ids, o, vocab, dim),
  );
  expectBitExact(r.got[0], r.want[0], 'scatter hot ids', true);
  const counts = hot.map((id) => ids.filter((v) => v === id).length);
  hot.forEach((id, k) => expect(r.got[0][id * dim + 2]).toBe(3 * counts[k]));
  for (const [v, d, m] of [
    [1000, 1, 3000],
    [13, 33, 17],
    [4, 5, 1],
    [200, 4, 1024],
  ]) {
    const rid = ints(m, 0, v, m);
    const rsrc = uniform(m * d, -1, 1, d);
    const r2 = await onBoth(backend, [rsrc, rid], [{ size: v * d }], (b, [s, i], [o]) => b.scatterAddRows(s, i, rid, o, v, d));
    expectBitExact(r2.got[0], r2.want[0], `scatter random ${v}x${d}`, true);
  }
}

export const SOFTMAX_CASES: [number, number][] = [
  [1, 1],
  [3, 17],
  [1000, 3],
  [7, 128],
  [5, 1000],
  [2, 100000],
];

/** softmax and logSoftmax of [rows, cols] within rtol and the given absolute tolerances. */
export async function checkSoftmax(
  backend: Backend,
  rows: number,
  cols: number,
  tol: { rtol: number; atol: number; logAtol: number },
): Promise<void> {
  const x = uniform(rows * cols, -10, 10, rows * 3 + cols);
  const { want, got } = await onBoth(backend, [x], [{ size: rows * cols }, { size: rows * cols }], (b, [xb], [s, l]) => {
    b.softmax(xb, s, rows, cols, false);
    b.softmax(xb, l, rows, cols, true);
  });
  expectClose(got[0], want[0], tol.rtol, tol.atol, `softmax ${rows}x${cols}`);
  expectClose(got[1], want[1], tol.rtol, tol.logAtol, `logSoftmax ${rows}x${cols}`);
}

/** Dropout masks equal dropoutUniform's bit for bit; and the reference's keep rate follows p. */
export async function checkDropoutMask(backend: Backend): Promise<void> {
  for (const n of [1, 17, 1000, 100003]) {
    for (const p of [0, 0.1, 1 / 3, 0.5, 0.9]) {
      for (const seed of [0, 12345, 0xffffffff]) {
        const { want, got } = await onBoth(backend, [], [{ size: n }], (b, _i, [o]) => b.dropoutMask(o, n, p, seed));
        expectBitExact(got[0], want[0], `dropout n=${n} p=${p} seed=${seed}`, true);
      }
    }
  }
  const kept = Array.from({ length: 10000 }, (_, i) => dropoutUniform(7, i) >= 0.3).filter(Boolean).length;
  expect(kept / 10000).toBeGreaterThan(0.67);
  expect(kept / 10000).toBeLessThan(0.73);
}

/** [T, B, E, H] shapes of the fused gating kernels, odd ones included. */
export const GATE_MIX_CASES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [2, 17, 3, 5],
  [3, 33, 8, 64],
  [2, 5, 64, 512],
  [2, 3, 100, 7],
];

/** gateMixForward (mix and weights) and gateMixBackward against the reference. */
export async function checkGateMix(backend: Backend, T: number, B: number, E: number, H: number): Promise<void> {
  const shape = { tasks: T, batch: B, experts: E, hidden: H };
  const logits = uniform(T * B * E, -3, 3, T + B + E);
  const experts = uniform(E * B * H, -1, 1, H);
  const fwd = await onBoth(backend, [logits, experts], [{ size: T * B * H }, { size: T * B * E }], (b, [l, x], [mix, wt]) =>
    b.gateMixForward!(l, x, mix, wt, shape),
  );
  expectClose(fwd.got[0], fwd.want[0], 1e-4, 1e-5, 'mix');
  expectClose(fwd.got[1], fwd.want[1], 1e-5, 1e-7, 'weights');
  const gMix = uniform(T * B * H, -1, 1, 99);
  const bwd = await onBoth(backend, [fwd.want[1], experts, gMix], [{ size: T * B * E }, { size: E * B * H }], (b, [wt, x, gm], [gl, gx]) =>
    b.gateMixBackward!(wt, x, gm, gl, gx, shape),
  );
  expectClose(bwd.got[0], bwd.want[0], 1e-4, 1e-5, 'gLogits');
  expectClose(bwd.got[1], bwd.want[1], 1e-4, 1e-5, 'gExperts');
}

export const SIZES = [1, 3, 17, 1000, 4099];

/** Broadcast binary cases shared by the backends' kernel tests: [output shape, a strides, b strides]; a stride of 0 broadcasts. */
export const BROADCAST_CASES: Array<[number[], number[], number[]]> = [
  ...SIZES.map((n): [number[], number[], number[]] => [[n], [1], [1]]),
  [
    [3, 17],
    [17, 1],
    [0, 1],
  ],
  [
    [3, 17],
    [1, 3],
    [1, 0],
  ],
  [
    [5, 4, 3],
    [12, 3, 1],
    [1, 0, 0],
  ],
  [
    [2, 1, 3, 2, 2, 3],
    [36, 36, 12, 6, 3, 1],
    [0, 0, 1, 0, 3, 0],
  ],
  [
    [41, 29],
    [29, 1],
    [0, 0],
  ],
];

export { contiguousStrides as contiguous };
export const prod = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
