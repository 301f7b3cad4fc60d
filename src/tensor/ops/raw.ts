// Kernel launches without a gradient, shared by the op families: masks, scratch values, copies into
// place. Not public; the ops record their own backward.
import { type BinaryOp, contiguousStrides, type UnaryOp } from '../../backend/backend.js';
import { empty, type Shape, sizeOf, type Tensor } from '../tensor.js';
import { broadcastShapes, broadcastStrides, checkRank, needFloat, sameBackend } from './internal.js';

/** A unary kernel with no gradient (masks, signs). */
export function unaryRaw(x: Tensor, kind: UnaryOp, p0 = 0, p1 = 0): Tensor {
  const out = empty(x.shape, 'f32', x.backend);
  if (x.size > 0) x.backend.unary(kind, x.buffer, out.buffer, x.size, p0, p1);
  return out;
}

export function binaryRaw(op: string, kind: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const backend = sameBackend(op, [a, b]);
  needFloat(op, [a, b]);
  const shape = broadcastShapes(op, a.shape, b.shape);
  checkRank(op, shape);
  const out = empty(shape, 'f32', backend);
  if (out.size > 0)
    backend.binary(kind, a.buffer, b.buffer, out.buffer, shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape));
  return out;
}

export function softmaxRaw(op: string, x: Tensor, log: boolean): Tensor {
  needFloat(op, [x]);
  if (x.rank === 0) throw new Error(`${op}: needs at least one axis`);
  const cols = x.shape[x.rank - 1];
  const out = empty(x.shape, 'f32', x.backend);
  if (out.size > 0) x.backend.softmax(x.buffer, out.buffer, x.size / Math.max(cols, 1), cols, log);
  return out;
}

export function stridedCopy(
  op: string,
  x: Tensor,
  shape: Shape,
  srcOffset: number,
  srcStrides: number[],
  dst?: { t: Tensor; offset: number; strides: number[] },
): Tensor {
  checkRank(op, shape);
  const out = dst?.t ?? empty(shape, x.dtype, x.backend);
  if (sizeOf(shape) > 0) {
    x.backend.copy(x.buffer, out.buffer, [...shape], srcOffset, srcStrides, dst?.offset ?? 0, dst?.strides ?? contiguousStrides(shape));
  }
  return out;
}
