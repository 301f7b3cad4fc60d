// Every WebGPU kernel against the CPU reference, on seeded random inputs of awkward sizes.
//
// Tolerances (|gpu - cpu| <= atol + rtol * |cpu|, NaN matches NaN):
//   exact        fill, copy, where, gather, scatterAddRows (same summation order), dropoutMask,
//                reduce max, neg/abs/sign/relu/square/clamp/gtScalar/inRange, add/sub/mul/max/min/gt/eq
//   1e-6 rel     div, squaredError, affine, leakyRelu (f32 vs the CPU's f64 arithmetic)
//   1e-5 rel     exp/log/sqrt/sigmoid/tanh/reciprocal/pow, bce/bceLogits, softmax, adam (atol 1e-6)
//   1e-4 rel     matmul (atol 1e-5), gating (atol 1e-5), reduce sum (atol 2e-7 · Σ|x| over the axis)
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, BinaryOp, Buffer, TypedArray, UnaryOp } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { MAX_GATE_EXPERTS, type WebGPUBackend } from '../src/backend/webgpu/webgpu-backend.js';
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
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const gpu = await getWebGPUOrSkip();
// A second device that pretends only 8 workgroups fit per dimension and 4 params slots fit per
// submit: small inputs then exercise 2D grids, dispatch chunking and arena-full flushes.
const tiny = gpu ? await getWebGPUOrSkip({ maxWorkgroupsPerDimension: 8, paramSlots: 4 }) : null;
const cpu = new CpuBackend();

// ------------------------------------------------------------------ tests

describe.skipIf(!gpu)('WebGPU kernels match the CPU reference', () => {
  const g = gpu as WebGPUBackend;

  beforeEach(() => g.device.pushErrorScope('validation'));
  afterEach(async () => {
    const error = await g.device.popErrorScope();
    expect(error?.message ?? null, 'WebGPU validation error').toBeNull();
  });
  afterAll(() => g.destroy());

  it('fill (f32 and i32, partial fills leave the rest zero)', async () => {
    for (const n of SIZES) {
      const { want, got } = await onBoth(g, [], [{ size: n + 5 }, { size: n + 2, dtype: 'i32' }], (b, _i, [f, i]) => {
        b.fill(f, -1.25, n);
        b.fill(i, -7, n);
      });
      expectBitExact(got[0], want[0], `fill f32 n=${n}`, true);
      expectBitExact(got[1], want[1], `fill i32 n=${n}`, true);
    }
  });

  it('fill beyond 65535 workgroups (2D grid on the real device)', async () => {
    const n = 65536 * 256 + 5;
    const out = g.alloc(n, 'f32');
    g.fill(out, 3.5, n);
    const got = (await g.read(out)) as Float32Array;
    g.free(out);
    expect(got.every((v) => v === 3.5)).toBe(true);
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
    { op: 'neg', lo: -3, hi: 3, rtol: 0 },
    { op: 'exp', lo: -20, hi: 20, rtol: 1e-5 },
    { op: 'log', lo: 1e-3, hi: 100, rtol: 1e-5, atol: 1e-6 },
    { op: 'sqrt', lo: 0, hi: 100, rtol: 1e-5 },
    { op: 'abs', lo: -3, hi: 3, rtol: 0 },
    { op: 'sign', lo: -3, hi: 3, rtol: 0, extra: [0, -0] },
    { op: 'relu', lo: -3, hi: 3, rtol: 0, extra: [0, -0] },
    { op: 'sigmoid', lo: -30, hi: 30, rtol: 1e-5, atol: 1e-7, extra: [0, 1e-5, -1e-5, 100, -100] },
    { op: 'tanh', lo: -30, hi: 30, rtol: 1e-5, atol: 1e-7, extra: [0, 1e-5, -1e-5, 1e-3, 0.3, 100, -100] },
    { op: 'square', lo: -3, hi: 3, rtol: 0 },
    { op: 'reciprocal', lo: 0.1, hi: 10, rtol: 1e-5 },
    { op: 'affine', p0: 1.5, p1: -0.3, lo: -3, hi: 3, rtol: 1e-6, atol: 1e-7 },
    { op: 'powScalar', p0: 3, lo: -3, hi: 3, rtol: 1e-5, atol: 1e-6, extra: [0, -2, -0.5] },
    { op: 'powScalar', p0: -2, lo: -3, hi: 3, rtol: 1e-5, extra: [-2, -0.5] },
    { op: 'powScalar', p0: 0.5, lo: 0, hi: 9, rtol: 1e-5 },
    { op: 'clamp', p0: -0.5, p1: 0.3, lo: -3, hi: 3, rtol: 0, extra: [-0.5, 0.3, Math.fround(0.3)] },
    { op: 'leakyRelu', p0: 0.01, lo: -3, hi: 3, rtol: 1e-6 },
    { op: 'gtScalar', p0: 0.1, lo: -1, hi: 1, rtol: 0, extra: [Math.fround(0.1), 0.1, -0] },
    { op: 'inRange', p0: -0.3, p1: 0.7, lo: -1, hi: 1, rtol: 0, extra: [Math.fround(-0.3), Math.fround(0.7), -0.3, 0.7] },
  ];

  it.each(unaryCases)('unary $op p0=$p0 p1=$p1', async ({ op, p0, p1, lo, hi, rtol, atol, extra }) => {
    for (const n of SIZES) {
      const x = uniform(n, lo, hi, n * 31 + 7);
      extra?.forEach((v, i) => {
        if (i < n) x[i] = v;
      });
      const { want, got } = await onBoth(g, [x], [{ size: n }], (b, [xb], [o]) => b.unary(op, xb, o, n, p0, p1));
      expectClose(got[0], want[0], rtol, atol ?? 0, `${op} n=${n}`);
    }
  });

  it('unary on i32 buffers, and n smaller than the buffer', async () => {
    const x = ints(100, -50, 50, 3);
    const { want, got } = await onBoth(g, [x], [{ size: 100, dtype: 'i32', init: ints(100, 0, 9, 4) }], (b, [xb], [o]) =>
      b.unary('affine', xb, o, 77, 3, -2),
    );
    expectBitExact(got[0], want[0], 'affine i32', true);
  });

  const binaryCases: Array<{ op: BinaryOp; rtol: number; atol?: number; a?: [number, number]; b?: [number, number] }> = [
    { op: 'add', rtol: 0 },
    { op: 'sub', rtol: 0 },
    { op: 'mul', rtol: 0 },
    { op: 'div', rtol: 1e-6, b: [0.5, 3] },
    { op: 'pow', rtol: 1e-5, atol: 1e-6, a: [0.1, 4], b: [-3, 3] },
    { op: 'max', rtol: 0 },
    { op: 'min', rtol: 0 },
    { op: 'gt', rtol: 0 },
    { op: 'eq', rtol: 0 },
    { op: 'bce', rtol: 1e-5, atol: 1e-6, a: [0.02, 0.98], b: [0, 1] },
    { op: 'bceLogits', rtol: 1e-5, atol: 1e-6, a: [-20, 20], b: [0, 1] },
    { op: 'squaredError', rtol: 1e-6 },
  ];

  it.each(binaryCases)('binary $op with broadcasting', async ({ op, rtol, atol, a: aRange = [-3, 3], b: bRange = [-3, 3] }) => {
    for (const [shape, as, bs] of BROADCAST_CASES) {
      const span = (s: number[]) => 1 + shape.reduce((acc, size, d) => acc + (size - 1) * s[d], 0);
      const a = uniform(span(as), aRange[0], aRange[1], span(as) + 1);
      const b = uniform(span(bs), bRange[0], bRange[1], span(bs) + 2);
      if (op === 'eq' || op === 'gt' || op === 'max') for (let i = 0; i < Math.min(a.length, b.length); i += 3) a[i] = b[i];
      if (op === 'bce' && b.length > 1) for (let i = 0; i < b.length; i += 2) b[i] = Math.round(b[i]);
      const n = prod(shape);
      const { want, got } = await onBoth(g, [a, b], [{ size: n }], (be, [ab, bb], [o]) => be.binary(op, ab, bb, o, shape, as, bs));
      expectClose(got[0], want[0], rtol, atol ?? 0, `${op} shape=${shape}`);
    }
  });

  it('pow with negative bases and integral exponents', async () => {
    const a = Float32Array.from([-2, -2, -3, -0.5, 2, 0, 0, -1.5, 4]);
    const b = Float32Array.from([3, 2, -1, -2, 0.5, 2, 0, 0.5, -0.5]);
    const { want, got } = await onBoth(g, [a, b], [{ size: 9 }], (be, [ab, bb], [o]) => be.binary('pow', ab, bb, o, [9], [1], [1]));
    expectClose(got[0], want[0], 1e-6, 0, 'pow');
  });

  it('binary on i32 operands', async () => {
    const a = ints(1000, -1000, 1000, 5);
    const b = ints(1000, -1000, 1000, 6);
    for (let i = 0; i < 1000; i += 4) b[i] = a[i];
    for (const op of ['add', 'mul', 'eq', 'max'] as const) {
      const { want, got } = await onBoth(g, [a, b], [{ size: 1000, dtype: 'i32' }], (be, [ab, bb], [o]) =>
        be.binary(op, ab, bb, o, [1000], [1], [1]),
      );
      expectBitExact(got[0], want[0], `i32 ${op}`, true);
    }
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
    const r1 = await onBoth(g, [cond, a, b], [{ size: prod(shape) }], (be, [c, ab, bb], [o]) => be.where(c, ab, bb, o, shape, cs, as, bs));
    expectBitExact(r1.got[0], r1.want[0], 'where f32 cond', true);

    const icond = ints(13 * 3, -1, 2, 12);
    const ia = ints(prod(shape), -99, 99, 13);
    const ib = ints(3, -99, 99, 14);
    const r2 = await onBoth(g, [icond, ia, ib], [{ size: prod(shape), dtype: 'i32' }], (be, [c, ab, bb], [o]) =>
      be.where(c, ab, bb, o, shape, cs, as, bs),
    );
    expectBitExact(r2.got[0], r2.want[0], 'where i32', true);
  });

  // [outer, reduce, inner], covering each strategy (simple, rows tree, cols tree) and empty axes.
  const reduceCases: Array<[number, number, number]> = [
    [1, 1, 1],
    [3, 17, 5],
    [2, 1000, 3],
    [1, 100000, 1],
    [1, 1_000_000, 1],
    [5000, 3, 1],
    [4, 5000, 7],
    [1, 4096, 64],
    [10000, 70, 1],
    [37, 300, 1],
    [3, 0, 4],
  ];

  it.each(reduceCases)('reduce sum and max over [%i, %i, %i]', async (outer, reduce, inner) => {
    const x = uniform(outer * reduce * inner, -1, 1, outer + reduce + inner);
    const absSums = new Float64Array(outer * inner);
    for (let i = 0; i < outer; i++)
      for (let r = 0; r < reduce; r++) for (let j = 0; j < inner; j++) absSums[i * inner + j] += Math.abs(x[(i * reduce + r) * inner + j]);
    const { want, got } = await onBoth(g, [x], [{ size: outer * inner }, { size: outer * inner }], (b, [xb], [s, m]) => {
      b.reduce('sum', xb, s, outer, reduce, inner);
      b.reduce('max', xb, m, outer, reduce, inner);
    });
    expectClose(got[0], want[0], 1e-4, (i) => 2e-7 * absSums[i] + 1e-7, `sum [${outer},${reduce},${inner}]`);
    expectClose(got[1], want[1], 0, 0, `max [${outer},${reduce},${inner}]`);
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

  it('copy: transpose, slice, concat, broadcast, rank 6, bit-exact NaN payloads and i32', async () => {
    await checkCopy(g);
  });

  it('gatherRows (f32 and i32 tables, i32 and f32 id buffers)', async () => {
    await checkGatherRows(g);
  });

  it('gatherRows into columns of a wider output leaves the other columns as they were', async () => {
    await checkGatherPlacement(g, true);
  });

  it('scatterAddRows: 5000 rows hitting 3 ids lose no update; random rows sum in the reference order', async () => {
    await checkScatterAdd(g);
  });

  it.each(SOFTMAX_CASES)('softmax and logSoftmax over [%i, %i]', async (rows, cols) => {
    await checkSoftmax(g, rows, cols, { rtol: 1e-5, atol: 1e-7, logAtol: 1e-6 });
  });

  it('dropoutMask reproduces dropoutUniform exactly', async () => {
    await checkDropoutMask(g);
  });

  it.each(GATE_MIX_CASES)('gateMixForward / gateMixBackward T=%i B=%i E=%i H=%i', async (T, B, E, H) => {
    await checkGateMix(g, T, B, E, H);
  });

  it('gating rejects more experts than the kernel holds', () => {
    const E = MAX_GATE_EXPERTS + 1;
    const l = g.alloc(E, 'f32');
    const x = g.alloc(E, 'f32');
    const mix = g.alloc(1, 'f32');
    const w = g.alloc(E, 'f32');
    expect(() => g.gateMixForward(l, x, mix, w, { tasks: 1, batch: 1, experts: E, hidden: 1 })).toThrow(/experts/);
    [l, x, mix, w].forEach((b) => g.free(b));
  });

  it('adam and adamw over three steps', async () => {
    const n = 1017;
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
      ['param', 'm', 'v'].forEach((name, k) => expectClose(got[k], want[k], 1e-5, 1e-6, `adam decoupled=${decoupled} ${name}`));
    }
  });

  it('twenty kernels in a row need no readback and no submit until read', async () => {
    const n = 300;
    const x = uniform(n, -1, 1, 5);
    const run = (b: Backend): Buffer => {
      const a = upload(b, x);
      const t = b.alloc(n, 'f32');
      const u = b.alloc(n, 'f32');
      const s = b.alloc(1, 'f32');
      for (let i = 0; i < 6; i++) {
        b.unary('affine', a, t, n, 0.9, 0.01);
        b.unary('tanh', t, u, n);
        b.binary('add', u, a, a, [n], [1], [1]);
      }
      b.reduce('sum', a, s, 1, n, 1);
      b.softmax(a, t, 3, 100, false);
      return s;
    };
    const before = { ...g.stats };
    const gs = run(g);
    expect(g.stats.dispatches - before.dispatches).toBe(20);
    expect(g.stats.readbacks).toBe(before.readbacks);
    expect(g.stats.submits).toBe(before.submits);
    const got = await g.read(gs);
    expect(g.stats.readbacks).toBe(before.readbacks + 1);
    expect(g.stats.submits).toBe(before.submits + 1);
    const want = await cpu.read(run(cpu));
    expectClose(got, want, 1e-4, 1e-4, 'chain');
  });

  it('write after pending kernels does not overtake them', async () => {
    const a = upload(g, Float32Array.from([1, 2, 3, 4]));
    const out = g.alloc(4, 'f32');
    g.unary('neg', a, out, 4);
    g.write(a, Float32Array.from([10, 20, 30, 40]));
    const out2 = g.alloc(4, 'f32');
    g.unary('neg', a, out2, 4);
    expect(Array.from(await g.read(out))).toEqual([-1, -2, -3, -4]);
    expect(Array.from(await g.read(out2))).toEqual([-10, -20, -30, -40]);
    [a, out, out2].forEach((b) => g.free(b));
  });

  // Elementwise kernels only: for matmul or an overlapping copy the CPU's in-place result depends on
  // its loop order, while the GPU reads every input before writing (through a scratch output).
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
      results.push([await be.read(ab), await be.read(bb)]);
      be.free(ab);
      be.free(bb);
    }
    expectClose(results[1][0], results[0][0], 1e-5, 1e-6, 'in-place mul + logSoftmax');
    expectClose(results[1][1], results[0][1], 1e-4, 1e-5, 'in-place sigmoid + sub');
  });

  it('in-place matmul on the GPU equals the out-of-place product', async () => {
    const m = 37;
    const x = uniform(m * m, -1, 1, 8);
    const p = { batch: 1, m, n: m, k: m, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 };
    const { want } = await onBoth(cpu, [x], [{ size: m * m }], (b, [xb], [o]) => b.matmul(xb, xb, o, p));
    const xb = upload(g, x);
    g.matmul(xb, xb, xb, p);
    expectClose(await g.read(xb), want[0], 1e-4, 1e-5, 'in-place matmul');
    g.free(xb);
  });

  it('pooled buffers come back zeroed, like fresh CPU buffers', async () => {
    const first = upload(g, uniform(1000, 1, 2, 1));
    g.free(first);
    const again = g.alloc(1000, 'f32');
    g.fill(again, 7, 10); // a partial write must leave the rest at zero
    const got = await g.read(again);
    expect(got.slice(0, 10).every((v) => v === 7)).toBe(true);
    expect(got.slice(10).every((v) => v === 0)).toBe(true);
    g.free(again);
  });

  it('rejects buffers from another backend and buffers used after free', () => {
    const foreign = cpu.alloc(4, 'f32');
    const out = g.alloc(4, 'f32');
    expect(() => g.unary('neg', foreign, out, 4)).toThrow(/another backend/);
    g.free(out);
    expect(() => g.fill(out, 1, 4)).toThrow(/after free/);
  });
});

describe.skipIf(!tiny)('WebGPU kernels with tiny dispatch limits (2D grids, chunked dispatches, arena flushes)', () => {
  const t = tiny as WebGPUBackend;
  afterAll(() => t.destroy());

  it('matches the CPU when every grid must be split', async () => {
    const n = 5000;
    const x = uniform(n, -2, 2, 42);
    const unary = await onBoth(t, [x], [{ size: n }], (b, [xb], [o]) => b.unary('tanh', xb, o, n));
    expectClose(unary.got[0], unary.want[0], 1e-5, 1e-7, 'tanh 2D grid');

    const red = await onBoth(t, [x], [{ size: 20 }, { size: 50 }], (b, [xb], [r1, r2]) => {
      b.reduce('sum', xb, r1, 20, 250, 1); // rows tree, 20 workgroups
      b.reduce('max', xb, r2, 2, 100, 25); // cols tree
    });
    expectClose(red.got[0], red.want[0], 1e-4, 1e-4, 'rows tree');
    expectClose(red.got[1], red.want[1], 0, 0, 'cols tree');

    const sm = await onBoth(t, [x], [{ size: n }], (b, [xb], [o]) => b.softmax(xb, o, 20, 250, false));
    expectClose(sm.got[0], sm.want[0], 1e-5, 1e-7, 'softmax wg rows');

    const [T, B, E, H] = [2, 7, 4, 9];
    const gate = await onBoth(
      t,
      [x.subarray(0, T * B * E), x.subarray(0, E * B * H)],
      [{ size: T * B * H }, { size: T * B * E }],
      (b, [l, e], [m, w]) => b.gateMixForward!(l, e, m, w, { tasks: T, batch: B, experts: E, hidden: H }),
    );
    expectClose(gate.got[0], gate.want[0], 1e-4, 1e-5, 'gate mix');

    const ids = ints(700, 0, 5, 1);
    const sc = await onBoth(t, [x.subarray(0, 700 * 3), ids], [{ size: 15 }], (b, [s, i], [o]) => b.scatterAddRows(s, i, ids, o, 5, 3));
    expectBitExact(sc.got[0], sc.want[0], 'scatter', true);
  });

  it('chunks a batched matmul whose tiles exceed the per-dimension limit', async () => {
    const p = { batch: 10, m: 150, n: 200, k: 33, transA: true, transB: false, aBatchStride: 150 * 33, bBatchStride: 33 * 200 };
    const a = uniform(10 * 150 * 33, -1, 1, 1);
    const b = uniform(10 * 33 * 200, -1, 1, 2);
    const { want, got } = await onBoth(t, [a, b], [{ size: 10 * 150 * 200 }], (be, [ab, bb], [o]) => be.matmul(ab, bb, o, p));
    expectClose(got[0], want[0], 1e-4, 1e-5, 'chunked matmul');
  });

  it('flushes when the params arena fills up', async () => {
    const before = t.stats.submits;
    const x = uniform(100, -1, 1, 3);
    const { want, got } = await onBoth(t, [x], [{ size: 100, init: x }], (b, _i, [o]) => {
      for (let i = 0; i < 10; i++) b.unary('affine', o, o, 100, 1.01, 0.001);
    });
    expect(t.stats.submits - before).toBeGreaterThan(1);
    expectClose(got[0], want[0], 1e-5, 1e-6, 'arena flushes');
  });
});
