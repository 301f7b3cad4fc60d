// MoE gating: softmax over the experts per task and row, then the weighted mixture of expert outputs.
import { noGrad, tidy } from '../engine.js';
import { empty, type Tensor, zeros } from '../tensor.js';
import { mul, sub } from './elementwise.js';
import { needFloat, record, sameBackend } from './internal.js';
import { matmul } from './linalg.js';
import { softmaxRaw } from './raw.js';
import { sum } from './reduce.js';
import { transpose } from './shape.js';

/**
 * The MoE gate and mixture, in one kernel where the backend has it: weights = softmax(logits) per task and row,
 * mix[t] = Σ_e weights[t, :, e] · experts[e]. logits [T, B, E], experts [E, B, H] →
 * { mix [T, B, H], weights [T, B, E] } (weights carry no gradient of their own; use mix).
 */
export function gateMix(logits: Tensor, experts: Tensor): { mix: Tensor; weights: Tensor } {
  const backend = sameBackend('gateMix', [logits, experts]);
  needFloat('gateMix', [logits, experts]);
  if (logits.rank !== 3 || experts.rank !== 3 || logits.shape[1] !== experts.shape[1] || logits.shape[2] !== experts.shape[0]) {
    throw new Error(
      `gateMix: expected logits [tasks, batch, experts] and experts [experts, batch, hidden], got ${logits.describe()} and ${experts.describe()}`,
    );
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
  if (!backend.gateMixForward || !backend.gateMixBackward) return composedGateMix(logits, experts);
  const mix = empty([tasks, batch, hidden], 'f32', backend);
  const weights = empty([tasks, batch, nExpert], 'f32', backend);
  backend.gateMixForward(logits.buffer, experts.buffer, mix.buffer, weights.buffer, shape);
  record(mix, 'gateMix', [logits, experts], (g) => {
    const gLogits = empty(logits.shape, 'f32', backend);
    const gExperts = empty(experts.shape, 'f32', backend);
    backend.gateMixBackward!(weights.buffer, experts.buffer, g.buffer, gLogits.buffer, gExperts.buffer, shape);
    return [gLogits, gExperts];
  });
  return { mix, weights };
}

/**
 * gateMix from primitives, for backends without the fused kernels: the same softmax, and batched
 * matmuls over the batch axis (moved to the front) for the mixture and both gradients.
 */
function composedGateMix(logits: Tensor, experts: Tensor): { mix: Tensor; weights: Tensor } {
  const weights = softmaxRaw('gateMix', logits, false);
  // [B, T, E] · [B, E, H] → [B, T, H] → [T, B, H]; untaped, like the fused kernel (tidy frees the transposed copies).
  const mix = noGrad(() => tidy(() => batchFirst(matmul(batchFirst(weights), batchFirst(experts)))));
  record(mix, 'gateMix', [logits, experts], (g) =>
    tidy(() => {
      const gB = batchFirst(g);
      // gExperts[e, b] = Σ_t weights[t, b, e] · g[t, b]: [B, T, E]ᵀ · [B, T, H] → [B, E, H].
      const gExperts = experts.requiresGrad ? batchFirst(matmul(batchFirst(weights), gB, { transA: true })) : null;
      if (!logits.requiresGrad) return [null, gExperts];
      // gW[t, b, e] = g[t, b] · experts[e, b]: [B, T, H] · [B, E, H]ᵀ → [B, T, E]; then softmax's backward.
      const gW = batchFirst(matmul(gB, batchFirst(experts), { transB: true }));
      return [mul(weights, sub(gW, sum(mul(weights, gW), -1, true))), gExperts];
    }),
  );
  return { mix, weights };
}

/** Swaps the first two axes of a rank-3 tensor ([T, B, ·] ↔ [B, T, ·]). */
const batchFirst = (x: Tensor): Tensor => transpose(x, [1, 0, 2]);
