// Empty (0-length) axes and bad shapes / data, on every backend where it matters.
// Semantics (as PyTorch): a 0 axis broadcasts against 1 (giving 0) and against n > 1 is an error; ops on
// empty tensors return empty (or zero-filled) results without running zero-size kernels; sum over an
// empty axis is 0, mean is NaN, max is an error; matmul with k = 0 gives zeros. Negative, fractional,
// NaN and infinite dimensions, and non-numeric data, are errors that name the op, the place and the fix,
// and change nothing (no allocation, inputs untouched).
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import * as wm from '../src/tensor/index.js';
import { empty } from '../src/tensor/tensor.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
const wasm = await createWasmBackend();
const gpu = await getWebGPUOrSkip();

const backends: [string, Backend][] = [['cpu', cpu], ['wasm', wasm], ...(gpu ? ([['webgpu', gpu]] as [string, Backend][]) : [])];

afterAll(() => {
  wasm.destroy();
  gpu?.destroy();
});

const values = async (t: wm.Tensor): Promise<number[]> => Array.from(await t.data());

describe.each(backends)('empty axes on %s', (_name, backend) => {
  const opts = { backend };
  const z = (shape: number[], requiresGrad = false) => wm.zeros(shape, { backend, requiresGrad });
  const o = (shape: number[], requiresGrad = false) => wm.ones(shape, { backend, requiresGrad });

  it('a 0 axis broadcasts against 1 to 0, and against n > 1 is an error', async () => {
    const c = wm.add(z([0, 2]), o([2]));
    expect(c.shape).toEqual([0, 2]);
    expect(await values(c)).toEqual([]);
    expect(wm.mul(o([1, 2]), z([0, 1])).shape).toEqual([0, 2]);
    expect(wm.sub(z([2, 0]), o([2, 1])).shape).toEqual([2, 0]);
    expect(wm.where(o([0, 1]), o([1, 3]), z([3])).shape).toEqual([0, 3]);
    expect(() => wm.add(z([0, 2]), o([3, 2]))).toThrow(/add: shapes \[0, 2\] and \[3, 2\] cannot be broadcast/);
    expect(() => wm.broadcastTo(o([1, 2]), [0, 2])).not.toThrow();
    expect(wm.broadcastTo(o([1, 2]), [0, 2]).shape).toEqual([0, 2]);
    expect(() => wm.broadcastTo(o([2, 2]), [0, 2])).toThrow(/broadcast/);
  });

  it('elementwise ops on empty tensors run no kernel', () => {
    const a = z([0, 3]);
    const b = o([3]);
    const before = backend.stats.dispatches;
    const outs = [
      wm.add(a, b),
      wm.relu(a),
      wm.exp(a),
      wm.mul(a, 2),
      wm.softmax(a),
      wm.softmax(z([3, 0])),
      wm.transpose(a),
      wm.maximum(a, b),
    ];
    expect(outs.map((t) => t.shape)).toEqual([
      [0, 3],
      [0, 3],
      [0, 3],
      [0, 3],
      [0, 3],
      [3, 0],
      [3, 0],
      [0, 3],
    ]);
    expect(backend.stats.dispatches).toBe(before);
  });

  it('gradients through a broadcast with an empty axis', async () => {
    const a = z([0, 2], true);
    const b = o([2], true);
    wm.sum(wm.mul(wm.add(a, b), 3)).backward();
    expect(a.grad!.shape).toEqual([0, 2]);
    expect(b.grad!.shape).toEqual([2]);
    expect(await values(b.grad!)).toEqual([0, 0]);
  });

  it('sum over an empty axis is 0, mean is NaN, max is an error', async () => {
    const x = z([0, 3]);
    expect(await values(wm.sum(x, 0))).toEqual([0, 0, 0]);
    expect(wm.sum(x, 1).shape).toEqual([0]);
    const all = wm.sum(x);
    expect(all.shape).toEqual([]);
    expect(await all.item()).toBe(0);
    expect(await values(wm.sum(x, 0, true))).toEqual([0, 0, 0]);
    expect((await values(wm.mean(x, 0))).every(Number.isNaN)).toBe(true);
    expect(wm.mean(x, 0).shape).toEqual([3]);
    expect(Number.isNaN(await wm.mean(z([0])).item())).toBe(true);
    expect(wm.mean(x, 1).shape).toEqual([0]);
    expect(wm.max(x, 1).shape).toEqual([0]);
    expect(() => wm.max(x, 0)).toThrow(/max: .*axis 0.*size 0/);
    expect(() => wm.max(x)).toThrow(/max: /);
    expect(() => wm.max(z([0]))).toThrow(/max: /);
    // mean's gradient on an empty input is empty.
    const y = z([0, 3], true);
    wm.sum(wm.mean(y, 1)).backward();
    expect(y.grad!.shape).toEqual([0, 3]);
  });

  it('matmul with k = 0 gives zeros; with m, n or the batch 0 an empty result', async () => {
    const a = o([2, 0], true);
    const b = o([0, 3], true);
    const c = wm.matmul(a, b);
    expect(c.shape).toEqual([2, 3]);
    expect(await values(c)).toEqual([0, 0, 0, 0, 0, 0]);
    wm.sum(c).backward();
    expect(a.grad!.shape).toEqual([2, 0]);
    expect(b.grad!.shape).toEqual([0, 3]);
    expect(wm.matmul(o([0, 4]), o([4, 3])).shape).toEqual([0, 3]);
    expect(wm.matmul(o([2, 4]), o([4, 0])).shape).toEqual([2, 0]);
    expect(wm.matmul(o([0, 2, 3]), o([3, 4])).shape).toEqual([0, 2, 4]);
    expect(wm.matmul(o([2, 3]), o([0, 3, 4])).shape).toEqual([0, 2, 4]);
    expect(wm.matmul(o([3, 0]), o([3, 0]), { transA: true }).shape).toEqual([0, 0]);
    const bias = wm.tensor([1, 2, 3], { backend });
    expect(await values(wm.linear(o([2, 0]), o([0, 3]), bias))).toEqual([1, 2, 3, 1, 2, 3]);
    expect(wm.linear(o([0, 4]), o([4, 3]), bias).shape).toEqual([0, 3]);
  });

  it('shape ops, gathers and creation with empty axes', async () => {
    const x = z([0, 3]);
    expect(wm.reshape(x, [-1, 3]).shape).toEqual([0, 3]);
    expect(wm.reshape(x, [3, -1]).shape).toEqual([3, 0]);
    expect(() => wm.reshape(x, [-1, 0])).toThrow(/reshape: .*-1.*ambiguous/);
    expect(await wm.concat([z([0, 2]), o([1, 2]), z([0, 2])]).toArray()).toEqual([[1, 1]]);
    expect(wm.stack([z([0]), z([0])]).shape).toEqual([2, 0]);
    expect(wm.split(o([2, 3]), [0, 2, 0]).map((t) => t.shape)).toEqual([
      [0, 3],
      [2, 3],
      [0, 3],
    ]);
    expect(wm.slice(o([2, 3]), [2, 0], [0, 3]).shape).toEqual([0, 3]);
    expect(wm.pad(z([0, 2]), [1, 2], [1, 0]).shape).toEqual([1, 2]);
    expect(await wm.zeros([2, 0], opts).toArray()).toEqual([[], []]);
    expect(await wm.zeros([0, 5], opts).data()).toHaveLength(0);
    expect(await wm.fromArray(new Float32Array(0), [3, 0], opts).data()).toHaveLength(0);
    expect(wm.tensor([], opts).shape).toEqual([0]);
    expect(wm.tensor([[], []], opts).shape).toEqual([2, 0]);
    const table = o([4, 2], true);
    const ids = wm.tensor(new Int32Array(0), opts);
    const rows = wm.gatherRows(table, ids);
    expect(rows.shape).toEqual([0, 2]);
    wm.sum(rows).backward();
    expect(await values(table.grad!)).toEqual(new Array(8).fill(0));
    expect(wm.dropout(z([0, 4]), 0.5, { training: true, seed: 1 }).shape).toEqual([0, 4]);
    expect(wm.binaryCrossEntropyWithLogits(z([0]), z([0]), 'sum').shape).toEqual([]);
    expect(Number.isNaN(await wm.mseLoss(z([0]), z([0])).item())).toBe(true);
  });

  it('a 3-D empty batch through the gate and BatchNorm eval', async () => {
    const { mix, weights } = wm.gateMix(z([2, 0, 3]), z([3, 0, 4]));
    expect(mix.shape).toEqual([2, 0, 4]);
    expect(weights.shape).toEqual([2, 0, 3]);
    const state = { runningMean: z([3]), runningVar: o([3]) };
    expect(wm.batchNorm1d(z([0, 3]), o([3]), z([3]), state, { training: false }).shape).toEqual([0, 3]);
  });
});

// A backend that counts allocations, to show that a rejected call allocates nothing.
class CountingCpu extends CpuBackend {
  allocs = 0;
  override alloc(size: number, dtype: 'f32' | 'i32') {
    this.allocs++;
    return super.alloc(size, dtype);
  }
}

describe('bad shapes are errors that change nothing', () => {
  const b = new CountingCpu();
  const opts = { backend: b };
  const rejects = (fn: () => unknown, message: RegExp) => {
    const before = b.allocs;
    expect(fn).toThrow(message);
    expect(b.allocs, 'a rejected call allocated').toBe(before);
  };
  const bad: [string, number][] = [
    ['negative', -1],
    ['fractional', 2.5],
    ['NaN', NaN],
    ['infinite', Infinity],
  ];

  for (const [label, d] of bad) {
    it(`a ${label} dimension is rejected by every creation function`, () => {
      const dim = new RegExp(`axis 1.*${String(d).replace('.', '\\.')}.*non-negative integer`);
      rejects(() => wm.zeros([2, d], opts), new RegExp(`zeros: ${dim.source}`));
      rejects(() => wm.ones([2, d], opts), new RegExp(`ones: ${dim.source}`));
      rejects(() => wm.full([2, d], 7, opts), new RegExp(`full: ${dim.source}`));
      rejects(() => empty([2, d], 'f32', b), new RegExp(`empty: ${dim.source}`));
      rejects(() => wm.fromArray(new Float32Array(4), [2, d], opts), new RegExp(`fromArray: ${dim.source}`));
      rejects(() => wm.tensor(new Float32Array(4), { shape: [2, d], backend: b }), new RegExp(`tensor: ${dim.source}`));
      rejects(() => wm.tensor([1, 2, 3, 4], { shape: [2, d], backend: b }), new RegExp(`tensor: ${dim.source}`));
      rejects(() => wm.randn([2, d], opts), dim);
      const x = wm.tensor([1, 2, 3, 4], opts);
      rejects(() => wm.broadcastTo(x, [d, 4]), /broadcastTo: .*axis 0.*non-negative integer/);
      rejects(() => wm.pad(x, [d], [0]), /pad: /);
    });
  }

  it('shapes whose product happens to match are still rejected', () => {
    rejects(() => wm.fromArray(new Float32Array(2), [-1, -2], opts), /fromArray: .*axis 0.*-1/);
    rejects(() => wm.fromArray(new Float32Array(2), [0.5, 4], opts), /fromArray: .*axis 0.*0\.5/);
    rejects(() => wm.tensor(new Float32Array(6), { shape: [-2, -3], backend: b }), /tensor: .*axis 0.*-2/);
    const x = wm.tensor([1, 2, 3, 4, 5, 6], opts);
    rejects(() => x.view([-2, -3]), /view: .*axis 0.*-2/);
    rejects(() => x.view([7]), /view: .*7 elements.*6/);
  });

  it('a shape that is not an array of numbers, a bad dtype or fill value', () => {
    rejects(() => wm.zeros(3 as unknown as number[], opts), /zeros: shape must be an array/);
    rejects(() => wm.zeros(['2'] as unknown as number[], opts), /zeros: .*axis 0/);
    rejects(() => wm.full([2], 'a' as unknown as number, opts), /full: the fill value must be a number/);
    rejects(() => wm.zeros([2], { backend: b, dtype: 'f64' as 'f32' }), /zeros: dtype 'f64'.*'f32' or 'i32'/);
  });

  it('reshape: -1 rules and bad dimensions', () => {
    const x = wm.tensor([1, 2, 3, 4, 5, 6], opts);
    rejects(() => wm.reshape(x, [-1, -1]), /reshape: only one dimension can be -1/);
    rejects(() => wm.reshape(x, [2.5, -1]), /reshape: .*axis 0.*2\.5/);
    rejects(() => wm.reshape(x, [NaN]), /reshape: .*axis 0.*NaN/);
    rejects(() => wm.reshape(x, [-2, -3]), /reshape: .*axis 0.*-2/);
    rejects(() => wm.reshape(x, [4, -1]), /reshape: cannot view .*6 elements.*\[4, -1\]/);
    rejects(() => wm.reshape(x, [4]), /reshape: cannot view .*6 elements.*\[4\]/);
    const e = wm.zeros([0], opts);
    rejects(() => wm.reshape(e, [-1, 0]), /reshape: .*-1.*ambiguous/);
    rejects(() => wm.reshape(x, [-1, 0]), /reshape: cannot view .*6 elements.*\[-1, 0\]/);
    rejects(() => wm.unsqueeze(x, 3), /unsqueeze: axis 3/);
    rejects(() => wm.unsqueeze(x, 0.5), /unsqueeze: axis 0\.5/);
    expect(wm.reshape(x, [-1, 2]).shape).toEqual([3, 2]);
    expect(wm.unsqueeze(x, -1).shape).toEqual([6, 1]);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('slice, split, concat, stack, pad and axes', () => {
    const x = wm.tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      opts,
    );
    rejects(() => wm.slice(x, [0.5, 0], [1, 3]), /slice: begin.*axis 0.*0\.5/);
    rejects(() => wm.slice(x, [NaN, 0], [1, 3]), /slice: begin.*axis 0.*NaN/);
    rejects(() => wm.slice(x, [0, 0], [1, 1.5]), /slice: size.*axis 1.*1\.5/);
    rejects(() => wm.slice(x, [0, 0], [1, -2]), /slice: size.*axis 1.*-2/);
    rejects(() => wm.slice(x, [-1, 0], [1, 3]), /slice: begin.*axis 0.*-1/);
    rejects(() => wm.slice(x, [1, 0], [2, 3]), /slice: axis 0 range \[1, 3\) is outside/);
    rejects(() => wm.split(x, 0), /split: .*count 0.*positive integer/);
    rejects(() => wm.split(x, -1), /split: .*count -1/);
    rejects(() => wm.split(x, 2.5), /split: .*count 2\.5/);
    rejects(() => wm.split(x, 4, 1), /split: .*3.*4 equal/);
    rejects(() => wm.split(x, [-1, 3], 0), /split: size -1 at position 0/);
    rejects(() => wm.split(x, [0.5, 1.5], 0), /split: size 0\.5 at position 0/);
    rejects(() => wm.split(x, [1, 2], 0), /split: sizes \[1, 2\] add up to 3, not 2/);
    rejects(() => wm.concat([x, x], 0.5), /concat: axis 0\.5/);
    rejects(() => wm.concat([x, 'a' as unknown as wm.Tensor]), /concat: input 1 is not a Tensor/);
    rejects(() => wm.stack([x, x], 3), /stack: axis 3/);
    rejects(() => wm.stack([x, x], 1.5), /stack: axis 1\.5/);
    rejects(() => wm.sum(x, 0.5), /sum: axis 0\.5/);
    rejects(() => wm.mean(x, NaN), /mean: axis NaN/);
    rejects(() => wm.max(x, [0, 2]), /max: axis 2 is out of range/);
    rejects(() => wm.transpose(x, [0.5, 0.5]), /transpose/);
    rejects(() => wm.pad(x, [2, 3], [1, 0]), /pad: .*axis 0/);
    rejects(() => wm.pad(x, [2, 3, 1], [0, 0, 0]), /pad: /);
    rejects(() => wm.pad(x, [2, 3], [0, -1]), /pad: begin.*axis 1.*-1/);
    const ids = wm.tensor(new Int32Array([0, 1]), opts);
    const src = wm.ones([2, 2], opts);
    rejects(() => wm.scatterAddRows(src, ids, 2.5, [2]), /scatterAddRows: .*2\.5/);
    rejects(() => wm.scatterAddRows(src, ids, 2, [-2]), /scatterAddRows: .*-2/);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('non-numeric data is an error that names the first bad element', () => {
  const b = new CountingCpu();
  const opts = { backend: b };
  const rejects = (values: unknown, message: RegExp, extra: object = {}) => {
    const before = b.allocs;
    expect(() => wm.tensor(values as number[], { ...opts, ...extra })).toThrow(message);
    expect(b.allocs).toBe(before);
  };

  it('strings, undefined, null, objects, bigints, booleans', () => {
    rejects(['a'], /tensor: values\[0\] is a string \('a'\); every element must be a number/);
    rejects(
      [
        [1, 2],
        [3, 'x'],
      ],
      /tensor: values\[1\]\[1\] is a string/,
    );
    rejects([1, undefined], /tensor: values\[1\] is undefined/);
    rejects([1, null], /tensor: values\[1\] is null/);
    rejects([1, {}], /tensor: values\[1\] is an object/);
    rejects([1, 2n], /tensor: values\[1\] is a bigint/);
    rejects([true, false], /tensor: values\[0\] is a boolean.*Number/);
    rejects('5', /tensor: values is a string/);
    rejects(undefined, /tensor: values is undefined/);
    // A hole in a sparse array is a missing element, not a shorter row.
    // biome-ignore lint/suspicious/noSparseArray: the hole is what this case tests
    rejects([1, , 3], /tensor: values\[1\] is missing/);
    rejects(['1'], /tensor: values\[0\] is a string/, { dtype: 'i32' });
  });

  it('ragged nested arrays name the first row that differs', () => {
    rejects([[1, 2], [3]], /tensor: ragged.*values\[1\] has 1 element.*2/);
    rejects([[1, 2], 3], /tensor: ragged.*values\[1\] is a number where an array of 2 is expected/);
    rejects([1, [2]], /tensor: ragged.*values\[1\] is an array where a number is expected/);
    rejects(
      [
        [[1], [2]],
        [[3], [4, 5]],
      ],
      /tensor: ragged.*values\[1\]\[1\] has 2 elements/,
    );
  });

  it('fromArray: counts that do not fill the shape, data that is not numbers', () => {
    const before = b.allocs;
    expect(() => wm.fromArray(new Float32Array(3), [2, 2], opts)).toThrow(/fromArray: 3 values do not fill shape \[2, 2\] \(4 elements\)/);
    expect(() => wm.fromArray(['a'] as unknown as Float32Array, [1], opts)).toThrow(/fromArray: .*\[0\] is a string/);
    expect(() => wm.fromArray(new BigInt64Array(1) as unknown as Float32Array, [1], opts)).toThrow(/fromArray: .*BigInt64Array/);
    expect(b.allocs).toBe(before);
  });

  it('numbers (NaN and Infinity included) and numeric typed arrays are accepted', async () => {
    expect(Array.from(wm.tensor([NaN, Infinity, -0.5], opts).dataSync())).toEqual([NaN, Infinity, -0.5]);
    expect(wm.tensor(7, opts).shape).toEqual([]);
    expect(Array.from(wm.tensor(new Float64Array([1.5, 2]) as unknown as Float32Array, opts).dataSync())).toEqual([1.5, 2]);
    expect(Array.from(wm.fromArray(new Uint8Array([1, 2, 3, 4]) as unknown as Float32Array, [2, 2], opts).dataSync())).toEqual([
      1, 2, 3, 4,
    ]);
  });
});
