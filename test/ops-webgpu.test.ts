// Every op of the harness on WebGPU against the CPU reference: forward values and gradients.
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as wm from '../src/tensor/index.js';
import { closeness, runCase } from './helpers/harness.js';
import { opCases } from './helpers/op-cases.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
const gpu = await getWebGPUOrSkip();

describe.skipIf(!gpu)('WebGPU ops equal the CPU reference (values and gradients)', () => {
  afterAll(() => gpu?.destroy());

  for (const c of opCases) {
    it(c.name, async () => {
      const rtol = c.rtol ?? 1e-5;
      const atol = c.atol ?? 1e-6;
      const want = await runCase(cpu, c);
      const got = await runCase(gpu!, c);
      const fwd = closeness(got.out, want.out, rtol, atol);
      expect(fwd.worst, `forward at ${fwd.at}: gpu ${got.out[fwd.at]} vs cpu ${want.out[fwd.at]}`).toBeLessThanOrEqual(0);
      want.grads.forEach((g, i) => {
        if (!g) return expect(got.grads[i]).toBeNull();
        const d = closeness(got.grads[i]!, g, rtol, atol);
        expect(d.worst, `grad of input ${i} at ${d.at}: gpu ${got.grads[i]![d.at]} vs cpu ${g[d.at]}`).toBeLessThanOrEqual(0);
      });
    });
  }

  it('relu lets NaN through on both backends (as torch), so bad inputs surface in the loss', async () => {
    for (const b of [cpu, gpu!]) {
      const y = wm.relu(wm.fromArray(Float32Array.of(NaN, -1, 2), [3], { backend: b }));
      const v = Array.from(await y.data());
      expect(Number.isNaN(v[0])).toBe(true);
      expect(v.slice(1)).toEqual([0, 2]);
    }
  });

  it('a forward + backward pass reads nothing back until values are asked for', async () => {
    wm.setBackend(gpu!);
    const before = gpu!.stats.readbacks;
    const loss = wm.tidy(() => {
      const x = wm.randn([64, 10], { seed: 1 });
      const w = wm.randn([10, 8], { seed: 2, requiresGrad: true });
      const gamma = wm.ones([8], { requiresGrad: true });
      const beta = wm.zeros([8], { requiresGrad: true });
      const h = wm.batchNorm1d(wm.matmul(x, w), gamma, beta, { runningMean: wm.zeros([8]), runningVar: wm.ones([8]) }, { training: true });
      const experts = wm.reshape(wm.relu(h), [2, 32, 8]);
      const logits = wm.randn([3, 32, 2], { seed: 3, requiresGrad: true });
      const { mix } = wm.gateMix(logits, experts);
      const loss = wm.binaryCrossEntropyWithLogits(wm.sum(mix, -1), wm.zeros([3, 32]));
      loss.backward();
      return wm.keep(loss);
    });
    expect(gpu!.stats.readbacks - before).toBe(0);
    expect(Number.isFinite(await loss.item())).toBe(true);
    expect(gpu!.stats.readbacks - before).toBe(1);
  });
});
