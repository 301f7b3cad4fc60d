// Shape simplification for the strided kernels (binary, where, copy): axes of size 1 are dropped and
// neighbouring axes that every operand walks contiguously are merged, so a broadcast bias add over
// [E, B, H] becomes a short loop nest with a long SIMD inner row.

export interface Coalesced {
  shape: number[];
  /** One stride list per operand, aligned with shape. */
  strides: number[][];
  /** Number of elements (0 = nothing to do). */
  size: number;
}

export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Coalesced {
  let size = 1;
  for (const d of shape) size *= d;
  if (size === 0) return { shape: [], strides: strides.map(() => []), size: 0 };
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    // Merge axis d into the previous kept axis when, for every operand, stepping the previous axis
    // once equals stepping axis d shape[d] times.
    if (last >= 0 && strides.every((s, o) => outStrides[o][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, o) => (outStrides[o][last] = s[d]));
      continue;
    }
    outShape.push(shape[d]);
    strides.forEach((s, o) => outStrides[o].push(s[d]));
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]), size: 1 };
  return { shape: outShape, strides: outStrides, size };
}

export { contiguousStrides as contiguous } from '../backend.js';
