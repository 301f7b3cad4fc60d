// Every optional fused kernel against the composition the layers above run when a backend leaves it
// out: the same inputs through the fused path and through the fallback (the same backend seen through
// a proxy that lacks the kernel), on every backend that has the kernel.
//
// Tolerance: |fused − fallback| ≤ k·ε·scale, with ε = 2⁻²³ (f32) and the scale a bound on the terms
// involved. The fallbacks round every intermediate to f32 where a fused kernel keeps some in registers
// or f64 (CPU), or runs its own f32 order (wasm, WebGPU), so the two differ by a few roundings of the
// largest term; k = 16 leaves room over the largest seen (about 7) and is far below what a wrong
// formula gives (a missing bias correction or eps, a sign, a transposed axis: thousands).
//   gateMix     mix and gExperts are sums of weight·value (E and T terms, Σ_e weight = 1): scale
//               max|experts| and T·max|g|; gLogits = w ⊙ (gW − Σ_e w ⊙ gW) with gW a dot product of
//               H terms: scale H·max|g|·max|experts|.
//   adam/adamW  after 6 steps, θ: scale max|θ| (each step rounds θ once; the update's own roundings are
//               lr-sized); m: max|g'|, v: max g'² (g' the gradient with its L2 term).
//   batchNorm   training gx is the same sum rearranged (the fused closed form against autograd through
//               the elementwise form): scale max|gx|. Everything else, and matmulBias, is bit-exact
//               (k = 0): backend.ts specifies that those kernels round each quantity as the elementwise
//               form does.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { Adam, AdamW, type Optimizer } from '../src/optim/index.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const EPS32 = 2 ** -23;

const wasm = await createWasmBackend();
const gpu = await getWebGPUOrSkip();
const backends: { name: string; backend: Backend | null }[] = [
  { name: 'cpu', backend: new CpuBackend() },
  { name: 'wasm', backend: wasm },
  { name: 'webgpu', backend: gpu },
];
afterAll(() => {
  wasm.destroy();
  gpu?.destroy();
});

type Optional = 'gateMixForward' | 'gateMixBackward' | 'adam' | 'batchNormForward' | 'batchNormBackward' | 'batchNormEval' | 'matmulBias';

/**
 * `b` without the named kernels. A proxy rather than a copy: methods run with the proxy as `this`, so
 * the buffers it allocates belong to it (tensors on it see the kernel missing), while every field
 * write lands on `b`.
 */
function without(b: Backend, names: Optional[]): Backend {
  const dropped = new Set<PropertyKey>(names);
  return new Proxy(b, {
    get: (target, key, receiver) => (dropped.has(key) ? undefined : Reflect.get(target, key, receiver)),
    has: (target, key) => !dropped.has(key) && Reflect.has(target, key),
  });
}

function draws(seed: number, n: number, scale = 1): Float32Array {
  const r = new wm.Random(seed);
  return Float32Array.from({ length: n }, () => scale * r.normal());
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Largest |got − want|, in units of ε·scale. */
function ulps(got: Float32Array, want: Float32Array, scale: number): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    worst = Math.max(worst, d === 0 ? 0 : d / (EPS32 * scale));
  }
  return worst;
}

type Outputs = Record<string, Float32Array>;

/** fn on the backend and on the backend without `names`, tensors freed after each. */
async function both(b: Backend, names: Optional[], fn: (b: Backend) => Promise<Outputs>): Promise<[Outputs, Outputs]> {
  const run = (be: Backend) => wm.tidyAsync(() => fn(be));
  return [await run(b), await run(without(b, names))];
}

const f32 = async (t: wm.Tensor): Promise<Float32Array> => (await t.data()) as Float32Array;

for (const { name, backend } of backends) {
  describe.skipIf(!backend)(`fused kernels equal their fallbacks on ${name}`, () => {
    const b = backend!;

    it.skipIf(!b?.gateMixForward)('gateMix forward and backward', async () => {
      const [T, B, E, H] = [3, 17, 5, 12];
      const [fused, composed] = await both(b, ['gateMixForward', 'gateMixBackward'], async (be) => {
        const logits = wm.fromArray(draws(1, T * B * E, 2), [T, B, E], { backend: be, requiresGrad: true });
        const experts = wm.fromArray(draws(2, E * B * H), [E, B, H], { backend: be, requiresGrad: true });
        const g = wm.fromArray(draws(3, T * B * H), [T, B, H], { backend: be });
        const { mix, weights } = wm.gateMix(logits, experts);
        const [gLogits, gExperts] = wm.grad(mix, [logits, experts], g);
        return {
          mix: await f32(mix),
          weights: await f32(weights),
          gLogits: await f32(gLogits),
          gExperts: await f32(gExperts),
          g: await f32(g),
          experts: await f32(experts),
        };
      });
      const gW = H * maxAbs(fused.g) * maxAbs(fused.experts);
      const errs = {
        weights: ulps(composed.weights, fused.weights, 1),
        mix: ulps(composed.mix, fused.mix, maxAbs(fused.experts)),
        gExperts: ulps(composed.gExperts, fused.gExperts, T * maxAbs(fused.g)),
        gLogits: ulps(composed.gLogits, fused.gLogits, gW),
      };
      for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThanOrEqual(16);
    });

    it.skipIf(!b?.gateMixForward)('gateMix where only one input needs a gradient', async () => {
      const [fused, composed] = await both(b, ['gateMixForward', 'gateMixBackward'], async (be) => {
        const logits = wm.fromArray(draws(4, 2 * 3 * 4), [2, 3, 4], { backend: be, requiresGrad: true });
        const experts = wm.fromArray(draws(5, 4 * 3 * 6), [4, 3, 6], { backend: be });
        const { mix } = wm.gateMix(logits, experts);
        wm.sum(wm.square(mix)).backward();
        // gW's terms are g·experts, with g = 2·mix.
        const out = {
          gLogits: await f32(logits.grad!),
          gWBound: Float32Array.of(6 * 2 * maxAbs(await f32(mix)) * maxAbs(await f32(experts))),
        };
        logits.zeroGrad();
        return out;
      });
      expect(ulps(composed.gLogits, fused.gLogits, fused.gWBound[0])).toBeLessThanOrEqual(16);
    });

    // Hyperparameters where each term shows: eps is a tenth of sqrt(v̂) or more, the weight decay
    // moves θ by as much as the gradient does, and the betas are far from their defaults.
    const adamCases: { label: string; gradScale: number; make: (params: wm.Tensor[]) => Optimizer }[] = [
      {
        label: 'Adam, L2 weight decay',
        gradScale: 0.1,
        make: (p) => new Adam(p, { lr: 0.02, betas: [0.8, 0.95], eps: 1e-2, weightDecay: 0.1 }),
      },
      {
        label: 'AdamW, decoupled weight decay',
        gradScale: 0.5,
        make: (p) => new AdamW(p, { lr: 0.05, betas: [0.7, 0.9], eps: 0.05, weightDecay: 0.3 }),
      },
      { label: 'Adam, defaults but lr', gradScale: 3, make: (p) => new Adam(p, { lr: 0.05 }) },
    ];
    for (const { label, gradScale, make } of adamCases) {
      it.skipIf(!b?.adam)(label, async () => {
        const N = 257;
        const [fused, composed] = await both(b, ['adam'], async (be) => {
          const p = wm.fromArray(draws(6, N), [N], { backend: be, requiresGrad: true });
          const opt = make([p]);
          // g' = g (+ wd·θ for Adam's L2 term): its bound scales m and v.
          const l2 = opt instanceof AdamW ? 0 : opt.paramGroups[0].weightDecay;
          let gBound = 0;
          for (let s = 0; s < 6; s++) {
            const g = draws(10 + s, N, gradScale);
            gBound = Math.max(gBound, maxAbs(g) + l2 * maxAbs(await f32(p)));
            p.grad = wm.keep(wm.fromArray(g, [N], { backend: be }));
            opt.step();
            opt.zeroGrad();
          }
          const sd = opt.stateDict().state[0];
          const out = {
            p: await f32(p),
            m: await f32(sd.buffers.exp_avg as wm.Tensor),
            v: await f32(sd.buffers.exp_avg_sq as wm.Tensor),
            gBound: Float32Array.of(gBound),
          };
          opt.dispose();
          p.dispose();
          return out;
        });
        const g = fused.gBound[0];
        const errs = {
          p: ulps(composed.p, fused.p, maxAbs(fused.p)),
          m: ulps(composed.m, fused.m, g),
          v: ulps(composed.v, fused.v, g * g),
        };
        for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThanOrEqual(16);
      });
    }

    for (const groups of [0, 3]) {
      const what = groups ? `[${groups}, rows, C] groups` : '[rows, C]';
      it.skipIf(!b?.batchNormForward)(`batchNorm1d training forward and backward, ${what}`, async () => {
        const [N, C] = [13, 7];
        const lead = groups ? [groups] : [];
        const stat = groups ? [groups, 1, C] : [C];
        const size = (groups || 1) * N * C;
        const [fused, composed] = await both(b, ['batchNormForward', 'batchNormBackward'], async (be) => {
          const x = wm.fromArray(draws(20, size, 3), [...lead, N, C], { backend: be, requiresGrad: true });
          const gamma = wm.fromArray(draws(21, size / N), stat, { backend: be, requiresGrad: true });
          const beta = wm.fromArray(draws(22, size / N), stat, { backend: be, requiresGrad: true });
          const state = {
            runningMean: wm.fromArray(draws(23, size / N), stat, { backend: be }),
            runningVar: wm.full(stat, 2, { backend: be }),
          };
          const y = wm.batchNorm1d(x, gamma, beta, state, { training: true, momentum: 0.3, eps: 1e-3 });
          const [gx, gGamma, gBeta] = wm.grad(y, [x, gamma, beta], wm.fromArray(draws(24, size), y.shape, { backend: be }));
          return {
            y: await f32(y),
            gx: await f32(gx),
            gGamma: await f32(gGamma),
            gBeta: await f32(gBeta),
            runningMean: await f32(state.runningMean),
            runningVar: await f32(state.runningVar),
          };
        });
        expect(ulps(composed.gx, fused.gx, maxAbs(fused.gx)), 'gx').toBeLessThanOrEqual(16);
        for (const k of ['y', 'gGamma', 'gBeta', 'runningMean', 'runningVar']) expect(ulps(composed[k], fused[k], 1), k).toBe(0);
      });

      for (const relu of [false, true]) {
        it.skipIf(!b?.batchNormEval)(`batchNorm1d eval, ${what}, relu ${relu}`, async () => {
          const [N, C] = [11, 5];
          const lead = groups ? [groups] : [];
          const stat = groups ? [groups, 1, C] : [C];
          const size = (groups || 1) * N * C;
          const [fused, composed] = await both(b, ['batchNormEval'], async (be) => {
            const x = wm.fromArray(draws(30, size, 3), [...lead, N, C], { backend: be });
            const gamma = wm.fromArray(draws(31, size / N), stat, { backend: be });
            const beta = wm.fromArray(draws(32, size / N), stat, { backend: be });
            const runningVar = wm.fromArray(draws(33, size / N).map(Math.abs), stat, { backend: be });
            const state = { runningMean: wm.fromArray(draws(34, size / N), stat, { backend: be }), runningVar };
            return { y: await f32(wm.batchNorm1d(x, gamma, beta, state, { training: false, eps: 1e-3, relu })) };
          });
          expect(ulps(composed.y, fused.y, 1)).toBe(0);
        });
      }
    }

    const linearCases = [
      { label: 'x [rows, in] · W [in, out] + b [out]', x: [9, 6], w: [6, 5], bias: [5] },
      { label: 'x [E, rows, in] · W [E, in, out] + b [E, 1, out]', x: [3, 9, 6], w: [3, 6, 5], bias: [3, 1, 5] },
      { label: 'x [rows, in] shared · W [E, in, out] + b [out]', x: [9, 6], w: [3, 6, 5], bias: [5] },
    ];
    for (const c of linearCases) {
      it.skipIf(!b?.matmulBias)(`linear (matmulBias), ${c.label}`, async () => {
        const n = (s: number[]) => s.reduce((a, d) => a * d, 1);
        const [fused, composed] = await both(b, ['matmulBias'], async (be) => {
          const x = wm.fromArray(draws(40, n(c.x)), c.x, { backend: be, requiresGrad: true });
          const w = wm.fromArray(draws(41, n(c.w)), c.w, { backend: be, requiresGrad: true });
          const bias = wm.fromArray(draws(42, n(c.bias)), c.bias, { backend: be, requiresGrad: true });
          const y = wm.linear(x, w, bias);
          const [gx, gw, gb] = wm.grad(y, [x, w, bias], wm.fromArray(draws(43, y.size), y.shape, { backend: be }));
          return { y: await f32(y), gx: await f32(gx), gw: await f32(gw), gb: await f32(gb) };
        });
        for (const k of Object.keys(fused)) expect(ulps(composed[k], fused[k], 1), k).toBe(0);
      });
    }
  });
}
