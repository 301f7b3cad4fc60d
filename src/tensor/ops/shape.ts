// Shape ops: views and copies that move values without arithmetic (reshape, transpose, slice, concat, ...).
import { contiguousStrides } from '../../backend/backend.js';
import { checkShape, describeValue, empty, fmtShape, type Shape, sizeOf, Tensor, zeros } from '../tensor.js';
import { broadcastShapes, broadcastStrides, checkRank, insertAxis, normAxis, record, sameBackend } from './internal.js';
import { stridedCopy } from './raw.js';
import { sumTo } from './reduce.js';

/** Same data, new shape (a view; -1 infers one axis). */
export function reshape(x: Tensor, shape: number[]): Tensor {
  if (!Array.isArray(shape)) throw new Error(`reshape: shape must be an array of dimensions (e.g. [2, -1]), got ${describeValue(shape)}`);
  let infer = -1;
  let known = 1;
  shape.forEach((d: unknown, i) => {
    if (d === -1) {
      if (infer >= 0)
        throw new Error(
          `reshape: only one dimension can be -1, but axes ${infer} and ${i} of ${fmtShape(shape)} are; give the others explicitly`,
        );
      infer = i;
    } else if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new Error(
        `reshape: axis ${i} of shape ${fmtShape(shape)} is ${typeof d === 'number' ? d : describeValue(d)}; each dimension must be a non-negative integer, or -1 (once) to infer it`,
      );
    } else known *= d;
  });
  if (infer >= 0 && known === 0 && x.size === 0) {
    throw new Error(
      `reshape: the -1 in ${fmtShape(shape)} is ambiguous for ${x.describe()}: the other dimensions hold 0 elements, so any size fits; give every dimension explicitly`,
    );
  }
  const resolved = infer >= 0 ? shape.map((d) => (d === -1 ? (known === 0 ? -1 : x.size / known) : d)) : shape;
  if (resolved.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(resolved) !== x.size) {
    throw new Error(`reshape: cannot view ${x.describe()} (${x.size} elements) as ${fmtShape(shape)}; the element counts must match`);
  }
  const out = x.view(resolved);
  return record(out, 'reshape', [x], (g) => [reshape(g, [...x.shape])]);
}

/** Permutes axes (default: reverses them). Materialises a copy; matmul takes transA/transB instead. */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw new Error(`transpose: ${fmtShape(p)} is not a permutation of the ${x.rank} axes of ${x.describe()}`);
  }
  const strides = contiguousStrides(x.shape);
  const out = stridedCopy(
    'transpose',
    x,
    p.map((a) => x.shape[a]),
    0,
    p.map((a) => strides[a]),
  );
  const inverse = p.map((_, i) => p.indexOf(i));
  return record(out, 'transpose', [x], (g) => [transpose(g, inverse)]);
}

/** Materialises x repeated to `shape` (numpy broadcasting rules). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  checkShape('broadcastTo', shape);
  const target = broadcastShapes('broadcastTo', x.shape, shape);
  if (target.join() !== shape.join()) throw new Error(`broadcastTo: ${x.describe()} cannot be broadcast to ${fmtShape(shape)}`);
  if (x.shape.join() === shape.join()) return x;
  const out = stridedCopy('broadcastTo', x, shape, 0, broadcastStrides(x.shape, shape));
  return record(out, 'broadcastTo', [x], (g) => [sumTo(g, x.shape)]);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = insertAxis('unsqueeze', axis, x.rank);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${axis} of ${x.describe()} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== a),
  );
}

/** x[begin : begin + size] per axis (size -1 = to the end). */
export function slice(x: Tensor, begin: number[], size?: number[]): Tensor {
  if (begin.length !== x.rank || (size && size.length !== x.rank)) {
    throw new Error(
      `slice: begin ${fmtShape(begin)}${size ? ` and size ${fmtShape(size)}` : ''} must have one entry per axis of ${x.describe()}`,
    );
  }
  begin.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(
        `slice: begin ${fmtShape(begin)}: axis ${i} is ${typeof v === 'number' ? v : describeValue(v)}; begins must be integers >= 0`,
      );
    }
  });
  size?.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -1) {
      throw new Error(
        `slice: size ${fmtShape(size)}: axis ${i} is ${typeof v === 'number' ? v : describeValue(v)}; sizes must be integers >= 0, or -1 for "to the end"`,
      );
    }
  });
  const sz = x.shape.map((d, i) => (size && size[i] !== -1 ? size[i] : d - begin[i]));
  x.shape.forEach((d, i) => {
    if (begin[i] < 0 || sz[i] < 0 || begin[i] + sz[i] > d) {
      throw new Error(`slice: axis ${i} range [${begin[i]}, ${begin[i] + sz[i]}) is outside ${x.describe()}`);
    }
  });
  const strides = contiguousStrides(x.shape);
  const offset = begin.reduce((o, b, i) => o + b * strides[i], 0);
  const out = stridedCopy('slice', x, sz, offset, strides);
  return record(out, 'slice', [x], (g) => [pad(g, x.shape, begin)]);
}

/** Places x inside zeros of `shape` at `begin` (the backward of slice). */
export function pad(x: Tensor, shape: Shape, begin: number[]): Tensor {
  checkShape('pad', shape);
  if (!Array.isArray(begin) || shape.length !== x.rank || begin.length !== x.rank) {
    throw new Error(
      `pad: shape ${fmtShape(shape)} and begin ${Array.isArray(begin) ? fmtShape(begin) : describeValue(begin)} must have one entry per axis of ${x.describe()}`,
    );
  }
  begin.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(
        `pad: begin ${fmtShape(begin)}: axis ${i} is ${typeof v === 'number' ? v : describeValue(v)}; begins must be integers >= 0`,
      );
    }
    if (v + x.shape[i] > shape[i]) {
      throw new Error(
        `pad: axis ${i}: ${x.describe()} placed at ${v} needs ${v + x.shape[i]}, but shape ${fmtShape(shape)} has ${shape[i]}; enlarge the shape or move the begin`,
      );
    }
  });
  const out = zeros(shape, { backend: x.backend, dtype: x.dtype });
  const strides = contiguousStrides(shape);
  stridedCopy('pad', x, x.shape, 0, contiguousStrides(x.shape), {
    t: out,
    offset: begin.reduce((o, b, i) => o + b * strides[i], 0),
    strides,
  });
  return record(out, 'pad', [x], (g) => [slice(g, begin, [...x.shape])]);
}

export function concat(xs: Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: needs a non-empty array of tensors');
  xs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`concat: input ${i} is not a Tensor (got ${describeValue(t)})`);
  });
  const backend = sameBackend('concat', xs);
  const a = normAxis('concat', axis, xs[0].rank);
  for (const t of xs) {
    if (t.rank !== xs[0].rank || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i]) || t.dtype !== xs[0].dtype) {
      throw new Error(`concat: ${t.describe()} does not match ${xs[0].describe()} outside axis ${a}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.reduce((n, t) => n + t.shape[a], 0);
  checkRank('concat', shape);
  const out = empty(shape, xs[0].dtype, backend);
  const outStrides = contiguousStrides(shape);
  let at = 0;
  for (const t of xs) {
    stridedCopy('concat', t, t.shape, 0, contiguousStrides(t.shape), { t: out, offset: at * outStrides[a], strides: outStrides });
    at += t.shape[a];
  }
  const sizes = xs.map((t) => t.shape[a]);
  return record(out, 'concat', xs, (g) => split(g, sizes, a));
}

/** Splits along an axis into pieces of the given sizes (or n equal pieces). */
export function split(x: Tensor, sizes: number[] | number, axis = 0): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const dim = x.shape[a];
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) {
      throw new Error(`split: count ${sizes} must be a positive integer (the number of equal pieces), or pass an array of piece sizes`);
    }
    if (dim % sizes !== 0) {
      throw new Error(
        `split: axis ${a} of ${x.describe()} has ${dim}, which does not split into ${sizes} equal pieces; pass an array of piece sizes`,
      );
    }
    parts = Array(sizes).fill(dim / sizes);
  } else {
    if (!Array.isArray(sizes))
      throw new Error(`split: sizes must be a number of pieces or an array of piece sizes, got ${describeValue(sizes)}`);
    sizes.forEach((v: unknown, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new Error(
          `split: size ${typeof v === 'number' ? v : describeValue(v)} at position ${i} of ${fmtShape(sizes)} must be a non-negative integer`,
        );
      }
    });
    const total = sizes.reduce((s, v) => s + v, 0);
    if (total !== dim) throw new Error(`split: sizes ${fmtShape(sizes)} add up to ${total}, not ${dim} (axis ${a} of ${x.describe()})`);
    parts = sizes;
  }
  let at = 0;
  return parts.map((n) => {
    const begin = x.shape.map((_, i) => (i === a ? at : 0));
    const size = x.shape.map((d, i) => (i === a ? n : d));
    at += n;
    return slice(x, begin, size);
  });
}

export function stack(xs: Tensor[], axis = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('stack: needs a non-empty array of tensors');
  xs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`stack: input ${i} is not a Tensor (got ${describeValue(t)})`);
  });
  for (const t of xs) {
    if (t.shape.join() !== xs[0].shape.join()) throw new Error(`stack: ${t.describe()} differs from ${xs[0].describe()}`);
  }
  const a = insertAxis('stack', axis, xs[0].rank);
  return concat(
    xs.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** Copies src's values into dst in place (same shape), outside the tape. */
export function assign(dst: Tensor, src: Tensor): void {
  sameBackend('assign', [dst, src]);
  if (dst.shape.join() !== src.shape.join() || dst.dtype !== src.dtype) {
    throw new Error(`assign: ${src.describe()} does not match ${dst.describe()}`);
  }
  if (dst.size > 0) dst.backend.copy(src.buffer, dst.buffer, [dst.size], 0, [1], 0, [1]);
}
