// Every op of the harness on the wasm backend against the CPU reference: forward values and
// gradients, with the tolerances the WebGPU backend meets (op-cases.ts).
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import * as wm from '../src/tensor/index.js';
import { closeness, runCase } from './helpers/harness.js';
import { opCases } from './helpers/op-cases.js';

const cpu = new CpuBackend();
const wasm = await createWasmBackend();

describe('wasm ops equal the CPU reference (values and gradients)', () => {
  afterAll(() => wasm.destroy());

  for (const c of opCases) {
    it(c.name, async () => {
      const rtol = c.rtol ?? 1e-5;
      const atol = c.atol ?? 1e-6;
      const want = await runCase(cpu, c);
      const got = await runCase(wasm, c);
      const fwd = closeness(got.out, want.out, rtol, atol);
      expect(fwd.worst, `forward at ${fwd.at}: wasm ${got.out[fwd.at]} vs cpu ${want.out[fwd.at]}`).toBeLessThanOrEqual(0);
      want.grads.forEach((g, i) => {
        if (!g) return expect(got.grads[i]).toBeNull();
        const d = closeness(got.grads[i]!, g, rtol, atol);
        expect(d.worst, `grad of input ${i} at ${d.at}: wasm ${got.grads[i]![d.at]} vs cpu ${g[d.at]}`).toBeLessThanOrEqual(0);
      });
    });
  }

  // The fused BatchNorm kernels (the CPU has none, so these compare them with the elementwise form).
  const bnShapes: [string, number[], number[]][] = [
    ['[1030, 5]', [1030, 5], [5]],
    ['[3, 1030, 18] grouped', [3, 1030, 18], [3, 1, 18]],
    ['[8, 64, 16] grouped', [8, 64, 16], [8, 1, 16]],
  ];
  for (const [label, xShape, pShape] of bnShapes) {
    it(`fused batchNorm1d ${label}: training values, gradients and running statistics; eval values, with and without ReLU`, async () => {
      const r = new wm.Random(5);
      const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const xv = Float32Array.from({ length: n(xShape) }, () => 3 * r.normal() + 1);
      const gv = Float32Array.from({ length: n(pShape) }, () => 1 + 0.3 * r.normal());
      const bv = Float32Array.from({ length: n(pShape) }, () => r.normal());
      const wv = Float32Array.from({ length: n(xShape) }, () => r.normal());
      const run = async (backend: typeof cpu | typeof wasm) => {
        wm.setBackend(backend);
        return wm.tidyAsync(async () => {
          const x = wm.fromArray(xv, xShape, { requiresGrad: true });
          const gamma = wm.fromArray(gv, pShape, { requiresGrad: true });
          const beta = wm.fromArray(bv, pShape, { requiresGrad: true });
          const state = { runningMean: wm.zeros(pShape), runningVar: wm.ones(pShape) };
          const y = wm.batchNorm1d(x, gamma, beta, state, { training: true });
          wm.sum(wm.mul(y, wm.fromArray(wv, xShape))).backward();
          const evalY = wm.noGrad(() => wm.batchNorm1d(x, gamma, beta, state, { training: false }));
          const evalRelu = wm.noGrad(() => wm.batchNorm1d(x, gamma, beta, state, { training: false, relu: true }));
          return {
            y: (await y.data()) as Float32Array,
            gx: (await x.grad!.data()) as Float32Array,
            gg: (await gamma.grad!.data()) as Float32Array,
            gb: (await beta.grad!.data()) as Float32Array,
            rm: (await state.runningMean.data()) as Float32Array,
            rv: (await state.runningVar.data()) as Float32Array,
            evalY: (await evalY.data()) as Float32Array,
            evalRelu: (await evalRelu.data()) as Float32Array,
          };
        });
      };
      const want = await run(cpu);
      const got = await run(wasm);
      // Forward, running statistics and eval: the same f32 roundings as the elementwise form.
      for (const k of ['y', 'rm', 'rv', 'evalY', 'evalRelu'] as const) {
        const d = closeness(got[k], want[k], 1e-6, 1e-6);
        expect(d.worst, `${k} at ${d.at}: wasm ${got[k][d.at]} vs cpu ${want[k][d.at]}`).toBeLessThanOrEqual(0);
      }
      for (const k of ['gx', 'gg', 'gb'] as const) {
        const d = closeness(got[k], want[k], 1e-4, 1e-5);
        expect(d.worst, `${k} at ${d.at}: wasm ${got[k][d.at]} vs cpu ${want[k][d.at]}`).toBeLessThanOrEqual(0);
      }
    });
  }

  it('relu lets NaN through (as torch), so bad inputs surface in the loss', async () => {
    const y = wm.relu(wm.fromArray(Float32Array.of(NaN, -1, 2), [3], { backend: wasm }));
    const v = Array.from(await y.data());
    expect(Number.isNaN(v[0])).toBe(true);
    expect(v.slice(1)).toEqual([0, 2]);
  });

  it('dataSync works (kernels run synchronously)', () => {
    wm.setBackend(wasm);
    const y = wm.tidy(() => wm.keep(wm.sum(wm.mul(wm.randn([64, 10], { seed: 1 }), 2))));
    expect(Number.isFinite(y.dataSync()[0])).toBe(true);
    y.dispose();
  });

  it('a training step frees what it allocates: the heap stops growing', () => {
    wm.setBackend(wasm);
    const w = wm.keep(wm.randn([100, 16], { seed: 2, requiresGrad: true }));
    const step = () =>
      wm.tidy(() => {
        const x = wm.randn([1024, 100], { seed: 3 });
        const h = wm.relu(wm.matmul(x, w));
        wm.mean(wm.square(h)).backward();
        w.zeroGrad();
      });
    for (let i = 0; i < 3; i++) step();
    const heap = wasm.heapBytes;
    for (let i = 0; i < 10; i++) step();
    expect(wasm.heapBytes).toBe(heap);
    w.dispose();
  });
});

describe("choosing the backend: 'wasm' by name, and 'auto' without a hardware GPU", () => {
  it("createBackend('wasm') gives the wasm backend; 'auto' never falls back to the slower TypeScript CPU when WebAssembly works", async () => {
    const { createBackend } = await import('../src/init.js');
    const w = await createBackend('wasm');
    expect(w.name).toBe('wasm');
    (w as { destroy?: () => void }).destroy?.();
    const auto = await createBackend('auto');
    expect(['webgpu', 'wasm']).toContain(auto.name);
    (auto as { destroy?: () => void }).destroy?.();
    await expect(createBackend('nope' as never)).rejects.toThrow(/'auto', 'cpu', 'wasm' or 'webgpu'/);
  });
});
