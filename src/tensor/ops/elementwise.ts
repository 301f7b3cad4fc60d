// Elementwise ops: unary maps, broadcasting binary arithmetic, maximum, where and PReLU.
import type { BinaryOp, UnaryOp } from '../../backend/backend.js';
import { empty, type Tensor, zeros } from '../tensor.js';
import { broadcastShapes, broadcastStrides, checkRank, needFloat, record, sameBackend } from './internal.js';
import { binaryRaw, unaryRaw } from './raw.js';
import { sumTo } from './reduce.js';

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
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x, 'sigmoid', 0, 0, (g, y) => mul(g, mul(y, affine(y, -1, 1))));
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
/** x · s for a number s, in one kernel (affine without the shift). */
export const mulScalar = (x: Tensor, s: number): Tensor => affine(x, s, 0);
const powScalar = (x: Tensor, p: number): Tensor => unaryOp('pow', x, 'powScalar', p, 0, (g) => mul(g, mulScalar(powScalar(x, p - 1), p)));

function binaryOp(
  op: string,
  kind: BinaryOp,
  a: Tensor,
  b: Tensor,
  backward: (g: Tensor, out: Tensor) => [Tensor | null, Tensor | null],
): Tensor {
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
  if (out.size > 0)
    backend.where(
      cond.buffer,
      a.buffer,
      b.buffer,
      out.buffer,
      shape,
      broadcastStrides(cond.shape, shape),
      broadcastStrides(a.shape, shape),
      broadcastStrides(b.shape, shape),
    );
  return record(out, 'where', [a, b], (g) => {
    const zero = zeros([1], { backend });
    return [a.requiresGrad ? sumTo(where(cond, g, zero), a.shape) : null, b.requiresGrad ? sumTo(where(cond, zero, g), b.shape) : null];
  });
}

/** PReLU: x where x > 0, weight·x elsewhere; weight broadcasts against x (one slope or one per channel). */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  return sub(relu(x), mul(weight, relu(neg(x))));
}
