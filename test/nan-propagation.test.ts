// NaN and ±Inf propagate the same way on every backend: the CPU reference (torch's semantics: NaN in
// → NaN out, relu(NaN) = NaN, clamp(NaN) = NaN, a max over anything with a NaN is NaN, softmax of a row
// with a NaN is NaN, IEEE arithmetic on infinities) and the wasm and WebGPU kernels must give the same
// pattern of NaN / +Inf / −Inf / finite values, and the finite values within the kernel tolerances.
//
// WGSL leaves NaN and Inf behaviour of its builtins to the implementation (SwiftShader drops a NaN
// in max/min/clamp and returns finite numbers for exp/log of NaN), so the WebGPU kernels test the
// bits; these tests hold them to it on the inputs where an implementation would differ. With
// WEBMTL_REQUIRE_WEBGPU=1 (or CI=true) a missing adapter fails the WebGPU part instead of skipping it.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, BinaryOp, TypedArray, UnaryOp } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import { MMoE, type MultiTaskModel, SharedBottom } from '../src/models/index.js';
import { Adagrad, SGD } from '../src/optim/index.js';
import * as wm from '../src/tensor/index.js';
import { onBoth, uniform } from './helpers/kernel-checks.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
const wasm = await createWasmBackend({ threads: 0 });
const wasm2 = await createWasmBackend({ threads: 1 });
const gpu = await getWebGPUOrSkip();
// A second device that pretends only 8 workgroups fit per dimension: the reductions, softmax rows and
// elementwise ops then run on 2D grids of workgroups.
const tiny = gpu ? await getWebGPUOrSkip({ maxWorkgroupsPerDimension: 8, paramSlots: 4 }) : null;
const fast: [string, Backend][] = [['wasm', wasm], ['wasm (helper thread)', wasm2], ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];
const rawBackends: [string, Backend][] = [...fast, ...(tiny ? [['webgpu (2D grids)', tiny] as [string, Backend]] : [])];
const all: [string, Backend][] = [['cpu', cpu], ...fast];

afterAll(() => {
  wm.setBackend(cpu);
  wasm.destroy();
  wasm2.destroy();
  gpu?.destroy();
  tiny?.destroy();
});

// ------------------------------------------------------------------ values and comparison

/** A quiet NaN with the sign bit set (abs and neg must not turn it into a number either). */
const NEG_NAN_BITS = 0xffc00001;

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -0.5, 2, -3, 1e-30, 100, -100, 1e30, -1e30, NaN];

/** `SPECIALS` written at `at` into x (the last NaN as a negative NaN, by its bits). */
function putSpecials(x: Float32Array, at: number): void {
  x.set(SPECIALS, at);
  new Uint32Array(x.buffer, x.byteOffset, x.length)[at + SPECIALS.length - 1] = NEG_NAN_BITS;
}

/**
 * n values in [lo, hi) with the specials at the start, in the middle (an odd offset, so SIMD lanes
 * see them everywhere) and at the end (the scalar tail).
 */
function withSpecials(n: number, lo: number, hi: number, seed: number): Float32Array {
  const x = uniform(n, lo, hi, seed);
  for (const at of [0, (n >> 1) | 1, n - SPECIALS.length]) putSpecials(x, at);
  return x;
}

const kind = (v: number): string => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : 'finite');

/** Same NaN / ±Inf / finite pattern, and finite values within atol + rtol·|want|. */
function expectSame(got: TypedArray, want: TypedArray, rtol: number, atol: number, label: string, inputs?: (i: number) => string): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length && bad.length < 6; i++) {
    const w = want[i];
    const g = got[i];
    const at = inputs ? ` (${inputs(i)})` : '';
    if (kind(w) !== kind(g)) bad.push(`[${i}]${at} got ${g}, cpu ${w}`);
    else if (kind(w) === 'finite' && !(Math.abs(g - w) <= atol + rtol * Math.abs(w))) bad.push(`[${i}]${at} got ${g}, cpu ${w}`);
  }
  expect(bad, `${label}: mismatches`).toEqual([]);
}

const isNaNAll = (v: ArrayLike<number>): boolean => Array.from(v).every(Number.isNaN);

// ------------------------------------------------------------------ the reference itself

describe('the CPU reference follows torch on NaN and Inf', () => {
  it('elementwise ops', async () => {
    const run = (op: UnaryOp, x: number, p0 = 0, p1 = 0): number => {
      const [xb, o] = [cpu.alloc(1, 'f32'), cpu.alloc(1, 'f32')];
      cpu.write(xb, Float32Array.of(x));
      cpu.unary(op, xb, o, 1, p0, p1);
      return cpu.readSync(o)[0];
    };
    const bin = (op: BinaryOp, a: number, b: number): number => {
      const [ab, bb, o] = [cpu.alloc(1, 'f32'), cpu.alloc(1, 'f32'), cpu.alloc(1, 'f32')];
      cpu.write(ab, Float32Array.of(a));
      cpu.write(bb, Float32Array.of(b));
      cpu.binary(op, ab, bb, o, [1], [1], [1]);
      return cpu.readSync(o)[0];
    };
    for (const op of ['neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'sigmoid', 'tanh', 'square', 'reciprocal'] as UnaryOp[])
      expect(run(op, NaN), op).toBeNaN();
    expect(run('clamp', NaN, -1, 1)).toBeNaN();
    expect(run('leakyRelu', NaN, 0.1)).toBeNaN();
    expect(run('sign', NaN)).toBe(0); // torch.sign(nan) is 0
    expect(run('log', 0)).toBe(-Infinity);
    expect(run('log', -1)).toBeNaN();
    expect(run('exp', Infinity)).toBe(Infinity);
    expect(run('sigmoid', -Infinity)).toBe(0);
    expect(run('tanh', -Infinity)).toBe(-1);
    expect(run('clamp', Infinity, -1, 1)).toBe(1);
    for (const op of ['max', 'min', 'add', 'mul', 'bce', 'bceLogits', 'squaredError'] as BinaryOp[]) {
      expect(bin(op, NaN, 0.5), `${op}(NaN, 0.5)`).toBeNaN();
      expect(bin(op, 0.5, NaN), `${op}(0.5, NaN)`).toBeNaN();
    }
    expect(bin('bce', 1.5, 1)).toBeNaN(); // outside [0, 1]
    expect(bin('pow', NaN, 0)).toBe(1);
    expect(bin('pow', 1, NaN)).toBe(1); // C's pow, as torch.pow
    expect(bin('pow', -1, Infinity)).toBe(1);
    expect(bin('pow', -Infinity, 3)).toBe(-Infinity);
    expect(bin('pow', -0, -1)).toBe(-Infinity);
    expect(bin('gt', NaN, 0)).toBe(0);
    expect(bin('eq', NaN, NaN)).toBe(0);
  });
});

// ------------------------------------------------------------------ raw kernels

const unaryCases: Array<{ op: UnaryOp; p0?: number; p1?: number; rtol: number; atol?: number }> = [
  { op: 'neg', rtol: 0 },
  { op: 'exp', rtol: 1e-5, atol: 1e-37 }, // SwiftShader flushes f32 denormals (e^-100) to 0
  { op: 'log', rtol: 1e-5, atol: 1e-6 },
  { op: 'sqrt', rtol: 1e-5 },
  { op: 'abs', rtol: 0 },
  { op: 'sign', rtol: 0 },
  { op: 'relu', rtol: 0 },
  { op: 'sigmoid', rtol: 1e-5, atol: 1e-7 },
  { op: 'tanh', rtol: 1e-5, atol: 1e-7 },
  { op: 'square', rtol: 0 },
  { op: 'reciprocal', rtol: 1e-5 },
  { op: 'affine', p0: 1.5, p1: -0.3, rtol: 1e-6, atol: 1e-7 },
  { op: 'powScalar', p0: 3, rtol: 1e-5, atol: 1e-6 },
  { op: 'powScalar', p0: -2, rtol: 1e-5, atol: 1e-6 },
  { op: 'powScalar', p0: 0.5, rtol: 1e-5, atol: 1e-6 },
  { op: 'powScalar', p0: 0, rtol: 0 },
  { op: 'powScalar', p0: Infinity, rtol: 1e-5 },
  { op: 'powScalar', p0: NaN, rtol: 0 },
  { op: 'clamp', p0: -0.5, p1: 0.3, rtol: 0 },
  { op: 'leakyRelu', p0: 0.01, rtol: 1e-6 },
  { op: 'gtScalar', p0: 0.1, rtol: 0 },
  { op: 'inRange', p0: -0.3, p1: 0.7, rtol: 0 },
];

const binaryCases: Array<{ op: BinaryOp; rtol: number; atol?: number }> = [
  { op: 'add', rtol: 0 },
  { op: 'sub', rtol: 0 },
  { op: 'mul', rtol: 0 },
  { op: 'div', rtol: 1e-6 },
  { op: 'pow', rtol: 1e-5, atol: 1e-6 },
  { op: 'max', rtol: 0 },
  { op: 'min', rtol: 0 },
  { op: 'gt', rtol: 0 },
  { op: 'eq', rtol: 0 },
  { op: 'bce', rtol: 1e-5, atol: 1e-6 },
  { op: 'bceLogits', rtol: 1e-5, atol: 1e-6 },
  { op: 'squaredError', rtol: 1e-6 },
];

/** Every pair of specials (a over rows, b over columns), then random values with specials sprinkled in. */
function binaryInputs(op: BinaryOp): { a: Float32Array; b: Float32Array; n: number } {
  const k = SPECIALS.length;
  const n = k * k + 1030;
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      a[i * k + j] = SPECIALS[i];
      b[i * k + j] = SPECIALS[j];
    }
  }
  const [lo, hi] = op === 'bce' ? [0, 1] : [-3, 3];
  a.set(withSpecials(1030, lo, hi, 5), k * k);
  b.set(op === 'bce' ? uniform(1030, 0, 1, 6).map(Math.round) : withSpecials(1030, -3, 3, 6).reverse(), k * k);
  if (op === 'bce') b.set([0, 1, 0.25, NaN], k * k + 100);
  if (op === 'eq' || op === 'max' || op === 'min') for (let i = k * k; i < n; i += 3) a[i] = b[i];
  return { a, b, n };
}

for (const [name, backend] of rawBackends) {
  describe(`raw kernels: ${name} gives the CPU's NaN / Inf pattern`, () => {
    it.each(unaryCases)('unary $op p0=$p0 p1=$p1', async ({ op, p0, p1, rtol, atol }) => {
      for (const n of [SPECIALS.length, 1037]) {
        const x = n === SPECIALS.length ? Float32Array.from(SPECIALS) : withSpecials(n, -3, 3, n);
        if (n === SPECIALS.length) putSpecials(x, 0);
        const { want, got } = await onBoth(backend, [x], [{ size: n }], (b, [xb], [o]) => b.unary(op, xb, o, n, p0, p1));
        expectSame(got[0], want[0], rtol, atol ?? 0, `${op} n=${n}`, (i) => `x=${x[i]}`);
      }
    });

    it.each(binaryCases)('binary $op on every pair of specials, and broadcast', async ({ op, rtol, atol }) => {
      const { a, b, n } = binaryInputs(op);
      const { want, got } = await onBoth(backend, [a, b], [{ size: n }], (be, [ab, bb], [o]) => be.binary(op, ab, bb, o, [n], [1], [1]));
      expectSame(got[0], want[0], rtol, atol ?? 0, `${op} elementwise`, (i) => `a=${a[i]}, b=${b[i]}`);
      // rows of 4k (the SIMD row loop) and a NaN scalar broadcast from either side
      const shape = [3, 1028];
      const cols = shape[1];
      const size = shape[0] * cols;
      const ra = withSpecials(size, op === 'bce' ? 0 : -3, op === 'bce' ? 1 : 3, 7);
      const rb = op === 'bce' ? uniform(size, 0, 1, 8).map(Math.round) : withSpecials(size, -3, 3, 8).reverse();
      const r = await onBoth(backend, [ra, rb], [{ size }], (be, [ab, bb], [o]) => be.binary(op, ab, bb, o, shape, [cols, 1], [cols, 1]));
      expectSame(r.got[0], r.want[0], rtol, atol ?? 0, `${op} [3, ${cols}]`);
      for (const [as, bs] of [
        [[1], [0]],
        [[0], [1]],
      ]) {
        const scalar = Float32Array.of(NaN);
        const vec = withSpecials(1030, -3, 3, 9);
        const ins = as[0] === 0 ? [scalar, vec] : [vec, scalar];
        const s = await onBoth(backend, ins, [{ size: 1030 }], (be, [ab, bb], [o]) => be.binary(op, ab, bb, o, [1030], as, bs));
        expectSame(s.got[0], s.want[0], rtol, atol ?? 0, `${op} with a NaN scalar (strides ${as}/${bs})`);
      }
    });

    // [outer, reduce, inner]: the serial path, one workgroup per row (inner 1), 16 columns per workgroup.
    const reduceShapes: [number, number, number][] = [
      [10, 7, 1],
      [10, 3000, 1],
      [2, 100003, 1],
      [10, 100, 1],
      [3, 300, 20],
      [4, 9, 5],
      [9000, 70, 1],
    ];
    it.each(reduceShapes)('reduce sum and max of [%i, %i, %i]: a NaN anywhere makes the result NaN', async (outer, red, inner) => {
      const n = outer * red * inner;
      const x = uniform(n, -3, 3, n);
      const at = (i: number, r: number, j: number): number => (i * red + r) * inner + j;
      const put = (i: number, r: number, v: number): void => {
        if (i < outer) x[at(i, r % red, (i + r) % inner)] = v;
      };
      put(0, 0, NaN);
      put(1, red - 1, NaN);
      put(2, (red >> 1) + 37, NaN);
      put(2, 1, Infinity);
      put(3, red >> 2, Infinity);
      put(4, red - 2, -Infinity);
      put(5, 3, Infinity);
      put(5, 4, -Infinity);
      if (outer > 6) for (let r = 0; r < red; r++) for (let j = 0; j < inner; j++) x[at(6, r, j)] = -Infinity;
      put(7, red - 1, Infinity);
      put(7, 0, NaN);
      if (outer > 9000 - 1) put(8999, 69, NaN);
      for (const op of ['sum', 'max'] as const) {
        const { want, got } = await onBoth(backend, [x], [{ size: outer * inner }], (b, [xb], [o]) =>
          b.reduce(op, xb, o, outer, red, inner),
        );
        expectSame(got[0], want[0], op === 'sum' ? 1e-4 : 0, op === 'sum' ? 1e-3 : 0, `${op} [${outer}, ${red}, ${inner}]`);
        if (op === 'max') expect(want[0][0], 'the reference max of a row with a NaN').toBeNaN();
      }
    });

    it.each([
      [6, 5],
      [6, 8],
      [6, 300],
    ])('softmax and logSoftmax of [%i, %i] with NaN / Inf logits', async (rows, cols) => {
      const x = uniform(rows * cols, -5, 5, rows + cols);
      x[0 * cols + 1] = NaN; // row 0: NaN → all NaN
      x[1 * cols + cols - 1] = Infinity; // row 1: +Inf → NaN (Inf − Inf)
      x[2 * cols + 2] = -Infinity; // row 2: one −Inf → weight 0, the rest finite
      x.fill(-Infinity, 3 * cols, 4 * cols); // row 3: all −Inf → NaN
      new Uint32Array(x.buffer)[4 * cols + cols - 1] = NEG_NAN_BITS; // row 4: a negative NaN last
      const { want, got } = await onBoth(backend, [x], [{ size: rows * cols }, { size: rows * cols }], (b, [xb], [s, l]) => {
        b.softmax(xb, s, rows, cols, false);
        b.softmax(xb, l, rows, cols, true);
      });
      expect(
        isNaNAll(want[0].subarray(0, cols)) && isNaNAll(want[0].subarray(4 * cols, 5 * cols)),
        'reference: a NaN logit makes its row NaN',
      ).toBe(true);
      expectSame(got[0], want[0], 1e-5, 1e-7, `softmax [${rows}, ${cols}]`);
      expectSame(got[1], want[1], 1e-5, 1e-5, `logSoftmax [${rows}, ${cols}]`);
    });

    it.each([
      [2, 5, 4, 7],
      [2, 5, 3, 16],
      [1, 6, 8, 5],
    ])('gateMix forward and backward [T=%i, B=%i, E=%i, H=%i] with NaN / Inf logits and experts', async (T, B, E, H) => {
      const shape = { tasks: T, batch: B, experts: E, hidden: H };
      const logits = uniform(T * B * E, -3, 3, T + B + E);
      logits[0 * E + 1] = NaN; // (t 0, b 0)
      logits[1 * E + E - 1] = Infinity; // (t 0, b 1)
      logits[2 * E] = -Infinity; // (t 0, b 2): weight 0
      new Uint32Array(logits.buffer)[(T * B - 1) * E + E - 1] = NEG_NAN_BITS; // last row
      logits[3 * E + E - 2] = NaN; // (t 0, b 3): a NaN past the first four logits
      const experts = uniform(E * B * H, -1, 1, H);
      experts[(1 * B + 3) * H + 1] = NaN; // expert 1, b 3
      experts[(0 * B + 4) * H + 2] = Infinity; // expert 0, b 4
      const fwd = await onBoth(backend, [logits, experts], [{ size: T * B * H }, { size: T * B * E }], (b, [l, x], [mix, wt]) =>
        b.gateMixForward!(l, x, mix, wt, shape),
      );
      expect(isNaNAll(fwd.want[1].subarray(0, E)), 'reference: a NaN logit gives NaN weights').toBe(true);
      expectSame(fwd.got[1], fwd.want[1], 1e-5, 1e-7, 'weights');
      expectSame(fwd.got[0], fwd.want[0], 1e-4, 1e-5, 'mix');
      const gMix = uniform(T * B * H, -1, 1, 99);
      gMix[3 * H + 4] = NaN;
      const bwd = await onBoth(
        backend,
        [fwd.want[1], experts, gMix],
        [{ size: T * B * E }, { size: E * B * H }],
        (b, [wt, x, gm], [gl, gx]) => b.gateMixBackward!(wt, x, gm, gl, gx, shape),
      );
      expectSame(bwd.got[0], bwd.want[0], 1e-4, 1e-5, 'gLogits');
      expectSame(bwd.got[1], bwd.want[1], 1e-4, 1e-5, 'gExperts');
    });

    it('matmul: NaN and Inf operands (every layout)', async () => {
      const [m, n, k] = [37, 19, 70];
      const a = uniform(m * k, -1, 1, 1);
      const b = uniform(k * n, -1, 1, 2);
      a[5] = NaN;
      a[k * 3 + 69] = Infinity;
      a[k * 10 + 4] = -Infinity;
      b[7] = Infinity;
      b[n * 8 + 3] = NaN;
      b[n * 4 + 11] = 0; // meets the Inf of a row 10 (kk 4): Inf · 0 = NaN
      for (const [transA, transB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const p = { batch: 1, m, n, k, transA, transB, aBatchStride: 0, bBatchStride: 0 };
        const { want, got } = await onBoth(backend, [a, b], [{ size: m * n }], (be, [ab, bb], [o]) => be.matmul(ab, bb, o, p));
        expect(want[0].some((v) => Number.isNaN(v)) && want[0].some((v) => Math.abs(v) === Infinity)).toBe(true);
        expectSame(got[0], want[0], 1e-4, 1e-5, `matmul transA=${transA} transB=${transB}`);
      }
    });

    it('where: a NaN condition counts as true, NaN values are moved as they are', async () => {
      const n = 1030;
      const cond = withSpecials(n, -1, 1, 3).map((v, i) => (i % 5 === 0 ? 0 : v));
      const a = withSpecials(n, -3, 3, 4);
      const b = withSpecials(n, -3, 3, 5).reverse();
      [cond[1], a[1], b[1]] = [NaN, 7, -7];
      const { want, got } = await onBoth(backend, [cond, a, b], [{ size: n }], (be, [c, ab, bb], [o]) =>
        be.where(c, ab, bb, o, [n], [1], [1], [1]),
      );
      expectSame(got[0], want[0], 0, 0, 'where');
      expect(want[0][1], 'reference: where(NaN, a, b) = a').toBe(7);
    });

    it('i32 outputs: Inf, NaN and out-of-range results convert as the reference Int32Array store does (0, 0, wrap)', async () => {
      const a = Int32Array.of(1, -1, 0, 7, 65536, 40000, -40000, 3, 1 << 20, -5);
      const b = Int32Array.of(0, 0, 0, 2, 65536, 60000, 60000, -1, 1 << 12, 3);
      const n = a.length;
      const outs = [
        { size: n, dtype: 'i32' as const },
        { size: n, dtype: 'i32' as const },
        { size: n, dtype: 'i32' as const },
        { size: n, dtype: 'i32' as const },
      ];
      const { want, got } = await onBoth(backend, [a, b], outs, (be, [ab, bb], [d, m, r, p]) => {
        be.binary('div', ab, bb, d, [n], [1], [1]);
        be.binary('mul', ab, bb, m, [n], [1], [1]);
        be.unary('reciprocal', ab, r, n);
        be.unary('log', ab, p, n);
      });
      expect(Array.from(want[0].subarray(0, 3)), 'reference: x / 0 stored to i32').toEqual([0, 0, 0]);
      ['div', 'mul', 'reciprocal', 'log'].forEach((op, q) => expect(Array.from(got[q]), `${op} i32`).toEqual(Array.from(want[q])));
    });

    it('adam: NaN / Inf in gradients, parameters and state', async () => {
      const n = 1037;
      const param = withSpecials(n, -1, 1, 1);
      const grad = withSpecials(n, -1, 1, 2).reverse();
      const m = uniform(n, -0.1, 0.1, 3);
      const v = uniform(n, 0, 0.1, 4);
      m[500] = NaN;
      v[501] = Infinity;
      v[502] = NaN;
      for (const decoupled of [false, true]) {
        const h = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled, step: 3 };
        const { want, got } = await onBoth(
          backend,
          [grad],
          [
            { size: n, init: param },
            { size: n, init: m },
            { size: n, init: v },
          ],
          (b, [g], [p, mb, vb]) => b.adam!(p, g, mb, vb, n, h),
        );
        for (let q = 0; q < 3; q++) expectSame(got[q], want[q], 1e-4, 1e-6, `adam (decoupled ${decoupled}) output ${q}`);
      }
    });
  });
}

// ------------------------------------------------------------------ through the ops

describe('ops: a NaN input surfaces as NaN on every backend', () => {
  it('softmax and gateMix with a NaN logit give NaN weights for that row (and only that row)', async () => {
    for (const [name, backend] of all) {
      wm.setBackend(backend);
      const logits = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i));
      logits[1 * 4 + 2] = NaN; // task 0, row 1
      const l = wm.fromArray(logits, [2, 3, 4]);
      const s = (await wm.softmax(l).data()) as Float32Array;
      const experts = wm.fromArray(
        Float32Array.from({ length: 4 * 3 * 5 }, (_, i) => Math.cos(i)),
        [4, 3, 5],
      );
      const { mix, weights } = wm.gateMix(l, experts);
      const w = (await weights.data()) as Float32Array;
      const mx = (await mix.data()) as Float32Array;
      for (const [label, v, width] of [
        ['softmax', s, 4],
        ['gateMix weights', w, 4],
        ['gateMix mix', mx, 5],
      ] as const) {
        for (let row = 0; row < 6; row++) {
          const vals = Array.from(v.subarray(row * width, (row + 1) * width));
          if (row === 1) expect(vals.every(Number.isNaN), `${name} ${label} row ${row}: ${vals}`).toBe(true);
          else expect(vals.every(Number.isFinite), `${name} ${label} row ${row}: ${vals}`).toBe(true);
        }
      }
    }
    wm.setBackend(cpu);
  });

  it('max over an axis, maximum, clamp and relu keep a NaN', async () => {
    for (const [name, backend] of all) {
      wm.setBackend(backend);
      const x = wm.fromArray(
        Float32Array.from({ length: 3 * 200 }, (_, i) => (i === 250 ? NaN : Math.sin(i))),
        [3, 200],
      );
      const m = Array.from((await wm.max(x, 1).data()) as Float32Array);
      expect(m.map(Number.isNaN), `${name} max over rows: ${m}`).toEqual([false, true, false]);
      expect(await wm.max(x).item(), `${name} max of all`).toBeNaN();
      const v = wm.fromArray(Float32Array.of(NaN, 1, -Infinity, Infinity), [4]);
      const w = wm.fromArray(Float32Array.of(0, NaN, 0, 0), [4]);
      expect(Array.from(await wm.maximum(v, w).data()), `${name} maximum`).toEqual([NaN, NaN, 0, Infinity]);
      expect(Array.from(await wm.clamp(v, -1, 1).data()), `${name} clamp`).toEqual([NaN, 1, -1, 1]);
      expect(Array.from(await wm.relu(v).data()), `${name} relu`).toEqual([NaN, 1, 0, Infinity]);
      const sg = Array.from(await wm.sigmoid(v).data());
      expect(Number.isNaN(sg[0]), `${name} sigmoid(NaN): ${sg}`).toBe(true);
      expect(sg[1], `${name} sigmoid(1)`).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
      expect(sg.slice(2), `${name} sigmoid(±Inf)`).toEqual([0, 1]);
    }
    wm.setBackend(cpu);
  });

  it('batchNorm1d (training and eval, with and without ReLU) and dropout: a NaN in a channel makes it NaN', async () => {
    const rows = 40;
    const C = 6;
    const xv = Float32Array.from({ length: rows * C }, (_, i) => Math.sin(i * 0.7));
    xv[5 * C + 0] = NaN; // channel 0
    xv[9 * C + 1] = Infinity; // channel 1: the mean is Inf, x − mean NaN
    xv[3 * C + 4] = -Infinity;
    const results: Record<string, Float32Array[]> = {};
    for (const [name, backend] of all) {
      wm.setBackend(backend);
      results[name] = await wm.tidyAsync(async () => {
        const x = wm.fromArray(xv, [rows, C], { requiresGrad: true });
        const gamma = wm.ones([C], { requiresGrad: true });
        const beta = wm.zeros([C], { requiresGrad: true });
        const state = { runningMean: wm.zeros([C]), runningVar: wm.ones([C]) };
        const y = wm.batchNorm1d(x, gamma, beta, state, { training: true });
        wm.sum(y).backward();
        const evalY = wm.noGrad(() => wm.batchNorm1d(x, gamma, beta, state, { training: false }));
        const evalRelu = wm.noGrad(() => wm.batchNorm1d(x, gamma, beta, state, { training: false, relu: true }));
        const d = wm.dropout(x, 0.5, { training: true, seed: 3 });
        return Promise.all(
          [y, x.grad!, gamma.grad!, evalY, evalRelu, state.runningMean, state.runningVar, d].map(
            async (t) => (await t.data()) as Float32Array,
          ),
        );
      });
    }
    const want = results.cpu;
    for (let r = 0; r < rows; r++) {
      expect(want[0][r * C], 'reference: channel 0 is NaN').toBeNaN();
      expect(want[0][r * C + 1], 'reference: channel 1 is NaN').toBeNaN();
      expect(Number.isFinite(want[0][r * C + 2])).toBe(true);
    }
    const names = ['y', 'grad x', 'grad gamma', 'eval y', 'eval y + relu', 'running mean', 'running var', 'dropout'];
    for (const [name] of fast) {
      results[name].forEach((got, q) => expectSame(got, want[q], 1e-4, 1e-5, `${name} batchNorm1d ${names[q]}`));
    }
    wm.setBackend(cpu);
  });

  it('SGD and Adagrad steps carry a NaN gradient into the parameter', async () => {
    const n = 12;
    const grads = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    grads[2] = NaN;
    grads[5] = Infinity;
    grads[7] = -Infinity;
    const results: Record<string, Float32Array[]> = {};
    for (const [name, backend] of all) {
      wm.setBackend(backend);
      const out: Float32Array[] = [];
      for (const make of [(p: wm.Tensor) => new SGD([p], { lr: 0.1, momentum: 0.9 }), (p: wm.Tensor) => new Adagrad([p], { lr: 0.1 })]) {
        const p = wm.fromArray(
          Float32Array.from({ length: n }, (_, i) => Math.cos(i)),
          [n],
          { requiresGrad: true },
        );
        wm.sum(wm.mul(p, wm.fromArray(grads, [n]))).backward();
        const opt = make(p);
        opt.step();
        out.push((await p.data()) as Float32Array);
      }
      results[name] = out;
    }
    expect(results.cpu[0][2]).toBeNaN();
    expect(results.cpu[1][2]).toBeNaN();
    for (const [name] of fast)
      results[name].forEach((got, q) => expectSame(got, results.cpu[q], 1e-5, 1e-6, `${name} ${q === 0 ? 'SGD' : 'Adagrad'}`));
    wm.setBackend(cpu);
  });
});

// ------------------------------------------------------------------ end to end

const features = () => [
  new SparseFeature({ name: 'user', vocabSize: 9, embedDim: 4 }),
  new SparseFeature({ name: 'item', vocabSize: 6, embedDim: 4 }),
  new DenseFeature('price'),
  new DenseFeature('age'),
];

async function lossWithNaNInput(
  model: MultiTaskModel,
  backend: Backend,
  training: boolean,
): Promise<{ loss: number; out: Float32Array; lossesPerRow: Float32Array }> {
  wm.setBackend(backend);
  const rows = 16;
  const r = new wm.Random(3);
  const price = Float32Array.from({ length: rows }, () => r.normal());
  price[5] = NaN;
  const x = {
    user: wm.fromArray(
      Int32Array.from({ length: rows }, (_, i) => i % 9),
      [rows],
      { backend },
    ),
    item: wm.fromArray(
      Int32Array.from({ length: rows }, (_, i) => (i * 5) % 6),
      [rows],
      { backend },
    ),
    price: wm.fromArray(price, [rows], { backend }),
    age: wm.fromArray(
      Float32Array.from({ length: rows }, () => r.normal()),
      [rows],
      { backend },
    ),
  };
  model.train(training);
  const out = training ? model.forward(x) : model.predict(x);
  const click = wm.reshape(wm.slice(out, [0, 0], [rows, 1]), [rows]);
  const labels = wm.fromArray(
    Float32Array.from({ length: rows }, (_, i) => i % 2),
    [rows],
    { backend },
  );
  const loss = wm.binaryCrossEntropy(click, labels);
  const perRow = wm.binaryCrossEntropy(click, labels, 'none');
  return { loss: await loss.item(), out: (await out.data()) as Float32Array, lossesPerRow: (await perRow.data()) as Float32Array };
}

describe('end to end: a NaN dense input gives a NaN BCE loss', () => {
  const models: Record<string, () => MultiTaskModel> = {
    SharedBottom: () =>
      new SharedBottom({
        features: features(),
        taskTypes: ['classification', 'classification'],
        bottomParams: { dims: [8] },
        towerParamsList: [{ dims: [4] }, { dims: [4] }],
      }),
    MMoE: () =>
      new MMoE({
        features: features(),
        taskTypes: ['classification', 'classification'],
        nExpert: 4,
        expertParams: { dims: [8] },
        towerParamsList: [{ dims: [4] }, { dims: [4] }],
      }),
  };
  for (const [modelName, make] of Object.entries(models)) {
    it.each(all.map(([n]) => n))(
      `${modelName} on %s (eval: only the NaN row's loss is NaN; training: BatchNorm spreads it)`,
      async (name) => {
        const backend = all.find(([n]) => n === name)![1];
        wm.setBackend(backend);
        wm.seed(11);
        const model = make();
        const evalRun = await lossWithNaNInput(model, backend, false);
        expect(evalRun.loss, `${name} eval loss`).toBeNaN();
        expect(Array.from(evalRun.lossesPerRow).map(Number.isNaN), `${name} eval per-row loss`).toEqual(
          Array.from({ length: 16 }, (_, i) => i === 5),
        );
        const trainRun = await lossWithNaNInput(model, backend, true);
        expect(trainRun.loss, `${name} training loss`).toBeNaN();
        model.dispose();
        wm.setBackend(cpu);
      },
    );
  }

  it.skipIf(!gpu)('on WebGPU the loss is NaN, not a finite number (SharedBottom, eval and training)', async () => {
    wm.setBackend(gpu!);
    wm.seed(11);
    const model = models.SharedBottom();
    for (const training of [false, true]) {
      const { loss, out } = await lossWithNaNInput(model, gpu!, training);
      expect(Number.isNaN(out[5 * 2]), `prediction of the NaN row (training ${training})`).toBe(true);
      expect(loss, `BCE loss (training ${training})`).toBeNaN();
    }
    model.dispose();
    wm.setBackend(cpu);
  });
});
