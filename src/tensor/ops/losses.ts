// Losses: binary cross-entropy (on probabilities and on logits) and mean squared error.
import { BCE_GRAD_EPS } from '../../backend/backend.js';
import type { Tensor } from '../tensor.js';
import { affine, clamp, div, mul, mulScalar, neg, sigmoid, sub } from './elementwise.js';
import { record } from './internal.js';
import { binaryRaw } from './raw.js';
import { mean, sum } from './reduce.js';

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
