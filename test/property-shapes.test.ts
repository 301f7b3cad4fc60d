// Property-based tests of tensor creation and broadcasting: random shapes (negative, fractional, NaN,
// huge, non-numbers) and nested data give a tensor whose size is the product of its shape, or an Error
// with a message; add/mul follow PyTorch's broadcasting rule (implemented here) or throw.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as wm from '../src/index.js';
import { attempt, expectErrorWithMessage } from './helpers/attempt.js';

const SEED = Number(process.env.PSEED ?? 20261202);
const TIMEOUT = 20_000;

// A memory limit turns a huge (valid) shape into an OutOfMemoryError instead of a real allocation.
beforeAll(() => wm.setBackend(new CpuBackend({ memoryLimitBytes: 64 << 20 })));

const weirdDim = fc.constantFrom<unknown>(
  -1,
  -3,
  0.5,
  2.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 40,
  2 ** 53,
  1e300,
  -0,
  '2',
  null,
  undefined,
  true,
  [2],
  {},
  2n,
);
const dimArb = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: weirdDim });
const shapeArb = fc.oneof(
  { weight: 9, arbitrary: fc.array(dimArb, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 3, 'x', {}, undefined) },
);

const isValidShape = (s: unknown): s is number[] =>
  Array.isArray(s) && s.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0);
const product = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function expectGoodError(error: unknown): void {
  expectErrorWithMessage(error);
  expect(error).not.toBeInstanceOf(TypeError); // a TypeError comes from inside (x.length of undefined ...)
}

function expectTensor(t: wm.Tensor, shape: readonly number[]): void {
  expect(t.shape.map((d) => d + 0)).toEqual(shape.map((d) => d + 0)); // -0 is kept as given; compare as 0
  expect(t.size + 0).toBe(product(shape) + 0);
  expect(t.dataSync().length).toBe(t.size + 0); // a shape [-0] gives size -0 (see the report)
}

/** PyTorch's broadcasting rule: align on the right; sizes must be equal or one of them 1. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

describe('tensor shape properties', () => {
  it(
    'zeros/ones/full(shape): a tensor of that shape, or an Error for a bad shape',
    () => {
      fc.assert(
        fc.property(
          shapeArb,
          fc.constantFrom(wm.zeros, wm.ones, (s: wm.Shape) => wm.full(s, 2.5)),
          (shape, make) => {
            const { value, error } = attempt(() => make(shape as wm.Shape));
            if (isValidShape(shape) && product(shape) * 4 <= 64 << 20) {
              expect(error).toBeUndefined();
              expectTensor(value!, shape);
              value!.dispose();
            } else if (!isValidShape(shape)) {
              expect(value).toBeUndefined();
              expectGoodError(error);
            } else {
              // valid but too big for the memory limit
              if (value) value.dispose();
              expectGoodError(error);
            }
          },
        ),
        { seed: SEED, numRuns: 300 },
      );
    },
    TIMEOUT,
  );

  it(
    'fromArray(data, shape): a tensor when data.length equals the product, else an Error',
    () => {
      const data = fc.oneof(
        fc.float32Array({ maxLength: 30 }),
        fc.int32Array({ maxLength: 30 }),
        fc.array(fc.double(), { maxLength: 30 }),
        fc.array(fc.oneof(fc.double(), fc.constantFrom<unknown>('1', null, true)), { maxLength: 8 }),
        fc.constantFrom<unknown>(
          null,
          'abc',
          5,
          new Float64Array(4),
          new Uint8Array(6),
          new BigInt64Array(2),
          new DataView(new ArrayBuffer(8)),
        ),
      );
      fc.assert(
        fc.property(data, shapeArb, fc.constantFrom<unknown>(undefined, 'f32', 'i32', 'f64', 7), (values, shape, dtype) => {
          const opts = dtype === undefined ? {} : { dtype: dtype as wm.DType };
          const { value, error } = attempt(() => wm.fromArray(values as Float32Array, shape as wm.Shape, opts));
          const numeric =
            (ArrayBuffer.isView(values) && !(values instanceof DataView) && !(values instanceof BigInt64Array)) ||
            (Array.isArray(values) && values.every((v) => typeof v === 'number'));
          // Converting to i32 refuses values that would change (fractions, NaN, ±Inf, outside int32).
          const fitsI32 = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
          const i32 = dtype === 'i32' || (dtype === undefined && values instanceof Int32Array);
          const lossless = !numeric || !i32 || values instanceof Int32Array || Array.from(values as ArrayLike<number>).every(fitsI32);
          const ok =
            numeric &&
            lossless &&
            isValidShape(shape) &&
            (values as ArrayLike<number>).length === product(shape) &&
            (dtype === undefined || dtype === 'f32' || dtype === 'i32');
          if (ok) {
            expect(error).toBeUndefined();
            expectTensor(value!, shape as number[]);
            value!.dispose();
          } else {
            expect(value).toBeUndefined();
            expectGoodError(error);
          }
        }),
        { seed: SEED, numRuns: 300 },
      );
    },
    TIMEOUT,
  );

  it(
    'tensor(nested): regular nested arrays of numbers give that shape and those values; anything else an Error',
    () => {
      const leaf = fc.oneof(
        { weight: 20, arbitrary: fc.double() },
        { weight: 1, arbitrary: fc.constantFrom<unknown>('1', null, undefined, true, {}, 1n) },
      );
      // Regular arrays from a shape, then sometimes one random edit that makes them ragged or non-numeric.
      const regular = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }).chain((shape) => {
        const build = (depth: number): fc.Arbitrary<unknown> =>
          depth === shape.length ? fc.double() : fc.array(build(depth + 1), { minLength: shape[depth], maxLength: shape[depth] });
        // An empty array has no first element to infer deeper axes from: [] is shape [0], not [0, 3].
        const zero = shape.indexOf(0);
        return build(0).map((values) => ({ shape: zero >= 0 ? shape.slice(0, zero + 1) : shape, values }));
      });
      const nested: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
        node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 3 })),
      })).node;
      fc.assert(
        fc.property(
          fc.oneof(
            regular,
            nested.map((values) => ({ shape: undefined, values })),
          ),
          ({ shape, values }) => {
            const { value, error } = attempt(() => wm.tensor(values as wm.NestedArray));
            if (shape !== undefined) {
              expect(error).toBeUndefined();
              expectTensor(value!, shape);
              const flat = (shape.length === 0 ? [values] : (values as unknown[]).flat(shape.length)) as number[];
              expect(Array.from(value!.dataSync())).toEqual(flat.map(Math.fround));
              value!.dispose();
            } else if (value) {
              expect(value.size).toBe(product(value.shape));
              value.dispose();
            } else expectGoodError(error);
          },
        ),
        { seed: SEED, numRuns: 300 },
      );
    },
    TIMEOUT,
  );

  it(
    'reshape(shape): same elements in a new shape (one -1 inferred), or an Error',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
          fc.array(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: -1, max: 6 }) }, { weight: 1, arbitrary: weirdDim }), {
            maxLength: 4,
          }),
          (from, to) => {
            const x = wm.zeros(from);
            const { value, error } = attempt(() => wm.reshape(x, to as number[]));
            const minusOnes = to.filter((d) => d === -1).length;
            const known = to.filter((d) => d !== -1);
            let expected: number[] | null = null;
            if (known.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0) && minusOnes <= 1) {
              const k = product(known as number[]);
              if (minusOnes === 0 && k === x.size) expected = to as number[];
              if (minusOnes === 1 && k > 0 && x.size % k === 0) expected = (to as number[]).map((d) => (d === -1 ? x.size / k : d));
            }
            if (expected) {
              expect(error).toBeUndefined();
              expectTensor(value!, expected);
            } else {
              expect(value).toBeUndefined();
              expectGoodError(error);
            }
            x.dispose();
          },
        ),
        { seed: SEED, numRuns: 300 },
      );
    },
    TIMEOUT,
  );

  it(
    'add/mul/sub/div of random shapes: the PyTorch broadcast shape with the right values, or an Error',
    () => {
      const small = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 });
      fc.assert(
        fc.property(
          small,
          small,
          fc.constantFrom('add', 'mul', 'sub', 'div') as fc.Arbitrary<'add' | 'mul' | 'sub' | 'div'>,
          (sa, sb, op) => {
            const a = wm.fromArray(
              Float32Array.from({ length: product(sa) }, (_, i) => i + 1),
              sa,
            );
            const b = wm.fromArray(
              Float32Array.from({ length: product(sb) }, (_, i) => 2 * i + 1),
              sb,
            );
            const expected = broadcast(sa, sb);
            const { value, error } = attempt(() => wm[op](a, b));
            if (expected === null) {
              expect(value).toBeUndefined();
              expectGoodError(error);
            } else {
              expect(error).toBeUndefined();
              expectTensor(value!, expected);
              // spot-check the values: element i of the result from the broadcast indices
              const out = value!.dataSync();
              const av = a.dataSync();
              const bv = b.dataSync();
              const idx = (shape: number[], multi: number[]): number => {
                let flat = 0;
                const off = multi.length - shape.length;
                for (let k = 0; k < shape.length; k++) flat = flat * shape[k] + (shape[k] === 1 ? 0 : multi[off + k]);
                return flat;
              };
              for (let i = 0; i < out.length; i++) {
                const multi: number[] = [];
                let r = i;
                for (let k = expected.length - 1; k >= 0; k--) {
                  multi.unshift(r % expected[k]);
                  r = Math.floor(r / expected[k]);
                }
                const x = av[idx(sa, multi)];
                const y = bv[idx(sb, multi)];
                const want = op === 'add' ? x + y : op === 'mul' ? x * y : op === 'sub' ? x - y : x / y;
                expect(out[i]).toBeCloseTo(Math.fround(want), 4);
              }
              value!.dispose();
            }
            a.dispose();
            b.dispose();
          },
        ),
        { seed: SEED, numRuns: 300 },
      );
    },
    TIMEOUT,
  );

  it(
    'tensor(values, { dtype: "i32" }) with non-integer or out-of-int32 values is refused (before: silently truncated/wrapped)',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.double({ min: -1e6, max: 1e6, noNaN: true }).filter((v) => !Number.isInteger(v)),
            fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1e12, Number.NaN),
          ),
          (v) => {
            const { value, error } = attempt(() => wm.tensor([v], { dtype: 'i32' }));
            if (value) {
              const got = value.dataSync()[0];
              value.dispose();
              expect(got).toBe(v); // must not silently change
            } else expectGoodError(error);
          },
        ),
        { seed: SEED, numRuns: 50 },
      );
    },
    TIMEOUT,
  );
});
