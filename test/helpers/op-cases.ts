// Every differentiable op, as a case the harness can run on any backend: how to draw its inputs,
// how to call it, and the tolerance its WebGPU result must meet against the CPU reference.

import type { Tensor } from '../../src/tensor/index.js';
import * as wm from '../../src/tensor/index.js';

export type InputKind = 'normal' | 'positive' | 'prob' | 'unique' | 'nonzero' | 'mask' | { ids: number };

export interface InputSpec {
  shape: number[];
  kind?: InputKind;
  /** Whether the harness differentiates w.r.t. this input (default true for float inputs). */
  grad?: boolean;
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  run: (xs: Tensor[]) => Tensor;
  /** Cross-backend tolerance: |gpu − cpu| ≤ atol + rtol·|cpu|, for values and gradients. */
  rtol?: number;
  atol?: number;
  /** Skip the finite-difference check (ops whose output is piecewise constant, etc.). */
  noFiniteDiff?: boolean;
}

const mm = (a: number[], b: number[], opts?: wm.MatmulOptions): Omit<OpCase, 'name'> => ({
  inputs: [{ shape: a }, { shape: b }],
  run: ([x, y]) => wm.matmul(x, y, opts),
  rtol: 1e-4,
  atol: 1e-5,
});

export const opCases: OpCase[] = [
  // matmul: plain, transposed operands, batched, shared operands; odd and large sizes
  { name: 'matmul 3x17·17x1', ...mm([3, 17], [17, 1]) },
  { name: 'matmul 1x1·1x1', ...mm([1, 1], [1, 1]) },
  { name: 'matmul transA', ...mm([17, 3], [17, 5], { transA: true }) },
  { name: 'matmul transB', ...mm([4, 17], [6, 17], { transB: true }) },
  { name: 'matmul transA transB', ...mm([17, 3], [5, 17], { transA: true, transB: true }) },
  { name: 'matmul batched 3-D·3-D', ...mm([3, 5, 7], [3, 7, 2]) },
  { name: 'matmul experts 2-D·3-D (shared input)', ...mm([9, 6], [4, 6, 5]) },
  { name: 'matmul 3-D·2-D (shared weight)', ...mm([2, 9, 6], [6, 5]) },
  { name: 'matmul experts 2-D·3-D transB', ...mm([9, 6], [4, 5, 6], { transB: true }) },
  { name: 'matmul 3-D·2-D transB', ...mm([2, 9, 6], [5, 6], { transB: true }) },
  { name: 'matmul 2-D·3-D transA', ...mm([6, 9], [4, 6, 5], { transA: true }) },
  { name: 'matmul 3-D transB batched', ...mm([2, 4, 6], [2, 5, 6], { transB: true }) },
  // dB sums 1000 products of O(1) terms, so its absolute error scales like √1000·ε·O(1).
  { name: 'matmul 1000x33·33x17', ...mm([1000, 33], [33, 17]), atol: 1e-4 },
  { name: 'matmul 65x1030·1030x3 (long K)', ...mm([65, 1030], [1030, 3]), rtol: 3e-4, atol: 3e-5 },

  // linear (x·W + b; one pass on backends with matmulBias): 2-D, stacked experts, odd widths
  {
    name: 'linear [9,6]·[6,5]+[5]',
    inputs: [{ shape: [9, 6] }, { shape: [6, 5] }, { shape: [5] }],
    run: ([x, w, b]) => wm.linear(x, w, b),
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: 'linear experts [9,6]·[4,6,5]+[4,1,5]',
    inputs: [{ shape: [9, 6] }, { shape: [4, 6, 5] }, { shape: [4, 1, 5] }],
    run: ([x, w, b]) => wm.linear(x, w, b),
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: 'linear [2,9,6]·[6,1]+[1]',
    inputs: [{ shape: [2, 9, 6] }, { shape: [6, 1] }, { shape: [1] }],
    run: ([x, w, b]) => wm.linear(x, w, b),
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: 'linear [1030,16]·[16,8]+[8]',
    inputs: [{ shape: [1030, 16] }, { shape: [16, 8] }, { shape: [8] }],
    run: ([x, w, b]) => wm.linear(x, w, b),
    rtol: 1e-4,
    atol: 1e-4,
  },

  // broadcasting binary ops
  { name: 'add [17,3]+[3]', inputs: [{ shape: [17, 3] }, { shape: [3] }], run: ([a, b]) => wm.add(a, b) },
  { name: 'add [1]+[1000,3]', inputs: [{ shape: [1] }, { shape: [1000, 3] }], run: ([a, b]) => wm.add(a, b) },
  { name: 'sub [4,1,3]-[5,1]', inputs: [{ shape: [4, 1, 3] }, { shape: [5, 1] }], run: ([a, b]) => wm.sub(a, b) },
  { name: 'mul [17,5]*[17,1]', inputs: [{ shape: [17, 5] }, { shape: [17, 1] }], run: ([a, b]) => wm.mul(a, b) },
  { name: 'div [3,4]/[4] (b away from 0)', inputs: [{ shape: [3, 4] }, { shape: [4], kind: 'positive' }], run: ([a, b]) => wm.div(a, b) },
  { name: 'pow tensor', inputs: [{ shape: [3, 5], kind: 'positive' }, { shape: [5] }], run: ([a, b]) => wm.pow(a, b), rtol: 2e-5 },
  {
    name: 'maximum',
    inputs: [
      { shape: [17], kind: 'unique' },
      { shape: [17], kind: 'unique' },
    ],
    run: ([a, b]) => wm.maximum(a, b),
  },
  { name: 'scalar add/mul/div/sub', inputs: [{ shape: [3, 3] }], run: ([a]) => wm.sub(wm.div(wm.mul(wm.add(a, 1.5), -2), 3), 0.25) },

  // unary
  { name: 'neg', inputs: [{ shape: [17] }], run: ([x]) => wm.neg(x) },
  { name: 'exp', inputs: [{ shape: [1003] }], run: ([x]) => wm.exp(x), rtol: 2e-5 },
  { name: 'log', inputs: [{ shape: [17], kind: 'positive' }], run: ([x]) => wm.log(x), rtol: 2e-5, atol: 1e-6 },
  { name: 'sqrt', inputs: [{ shape: [17], kind: 'positive' }], run: ([x]) => wm.sqrt(x) },
  { name: 'pow scalar 3', inputs: [{ shape: [17] }], run: ([x]) => wm.pow(x, 3), rtol: 2e-5 },
  { name: 'pow scalar 0.5', inputs: [{ shape: [5], kind: 'positive' }], run: ([x]) => wm.pow(x, 0.5), rtol: 2e-5 },
  { name: 'abs', inputs: [{ shape: [17], kind: 'nonzero' }], run: ([x]) => wm.abs(x) },
  { name: 'clamp', inputs: [{ shape: [40], kind: 'unique' }], run: ([x]) => wm.clamp(x, -0.5, 0.7) },
  { name: 'relu', inputs: [{ shape: [3, 17], kind: 'nonzero' }], run: ([x]) => wm.relu(x) },
  { name: 'leakyRelu', inputs: [{ shape: [17], kind: 'nonzero' }], run: ([x]) => wm.leakyRelu(x, 0.2) },
  { name: 'prelu per channel', inputs: [{ shape: [5, 3], kind: 'nonzero' }, { shape: [3] }], run: ([x, w]) => wm.prelu(x, w) },
  { name: 'sigmoid', inputs: [{ shape: [1001] }], run: ([x]) => wm.sigmoid(x), rtol: 2e-5, atol: 1e-6 },
  { name: 'tanh', inputs: [{ shape: [17] }], run: ([x]) => wm.tanh(x), rtol: 2e-5, atol: 1e-6 },

  // softmax family
  { name: 'softmax [17,8]', inputs: [{ shape: [17, 8] }], run: ([x]) => wm.softmax(x), rtol: 2e-5, atol: 1e-6 },
  { name: 'softmax [3,1]', inputs: [{ shape: [3, 1] }], run: ([x]) => wm.softmax(x) },
  { name: 'logSoftmax [4,1000]', inputs: [{ shape: [4, 1000] }], run: ([x]) => wm.logSoftmax(x), rtol: 2e-5, atol: 2e-5 },

  // reductions
  { name: 'sum all', inputs: [{ shape: [17, 3] }], run: ([x]) => wm.sum(x), rtol: 1e-5, atol: 1e-5 },
  { name: 'sum axis 0 of [1000,3]', inputs: [{ shape: [1000, 3] }], run: ([x]) => wm.sum(x, 0), rtol: 1e-4, atol: 1e-4 },
  { name: 'sum axes [0,2] keepDims', inputs: [{ shape: [3, 4, 5] }], run: ([x]) => wm.sum(x, [0, 2], true), atol: 1e-5 },
  { name: 'mean axis -1', inputs: [{ shape: [5, 17] }], run: ([x]) => wm.mean(x, -1), atol: 1e-6 },
  { name: 'max axis 1', inputs: [{ shape: [4, 17], kind: 'unique' }], run: ([x]) => wm.max(x, 1) },
  { name: 'max all', inputs: [{ shape: [3, 5], kind: 'unique' }], run: ([x]) => wm.max(x) },

  // shape ops
  { name: 'reshape', inputs: [{ shape: [3, 4] }], run: ([x]) => wm.mul(wm.reshape(x, [2, -1]), wm.reshape(x, [2, 6])) },
  { name: 'transpose 2-D', inputs: [{ shape: [17, 3] }], run: ([x]) => wm.transpose(x) },
  { name: 'transpose perm [2,0,1]', inputs: [{ shape: [2, 3, 4] }], run: ([x]) => wm.transpose(x, [2, 0, 1]) },
  { name: 'broadcastTo', inputs: [{ shape: [3, 1] }], run: ([x]) => wm.broadcastTo(x, [2, 3, 5]) },
  { name: 'slice', inputs: [{ shape: [5, 7] }], run: ([x]) => wm.slice(x, [1, 2], [3, -1]) },
  { name: 'concat axis 1', inputs: [{ shape: [3, 2] }, { shape: [3, 5] }, { shape: [3, 1] }], run: (xs) => wm.concat(xs, 1) },
  {
    name: 'split + recombine',
    inputs: [{ shape: [4, 6] }],
    run: ([x]) => {
      const [a, b] = wm.split(x, [2, 4], 1);
      return wm.add(wm.sum(a, 1), wm.sum(b, 1));
    },
  },
  { name: 'stack axis 1', inputs: [{ shape: [3, 2] }, { shape: [3, 2] }], run: (xs) => wm.stack(xs, 1) },
  { name: 'squeeze/unsqueeze', inputs: [{ shape: [3, 1, 2] }], run: ([x]) => wm.unsqueeze(wm.squeeze(x, 1), 0) },

  // gather / scatter-add
  {
    name: 'gatherRows (repeated ids)',
    inputs: [{ shape: [7, 3] }, { shape: [40], kind: { ids: 7 } }],
    run: ([t, ids]) => wm.gatherRows(t, ids),
  },
  {
    name: 'gatherRows 2-D ids, 1000+ rows',
    inputs: [{ shape: [50, 4] }, { shape: [300, 5], kind: { ids: 50 } }],
    run: ([t, ids]) => wm.gatherRows(t, ids),
    atol: 1e-5,
  },
  {
    name: 'gatherConcat: two lookups around a dense part',
    inputs: [
      { shape: [7, 3] },
      { shape: [40], kind: { ids: 7 } },
      { shape: [40, 2] },
      { shape: [5, 4] },
      { shape: [40], kind: { ids: 5 } },
    ],
    run: ([t1, i1, d, t2, i2]) => wm.gatherConcat([{ table: t1, ids: i1 }, d, { table: t2, ids: i2 }]),
  },
  {
    name: 'gatherConcat: one table looked up twice (shared embedding)',
    inputs: [{ shape: [6, 4] }, { shape: [1030], kind: { ids: 6 } }, { shape: [1030], kind: { ids: 6 } }],
    run: ([t, i1, i2]) =>
      wm.gatherConcat([
        { table: t, ids: i1 },
        { table: t, ids: i2 },
      ]),
    atol: 1e-5,
  },
  {
    name: 'indexSelect axis 1',
    inputs: [{ shape: [3, 6] }, { shape: [4], kind: { ids: 6 } }],
    run: ([x, ids]) => wm.indexSelect(x, 1, ids),
  },
  {
    name: 'where',
    inputs: [{ shape: [4, 3], kind: 'mask', grad: false }, { shape: [4, 3] }, { shape: [3] }],
    run: ([c, a, b]) => wm.where(c, a, b),
  },

  // losses
  {
    name: 'binaryCrossEntropy',
    inputs: [
      { shape: [17, 2], kind: 'prob' },
      { shape: [17, 2], kind: 'mask', grad: false },
    ],
    run: ([p, y]) => wm.binaryCrossEntropy(p, y),
    rtol: 2e-5,
    atol: 1e-6,
  },
  {
    name: 'binaryCrossEntropyWithLogits',
    inputs: [{ shape: [1001] }, { shape: [1001], kind: 'mask', grad: false }],
    run: ([x, y]) => wm.binaryCrossEntropyWithLogits(x, y),
    rtol: 2e-5,
    atol: 1e-6,
  },
  {
    name: 'bce with logits, large logits',
    inputs: [{ shape: [3] }, { shape: [3], kind: 'mask', grad: false }],
    run: ([x, y]) => wm.binaryCrossEntropyWithLogits(wm.mul(x, 40), y, 'sum'),
    rtol: 2e-5,
    atol: 1e-5,
  },
  { name: 'mseLoss', inputs: [{ shape: [17, 3] }, { shape: [17, 3] }], run: ([a, b]) => wm.mseLoss(a, b) },

  // normalisation, dropout, gating
  {
    name: 'batchNorm1d train',
    inputs: [{ shape: [17, 3] }, { shape: [3] }, { shape: [3] }],
    run: ([x, g, b]) => wm.batchNorm1d(x, g, b, { runningMean: wm.zeros([3]), runningVar: wm.ones([3]) }, { training: true }),
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: 'batchNorm1d grouped [G, B, C] train',
    inputs: [{ shape: [3, 9, 4] }, { shape: [3, 1, 4] }, { shape: [3, 1, 4] }],
    run: ([x, g, b]) => wm.batchNorm1d(x, g, b, { runningMean: wm.zeros([3, 1, 4]), runningVar: wm.ones([3, 1, 4]) }, { training: true }),
    rtol: 1e-4,
    atol: 1e-5,
  },
  {
    name: 'batchNorm1d eval',
    inputs: [{ shape: [5, 4] }, { shape: [4] }, { shape: [4] }, { shape: [4], grad: false }, { shape: [4], kind: 'positive', grad: false }],
    run: ([x, g, b, rm, rv]) => wm.batchNorm1d(x, g, b, { runningMean: rm, runningVar: rv }, { training: false }),
  },
  { name: 'dropout seeded', inputs: [{ shape: [33, 31] }], run: ([x]) => wm.dropout(x, 0.3, { training: true, seed: 11 }) },
  {
    name: 'gateMix (fused softmax gate + expert mixture)',
    inputs: [{ shape: [2, 17, 4] }, { shape: [4, 17, 5] }],
    run: ([logits, experts]) => wm.gateMix(logits, experts).mix,
    rtol: 2e-5,
    atol: 1e-6,
  },
  {
    name: 'gateMix 1 task, 8 experts, 1000+ rows',
    inputs: [{ shape: [1, 1030, 8] }, { shape: [8, 1030, 16] }],
    run: ([logits, experts]) => wm.gateMix(logits, experts).mix,
    rtol: 2e-5,
    atol: 1e-6,
  },
];

/** Draws the inputs of a case as host arrays (deterministic per case name). */
export function drawInputs(c: OpCase, seed: number): (Float32Array | Int32Array)[] {
  const r = new wm.Random(seed);
  return c.inputs.map((spec, input) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const kind = spec.kind ?? 'normal';
    if (typeof kind === 'object') return Int32Array.from({ length: n }, () => r.int(kind.ids));
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      switch (kind) {
        case 'normal':
          out[i] = r.normal();
          break;
        case 'positive':
          out[i] = 0.5 + 1.5 * r.uniform();
          break;
        case 'prob':
          out[i] = 0.05 + 0.9 * r.uniform();
          break;
        case 'mask':
          out[i] = r.uniform() < 0.5 ? 1 : 0;
          break;
        case 'nonzero': {
          const v = r.normal();
          out[i] = Math.sign(v || 1) * (0.1 + Math.abs(v));
          break;
        }
        case 'unique':
          break;
      }
    }
    if (kind === 'unique') {
      // Distinct values on a grid 0.05 apart (offset per input), so no ties and no kinks within the FD step.
      const perm = r.permutation(n);
      for (let i = 0; i < n; i++) out[i] = (perm[i] - n / 2) * 0.05 + 0.013 + 0.021 * input;
    }
    return out;
  });
}

export const wantsGrad = (spec: InputSpec): boolean => spec.grad ?? typeof spec.kind !== 'object';
