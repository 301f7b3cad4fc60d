// Shared by the raw-kernel suites (webgpu-kernels, wasm-kernels): seeded inputs, running one kernel on
// the CPU reference and on another backend with the same inputs, and the comparisons.
import { expect } from 'vitest';
import type { Backend, Buffer, TypedArray } from '../../src/backend/backend.js';
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
  for (let i = 0; i < w.length && first < 0; i++) if (g[i] !== w[i] && !(floats && Number.isNaN(got[i]) && Number.isNaN(want[i]))) first = i;
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
    const r = await onBoth(backend, [table, ids], [{ size: count * width, init }], (b, [t, i], [o]) => b.gatherRows(t, i, ids, o, dim, into));
    const want = Float32Array.from(init);
    for (let i = 0; i < count; i++) want.set(table.subarray(ids[i] * dim, (ids[i] + 1) * dim), offset + i * width);
    expectBitExact(r.want[0], want, `reference gather into [${count}, ${width}] at column ${offset}`);
    expectBitExact(r.got[0], want, `gather into [${count}, ${width}] at column ${offset}`, payloads);
  }
}

export const SIZES = [1, 3, 17, 1000, 4099];

export { contiguousStrides as contiguous } from '../../src/backend/backend.js';
export const prod = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
