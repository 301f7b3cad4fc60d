// Matrix products: matmul (2-D and batched) and linear (x·W + b, fused where the backend can).
import { empty, type Tensor } from '../tensor.js';
import { add } from './elementwise.js';
import { needFloat, record, sameBackend } from './internal.js';
import { sum, sumTo } from './reduce.js';
import { reshape, transpose } from './shape.js';

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
    throw new Error(
      `${op}: bias ${bias.describe()} must be [${n}]${batched ? ` or [${batch}, 1, ${n}]` : ''} for the product ${a.describe()} · ${b.describe()}`,
    );
  }
  if (bias && k === 0 && batch * m * n > 0) {
    // Nothing to sum over: the product is zeros and the result is the bias, broadcast.
    return add(product(op, a, b, null, opts), bias);
  }
  const out = empty(batched ? [batch, m, n] : [m, n], 'f32', backend);
  const shape = {
    batch,
    m,
    n,
    k,
    transA,
    transB,
    aBatchStride: a.rank === 3 ? ar * ac : 0,
    bBatchStride: b.rank === 3 ? br * bc : 0,
  };
  if (out.size === 0) {
    // An empty result: no kernel.
  } else if (k === 0)
    backend.fill(out.buffer, 0, out.size); // a sum of no products
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
        ? matmul(
            reshape(transpose(g, [1, 0, 2]), [m, batch * n]),
            transB ? reshape(b, [batch * n, k]) : reshape(transpose(b, [0, 2, 1]), [batch * n, k]),
          )
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
