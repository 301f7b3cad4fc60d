// Ops: a forward through the backend's primitives plus a backward rule written in terms of other
// ops, so every rule works on every backend. Each op validates its inputs before allocating
// anything, so a failed op leaves its inputs untouched.
import { MAX_RANK, contiguousStrides, type Backend, type BinaryOp, type DType, type UnaryOp } from '../backend/backend.js';
import { BCE_GRAD_EPS } from '../backend/backend.js';
import { isGradEnabled, keep, noGrad, stageWrite } from './engine.js';
import { Tensor, checkShape, describeValue, empty, fmtShape, full, sizeOf, zeros, type GradNode, type Shape } from './tensor.js';

// ---- helpers -----------------------------------------------------------------------------------

function sameBackend(op: string, ts: Tensor[]): Backend {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) {
      throw new Error(
        `${op}: inputs live on different backends (${b.name} and ${t.backend.name}); move them to one backend first (e.g. create both after wm.init)`,
      );
    }
  }
  return b;
}

function needFloat(op: string, ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32') {
      throw new Error(`${op}: needs float32 inputs but got ${t.describe()}; int32 tensors are for ids (gatherRows/indexSelect)`);
    }
  }
}

function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds the supported ${MAX_RANK}`);
}

/** Records the op on the tape when any input needs a gradient. */
function record(out: Tensor, op: string, inputs: Tensor[], backward: GradNode['backward']): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

export { contiguousStrides };

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (axis ${i} from the left of the aligned shapes: ${da} vs ${db}); reshape one so each axis is equal or 1`,
      );
    }
    // As PyTorch: 1 stretches to the other size, including 0 (an empty axis stays empty).
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `outShape` (0 on repeated axes). */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = contiguousStrides(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]));
}

/** Sums g (of a broadcast result) back to `shape`. Returns g itself when nothing to do. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const offset = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < offset || (shape[i - offset] === 1 && g.shape[i] !== 1)) axes.push(i);
  return reshape(sum(g, axes, false), [...shape]);
}

const normAxis = (op: string, axis: number, rank: number): number => {
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw new Error(`${op}: axis ${typeof axis === 'number' ? axis : describeValue(axis)} must be an integer (0 is the first axis, -1 the last)`);
  }
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new Error(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
};

// ---- elementwise -------------------------------------------------------------------------------

function unaryOp(op: string, x: Tensor, kind: UnaryOp, p0: number, p1: number, backward: (g: Tensor, y: Tensor) => Tensor): Tensor {
  needFloat(op, [x]);
  const out = empty(x.shape, 'f32', x.backend);
  if (x.size > 0) x.backend.unary(kind, x.buffer, out.buffer, x.size, p0, p1);
  return record(out, op, [x], (g) => [backward(g, out)]);
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x, 'neg', 0, 0, (g) => neg(g));
export const exp = (x: Tensor): Tensor => unaryOp('exp', x, 'exp', 0, 0, (g, y) => mul(g, y));
export const log = (x: Tensor): Tensor => unaryOp('log', x, 'log', 0, 0, (g) => div(g, x));
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x, 'sqrt', 0, 0, (g, y) => div(mulScalar(g, 0.5), y));
export const abs = (x: Tensor): Tensor => unaryOp('abs', x, 'abs', 0, 0, (g) => mul(g, unaryRaw(x, 'sign')));
export const square = (x: Tensor): Tensor => unaryOp('square', x, 'square', 0, 0, (g) => mul(g, mulScalar(x, 2)));
export const relu = (x: Tensor): Tensor => unaryOp('relu', x, 'relu', 0, 0, (g) => mul(g, unaryRaw(x, 'gtScalar', 0)));
export const sigmoid = (x: Tensor): Tensor =>
  unaryOp('sigmoid', x, 'sigmoid', 0, 0, (g, y) => mul(g, mul(y, affine(y, -1, 1))));
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x, 'tanh', 0, 0, (g, y) => mul(g, affine(square(y), -1, 1)));
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor =>
  unaryOp('leakyRelu', x, 'leakyRelu', slope, 0, (g) => mul(g, affine(unaryRaw(x, 'gtScalar', 0), 1 - slope, slope)));
export const clamp = (x: Tensor, min: number, max: number): Tensor => {
  if (!(min <= max)) throw new Error(`clamp: min (${min}) must not exceed max (${max})`);
  return unaryOp('clamp', x, 'clamp', min, max, (g) => mul(g, unaryRaw(x, 'inRange', min, max)));
};
/** x * scale + shift, one kernel. */
export const affine = (x: Tensor, scale: number, shift: number): Tensor =>
  unaryOp('affine', x, 'affine', scale, shift, (g) => mulScalar(g, scale));
const mulScalar = (x: Tensor, s: number): Tensor => affine(x, s, 0);
const powScalar = (x: Tensor, p: number): Tensor =>
  unaryOp('pow', x, 'powScalar', p, 0, (g) => mul(g, mulScalar(powScalar(x, p - 1), p)));

/** A unary kernel with no gradient (masks, signs). */
function unaryRaw(x: Tensor, kind: UnaryOp, p0 = 0, p1 = 0): Tensor {
  const out = empty(x.shape, 'f32', x.backend);
  if (x.size > 0) x.backend.unary(kind, x.buffer, out.buffer, x.size, p0, p1);
  return out;
}

function binaryRaw(op: string, kind: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const backend = sameBackend(op, [a, b]);
  needFloat(op, [a, b]);
  const shape = broadcastShapes(op, a.shape, b.shape);
  checkRank(op, shape);
  const out = empty(shape, 'f32', backend);
  if (out.size > 0) backend.binary(kind, a.buffer, b.buffer, out.buffer, shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  return out;
}

function binaryOp(op: string, kind: BinaryOp, a: Tensor, b: Tensor, backward: (g: Tensor, out: Tensor) => [Tensor | null, Tensor | null]): Tensor {
  const out = binaryRaw(op, kind, a, b);
  return record(out, op, [a, b], (g) => {
    const [ga, gb] = backward(g, out);
    return [ga && a.requiresGrad ? sumTo(ga, a.shape) : null, gb && b.requiresGrad ? sumTo(gb, b.shape) : null];
  });
}

export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, 1, b);
  return binaryOp('add', 'add', a, b, (g) => [g, g]);
}
export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, 1, -b);
  return binaryOp('sub', 'sub', a, b, (g) => [g, b.requiresGrad ? neg(g) : null]);
}
export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return mulScalar(a, b);
  return binaryOp('mul', 'mul', a, b, (g) => [a.requiresGrad ? mul(g, b) : null, b.requiresGrad ? mul(g, a) : null]);
}
export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return mulScalar(a, 1 / b);
  return binaryOp('div', 'div', a, b, (g, out) => [a.requiresGrad ? div(g, b) : null, b.requiresGrad ? neg(div(mul(g, out), b)) : null]);
}
export function pow(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return powScalar(a, b);
  return binaryOp('pow', 'pow', a, b, (g, out) => [
    a.requiresGrad ? mul(g, mul(b, pow(a, sub(b, 1)))) : null,
    b.requiresGrad ? mul(g, mul(out, log(a))) : null,
  ]);
}
/** Elementwise maximum; the gradient goes to a where a > b, to b where b > a, and half to each where a == b (as torch.maximum). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return binaryOp('maximum', 'max', a, b, (g) => {
    // m = 1 where a > b, ½ on a tie, 0 where b > a.
    const m = affine(sub(binaryRaw('maximum', 'gt', a, b), binaryRaw('maximum', 'gt', b, a)), 0.5, 0.5);
    return [mul(g, m), mul(g, affine(m, -1, 1))];
  });
}

/** cond ? a : b elementwise (cond is a float mask, non-zero = true), with broadcasting. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const backend = sameBackend('where', [cond, a, b]);
  needFloat('where', [cond, a, b]);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, a.shape), b.shape);
  checkRank('where', shape);
  const out = empty(shape, 'f32', backend);
  if (out.size > 0) backend.where(cond.buffer, a.buffer, b.buffer, out.buffer, shape, broadcastStrides(cond.shape, shape), broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  return record(out, 'where', [a, b], (g) => {
    const zero = zeros([1], { backend });
    return [a.requiresGrad ? sumTo(where(cond, g, zero), a.shape) : null, b.requiresGrad ? sumTo(where(cond, zero, g), b.shape) : null];
  });
}

/** PReLU: x where x > 0, weight·x elsewhere; weight broadcasts against x (one slope or one per channel). */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  return sub(relu(x), mul(weight, relu(neg(x))));
}

// ---- reductions --------------------------------------------------------------------------------

function normAxes(op: string, x: Tensor, axis: number | number[] | undefined): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => normAxis(op, a, x.rank));
  return [...new Set(axes)].sort((p, q) => p - q);
}

function reduceAlong(kind: 'sum' | 'max', x: Tensor, axis: number): Tensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const shape = x.shape.filter((_, i) => i !== axis);
  const out = empty(shape, 'f32', x.backend);
  // Over an empty axis: the sum of nothing is 0 (max over one is rejected before this).
  if (out.size > 0 && x.shape[axis] === 0) x.backend.fill(out.buffer, kind === 'sum' ? 0 : -Infinity, out.size);
  else if (out.size > 0) x.backend.reduce(kind, x.buffer, out.buffer, outer, x.shape[axis], inner);
  return out;
}

/** Raw multi-axis reduction (no tape) with keepDims shape. */
function reduceRaw(kind: 'sum' | 'max', x: Tensor, axes: number[]): Tensor {
  let cur = x;
  for (let i = axes.length - 1; i >= 0; i--) {
    const next = reduceAlong(kind, cur, axes[i]);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  if (cur === x) return cur.view(kept);
  const v = cur.view(kept);
  cur.dispose();
  return v;
}

export function sum(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  needFloat('sum', [x]);
  const axes = normAxes('sum', x, axis);
  const kept = reduceRaw('sum', x, axes);
  const out = keepDims ? kept : dropAxes(kept, axes);
  return record(out, 'sum', [x], (g) => [broadcastTo(reshape(g, kept.shape as number[]), x.shape)]);
}

export function mean(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  needFloat('mean', [x]);
  const axes = normAxes('mean', x, axis);
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  if (count === 0) {
    // The mean of nothing is NaN (as torch); x is empty, so its gradient is too.
    const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const out = full(shape, NaN, { backend: x.backend });
    return record(out, 'mean', [x], () => [zeros(x.shape, { backend: x.backend })]);
  }
  return mulScalar(sum(x, axes, keepDims), 1 / count);
}

/** Maximum over axes; the gradient is split evenly between tied maxima. */
export function max(x: Tensor, axis?: number | number[], keepDims = false): Tensor {
  needFloat('max', [x]);
  const axes = normAxes('max', x, axis);
  const emptyAxis = axes.find((a) => x.shape[a] === 0);
  if (emptyAxis !== undefined) {
    throw new Error(
      `max: axis ${emptyAxis} of ${x.describe()} has size 0, and the maximum over an empty axis is undefined (as in torch); reduce over non-empty axes or check for empty input first`,
    );
  }
  const kept = reduceRaw('max', x, axes);
  // The backward needs the kept-dims maxima, so the result is a view of them.
  const out = keepDims ? kept : kept.view(x.shape.filter((_, i) => !axes.includes(i)));
  return record(out, 'max', [x], (g) => {
    const mask = binaryRaw('max', 'eq', x, kept);
    const count = reduceRaw('sum', mask, axes);
    return [mul(mask, div(reshape(g, kept.shape as number[]), count))];
  });
}

function dropAxes(t: Tensor, axes: number[]): Tensor {
  const v = t.view(t.shape.filter((_, i) => !axes.includes(i)));
  t.dispose();
  return v;
}

// ---- shape -------------------------------------------------------------------------------------

/** Same data, new shape (a view; -1 infers one axis). */
export function reshape(x: Tensor, shape: number[]): Tensor {
  if (!Array.isArray(shape)) throw new Error(`reshape: shape must be an array of dimensions (e.g. [2, -1]), got ${describeValue(shape)}`);
  let infer = -1;
  let known = 1;
  shape.forEach((d: unknown, i) => {
    if (d === -1) {
      if (infer >= 0) throw new Error(`reshape: only one dimension can be -1, but axes ${infer} and ${i} of ${fmtShape(shape)} are; give the others explicitly`);
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

function stridedCopy(op: string, x: Tensor, shape: Shape, srcOffset: number, srcStrides: number[], dst?: { t: Tensor; offset: number; strides: number[] }): Tensor {
  checkRank(op, shape);
  const out = dst?.t ?? empty(shape, x.dtype, x.backend);
  if (sizeOf(shape) > 0) {
    x.backend.copy(x.buffer, out.buffer, [...shape], srcOffset, srcStrides, dst?.offset ?? 0, dst?.strides ?? contiguousStrides(shape));
  }
  return out;
}

/** Permutes axes (default: reverses them). Materialises a copy; matmul takes transA/transB instead. */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw new Error(`transpose: ${fmtShape(p)} is not a permutation of the ${x.rank} axes of ${x.describe()}`);
  }
  const strides = contiguousStrides(x.shape);
  const out = stridedCopy('transpose', x, p.map((a) => x.shape[a]), 0, p.map((a) => strides[a]));
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

/** An axis at which a new axis can be inserted: -rank-1 … rank. */
function insertAxis(op: string, axis: number, rank: number): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank - 1 || axis > rank) {
    throw new Error(`${op}: axis ${typeof axis === 'number' ? axis : describeValue(axis)} is not an integer in [${-rank - 1}, ${rank}] for inputs of rank ${rank}`);
  }
  return axis < 0 ? axis + rank + 1 : axis;
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = insertAxis('unsqueeze', axis, x.rank);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normAxis('squeeze', axis, x.rank);
  if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${axis} of ${x.describe()} has size ${x.shape[a]}, not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** x[begin : begin + size] per axis (size -1 = to the end). */
export function slice(x: Tensor, begin: number[], size?: number[]): Tensor {
  if (begin.length !== x.rank || (size && size.length !== x.rank)) {
    throw new Error(`slice: begin ${fmtShape(begin)}${size ? ` and size ${fmtShape(size)}` : ''} must have one entry per axis of ${x.describe()}`);
  }
  begin.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(`slice: begin ${fmtShape(begin)}: axis ${i} is ${typeof v === 'number' ? v : describeValue(v)}; begins must be integers >= 0`);
    }
  });
  size?.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -1) {
      throw new Error(`slice: size ${fmtShape(size)}: axis ${i} is ${typeof v === 'number' ? v : describeValue(v)}; sizes must be integers >= 0, or -1 for "to the end"`);
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
    throw new Error(`pad: shape ${fmtShape(shape)} and begin ${Array.isArray(begin) ? fmtShape(begin) : describeValue(begin)} must have one entry per axis of ${x.describe()}`);
  }
  begin.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(`pad: begin ${fmtShape(begin)}: axis ${i} is ${typeof v === 'number' ? v : describeValue(v)}; begins must be integers >= 0`);
    }
    if (v + x.shape[i] > shape[i]) {
      throw new Error(`pad: axis ${i}: ${x.describe()} placed at ${v} needs ${v + x.shape[i]}, but shape ${fmtShape(shape)} has ${shape[i]}; enlarge the shape or move the begin`);
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
      throw new Error(`split: axis ${a} of ${x.describe()} has ${dim}, which does not split into ${sizes} equal pieces; pass an array of piece sizes`);
    }
    parts = Array(sizes).fill(dim / sizes);
  } else {
    if (!Array.isArray(sizes)) throw new Error(`split: sizes must be a number of pieces or an array of piece sizes, got ${describeValue(sizes)}`);
    sizes.forEach((v: unknown, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new Error(`split: size ${typeof v === 'number' ? v : describeValue(v)} at position ${i} of ${fmtShape(sizes)} must be a non-negative integer`);
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
  return concat(xs.map((t) => unsqueeze(t, a)), a);
}

// ---- matmul ------------------------------------------------------------------------------------

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * Matrix product of the last two axes. 2-D × 2-D, or batched: 3-D × 3-D (same batch), 3-D × 2-D and
 * 2-D × 3-D (the 2-D operand is shared by every batch entry — e.g. one input through E experts).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  return product('matmul', a, b, null, opts);
}

/**
 * x·W + b, a Linear layer: x [rows, in], W [in, out], b [out]; or E stacked layers batched as matmul
 * batches them (x [rows, in] or [E, rows, in], W [E, in, out], b [E, 1, out] or [out]). Backends with
 * matmulBias do it in one pass; the values are those of matmul followed by add.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  if (!bias) return matmul(x, weight);
  const n = weight.shape[weight.rank - 1];
  const batch = x.rank === 3 ? x.shape[0] : weight.rank === 3 ? weight.shape[0] : 0;
  const rowShaped = bias.shape.join() === String(n) || (batch > 0 && bias.shape.join() === [batch, 1, n].join());
  const fused = x.backend.matmulBias !== undefined && bias.backend === x.backend && bias.dtype === 'f32' && rowShaped;
  return fused ? product('linear', x, weight, bias, {}) : add(matmul(x, weight), bias);
}

function product(op: string, a: Tensor, b: Tensor, bias: Tensor | null, opts: MatmulOptions): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const backend = sameBackend(op, bias ? [a, b, bias] : [a, b]);
  needFloat(op, bias ? [a, b, bias] : [a, b]);
  if (a.rank < 2 || a.rank > 3 || b.rank < 2 || b.rank > 3) {
    throw new Error(`${op}: operands must be 2-D or 3-D, got ${a.describe()} and ${b.describe()}`);
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, k] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (k !== kb) {
    throw new Error(
      `${op}: inner dimensions differ: ${a.describe()}${transA ? 'ᵀ' : ''} · ${b.describe()}${transB ? 'ᵀ' : ''} needs ${k} == ${kb}; transpose an operand (transA/transB) or fix the layer sizes`,
    );
  }
  const aBatch = a.rank === 3 ? a.shape[0] : 1;
  const bBatch = b.rank === 3 ? b.shape[0] : 1;
  if (a.rank === 3 && b.rank === 3 && aBatch !== bBatch) {
    throw new Error(`${op}: batch sizes differ: ${a.describe()} and ${b.describe()}`);
  }
  // A 3-D operand sets the batch (which may be 0); a shared 2-D operand follows it.
  const batch = a.rank === 3 ? aBatch : bBatch;
  const batched = a.rank === 3 || b.rank === 3;
  // The bias: one row of n for every product ([n]), or one per batch entry ([batch, 1, n]).
  const perEntry = bias !== null && bias.rank === 3;
  if (bias && (perEntry ? bias.shape.join() !== [batch, 1, n].join() : bias.shape.join() !== String(n))) {
    throw new Error(`${op}: bias ${bias.describe()} must be [${n}]${batched ? ` or [${batch}, 1, ${n}]` : ''} for the product ${a.describe()} · ${b.describe()}`);
  }
  if (bias && k === 0 && batch * m * n > 0) {
    // Nothing to sum over: the product is zeros and the result is the bias, broadcast.
    return add(product(op, a, b, null, opts), bias);
  }
  const out = empty(batched ? [batch, m, n] : [m, n], 'f32', backend);
  const shape = {
    batch, m, n, k, transA, transB,
    aBatchStride: a.rank === 3 ? ar * ac : 0,
    bBatchStride: b.rank === 3 ? br * bc : 0,
  };
  if (out.size === 0) {
    // An empty result: no kernel.
  } else if (k === 0) backend.fill(out.buffer, 0, out.size); // a sum of no products
  else if (bias) backend.matmulBias!(a.buffer, b.buffer, bias.buffer, out.buffer, { ...shape, biasBatchStride: perEntry ? n : 0 });
  else backend.matmul(a.buffer, b.buffer, out.buffer, shape);
  return record(out, op, bias ? [a, b, bias] : [a, b], (g) => {
    // C = op(A)·op(B):  d op(A) = G·op(B)ᵀ,  d op(B) = op(A)ᵀ·G; a shared 2-D operand sums over the batch.
    const fold = (t: Tensor, target: Tensor): Tensor => (target.rank === 2 && t.rank === 3 ? sum(t, 0) : t);
    // A shared 2-D operand's gradient sums E products; as one product over the stacked batch it needs
    // no [E, ·, ·] intermediate: Σ_e G[e]·op(B[e])ᵀ = [G[0] … G[E-1]] · [op(B[0])ᵀ; …; op(B[E-1])ᵀ].
    const sharedA = a.rank === 2 && b.rank === 3 && !transA;
    const sharedB = b.rank === 2 && a.rank === 3 && !transA;
    const ga = !a.requiresGrad
      ? null
      : sharedA
        ? matmul(reshape(transpose(g, [1, 0, 2]), [m, batch * n]), transB ? reshape(b, [batch * n, k]) : reshape(transpose(b, [0, 2, 1]), [batch * n, k]))
        : fold(transA ? matmul(b, g, { transA: transB, transB: true }) : matmul(g, b, { transB: !transB }), a);
    const gb = !b.requiresGrad
      ? null
      : sharedB
        ? transB
          ? matmul(reshape(g, [batch * m, n]), reshape(a, [batch * m, k]), { transA: true })
          : matmul(reshape(a, [batch * m, k]), reshape(g, [batch * m, n]), { transA: true })
        : fold(transB ? matmul(g, a, { transA: true, transB: transA }) : matmul(a, g, { transA: !transA }), b);
    if (!bias) return [ga, gb];
    return [ga, gb, bias.requiresGrad ? sumTo(g, bias.shape) : null];
  });
}

// ---- softmax -----------------------------------------------------------------------------------

function softmaxRaw(op: string, x: Tensor, log: boolean): Tensor {
  needFloat(op, [x]);
  if (x.rank === 0) throw new Error(`${op}: needs at least one axis`);
  const cols = x.shape[x.rank - 1];
  const out = empty(x.shape, 'f32', x.backend);
  if (out.size > 0) x.backend.softmax(x.buffer, out.buffer, x.size / Math.max(cols, 1), cols, log);
  return out;
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const y = softmaxRaw('softmax', x, false);
  return record(y, 'softmax', [x], (g) => [mul(y, sub(g, sum(mul(g, y), -1, true)))]);
}

/** log(softmax(x)) over the last axis, computed stably. */
export function logSoftmax(x: Tensor): Tensor {
  const y = softmaxRaw('logSoftmax', x, true);
  return record(y, 'logSoftmax', [x], (g) => [sub(g, mul(exp(y), sum(g, -1, true)))]);
}

// ---- gather ------------------------------------------------------------------------------------

/** [min, max] of each host ids array, computed once: ids tensors are immutable, and a step gathers them several times. */
const idRanges = new WeakMap<Int32Array, [number, number]>();

function idRange(host: Int32Array): [number, number] {
  let range = idRanges.get(host);
  if (!range) {
    let [lo, hi] = [Infinity, -Infinity];
    for (let i = 0; i < host.length; i++) {
      if (host[i] < lo) lo = host[i];
      if (host[i] > hi) hi = host[i];
    }
    range = [lo, hi];
    idRanges.set(host, range);
  }
  return range;
}

function checkIds(op: string, ids: Tensor, vocab: number, what: string): Int32Array {
  if (ids.dtype !== 'i32') throw new Error(`${op}: ids must be int32, got ${ids.describe()}; build them with Int32Array`);
  const host = ids.hostIds;
  if (!host) {
    throw new Error(`${op}: ids ${ids.describe()} must be created from host data (wm.tensor(Int32Array ...)) so they can be validated before the kernel runs`);
  }
  const [lo, hi] = idRange(host);
  if (lo >= 0 && hi < vocab) return host;
  const i = host.findIndex((id) => id < 0 || id >= vocab);
  throw new Error(`${op}: id ${host[i]} at position ${i} is outside [0, ${vocab}) for ${what}; raise the vocabulary size or encode unknown ids (e.g. to 0)`);
}

/** table[ids] along axis 0: an embedding lookup. Backward: scatter-add into the table's rows. */
export function gatherRows(table: Tensor, ids: Tensor, what = `table ${table.describe()}`): Tensor {
  const backend = sameBackend('gatherRows', [table, ids]);
  needFloat('gatherRows', [table]);
  if (table.rank < 1) throw new Error(`gatherRows: table must have at least one axis, got ${table.describe()}`);
  const vocab = table.shape[0];
  const host = checkIds('gatherRows', ids, vocab, what);
  const dim = table.size / Math.max(vocab, 1);
  const out = empty([...ids.shape, ...table.shape.slice(1)], 'f32', backend);
  if (out.size > 0) backend.gatherRows(table.buffer, ids.buffer, host, out.buffer, dim);
  return record(out, 'gatherRows', [table, ids], (g) => [scatterAddRows(g, ids, vocab, table.shape.slice(1)), null]);
}

/** An embedding lookup for gatherConcat: rows of `table` [vocab, dim] at 1-D `ids`. */
export interface RowLookup {
  table: Tensor;
  ids: Tensor;
  /** Names the table in error messages, e.g. "feature 'user_id' (vocabulary 1000)". */
  what?: string;
}

/**
 * concat([gatherRows(table, ids) for a lookup, or x for a [rows, width] tensor, …], axis 1): each
 * lookup is gathered straight into its columns, with no [rows, dim] tensor per feature (the input
 * layer of a recommender, many small embeddings side by side). Same values and gradients as the
 * gathers and concat it replaces.
 */
export function gatherConcat(parts: (RowLookup | Tensor)[]): Tensor {
  if (parts.length === 0) throw new Error('gatherConcat: needs at least one part');
  const tensors = parts.map((p) => (p instanceof Tensor ? p : p.table));
  const backend = sameBackend('gatherConcat', [...tensors, ...parts.flatMap((p) => (p instanceof Tensor ? [] : [p.ids]))]);
  needFloat('gatherConcat', tensors);
  const rows = parts[0] instanceof Tensor ? parts[0].shape[0] : parts[0].ids.shape[0];
  const widths = parts.map((p, i) => {
    if (p instanceof Tensor) {
      if (p.rank !== 2 || p.shape[0] !== rows) throw new Error(`gatherConcat: part ${i} ${p.describe()} must be [${rows}, width]`);
      return p.shape[1];
    }
    if (p.table.rank !== 2) throw new Error(`gatherConcat: the table of part ${i} must be [vocab, dim], got ${p.table.describe()}`);
    if (p.ids.rank !== 1 || p.ids.shape[0] !== rows) throw new Error(`gatherConcat: the ids of part ${i} must be [${rows}], got ${p.ids.describe()}`);
    return p.table.shape[1];
  });
  const hosts = parts.map((p) => (p instanceof Tensor ? null : checkIds('gatherConcat', p.ids, p.table.shape[0], p.what ?? `table ${p.table.describe()}`)));
  const starts = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
  const width = widths.reduce((a, b) => a + b, 0);
  const out = empty([rows, width], 'f32', backend);
  parts.forEach((p, i) => {
    if (rows === 0 || widths[i] === 0) return;
    if (p instanceof Tensor) stridedCopy('gatherConcat', p, p.shape, 0, contiguousStrides(p.shape), { t: out, offset: starts[i], strides: [width, 1] });
    else backend.gatherRows(p.table.buffer, p.ids.buffer, hosts[i]!, out.buffer, widths[i], { offset: starts[i], stride: width });
  });
  return record(out, 'gatherConcat', tensors, (g) =>
    parts.map((p, i) => {
      if (!tensors[i].requiresGrad) return null;
      const piece = slice(g, [0, starts[i]], [rows, widths[i]]);
      return p instanceof Tensor ? piece : scatterAddRows(piece, p.ids, p.table.shape[0], [widths[i]]);
    }),
  );
}

/** Sums rows of src into a [vocab, ...rowShape] tensor at ids (repeated ids accumulate). */
export function scatterAddRows(src: Tensor, ids: Tensor, vocab: number, rowShape: Shape): Tensor {
  const backend = sameBackend('scatterAddRows', [src, ids]);
  needFloat('scatterAddRows', [src]);
  if (typeof vocab !== 'number' || !Number.isInteger(vocab) || vocab < 0) {
    throw new Error(`scatterAddRows: vocab ${typeof vocab === 'number' ? vocab : describeValue(vocab)} must be a non-negative integer (the number of rows)`);
  }
  checkShape('scatterAddRows', rowShape);
  const host = checkIds('scatterAddRows', ids, vocab, `${vocab} rows`);
  const dim = sizeOf(rowShape);
  if (src.size !== host.length * dim) {
    throw new Error(`scatterAddRows: src ${src.describe()} does not hold ${host.length} rows of ${dim}`);
  }
  const out = empty([vocab, ...rowShape], 'f32', backend);
  if (out.size > 0 && host.length === 0) backend.fill(out.buffer, 0, out.size);
  else if (out.size > 0) backend.scatterAddRows(src.buffer, ids.buffer, host, out.buffer, vocab, dim);
  return record(out, 'scatterAddRows', [src, ids], (g) => [reshape(gatherRows(g, ids), [...src.shape]), null]);
}

/** Selects entries of x along `axis` at the given int32 indices. */
export function indexSelect(x: Tensor, axis: number, ids: Tensor): Tensor {
  const a = normAxis('indexSelect', axis, x.rank);
  if (ids.rank !== 1) throw new Error(`indexSelect: indices must be 1-D, got ${ids.describe()}`);
  if (a === 0) return gatherRows(x, ids, `axis 0 of ${x.describe()}`);
  const perm = x.shape.map((_, i) => i);
  perm.splice(a, 1);
  perm.unshift(a);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return transpose(gatherRows(transpose(x, perm), ids, `axis ${a} of ${x.describe()}`), inverse);
}

// ---- losses ------------------------------------------------------------------------------------

export type Reduction = 'mean' | 'sum' | 'none';

function reduceLoss(x: Tensor, reduction: Reduction): Tensor {
  return reduction === 'mean' ? mean(x) : reduction === 'sum' ? sum(x) : x;
}

function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.join() !== b.shape.join()) {
    throw new Error(`${op}: prediction ${a.describe()} and target ${b.describe()} must have the same shape`);
  }
}

/**
 * Binary cross-entropy on probabilities, as torch's BCELoss: −(y·max(log p, −100) + (1 − y)·max(log(1 − p), −100)),
 * gradient (p − y) / max(p·(1 − p), 1e-12) — so a confidently wrong row (p near 0 or 1) keeps learning.
 * Targets get no gradient.
 */
export function binaryCrossEntropy(p: Tensor, y: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkSameShape('binaryCrossEntropy', p, y);
  const out = binaryRaw('binaryCrossEntropy', 'bce', p, y);
  const loss = record(out, 'binaryCrossEntropy', [p], (g) => [mul(g, div(sub(p, y), clamp(mul(affine(p, -1, 1), p), BCE_GRAD_EPS, 1)))]);
  return reduceLoss(loss, reduction);
}

/** Binary cross-entropy on logits, stable for any magnitude. */
export function binaryCrossEntropyWithLogits(x: Tensor, y: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkSameShape('binaryCrossEntropyWithLogits', x, y);
  const out = binaryRaw('binaryCrossEntropyWithLogits', 'bceLogits', x, y);
  const loss = record(out, 'binaryCrossEntropyWithLogits', [x], (g) => [mul(g, sub(sigmoid(x), y))]);
  return reduceLoss(loss, reduction);
}

export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  checkSameShape('mseLoss', a, b);
  const out = binaryRaw('mseLoss', 'squaredError', a, b);
  const loss = record(out, 'mseLoss', [a, b], (g) => {
    const d = mul(g, mulScalar(sub(a, b), 2));
    return [d, b.requiresGrad ? neg(d) : null];
  });
  return reduceLoss(loss, reduction);
}

// ---- normalisation and regularisation ----------------------------------------------------------

export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * BatchNorm over the batch axis. x is [batch, C], or [G, batch, C] for G independent groups (a stack of
 * experts, each with its own statistics and affine parameters); gamma, beta and the running statistics
 * are [C] or [G, 1, C]. Training: batch statistics (biased variance), running statistics updated in
 * place (unbiased variance, as torch). Eval: running statistics. `relu`: followed by ReLU, which
 * backends with batchNormEval fold into the same pass at inference.
 */
export function batchNorm1d(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: BatchNormState,
  opts: { training: boolean; momentum?: number; eps?: number; relu?: boolean },
): Tensor {
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const axis = x.rank === 3 ? 1 : 0;
  const statShape = x.rank === 3 ? [x.shape[0], 1, x.shape[2]] : [x.shape[1]];
  const fits = (t: Tensor) => t.shape.join() === statShape.join();
  if ((x.rank !== 2 && x.rank !== 3) || ![gamma, beta, state.runningMean, state.runningVar].every(fits)) {
    throw new Error(
      `batchNorm1d: expected x [batch, C] or [groups, batch, C] with parameters and statistics ${fmtShape(statShape)}, got x ${x.describe()}, weight ${gamma.describe()}, running mean ${state.runningMean.describe()}`,
    );
  }
  const thenRelu = opts.relu ?? false;
  if (!opts.training) {
    const backend = x.backend;
    const taped = isGradEnabled() && [x, gamma, beta].some((t) => t.requiresGrad);
    const operands = [x, gamma, beta, state.runningMean, state.runningVar];
    if (backend.batchNormEval && x.size > 0 && !taped && operands.every((t) => t.dtype === 'f32') && sameBackend('batchNorm1d', operands) === backend) {
      // Inference: one pass instead of five ops (same values).
      const y = empty(x.shape, 'f32', backend);
      const p = { groups: x.rank === 3 ? x.shape[0] : 1, rows: x.shape[axis], channels: x.shape[x.rank - 1], eps, relu: thenRelu };
      backend.batchNormEval(x.buffer, state.runningMean.buffer, state.runningVar.buffer, gamma.buffer, beta.buffer, y.buffer, p);
      return y;
    }
    const scale = div(gamma, sqrt(add(state.runningVar, eps)));
    const y = add(mul(sub(x, state.runningMean), scale), beta);
    return thenRelu ? relu(y) : y;
  }
  const n = x.shape[axis];
  if (n < 2) throw new Error(`batchNorm1d: training needs more than one row per batch (got ${x.describe()}); use a larger batch or eval mode`);
  const backend = sameBackend('batchNorm1d', [x, gamma, beta, state.runningMean, state.runningVar]);
  if (backend.batchNormForward && backend.batchNormBackward && x.size > 0 && x.dtype === 'f32' && gamma.dtype === 'f32' && beta.dtype === 'f32') {
    const y = fusedBatchNorm(backend, x, gamma, beta, state, { n, eps, momentum, statShape });
    return thenRelu ? relu(y) : y;
  }
  const mu = mean(x, axis, x.rank === 3);
  const centred = sub(x, mu);
  const variance = mean(square(centred), axis, x.rank === 3);
  const xhat = div(centred, sqrt(add(variance, eps)));
  updateRunning(state.runningMean, mu, momentum, 1);
  updateRunning(state.runningVar, variance, momentum, n / (n - 1));
  const y = add(mul(xhat, gamma), beta);
  return thenRelu ? relu(y) : y;
}

/** Training-mode batchNorm1d in two kernels, on backends that have them (same values as the elementwise form). */
function fusedBatchNorm(
  backend: Backend,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  state: BatchNormState,
  o: { n: number; eps: number; momentum: number; statShape: number[] },
): Tensor {
  const p = { groups: x.rank === 3 ? x.shape[0] : 1, rows: o.n, channels: x.shape[x.rank - 1], eps: o.eps };
  const y = empty(x.shape, 'f32', backend);
  const mu = empty(o.statShape, 'f32', backend);
  const variance = empty(o.statShape, 'f32', backend);
  const std = empty(o.statShape, 'f32', backend);
  backend.batchNormForward!(x.buffer, gamma.buffer, beta.buffer, y.buffer, mu.buffer, variance.buffer, std.buffer, p);
  updateRunning(state.runningMean, mu, o.momentum, 1);
  updateRunning(state.runningVar, variance, o.momentum, o.n / (o.n - 1));
  variance.dispose();
  record(y, 'batchNorm1d', [x, gamma, beta], (g) => {
    const gx = empty(x.shape, 'f32', backend);
    const gGamma = empty(gamma.shape, 'f32', backend);
    const gBeta = empty(beta.shape, 'f32', backend);
    backend.batchNormBackward!(x.buffer, gamma.buffer, mu.buffer, std.buffer, g.buffer, gx.buffer, gGamma.buffer, gBeta.buffer, p);
    return [gx, gGamma, gBeta];
  });
  // Saved for the backward only; without a tape entry nothing will read them.
  if (!y.node) {
    mu.dispose();
    std.dispose();
  }
  return y;
}

/** running ← (1 − m)·running + m·correction·stat; held back while the trainer checks its step (stageWrite). */
function updateRunning(running: Tensor, batchStat: Tensor, momentum: number, correction: number): void {
  const next = keep(noGrad(() => add(affine(running, 1 - momentum, 0), affine(batchStat, momentum * correction, 0))));
  stageWrite(
    () => {
      assign(running, next);
      next.dispose();
    },
    () => next.dispose(),
    next,
    `BatchNorm ${running.name ?? 'running statistic'} ${fmtShape(running.shape)}`,
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

/** Inverted dropout with a seeded mask: same seed, same mask, on every backend. */
export function dropout(x: Tensor, p: number, opts: { training: boolean; seed: number }): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!opts.training || p === 0) return x;
  needFloat('dropout', [x]);
  if (x.size === 0) return x;
  const mask = empty(x.shape, 'f32', x.backend);
  x.backend.dropoutMask(mask.buffer, x.size, p, opts.seed >>> 0);
  return mul(x, mask);
}

// ---- fused gating ------------------------------------------------------------------------------

/**
 * The MoE gate and mixture in one kernel: weights = softmax(logits) per task and row,
 * mix[t] = Σ_e weights[t, :, e] · experts[e]. logits [T, B, E], experts [E, B, H] →
 * { mix [T, B, H], weights [T, B, E] } (weights carry no gradient of their own; use mix).
 */
export function gateMix(logits: Tensor, experts: Tensor): { mix: Tensor; weights: Tensor } {
  const backend = sameBackend('gateMix', [logits, experts]);
  needFloat('gateMix', [logits, experts]);
  if (logits.rank !== 3 || experts.rank !== 3 || logits.shape[1] !== experts.shape[1] || logits.shape[2] !== experts.shape[0]) {
    throw new Error(`gateMix: expected logits [tasks, batch, experts] and experts [experts, batch, hidden], got ${logits.describe()} and ${experts.describe()}`);
  }
  const [tasks, batch, nExpert] = logits.shape;
  const hidden = experts.shape[2];
  const shape = { tasks, batch, experts: nExpert, hidden };
  if (tasks * batch * nExpert * hidden === 0) {
    // An empty axis: the weights are a (possibly empty) softmax, the mixture of no experts is 0, and
    // nothing flows back (logits and experts are empty, or mix does not depend on them).
    const w = softmaxRaw('gateMix', logits, false);
    const m = zeros([tasks, batch, hidden], { backend });
    record(m, 'gateMix', [logits, experts], () => [zeros(logits.shape, { backend }), zeros(experts.shape, { backend })]);
    return { mix: m, weights: w };
  }
  const mix = empty([tasks, batch, hidden], 'f32', backend);
  const weights = empty([tasks, batch, nExpert], 'f32', backend);
  backend.gateMixForward(logits.buffer, experts.buffer, mix.buffer, weights.buffer, shape);
  record(mix, 'gateMix', [logits, experts], (g) => {
    const gLogits = empty(logits.shape, 'f32', backend);
    const gExperts = empty(experts.shape, 'f32', backend);
    backend.gateMixBackward(weights.buffer, experts.buffer, g.buffer, gLogits.buffer, gExperts.buffer, shape);
    return [gLogits, gExperts];
  });
  return { mix, weights };
}

export { full, zeros };
export type { DType };
