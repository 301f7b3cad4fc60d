// binaryCrossEntropy equals torch's BCELoss on every backend, values and gradients, including rows the
// model gets confidently wrong (the old clamp to [1e-7, 1 − 1e-7] zeroed their gradient, so they
// stopped learning; ESMM's pCTCVR = pCTR·pCVR gets there easily), and a NaN prediction gives a NaN loss.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import * as wm from '../src/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const backends: { name: string; backend: Backend | null }[] = [
  { name: 'cpu', backend: new CpuBackend() },
  { name: 'wasm', backend: await createWasmBackend() },
  { name: 'webgpu', backend: await getWebGPUOrSkip() },
];
afterAll(() => {
  for (const b of backends) (b.backend as { destroy?: () => void } | null)?.destroy?.();
});

// p rounded to float32 as the tensors hold it; torch: loss = −(y·max(log p, −100) + (1 − y)·max(log(1 − p), −100)),
// ∂loss/∂p = (p − y) / max(p·(1 − p), 1e-12), here divided by n for the mean.
const P = [1e-9, 0.3, 0.999999, 1e-30, 0, 1, 0.5, 2e-8].map(Math.fround);
const Y = [1, 0, 0, 1, 1, 0, 1, 0];
const torchLoss = (p: number, y: number) => -(y * Math.max(Math.log(p), -100) + (1 - y) * Math.max(Math.log1p(-p), -100));
const torchGrad = (p: number, y: number) => (p - y) / Math.max(Math.fround(Math.fround(1 - p) * p), 1e-12) / P.length;

describe('binaryCrossEntropy matches torch.nn.BCELoss', () => {
  for (const { name, backend } of backends) {
    it.skipIf(!backend)(`${name}: per-row losses, the mean's gradient, and NaN in → NaN out`, async () => {
      const b = backend!;
      const p = wm.fromArray(Float32Array.from(P), [P.length], { backend: b, requiresGrad: true });
      const y = wm.fromArray(Float32Array.from(Y), [Y.length], { backend: b });
      const rows = await wm.binaryCrossEntropy(p, y, 'none').data();
      P.forEach((pi, i) => expect(rows[i], `row ${i} (p = ${pi}, y = ${Y[i]})`).toBeCloseTo(torchLoss(pi, Y[i]), 4));
      // Confidently wrong rows cost up to 100, as in torch (the clamp capped them at 16.1).
      expect(rows[4]).toBeCloseTo(100, 4);
      expect(rows[5]).toBeCloseTo(100, 4);
      const [g] = wm.grad(wm.binaryCrossEntropy(p, y), [p]);
      const got = await g.data();
      P.forEach((pi, i) => {
        const want = torchGrad(pi, Y[i]);
        expect(Math.abs(got[i] - want), `gradient of row ${i}: ${got[i]} vs ${want}`).toBeLessThanOrEqual(1e-5 * Math.abs(want) + 1e-7);
      });
      // The rows the clamp used to silence: p = 1e-9 and 2e-8 (outside [1e-7, 1 − 1e-7]) still learn.
      expect(got[0]).toBeLessThan(-1e6);
      expect(got[7]).toBeGreaterThan(0);

      const nan = wm.fromArray(Float32Array.of(Number.NaN, 0.5), [2], { backend: b });
      const lossNaN = await wm.binaryCrossEntropy(nan, wm.fromArray(Float32Array.of(1, 0), [2], { backend: b }), 'none').data();
      expect(Number.isNaN(lossNaN[0]), `NaN prediction gave ${lossNaN[0]}`).toBe(true);
      expect(lossNaN[1]).toBeCloseTo(Math.log(2), 6);
    });
  }
});
