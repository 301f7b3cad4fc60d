// The optimizers compute the same updates on the wasm and WebGPU backends as on the CPU, without
// reading anything back.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { Adagrad, Adam, AdamW, type Optimizer, SGD } from '../src/optim/index.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const backends: { name: string; backend: (Backend & { destroy(): void }) | null }[] = [
  { name: 'wasm', backend: await createWasmBackend() },
  { name: 'WebGPU', backend: await getWebGPUOrSkip() },
];
const cpu = new CpuBackend();

const N = 1000;
const STEPS = 4;

function draws(seed: number, n: number): Float32Array {
  const r = new wm.Random(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

/** Two parameter groups with their own lr and weight decay, STEPS steps of fixed random gradients. */
async function run(
  backend: Backend,
  make: (groups: { params: wm.Tensor[]; lr?: number; weightDecay?: number }[]) => Optimizer,
): Promise<Float32Array[]> {
  const a = wm.fromArray(draws(1, N), [N / 10, 10], { backend, requiresGrad: true });
  const b = wm.fromArray(draws(2, 7), [7], { backend, requiresGrad: true });
  const opt = make([{ params: [a] }, { params: [b], lr: 0.003, weightDecay: 0.05 }]);
  const readsBefore = backend.stats.readbacks;
  for (let s = 0; s < STEPS; s++) {
    a.grad = wm.fromArray(draws(10 + s, N), a.shape, { backend });
    b.grad = wm.fromArray(draws(20 + s, 7), b.shape, { backend });
    opt.step();
    opt.zeroGrad();
  }
  expect(backend.stats.readbacks).toBe(readsBefore);
  const out = [(await a.data()) as Float32Array, (await b.data()) as Float32Array];
  opt.dispose();
  a.dispose();
  b.dispose();
  return out;
}

describe.each(backends)('optimizers on $name equal the CPU', ({ backend }) => {
  afterAll(() => backend?.destroy());
  const cases: [string, Parameters<typeof run>[1]][] = [
    ['Adam', (g) => new Adam(g, { lr: 0.01, weightDecay: 0.01 })],
    ['AdamW', (g) => new AdamW(g, { lr: 0.01, betas: [0.8, 0.99] })],
    ['SGD nesterov', (g) => new SGD(g, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
    ['Adagrad', (g) => new Adagrad(g, { lr: 0.05, lrDecay: 0.01, initialAccumulatorValue: 0.1 })],
  ];
  for (const [name, make] of cases) {
    it.skipIf(!backend)(name, async () => {
      const want = await run(cpu, make);
      const got = await run(backend!, make);
      want.forEach((w, k) => {
        let worst = 0;
        for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(got[k][i] - w[i]) / Math.max(1, Math.abs(w[i])));
        expect(worst, `${name}, parameter ${k}`).toBeLessThan(1e-5);
      });
    });
  }
});
