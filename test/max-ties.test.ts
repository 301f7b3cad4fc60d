// Ties in the max ops, on every backend, element by element, with the semantics of torch:
//   max(x, axis?)  (torch.amax, and torch.max(x) over everything): the gradient of each maximum is
//                  split evenly among the elements that tie for it;
//   maximum(a, b)  (torch.maximum): the gradient goes to the larger side, and half to each side
//                  where a == b (summed over broadcast axes like any other gradient).
// The upstream gradient is a random projection, so a wrong split (all of it to every tied element,
// all of it to one of them, or none) shows up as a wrong number at that element.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
const backends: { name: string; backend: (Backend & { destroy?(): void }) | null }[] = [
  { name: 'cpu', backend: cpu },
  { name: 'wasm', backend: await createWasmBackend() },
  { name: 'WebGPU', backend: await getWebGPUOrSkip() },
];

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const strides = (shape: number[]) => shape.map((_, i) => size(shape.slice(i + 1)));
const coords = (i: number, shape: number[]) => strides(shape).map((s, d) => Math.floor(i / s) % shape[d]);

function projection(n: number, seed: number): Float32Array {
  const r = new wm.Random(seed);
  // Away from 0, so that every element's share is a visible number.
  return Float32Array.from({ length: n }, () => (r.uniform() < 0.5 ? -1 : 1) * (0.5 + 2 * r.uniform()));
}

/** Host reference of d(Σ max(x, axes)·w)/dx: w of the element's group divided by the number of its tied maxima. */
function maxGradient(x: Float32Array, shape: number[], axes: number[], w: Float32Array): { out: number[]; grad: number[]; ties: number } {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const group = (i: number) => coords(i, shape).reduce((s, c, d) => s + (axes.includes(d) ? 0 : c) * strides(kept)[d], 0);
  const best = new Array<number>(size(kept)).fill(-Infinity);
  const count = new Array<number>(size(kept)).fill(0);
  x.forEach((v, i) => (best[group(i)] = Math.max(best[group(i)], v)));
  x.forEach((v, i) => v === best[group(i)] && count[group(i)]++);
  return {
    out: best,
    grad: Array.from(x, (v, i) => (v === best[group(i)] ? w[group(i)] / count[group(i)] : 0)),
    ties: count.filter((c) => c > 1).length,
  };
}

/** Host reference of maximum(a, b) with broadcasting and the gradients of Σ out·w: ½ to each side on a tie. */
function maximumGradient(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], w: Float32Array) {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(aShape), pad(bShape)];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const at = (c: number[], s: number[]) => c.reduce((acc, ci, d) => acc + (s[d] === 1 ? 0 : ci) * strides(s)[d], 0);
  const out: number[] = [];
  const ga = new Array<number>(a.length).fill(0);
  const gb = new Array<number>(b.length).fill(0);
  // Σ|terms| of each gradient entry: the scale of its float32 rounding error.
  const gaScale = new Array<number>(a.length).fill(0);
  const gbScale = new Array<number>(b.length).fill(0);
  let ties = 0;
  for (let i = 0; i < size(shape); i++) {
    const c = coords(i, shape);
    const [ia, ib] = [at(c, pa), at(c, pb)];
    const share = a[ia] > b[ib] ? 1 : a[ia] === b[ib] ? 0.5 : 0;
    if (share === 0.5) ties++;
    out.push(Math.max(a[ia], b[ib]));
    ga[ia] += share * w[i];
    gb[ib] += (1 - share) * w[i];
    gaScale[ia] += Math.abs(share * w[i]);
    gbScale[ib] += Math.abs((1 - share) * w[i]);
  }
  return { out, ga, gb, gaScale, gbScale, ties };
}

/** |got − want| ≤ 2e-6·scale + 1e-7 elementwise, scale = |want| or the given Σ|terms|. */
function expectClose(got: ArrayLike<number>, want: number[], what: string, scale: number[] = want.map(Math.abs)): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: got ${got[i]}, want ${want[i]}`).toBeLessThanOrEqual(2e-6 * scale[i] + 1e-7);
  }
}

/** Small integers: ties everywhere. */
function ints(n: number, seed: number, range: number): Float32Array {
  const r = new wm.Random(seed);
  return Float32Array.from({ length: n }, () => r.int(range) - Math.floor(range / 2));
}

/** Runs max(x, axis, keepDims) and Σ out·w backward on `backend`. */
async function runMax(
  backend: Backend,
  xv: Float32Array,
  shape: number[],
  axis: number | number[] | undefined,
  keepDims: boolean,
  w: Float32Array,
) {
  wm.setBackend(backend);
  return wm.tidyAsync(async () => {
    const x = wm.fromArray(xv, shape, { requiresGrad: true });
    const out = wm.max(x, axis, keepDims);
    wm.sum(wm.mul(out, wm.fromArray(w, out.shape as number[]))).backward();
    return { shape: [...out.shape], out: Array.from(await out.data()), grad: Array.from(await x.grad!.data()) };
  });
}

async function runMaximum(
  backend: Backend,
  av: Float32Array,
  aShape: number[],
  bv: Float32Array,
  bShape: number[],
  w: Float32Array,
  same = false,
) {
  wm.setBackend(backend);
  return wm.tidyAsync(async () => {
    const a = wm.fromArray(av, aShape, { requiresGrad: true });
    const b = same ? a : wm.fromArray(bv, bShape, { requiresGrad: true });
    const out = wm.maximum(a, b);
    wm.sum(wm.mul(out, wm.fromArray(w, out.shape as number[]))).backward();
    return { out: Array.from(await out.data()), ga: Array.from(await a.grad!.data()), gb: Array.from(await b.grad!.data()) };
  });
}

// Shapes chosen to reach each reduction kernel: small (one thread per output), long rows
// (WebGPU's row tree, wasm's contiguous loop) and long columns (column tree, strided loop).
const maxCases: { name: string; shape: number[]; axis?: number | number[]; keepDims?: boolean; range: number }[] = [
  { name: 'everything of [4, 5]', shape: [4, 5], range: 3 },
  { name: 'axis 1 of [6, 5]', shape: [6, 5], axis: 1, range: 3 },
  { name: 'axis 0 of [6, 5], keepDims', shape: [6, 5], axis: 0, keepDims: true, range: 3 },
  { name: 'axes [0, 2] of [3, 4, 5]', shape: [3, 4, 5], axis: [0, 2], range: 4 },
  { name: 'axis -1 of [3, 300] (long rows)', shape: [3, 300], axis: -1, range: 7 },
  { name: 'axis 0 of [300, 3] (long columns)', shape: [300, 3], axis: 0, range: 7 },
  { name: 'everything of [40, 33]', shape: [40, 33], range: 9 },
];

for (const { name: backendName, backend } of backends) {
  describe.skipIf(!backend)(`max ties on ${backendName}`, () => {
    afterAll(() => {
      wm.setBackend(cpu);
      if (backend !== cpu) backend?.destroy?.();
    });

    it('max over everything: [1, 3, 3, 0, 3, -1] sends a third of the gradient to each 3', async () => {
      const r = await runMax(backend!, Float32Array.of(1, 3, 3, 0, 3, -1), [6], undefined, false, Float32Array.of(1.5));
      expect(r.shape).toEqual([]);
      expect(r.out).toEqual([3]);
      expectClose(r.grad, [0, 0.5, 0.5, 0, 0.5, 0], 'grad');
    });

    it('max along axis 1: each row splits its own gradient among its own ties (all equal, -0 and +0, none)', async () => {
      const x = Float32Array.of(2, 2, 2, 2, /**/ -0, 0, -1, -3, /**/ 5, 1, 5, 4, /**/ -2, -7, -9, -4);
      const w = Float32Array.of(2, -1, 3, 0.5);
      const r = await runMax(backend!, x, [4, 4], 1, false, w);
      expect(r.shape).toEqual([4]);
      expectClose(r.out, [2, 0, 5, -2], 'out');
      expectClose(r.grad, [0.5, 0.5, 0.5, 0.5, /**/ -0.5, -0.5, 0, 0, /**/ 1.5, 0, 1.5, 0, /**/ 0.5, 0, 0, 0], 'grad');
    });

    for (const c of maxCases) {
      it(`max ${c.name}: every tied element gets its group's gradient / number of ties`, async () => {
        const xv = ints(size(c.shape), 11, c.range);
        const axes =
          c.axis === undefined
            ? c.shape.map((_, i) => i)
            : (Array.isArray(c.axis) ? c.axis : [c.axis]).map((a) => (a < 0 ? a + c.shape.length : a));
        const nOut = size(c.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
        const w = projection(nOut, 12);
        const want = maxGradient(xv, c.shape, axes, w);
        expect(want.ties, 'the case has ties').toBeGreaterThan(0);
        const got = await runMax(backend!, xv, c.shape, c.axis, c.keepDims ?? false, w);
        expect(got.shape).toEqual(
          c.keepDims ? c.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : c.shape.filter((_, i) => !axes.includes(i)),
        );
        expectClose(got.out, want.out, 'out');
        expectClose(got.grad, want.grad, 'grad');
      });
    }

    it('maximum of [1, 2, 3, 4, 5, -0] and [1, 0, 3, 7, 5, 0]: half to each side on a tie', async () => {
      const w = Float32Array.of(2, -1, 4, 3, -6, 1);
      const r = await runMaximum(backend!, Float32Array.of(1, 2, 3, 4, 5, -0), [6], Float32Array.of(1, 0, 3, 7, 5, 0), [6], w);
      expectClose(r.out, [1, 2, 3, 7, 5, 0], 'out');
      expectClose(r.ga, [1, -1, 2, 0, -3, 0.5], 'grad a');
      expectClose(r.gb, [1, 0, 2, 3, -3, 0.5], 'grad b');
    });

    it('maximum(x, 0) as ReLU with a scalar zero: ties at 0 send half to x and half (summed) to the zero', async () => {
      const w = Float32Array.of(1, 2, 3, 4, 5);
      const r = await runMaximum(backend!, Float32Array.of(-1, 0, 2, 0, -0), [5], Float32Array.of(0), [1], w);
      expectClose(r.out, [0, 0, 2, 0, 0], 'out');
      expectClose(r.ga, [0, 1, 3, 2, 2.5], 'grad x');
      expectClose(r.gb, [1 + 1 + 2 + 2.5], 'grad zero');
    });

    it('maximum(x, x): each element gets its whole gradient (half through each side)', async () => {
      const xv = Float32Array.of(-2, 0, 1.5, 7);
      const w = Float32Array.of(1, -2, 3, 0.25);
      const r = await runMaximum(backend!, xv, [4], xv, [4], w, true);
      expectClose(r.out, [-2, 0, 1.5, 7], 'out');
      expectClose(r.ga, [1, -2, 3, 0.25], 'grad');
    });

    for (const [aShape, bShape] of [
      [
        [5, 7],
        [5, 7],
      ],
      [[6, 4], [4]],
      [
        [3, 1, 5],
        [1, 4, 5],
      ],
      [
        [40, 33],
        [40, 1],
      ],
    ]) {
      it(`maximum [${aShape}] and [${bShape}] of small integers: each side's gradient, ties halved and summed over broadcast axes`, async () => {
        const av = ints(size(aShape), 21, 4);
        const bv = ints(size(bShape), 22, 4);
        const outSize = size(
          aShape.length >= bShape.length ? aShape.map((d, i) => Math.max(d, bShape[i - aShape.length + bShape.length] ?? 1)) : bShape,
        );
        const w = projection(outSize, 23);
        const want = maximumGradient(av, aShape, bv, bShape, w);
        expect(want.ties, 'the case has ties').toBeGreaterThan(0);
        const got = await runMaximum(backend!, av, aShape, bv, bShape, w);
        expectClose(got.out, want.out, 'out');
        expectClose(got.ga, want.ga, 'grad a', want.gaScale);
        expectClose(got.gb, want.gb, 'grad b', want.gbScale);
      });
    }
  });
}
