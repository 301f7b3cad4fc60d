// BatchNorm's running statistics after one training-mode forward, and the eval-mode forward that
// uses them, against torch's rules computed by hand in float64, on every backend:
//   running_mean ← (1 − m)·running_mean + m·batch_mean
//   running_var  ← (1 − m)·running_var  + m·batch_var·n/(n − 1)   (unbiased, n rows per batch)
//   train:  y = (x − batch_mean)/sqrt(batch_var + eps)·γ + β      (biased batch variance)
//   eval:   y = (x − running_mean)/sqrt(running_var + eps)·γ + β
// for BatchNorm1d ([n, C]) and the grouped BatchNorm of the experts ([G, n, C], statistics per group
// and channel), with non-trivial γ and β, default and non-default momentum and eps, and running
// statistics that start off their defaults. wasm has fused training and eval kernels (and splits them
// with its helper thread on large inputs); eval is checked through the fused path (no tape) and the
// elementwise one (taped input), with and without the ReLU that the fused eval kernel folds in.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { GroupedBatchNorm } from '../src/nn/experts.js';
import { BatchNorm1d } from '../src/nn/layers.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
const backends: { name: string; backend: (Backend & { destroy?(): void }) | null }[] = [
  { name: 'cpu', backend: cpu },
  { name: 'wasm', backend: await createWasmBackend() },
  { name: 'WebGPU', backend: await getWebGPUOrSkip() },
];

interface Case {
  name: string;
  /** 0: BatchNorm1d; G > 0: GroupedBatchNorm of G groups. */
  groups: number;
  rows: number;
  channels: number;
  momentum?: number;
  eps?: number;
  /** Running statistics before the step (default: torch's 0 and 1). */
  start?: { mean: number; var: number };
}

const cases: Case[] = [
  { name: 'BatchNorm1d, 7 rows, defaults', groups: 0, rows: 7, channels: 5 },
  { name: 'BatchNorm1d, 2 rows (n/(n−1) = 2), momentum 0.3, eps 1e-3', groups: 0, rows: 2, channels: 3, momentum: 0.3, eps: 1e-3 },
  {
    name: 'BatchNorm1d, 33 rows, momentum 0.25, running statistics off their defaults',
    groups: 0,
    rows: 33,
    channels: 6,
    momentum: 0.25,
    start: { mean: 0.5, var: 2 },
  },
  { name: 'BatchNorm1d, 16400 × 4 (wasm splits it), momentum 0.9', groups: 0, rows: 16400, channels: 4, momentum: 0.9 },
  { name: 'grouped 3 × 9 × 4, defaults', groups: 3, rows: 9, channels: 4 },
  {
    name: 'grouped 4 × 5 × 3, momentum 0.6, eps 1e-2, off defaults',
    groups: 4,
    rows: 5,
    channels: 3,
    momentum: 0.6,
    eps: 1e-2,
    start: { mean: -1, var: 0.5 },
  },
  { name: 'grouped 4 × 4100 × 4 (wasm splits it), momentum 0.8', groups: 4, rows: 4100, channels: 4, momentum: 0.8 },
];

/** Per-(group, channel) values: shape [C] or [G, 1, C]. */
const statShape = (c: Case) => (c.groups ? [c.groups, 1, c.channels] : [c.channels]);
const xShape = (c: Case) => (c.groups ? [c.groups, c.rows, c.channels] : [c.rows, c.channels]);
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function draw(c: Case, seed: number) {
  const r = new wm.Random(seed);
  const G = Math.max(c.groups, 1);
  const S = G * c.channels;
  // Each (group, channel) its own location and scale, so that statistics mixed up across channels or groups show.
  const loc = Array.from({ length: S }, () => 4 * r.normal());
  const scale = Array.from({ length: S }, () => 0.5 + 3 * r.uniform());
  const sample = () =>
    Float32Array.from({ length: size(xShape(c)) }, (_, i) => {
      const s = Math.floor(i / (c.rows * c.channels)) * c.channels + (i % c.channels);
      return loc[s] + scale[s] * r.normal();
    });
  return {
    x: sample(),
    xEval: sample(),
    gamma: Float32Array.from({ length: S }, () => (r.uniform() < 0.5 ? -1 : 1) * (0.5 + r.uniform())),
    beta: Float32Array.from({ length: S }, () => 2 * r.normal()),
  };
}

/** float64 reference. Index of (g, row, ch) in x: (g·n + row)·C + ch; of its statistics: g·C + ch. */
function reference(c: Case, d: ReturnType<typeof draw>) {
  const G = Math.max(c.groups, 1);
  const { rows: n, channels: C } = c;
  const m = c.momentum ?? 0.1;
  const eps = c.eps ?? 1e-5;
  const rm0 = c.start?.mean ?? 0;
  const rv0 = c.start?.var ?? 1;
  const S = G * C;
  const mean = new Array<number>(S).fill(0);
  const biased = new Array<number>(S).fill(0);
  const at = (g: number, row: number, ch: number) => (g * n + row) * C + ch;
  for (let g = 0; g < G; g++) {
    for (let ch = 0; ch < C; ch++) {
      let s = 0;
      for (let row = 0; row < n; row++) s += d.x[at(g, row, ch)];
      const mu = s / n;
      let q = 0;
      for (let row = 0; row < n; row++) q += (d.x[at(g, row, ch)] - mu) ** 2;
      mean[g * C + ch] = mu;
      biased[g * C + ch] = q / n;
    }
  }
  const runningMean = mean.map((mu) => (1 - m) * rm0 + m * mu);
  const runningVar = biased.map((v) => (1 - m) * rv0 + m * v * (n / (n - 1)));
  const norm = (x: Float32Array, mu: number[], v: number[]) =>
    Array.from(x, (xv, i) => {
      const s = Math.floor(i / (n * C)) * C + (i % C);
      return ((xv - mu[s]) / Math.sqrt(v[s] + eps)) * d.gamma[s] + d.beta[s];
    });
  const evalY = norm(d.xEval, runningMean, runningVar);
  return { runningMean, runningVar, trainY: norm(d.x, mean, biased), evalY, evalRelu: evalY.map((v) => Math.max(v, 0)) };
}

async function run(backend: Backend, c: Case, d: ReturnType<typeof draw>) {
  wm.setBackend(backend);
  const opts = { momentum: c.momentum, eps: c.eps };
  const bn = c.groups ? new GroupedBatchNorm(c.groups, c.channels, opts) : new BatchNorm1d(c.channels, opts);
  const set = (t: wm.Tensor, v: Float32Array) => wm.assign(t, wm.fromArray(v, t.shape as number[]));
  const S = size(statShape(c));
  set(bn.weight!, d.gamma);
  set(bn.bias!, d.beta);
  if (c.start) {
    set(bn.runningMean, new Float32Array(S).fill(c.start.mean));
    set(bn.runningVar, new Float32Array(S).fill(c.start.var));
  }
  return wm.tidyAsync(async () => {
    bn.train();
    const trainY = bn.forward(wm.fromArray(d.x, xShape(c), { requiresGrad: true }));
    const runningMean = await bn.runningMean.data();
    const runningVar = await bn.runningVar.data();
    bn.eval();
    const xEval = wm.fromArray(d.xEval, xShape(c));
    const evalY = wm.noGrad(() => bn.forward(xEval));
    const evalRelu = wm.noGrad(() => bn.forward(xEval, { relu: true }));
    // With a taped input the eval forward is the elementwise form (no fused kernel).
    const tapedX = wm.fromArray(d.xEval, xShape(c), { requiresGrad: true });
    const evalTaped = bn.forward(tapedX);
    const evalTapedRelu = bn.forward(tapedX, { relu: true });
    const read = async (t: wm.Tensor) => Array.from(await t.data());
    return {
      runningMean: Array.from(runningMean),
      runningVar: Array.from(runningVar),
      trainY: await read(trainY),
      evalY: await read(evalY),
      evalRelu: await read(evalRelu),
      evalTaped: await read(evalTaped),
      evalTapedRelu: await read(evalTapedRelu),
      // The eval forwards must not move the running statistics.
      after: [...(await bn.runningMean.data()), ...(await bn.runningVar.data())],
    };
  });
}

function expectClose(got: number[], want: number[], what: string, rtol: number, atol: number): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - (atol + rtol * Math.abs(want[i]));
    if (!(excess <= worst)) [worst, at] = [excess, i];
  }
  expect(worst, at < 0 ? what : `${what}[${at}]: got ${got[at]}, want ${want[at]}`).toBeLessThanOrEqual(0);
}

for (const { name: backendName, backend } of backends) {
  describe.skipIf(!backend)(`BatchNorm running statistics and eval on ${backendName}`, () => {
    afterAll(() => {
      wm.setBackend(cpu);
      if (backend !== cpu) backend?.destroy?.();
    });

    for (const c of cases) {
      it(c.name, async () => {
        const d = draw(c, 7 + c.rows + c.groups);
        const want = reference(c, d);
        const got = await run(backend!, c, d);
        // Statistics in float32 over up to 16400 rows: a few float32 ulps of the data's scale.
        expectClose(got.runningMean, want.runningMean, 'running_mean', 1e-5, 2e-5);
        expectClose(got.runningVar, want.runningVar, 'running_var', 2e-5, 1e-6);
        expectClose(got.trainY, want.trainY, 'train-mode output', 1e-4, 1e-4);
        expectClose(got.evalY, want.evalY, 'eval-mode output', 1e-4, 1e-4);
        expectClose(got.evalRelu, want.evalRelu, 'eval-mode output with ReLU', 1e-4, 1e-4);
        expectClose(got.evalTaped, want.evalY, 'eval-mode output (taped)', 1e-4, 1e-4);
        expectClose(got.evalTapedRelu, want.evalRelu, 'eval-mode output with ReLU (taped)', 1e-4, 1e-4);
        expect(got.after).toEqual([...got.runningMean, ...got.runningVar]);
      });
    }
  });
}
