// Shape/stride preparation for the strided kernels (binary, where, copy).

/** Dims the strided shaders index (their params hold two vec4s per operand). */
export const SHADER_RANK = 6;

export interface CollapsedShape {
  /** Element count of the iteration space. */
  n: number;
  shape: number[];
  /** One stride list per operand, aligned with `shape`. */
  strides: number[][];
}

/**
 * Drops size-1 dims and merges neighbouring dims that every operand walks contiguously
 * (stride[d-1] == stride[d] * shape[d]), so a plain elementwise op becomes rank 1.
 */
export function collapseDims(shape: readonly number[], strides: readonly (readonly number[])[]): CollapsedShape {
  for (const s of strides) {
    if (s.length !== shape.length) throw new Error(`WebGPUBackend: ${s.length} strides for a rank-${shape.length} shape`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d];
    if (size === 1) continue;
    const last = outShape.length - 1;
    const mergeable = last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * size);
    if (mergeable) {
      outShape[last] *= size;
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(size);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length > SHADER_RANK) {
    throw new Error(`WebGPUBackend: strided kernels support rank <= ${SHADER_RANK} after merging dims, got ${outShape.length}`);
  }
  return { n, shape: outShape, strides: outStrides };
}

/** Right-aligns a collapsed dim list into the shader's fixed rank (unused leading dims: size 1, stride 0). */
export function padFront(values: readonly number[], fill: number): number[] {
  return [...new Array<number>(SHADER_RANK - values.length).fill(fill), ...values];
}

/** Smallest and largest offset (relative to the base offset) that a strided walk touches; n > 0. */
export function offsetRange(shape: readonly number[], strides: readonly number[]): [number, number] {
  let lo = 0;
  let hi = 0;
  shape.forEach((size, d) => {
    const span = (size - 1) * strides[d];
    if (span < 0) lo += span;
    else hi += span;
  });
  return [lo, hi];
}
