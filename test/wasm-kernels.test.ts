// Every wasm kernel against the CPU reference, on seeded random inputs of awkward sizes, with and
// without the helper thread (large cases split their work between two threads).
//
// Tolerances (|wasm - cpu| <= atol + rtol * |cpu|, NaN matches NaN):
//   bit-exact    fill, copy (NaN payloads too), where, gather, scatterAddRows (same summation order),
//                dropoutMask, batchNormEval, reduce max, neg/abs/sign/relu/square/sqrt/reciprocal/affine/clamp/
//                leakyRelu/gtScalar/inRange, add/sub/mul/div/max/min/gt/eq/squaredError (f32 SIMD
//                where that equals the reference's f64-then-round, f64x2 or scalar f64 elsewhere)
//   1e-6 rel     exp/log/sigmoid/tanh/pow, bce/bceLogits (scalar f64 math library), reduce sum (f64
//                accumulation), softmax
//   1e-5 rel     adam (atol 1e-6; f32 arithmetic)
//   1e-4 rel     matmul and matmulBias (atol 1e-5, f32 accumulation), gating (atol 1e-5)
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, BinaryOp, Buffer, TypedArray, UnaryOp } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { WASM_BASE64 } from '../src/backend/wasm/kernels-wasm.js';
import { unsharedVariant } from '../src/backend/wasm/module.js';
import { coalesce } from '../src/backend/wasm/strided.js';
import { createWasmBackend, type WasmBackend } from '../src/backend/wasm/wasm-backend.js';
import {
  BROADCAST_CASES,
  checkCopy,
  checkDropoutMask,
  checkGateMix,
  checkGatherPlacement,
  checkGatherRows,
  checkScatterAdd,
  checkSoftmax,
  contiguous,
  expectBitExact,
  expectClose,
  GATE_MIX_CASES,
  ints,
  onBoth,
  prod,
  SIZES,
  SOFTMAX_CASES,
  uniform,
  upload,
} from './helpers/kernel-checks.js';

const cpu = new CpuBackend();
const single = await createWasmBackend({ threads: 0 });
const threaded = await createWasmBackend({ threads: 1 });

afterAll(() => {
  single.destroy();
  threaded.destroy();
});

// ------------------------------------------------------------------ the build

describe('the embedded wasm binary', () => {
  it('is up to date with the AssemblyScript sources (node scripts/build-wasm.mjs)', () => {
    // Exits 1 (and execFileSync throws) when kernels-wasm.ts was built from other sources.
    expect(() => execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--check-hash'], { stdio: 'pipe' })).not.toThrow();
  });

  it('has an unshared variant (pages without cross-origin isolation)', async () => {
    const bytes = Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0));
    const unshared = unsharedVariant(bytes);
    expect(unshared.length).toBe(bytes.length);
    expect(unshared.filter((b, i) => b !== bytes[i]).length).toBe(1);
    const module = await WebAssembly.compile(unshared);
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536 });
    const inst = await WebAssembly.instantiate(module, { env: { memory, abort() {} } });
    const k = inst.exports as unknown as { fill(out: number, n: number, dtype: number, v: number): void };
    k.fill(65536, 3, 0, 2.5);
    expect(Array.from(new Float32Array(memory.buffer, 65536, 4))).toEqual([2.5, 2.5, 2.5, 0]);
    const b = await createWasmBackend({ threads: 0 });
    expect(b.threaded).toBe(false);
    b.destroy();
  });

  it('coalesces axes every operand walks contiguously', () => {
    expect(coalesce([8, 1024, 16], [[16384, 16, 1], [16, 0, 1], contiguous([8, 1024, 16])])).toEqual({
      shape: [8, 1024, 16],
      strides: [
        [16384, 16, 1],
        [16, 0, 1],
        [16384, 16, 1],
      ],
      size: 8 * 1024 * 16,
    });
    expect(
      coalesce(
        [4, 1, 5, 6],
        [
          [30, 30, 6, 1],
          [30, 30, 6, 1],
        ],
      ).shape,
    ).toEqual([120]);
    expect(
      coalesce(
        [3, 4],
        [
          [0, 0],
          [4, 1],
        ],
      ),
    ).toEqual({ shape: [12], strides: [[0], [1]], size: 12 });
    expect(coalesce([1, 1], [[5, 7]])).toEqual({ shape: [1], strides: [[0]], size: 1 });
    expect(coalesce([2, 0, 3], [[0, 0, 0]]).size).toBe(0);
  });
});

// ------------------------------------------------------------------ kernels

for (const [label, w] of [
  ['one thread', single],
  ['helper thread', threaded],
] as const) {
  describe(`wasm kernels match the CPU reference (${label})`, () => {
    const g = w as WasmBackend;

    it('fill (f32 and i32, partial fills leave the rest zero)', async () => {
      for (const n of SIZES) {
        const { want, got } = await onBoth(g, [], [{ size: n + 5 }, { size: n + 2, dtype: 'i32' }], (b, _i, [f, i]) => {
          b.fill(f, -1.25, n);
          b.fill(i, -7, n);
        });
        expectBitExact(got[0], want[0], `fill f32 n=${n}`);
        expectBitExact(got[1], want[1], `fill i32 n=${n}`);
      }
    });

    const unaryCases: Array<{
      op: UnaryOp;
      p0?: number;
      p1?: number;
      lo: number;
      hi: number;
      rtol: number;
      atol?: number;
      extra?: number[];
    }> = [
      { op: 'neg', lo: -3, hi: 3, rtol: 0, extra: [NaN, -0] },
      { op: 'exp', lo: -20, hi: 20, rtol: 1e-6 },
      { op: 'log', lo: 1e-3, hi: 100, rtol: 1e-6, atol: 1e-7 },
      { op: 'sqrt', lo: 0, hi: 100, rtol: 0 },
      { op: 'abs', lo: -3, hi: 3, rtol: 0 },
      { op: 'sign', lo: -3, hi: 3, rtol: 0, extra: [0, -0, NaN] },
      { op: 'relu', lo: -3, hi: 3, rtol: 0, extra: [0, -0, NaN] },
      { op: 'sigmoid', lo: -30, hi: 30, rtol: 1e-6, atol: 1e-8, extra: [0, 1e-5, -1e-5, 100, -100] },
      { op: 'tanh', lo: -30, hi: 30, rtol: 1e-6, atol: 1e-8, extra: [0, 1e-5, -1e-5, 1e-3, 0.3, 100, -100] },
      { op: 'square', lo: -3, hi: 3, rtol: 0 },
      { op: 'reciprocal', lo: 0.1, hi: 10, rtol: 0, extra: [0, -0] },
      { op: 'affine', p0: 1.5, p1: -0.3, lo: -3, hi: 3, rtol: 0 },
      { op: 'affine', p0: 1 / 3, p1: 1e-5, lo: -3, hi: 3, rtol: 0 },
      { op: 'powScalar', p0: 3, lo: -3, hi: 3, rtol: 1e-6, atol: 1e-7, extra: [0, -2, -0.5] },
      { op: 'powScalar', p0: -2, lo: -3, hi: 3, rtol: 1e-6, extra: [-2, -0.5] },
      { op: 'powScalar', p0: 0.5, lo: 0, hi: 9, rtol: 1e-6 },
      { op: 'clamp', p0: -0.5, p1: 0.3, lo: -3, hi: 3, rtol: 0, extra: [-0.5, 0.3, Math.fround(0.3), NaN] },
      { op: 'clamp', p0: 1e-7, p1: 1 - 1e-7, lo: -0.1, hi: 1.1, rtol: 0, extra: [1, 0, 1 - 1e-7, Math.fround(1 - 1e-7)] },
      { op: 'leakyRelu', p0: 0.01, lo: -3, hi: 3, rtol: 0 },
      { op: 'gtScalar', p0: 0.1, lo: -1, hi: 1, rtol: 0, extra: [Math.fround(0.1), 0.1, -0, NaN] },
      { op: 'gtScalar', p0: 0, lo: -1, hi: 1, rtol: 0, extra: [0, -0, NaN] },
      { op: 'inRange', p0: -0.3, p1: 0.7, lo: -1, hi: 1, rtol: 0, extra: [Math.fround(-0.3), Math.fround(0.7), -0.3, 0.7, NaN] },
    ];

    it.each(unaryCases)('unary $op p0=$p0 p1=$p1', async ({ op, p0, p1, lo, hi, rtol, atol, extra }) => {
      for (const n of SIZES) {
        const x = uniform(n, lo, hi, n * 31 + 7);
        extra?.forEach((v, i) => {
          if (i < n) x[i] = v;
        });
        const { want, got } = await onBoth(g, [x], [{ size: n }], (b, [xb], [o]) => b.unary(op, xb, o, n, p0, p1));
        if (rtol === 0 && !atol) expectBitExact(got[0], want[0], `${op} n=${n}`);
        else expectClose(got[0], want[0], rtol, atol ?? 0, `${op} n=${n}`);
      }
    });

    it('unary ops large enough to be split with the helper thread', async () => {
      const n = 200_003;
      const x = uniform(n, -3, 3, 5);
      for (const [op, p0, p1] of [
        ['relu', 0, 0],
        ['affine', 0.5, 0.25],
        ['gtScalar', 0, 0],
        ['tanh', 0, 0],
      ] as const) {
        const { want, got } = await onBoth(g, [x], [{ size: n }], (b, [xb], [o]) => b.unary(op, xb, o, n, p0, p1));
        if (op === 'tanh') expectClose(got[0], want[0], 1e-6, 1e-8, op);
        else expectBitExact(got[0], want[0], op);
      }
    });

    it('unary on i32 buffers, and n smaller than the buffer', async () => {
      const x = ints(100, -50, 50, 3);
      const { want, got } = await onBoth(g, [x], [{ size: 100, dtype: 'i32', init: ints(100, 0, 9, 4) }], (b, [xb], [o]) =>
        b.unary('affine', xb, o, 77, 3, -2),
      );
      expectBitExact(got[0], want[0], 'affine i32');
      const f = Float32Array.from([1.5, -2.7, 3e10, -3e10, NaN, 0.49]);
      const r2 = await onBoth(g, [f], [{ size: 6, dtype: 'i32' }], (b, [xb], [o]) => b.unary('affine', xb, o, 6, 1, 0));
      expectBitExact(r2.got[0], r2.want[0], 'f32 → i32 (ToInt32)');
    });

    const binaryCases: Array<{ op: BinaryOp; rtol: number; atol?: number; a?: [number, number]; b?: [number, number] }> = [
      { op: 'add', rtol: 0 },
      { op: 'sub', rtol: 0 },
      { op: 'mul', rtol: 0 },
      { op: 'div', rtol: 0, b: [0.5, 3] },
      { op: 'pow', rtol: 1e-6, atol: 1e-7, a: [0.1, 4], b: [-3, 3] },
      { op: 'max', rtol: 0 },
      { op: 'min', rtol: 0 },
      { op: 'gt', rtol: 0 },
      { op: 'eq', rtol: 0 },
      { op: 'bce', rtol: 1e-6, atol: 1e-7, a: [0.02, 0.98], b: [0, 1] },
      { op: 'bceLogits', rtol: 1e-6, atol: 1e-7, a: [-20, 20], b: [0, 1] },
      { op: 'squaredError', rtol: 0 },
    ];

    // The shared cases, and ones that the wasm kernels take other paths for (a transposed row walk,
    // a broadcast middle axis) or split with the helper thread: rank 1 (elements), 2 and 3 (rows).
    const broadcastCases: Array<[number[], number[], number[]]> = [
      ...BROADCAST_CASES,
      [
        [17, 3],
        [3, 1],
        [1, 0],
      ],
      [
        [8, 64, 16],
        [1024, 16, 1],
        [16, 0, 1],
      ],
      [
        [7, 9],
        [0, 1],
        [9, 1],
      ],
      [[100003], [1], [1]],
      [
        [1030, 100],
        [100, 1],
        [0, 1],
      ],
      [
        [8, 1030, 16],
        [16480, 16, 1],
        [16, 0, 1],
      ],
    ];

    it.each(binaryCases)('binary $op with broadcasting', async ({ op, rtol, atol, a: aRange = [-3, 3], b: bRange = [-3, 3] }) => {
      for (const [shape, as, bs] of broadcastCases) {
        const span = (s: number[]) => 1 + shape.reduce((acc, size, d) => acc + (size - 1) * s[d], 0);
        const a = uniform(span(as), aRange[0], aRange[1], span(as) + 1);
        const b = uniform(span(bs), bRange[0], bRange[1], span(bs) + 2);
        if (op === 'eq' || op === 'gt' || op === 'max') for (let i = 0; i < Math.min(a.length, b.length); i += 3) a[i] = b[i];
        if (op === 'bce' && b.length > 1) for (let i = 0; i < b.length; i += 2) b[i] = Math.round(b[i]);
        if (op === 'max' || op === 'min') a[0] = NaN;
        const n = prod(shape);
        const { want, got } = await onBoth(g, [a, b], [{ size: n }], (be, [ab, bb], [o]) => be.binary(op, ab, bb, o, shape, as, bs));
        if (rtol === 0) expectBitExact(got[0], want[0], `${op} shape=${shape}`);
        else expectClose(got[0], want[0], rtol, atol ?? 0, `${op} shape=${shape}`);
      }
    });

    it('binary on i32 operands and mixed dtypes', async () => {
      const a = ints(1000, -1000, 1000, 5);
      const b = ints(1000, -1000, 1000, 6);
      for (let i = 0; i < 1000; i += 4) b[i] = a[i];
      for (const op of ['add', 'mul', 'eq', 'max'] as const) {
        const { want, got } = await onBoth(g, [a, b], [{ size: 1000, dtype: 'i32' }], (be, [ab, bb], [o]) =>
          be.binary(op, ab, bb, o, [1000], [1], [1]),
        );
        expectBitExact(got[0], want[0], `i32 ${op}`);
      }
      const f = uniform(1000, -3, 3, 7);
      const r = await onBoth(g, [a, f], [{ size: 1000 }], (be, [ab, fb], [o]) => be.binary('mul', ab, fb, o, [1000], [1], [1]));
      expectBitExact(r.got[0], r.want[0], 'i32 × f32 → f32');
    });

    it('where (f32 cond incl. -0 and NaN, i32 cond, i32 values)', async () => {
      const shape = [7, 13, 3];
      const cond = Float32Array.from(uniform(13 * 3, -1, 1, 9), (v, i) =>
        i % 3 === 0 ? 0 : i % 5 === 0 ? -0 : i % 7 === 0 ? NaN : v > 0 ? 1 : 0,
      );
      const a = uniform(prod(shape), -3, 3, 10);
      const b = uniform(3, -3, 3, 11);
      const cs = [0, 3, 1];
      const as = contiguous(shape);
      const bs = [0, 0, 1];
      const r1 = await onBoth(g, [cond, a, b], [{ size: prod(shape) }], (be, [c, ab, bb], [o]) =>
        be.where(c, ab, bb, o, shape, cs, as, bs),
      );
      expectBitExact(r1.got[0], r1.want[0], 'where f32 cond');
      const icond = ints(13 * 3, -1, 2, 12);
      const ia = ints(prod(shape), -99, 99, 13);
      const ib = ints(3, -99, 99, 14);
      const r2 = await onBoth(g, [icond, ia, ib], [{ size: prod(shape), dtype: 'i32' }], (be, [c, ab, bb], [o]) =>
        be.where(c, ab, bb, o, shape, cs, as, bs),
      );
      expectBitExact(r2.got[0], r2.want[0], 'where i32');
    });

    const reduceCases: Array<[number, number, number]> = [
      [1, 1, 1],
      [3, 17, 5],
      [2, 1000, 3],
      [1, 100000, 1],
      [5000, 3, 1],
      [4, 5000, 7],
      [1, 4096, 64],
      [8, 1024, 16],
      [10000, 70, 1],
      [37, 300, 1],
      [3, 0, 4],
      [3, 0, 1],
    ];

    it.each(reduceCases)('reduce sum and max over [%i, %i, %i]', async (outer, reduce, inner) => {
      const x = uniform(outer * reduce * inner, -1, 1, outer + reduce + inner);
      const { want, got } = await onBoth(g, [x], [{ size: outer * inner }, { size: outer * inner }], (b, [xb], [s, m]) => {
        b.reduce('sum', xb, s, outer, reduce, inner);
        b.reduce('max', xb, m, outer, reduce, inner);
      });
      // f64 accumulation on both sides: the sums agree to the last bit almost always.
      expectClose(got[0], want[0], 1e-6, 1e-7, `sum [${outer},${reduce},${inner}]`);
      expectBitExact(got[1], want[1], `max [${outer},${reduce},${inner}]`);
    });

    const matmulCases: Array<{
      batch: number;
      m: number;
      n: number;
      k: number;
      transA: boolean;
      transB: boolean;
      shareA?: boolean;
      shareB?: boolean;
    }> = [
      { batch: 1, m: 1, n: 1, k: 1, transA: false, transB: false },
      ...[false, true].flatMap((transA) => [false, true].map((transB) => ({ batch: 1, m: 3, n: 17, k: 5, transA, transB }))),
      ...[false, true].flatMap((transA) => [false, true].map((transB) => ({ batch: 3, m: 300, n: 150, k: 200, transA, transB }))),
      { batch: 8, m: 256, n: 256, k: 32, transA: false, transB: true },
      { batch: 4, m: 33, n: 20, k: 17, transA: false, transB: false, shareB: true },
      { batch: 5, m: 16, n: 65, k: 64, transA: true, transB: false, shareA: true },
      { batch: 8, m: 1027, n: 16, k: 101, transA: false, transB: false, shareA: true },
      { batch: 8, m: 101, n: 16, k: 1027, transA: true, transB: false, shareA: true },
      { batch: 8, m: 1027, n: 101, k: 16, transA: false, transB: true },
      { batch: 1, m: 1030, n: 7, k: 3, transA: false, transB: false },
      { batch: 2, m: 5, n: 6, k: 0, transA: false, transB: false },
    ];

    it.each(matmulCases)('matmul batch=$batch $m x $n x $k transA=$transA transB=$transB', async (c) => {
      const aBatchStride = c.shareA ? 0 : c.m * c.k;
      const bBatchStride = c.shareB ? 0 : c.k * c.n;
      const a = uniform(Math.max(1, (c.shareA ? 1 : c.batch) * c.m * c.k), -1, 1, c.m * 7 + c.k);
      const b = uniform(Math.max(1, (c.shareB ? 1 : c.batch) * c.k * c.n), -1, 1, c.n * 5 + c.k);
      const p = { ...c, aBatchStride, bBatchStride };
      const { want, got } = await onBoth(
        g,
        [a, b],
        [{ size: c.batch * c.m * c.n, init: uniform(c.batch * c.m * c.n, 5, 6, 1) }],
        (be, [ab, bb], [o]) => be.matmul(ab, bb, o, p),
      );
      expectClose(got[0], want[0], 1e-4, 1e-5, `matmul ${JSON.stringify(c)}`);
    });

    // matmulBias against the reference's matmul followed by a broadcast add (wasm adds the bias to the
    // finished sums, the same rounding). Odd n takes the padded path; the large case is split.
    const biasCases: Array<{ batch: number; m: number; n: number; k: number; transB: boolean; perEntry: boolean; shareA: boolean }> = [
      { batch: 1, m: 3, n: 17, k: 5, transB: false, perEntry: false, shareA: false },
      { batch: 1, m: 1030, n: 1, k: 8, transB: false, perEntry: false, shareA: false },
      { batch: 2, m: 7, n: 6, k: 9, transB: true, perEntry: true, shareA: false },
      { batch: 8, m: 1027, n: 16, k: 101, transB: false, perEntry: true, shareA: true },
      { batch: 3, m: 5, n: 3, k: 0, transB: false, perEntry: true, shareA: false },
      { batch: 2, m: 9, n: 3, k: 7, transB: true, perEntry: false, shareA: false },
    ];
    it.each(biasCases)('matmulBias batch=$batch $m x $n x $k transB=$transB per-entry bias=$perEntry', async (c) => {
      const aBatchStride = c.shareA ? 0 : c.m * c.k;
      const p = { batch: c.batch, m: c.m, n: c.n, k: c.k, transA: false, transB: c.transB, aBatchStride, bBatchStride: c.k * c.n };
      const a = uniform(Math.max(1, (c.shareA ? 1 : c.batch) * c.m * c.k), -1, 1, c.m + c.k);
      const b = uniform(Math.max(1, c.batch * c.k * c.n), -1, 1, c.n + 3);
      const bias = uniform((c.perEntry ? c.batch : 1) * c.n, -2, 2, c.n + 5);
      const shape = [c.batch, c.m, c.n];
      const { want, got } = await onBoth(
        g,
        [a, b, bias],
        [{ size: c.batch * c.m * c.n, init: uniform(c.batch * c.m * c.n, 5, 6, 1) }],
        (be, [ab, bb, zb], [o]) => {
          if (be.matmulBias) be.matmulBias(ab, bb, zb, o, { ...p, biasBatchStride: c.perEntry ? c.n : 0 });
          else {
            be.matmul(ab, bb, o, p);
            be.binary('add', o, zb, o, shape, contiguous(shape), [c.perEntry ? c.n : 0, 0, 1]);
          }
        },
      );
      expectClose(got[0], want[0], 1e-4, 1e-5, `matmulBias ${JSON.stringify(c)}`);
    });

    it('matmulBias writing over its own bias equals the out-of-place product', async () => {
      for (const n of [3, 8, 5]) {
        const m = 1; // one row: the output [1, n] is exactly the size of the bias
        const a = uniform(m * 6, -1, 1, n);
        const b = uniform(6 * n, -1, 1, n + 1);
        const bias = uniform(n, -1, 1, n + 2);
        const p = { batch: 1, m, n, k: 6, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
        const { want } = await onBoth(cpu, [a, b, bias], [{ size: m * n }], (be, [ab, bb, zb], [o]) => {
          be.matmul(ab, bb, o, p);
          be.binary('add', o, zb, o, [m, n], [n, 1], [0, 1]);
        });
        const [ab, bb, zb] = [upload(g, a), upload(g, b), upload(g, bias)];
        g.matmulBias(ab, bb, zb, zb, { ...p, biasBatchStride: 0 });
        expectClose(await g.read(zb), want[0], 1e-4, 1e-5, `matmulBias in place n=${n}`);
        [ab, bb, zb].forEach((x) => g.free(x));
      }
    });

    // Eval-mode BatchNorm (+ ReLU) against the reference's elementwise kernels: bit-exact, as each
    // step is one f32 rounding on both sides. C = 5 exercises the scalar tail; the large case is split.
    it.each([
      [1, 17, 8, false],
      [3, 1030, 24, true],
      [2, 9, 5, true],
    ] as const)('batchNormEval G=%i N=%i C=%i relu=%s', async (G, N, C, relu) => {
      const x = uniform(G * N * C, -3, 3, G + N);
      x[0] = NaN;
      x[1] = -0;
      const stats = [uniform(G * C, -1, 1, 2), uniform(G * C, 0.01, 4, 3), uniform(G * C, -2, 2, 4), uniform(G * C, -1, 1, 5)];
      // Row 1, channel 0 of group 0 comes out as -0: x = mean, a negative scale, beta = -0.
      x[C] = stats[0][0];
      stats[2][0] = -1.5;
      stats[3][0] = -0;
      const eps = 1e-5;
      const rows = [G, N, C];
      const st = [C, 0, 1];
      const { want, got } = await onBoth(g, [x, ...stats], [{ size: G * N * C }], (be, [xb, mb, vb, gb, bb], [y]) => {
        if (be.batchNormEval) {
          be.batchNormEval(xb, mb, vb, gb, bb, y, { groups: G, rows: N, channels: C, eps, relu });
          return;
        }
        const scale = be.alloc(G * C, 'f32');
        be.unary('affine', vb, scale, G * C, 1, eps);
        be.unary('sqrt', scale, scale, G * C);
        be.binary('div', gb, scale, scale, [G * C], [1], [1]);
        be.binary('sub', xb, mb, y, rows, contiguous(rows), st);
        be.binary('mul', y, scale, y, rows, contiguous(rows), st);
        be.binary('add', y, bb, y, rows, contiguous(rows), st);
        if (relu) be.unary('relu', y, y, G * N * C);
        be.free(scale);
      });
      expectBitExact(got[0], want[0], `batchNormEval G=${G} N=${N} C=${C} relu=${relu}`);
    });

    it('in-place matmul (output = operand) equals the out-of-place product', async () => {
      const m = 37;
      const x = uniform(m * m, -1, 1, 8);
      const p = { batch: 1, m, n: m, k: m, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 };
      const { want } = await onBoth(cpu, [x], [{ size: m * m }], (b, [xb], [o]) => b.matmul(xb, xb, o, p));
      const xb = upload(g, x);
      g.matmul(xb, xb, xb, p);
      expectClose(await g.read(xb), want[0], 1e-4, 1e-5, 'in-place matmul');
      g.free(xb);
    });

    it('copy: transpose, slice, concat, broadcast, rank 6, bit-exact NaN payloads and i32', async () => {
      await checkCopy(g);
    });

    it('gatherRows (f32 and i32 tables, i32 and f32 id buffers)', async () => {
      await checkGatherRows(g);
    });

    it('gatherRows into columns of a wider output leaves the other columns as they were', async () => {
      await checkGatherPlacement(g, false);
    });

    it('scatterAddRows: 5000 rows hitting 3 ids lose no update; random rows sum in the reference order', async () => {
      await checkScatterAdd(g);
    });

    it.each(SOFTMAX_CASES)('softmax and logSoftmax over [%i, %i]', async (rows, cols) => {
      await checkSoftmax(g, rows, cols, { rtol: 1e-6, atol: 1e-8, logAtol: 1e-7 });
    });

    it('dropoutMask reproduces dropoutUniform exactly', async () => {
      await checkDropoutMask(g);
    });

    it.each([...GATE_MIX_CASES, [2, 1030, 8, 16], [1, 1030, 5, 18]])(
      'gateMixForward / gateMixBackward T=%i B=%i E=%i H=%i',
      async (T, B, E, H) => {
        await checkGateMix(g, T, B, E, H);
      },
    );

    it('adam and adamw over three steps (small and split sizes)', async () => {
      for (const n of [1017, 200_003]) {
        for (const decoupled of [false, true]) {
          const param = uniform(n, -1, 1, 1);
          const grads = [uniform(n, -1, 1, 2), uniform(n, -1, 1, 3), uniform(n, -1, 1, 4)];
          const { want, got } = await onBoth(g, grads, [{ size: n, init: param }, { size: n }, { size: n }], (b, gs, [p, m, v]) => {
            gs.forEach((gr, step) =>
              b.adam!(p, gr, m, v, n, {
                lr: 1e-2,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weightDecay: decoupled ? 0.1 : 0.01,
                decoupled,
                step: step + 1,
              }),
            );
          });
          ['param', 'm', 'v'].forEach((name, k) => expectClose(got[k], want[k], 1e-5, 1e-6, `adam n=${n} decoupled=${decoupled} ${name}`));
        }
      }
    });

    it('in-place kernels (out aliases an input) match the CPU', async () => {
      const n = 1000;
      const a = uniform(n, -2, 2, 1);
      const b = uniform(n, -2, 2, 2);
      const results: TypedArray[][] = [];
      for (const be of [cpu, g] as Backend[]) {
        const ab = upload(be, a);
        const bb = upload(be, b);
        be.binary('mul', ab, bb, ab, [n], [1], [1]);
        be.unary('sigmoid', bb, bb, n);
        be.softmax(ab, ab, 10, 100, true);
        be.binary('sub', bb, ab, bb, [n], [1], [1]);
        be.unary('affine', ab, ab, n, 0.5, 1);
        results.push([await be.read(ab), await be.read(bb)]);
        be.free(ab);
        be.free(bb);
      }
      expectClose(results[1][0], results[0][0], 1e-6, 1e-7, 'in-place mul + logSoftmax + affine');
      expectClose(results[1][1], results[0][1], 1e-6, 1e-7, 'in-place sigmoid + sub');
    });

    it('recycled buffers read as zeros until written, including partial writes', async () => {
      const first = upload(g, uniform(1000, 1, 2, 1));
      g.free(first);
      const again = g.alloc(1000, 'f32');
      expect(Array.from(await g.read(again)).every((v) => v === 0)).toBe(true);
      g.fill(again, 7, 10);
      const got = await g.read(again);
      expect(got.slice(0, 10).every((v) => v === 7)).toBe(true);
      expect(got.slice(10).every((v) => v === 0)).toBe(true);
      g.free(again);
      // A recycled buffer used as an input before any write reads zeros.
      const dirty = g.alloc(1000, 'f32');
      const out = g.alloc(1000, 'f32');
      g.unary('affine', dirty, out, 1000, 1, 3);
      expect(Array.from(await g.read(out)).every((v) => v === 3)).toBe(true);
      g.free(dirty);
      g.free(out);
    });

    it('views survive memory growth', async () => {
      const keep = upload(g, Float32Array.from([1, 2, 3]));
      const big = g.alloc(40_000_000, 'f32'); // 160 MB: grows the memory
      g.fill(big, 1, 40_000_000);
      expect(Array.from(await g.read(keep))).toEqual([1, 2, 3]);
      const tail = g.alloc(3, 'f32');
      g.write(tail, Float32Array.from([4, 5, 6]));
      expect(Array.from(await g.read(tail))).toEqual([4, 5, 6]);
      [keep, big, tail].forEach((b) => g.free(b));
    });

    it('rejects a gather placement that does not fit its output', () => {
      const table = upload(g, uniform(20, -1, 1, 1));
      const ids = Int32Array.from([0, 1, 2]);
      const idsBuf = upload(g, ids);
      const out = g.alloc(3 * 10, 'f32');
      expect(() => g.gatherRows(table, idsBuf, ids, out, 4, { offset: 7, stride: 10 })).toThrow(/does not fit an output of 30 values/);
      expect(() => g.gatherRows(table, idsBuf, ids, out, 4, { offset: 0, stride: 3 })).toThrow(/does not fit/);
      [table, idsBuf, out].forEach((b) => g.free(b));
    });

    it('rejects buffers from another backend and buffers used after free', () => {
      const foreign = cpu.alloc(4, 'f32');
      const out = g.alloc(4, 'f32');
      expect(() => g.unary('neg', foreign, out, 4)).toThrow(/another backend/);
      g.free(out);
      expect(() => g.fill(out, 1, 4)).toThrow(/after free/);
    });
  });
}

describe('the helper thread', () => {
  it('takes half of large kernels', async () => {
    if (!threaded.threaded) return; // no worker threads here: nothing to check
    const before = threaded.splitCalls;
    const a = upload(threaded, uniform(1024 * 100, -1, 1, 1));
    const b = upload(threaded, uniform(8 * 100 * 16, -1, 1, 2));
    const out = threaded.alloc(8 * 1024 * 16, 'f32');
    threaded.matmul(a, b, out, { batch: 8, m: 1024, n: 16, k: 100, transA: false, transB: false, aBatchStride: 0, bBatchStride: 1600 });
    expect(threaded.splitCalls).toBe(before + 1);
    [a, b, out].forEach((x) => threaded.free(x));
  });

  it('refuses a helperSpinMs that is not a number of milliseconds ≥ 0', async () => {
    for (const bad of [NaN, -1, Infinity]) {
      await expect(createWasmBackend({ threads: 1, helperSpinMs: bad })).rejects.toThrow(/helperSpinMs must be a number of milliseconds/);
    }
  });

  it('a helper that sleeps between kernels (helperSpinMs 0) still gives the CPU reference’s products', async () => {
    const sleepy = await createWasmBackend({ threads: 1, helperSpinMs: 0 });
    try {
      if (!sleepy.threaded) return;
      const x = uniform(300 * 200, -1, 1, 7);
      const y = uniform(200 * 150, -1, 1, 8);
      const p = { batch: 1, m: 300, n: 150, k: 200, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
      for (let round = 0; round < 3; round++) {
        await new Promise((r) => setTimeout(r, 20)); // long enough for the helper to fall asleep
        const { want, got } = await onBoth(sleepy, [x, y], [{ size: 300 * 150 }], (be, [xb, yb], [o]) => be.matmul(xb, yb, o, p));
        expectClose(got[0], want[0], 1e-4, 1e-5, `matmul after a sleep, round ${round}`);
      }
    } finally {
      sleepy.destroy();
    }
  });

  it('an error in this thread’s chunk surfaces after the helper has stopped, and the next kernels work', async () => {
    if (!threaded.threaded) return;
    const n = 100_000;
    const bufs = [1, 2, 3, 4].map((s) => upload(threaded, uniform(n, 0, 1, s)));
    const worker = (
      threaded as unknown as { worker: { parallel(fn: string, args: number[], total: number, chunk: number, run: () => void): void } }
    ).worker;
    const ptr = (b: Buffer) => (b as unknown as { ptr: number }).ptr;
    const args = [...bufs.map(ptr), 1e-3, 0.9, 0.999, 1e-8, 0, 0, 0.1, 0.001, 0, 0];
    // On a busy machine the helper may take every chunk before this thread takes one (then nothing
    // throws, which is right too); try until this thread has run a chunk.
    let thrown: unknown = null;
    for (let attempt = 0; attempt < 50 && thrown === null; attempt++) {
      try {
        worker.parallel('adam', args, n, 1024, () => {
          throw new Error('boom');
        });
      } catch (e) {
        thrown = e;
      }
    }
    expect((thrown as Error | null)?.message).toBe('boom');
    bufs.forEach((b) => threaded.free(b));
    const x = uniform(300 * 200, -1, 1, 5);
    const y = uniform(200 * 150, -1, 1, 6);
    const p = { batch: 1, m: 300, n: 150, k: 200, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
    const { want, got } = await onBoth(threaded, [x, y], [{ size: 300 * 150 }], (be, [xb, yb], [o]) => be.matmul(xb, yb, o, p));
    expectClose(got[0], want[0], 1e-4, 1e-5, 'matmul after a failed call');
  });
});
