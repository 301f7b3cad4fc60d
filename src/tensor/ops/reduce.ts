// Reductions over axes (sum, mean, max, and sumTo for broadcast gradients) and the softmaxes over the last axis.
import { empty, full, type Shape, sizeOf, type Tensor, zeros } from '../tensor.js';
import { div, exp, mul, mulScalar, sub } from './elementwise.js';
import { needFloat, normAxis, record } from './internal.js';
import { binaryRaw, softmaxRaw } from './raw.js';
import { broadcastTo, reshape } from './shape.js';

/** Sums g (of a broadcast result) back to `shape`. Returns g itself when nothing to do. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const offset = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < offset || (shape[i - offset] === 1 && g.shape[i] !== 1)) axes.push(i);
  return reshape(sum(g, axes, false), [...shape]);
}

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

// ---- softmax -----------------------------------------------------------------------------------

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
