// The engine's contract: hand-computed autograd, accumulation, scopes, and bad input that fails with
// a clear message before anything changes.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as wm from '../src/tensor/index.js';

const cpu = new CpuBackend();
wm.setBackend(cpu);

describe('autograd by hand', () => {
  it('matmul → relu → sum: values and gradients', async () => {
    const x = wm.tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    const w = wm.tensor(
      [
        [1, -1, 0.5],
        [-0.5, 1, 0.25],
      ],
      { requiresGrad: true },
    );
    // x·w = [[0, 1, 1], [1, 1, 2.5]]; relu keeps entries > 0; sum = 6.5
    const loss = wm.matmul(x, w).relu().sum();
    expect(await loss.item()).toBeCloseTo(6.5, 6);
    loss.backward();
    // mask = [[0,1,1],[1,1,1]]; dW = xᵀ·mask = [[3, 4, 4], [4, 6, 6]]; dX = mask·wᵀ = [[-0.5, 1.25], [0.5, 0.75]]
    expect(await w.grad!.toArray()).toEqual([
      [3, 4, 4],
      [4, 6, 6],
    ]);
    expect(await x.grad!.toArray()).toEqual([
      [-0.5, 1.25],
      [0.5, 0.75],
    ]);
  });

  it('gradients accumulate across backward calls until zeroGrad', async () => {
    const a = wm.tensor([2, 3], { requiresGrad: true });
    wm.sum(wm.mul(a, a)).backward();
    wm.sum(wm.mul(a, 3)).backward();
    expect(await a.grad!.toArray()).toEqual([7, 9]); // 2a + 3
    a.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('grad() returns gradients without touching .grad and keeps the graph for a second call', async () => {
    const a = wm.tensor([1, 2], { requiresGrad: true });
    const b = wm.tensor([3, 4], { requiresGrad: true });
    const shared = wm.mul(a, b);
    const l1 = wm.sum(shared);
    const l2 = wm.sum(wm.mul(shared, shared));
    const [g1] = wm.grad(l1, [a]);
    const [g2] = wm.grad(l2, [a]);
    expect(await g1.toArray()).toEqual([3, 4]);
    expect(await g2.toArray()).toEqual([2 * 3 * 3, 2 * 8 * 4]); // 2·(ab)·b
    expect(a.grad).toBeNull();
  });

  it('noGrad records nothing; detach cuts the graph', () => {
    const a = wm.tensor([1], { requiresGrad: true });
    expect(wm.noGrad(() => wm.mul(a, 2)).requiresGrad).toBe(false);
    expect(wm.mul(a.detach(), 2).requiresGrad).toBe(false);
    expect(wm.mul(a, 2).requiresGrad).toBe(true);
  });

  it('tidy disposes what it does not return; keep() and results survive', () => {
    let inner: wm.Tensor | null = null;
    let kept: wm.Tensor | null = null;
    const out = wm.tidy(() => {
      inner = wm.ones([3]);
      kept = wm.keep(wm.zeros([2]));
      return wm.add(inner, 1);
    });
    expect(inner!.disposed).toBe(true);
    expect(kept!.disposed).toBe(false);
    expect(out.disposed).toBe(false);
  });

  it('seeded randomness repeats; int32 tensors keep their dtype', async () => {
    expect(await wm.randn([4], { seed: 7 }).toArray()).toEqual(await wm.randn([4], { seed: 7 }).toArray());
    expect(await wm.randn([4], { seed: 7 }).toArray()).not.toEqual(await wm.randn([4], { seed: 8 }).toArray());
    const ids = wm.tensor(Int32Array.of(1, 2, 3));
    expect(ids.dtype).toBe('i32');
  });
});

describe('bad input: a clear error, inputs untouched', () => {
  it('broadcast and matmul shape mismatches name the op, the shapes and the fix', async () => {
    const a = wm.ones([2, 3]);
    const b = wm.ones([4, 3]);
    expect(() => wm.add(a, b)).toThrow(/add: shapes \[2, 3\] and \[4, 3\] cannot be broadcast.*reshape/);
    expect(() => wm.matmul(a, b)).toThrow(
      /matmul: inner dimensions differ: \[2, 3\] f32 · \[4, 3\] f32 needs 3 == 4; transpose an operand/,
    );
    expect(await a.toArray()).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
  });

  it('int32 where float32 is needed', () => {
    expect(() => wm.exp(wm.tensor(Int32Array.of(1, 2)))).toThrow(/exp: needs float32 inputs but got \[2\] i32/);
  });

  it('an embedding id outside [0, vocab) is caught before the kernel, with the value and the size', async () => {
    const table = wm.ones([5, 2], { requiresGrad: true });
    const ids = wm.tensor(Int32Array.of(0, 4, 7));
    expect(() => wm.gatherRows(table, ids)).toThrow(/id 7 at position 2 is outside \[0, 5\)/);
    expect(() => wm.gatherRows(table, wm.tensor(Int32Array.of(-1)))).toThrow(/id -1/);
    expect(await table.toArray()).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  it('backward on a non-scalar without a gradient', () => {
    const a = wm.tensor([1, 2], { requiresGrad: true });
    expect(() => wm.mul(a, 2).backward()).toThrow(/not a scalar; pass a gradient of the same shape, or reduce it first/);
  });

  it('use of a disposed tensor', () => {
    const a = wm.ones([2]);
    a.dispose();
    expect(() => wm.add(a, 1)).toThrow(/\[2\] f32 was used after dispose\(\)/);
  });

  it('mixing tensors from two backends', () => {
    const other = new CpuBackend();
    const a = wm.ones([2]);
    const b = wm.ones([2], { backend: other });
    expect(() => wm.add(a, b)).toThrow(/add: inputs live on different backends/);
  });
});

describe('the seeded generator', () => {
  it('continues from a saved state exactly, the kept normal included, and refuses a malformed one', () => {
    const a = new wm.Random(9);
    a.normal(); // leaves the second value of a pair kept
    const state = JSON.parse(JSON.stringify(a.getState()));
    const b = new wm.Random(123);
    b.setState(state);
    const next = (r: wm.Random) => [r.normal(), r.nextUint32(), r.uniform(), r.normal(), r.int(1000)];
    expect(next(b)).toEqual(next(a));
    expect(() => b.setState({ words: [1, 2, 3], spareNormal: null } as never)).toThrow(/not a generator state/);
    expect(() => b.setState({ words: [1, 2, 3, 2 ** 40], spareNormal: null } as never)).toThrow(/not a generator state/);
  });
});

describe('gatherConcat', () => {
  it('equals concat of the separate gathers, values and gradients, with a table looked up twice', async () => {
    const r = new wm.Random(3);
    const table = (v: number, d: number) =>
      wm.fromArray(
        Float32Array.from({ length: v * d }, () => r.normal()),
        [v, d],
        { requiresGrad: true },
      );
    const ids = (n: number, v: number) => wm.tensor(Int32Array.from({ length: n }, () => r.int(v)));
    const [a, b] = [table(7, 3), table(5, 4)];
    const dense = wm.fromArray(
      Float32Array.from({ length: 9 * 2 }, () => r.normal()),
      [9, 2],
      { requiresGrad: true },
    );
    const [ia, ib, ia2] = [ids(9, 7), ids(9, 5), ids(9, 7)];
    const weights = wm.fromArray(
      Float32Array.from({ length: 9 * 12 }, () => r.normal()),
      [9, 12],
    );
    const run = (fused: boolean) => {
      const x = fused
        ? wm.gatherConcat([{ table: a, ids: ia }, { table: b, ids: ib }, dense, { table: a, ids: ia2 }])
        : wm.concat([wm.gatherRows(a, ia), wm.gatherRows(b, ib), dense, wm.gatherRows(a, ia2)], 1);
      wm.sum(wm.mul(x, weights)).backward();
      const out = [x.dataSync(), a.grad!.dataSync(), b.grad!.dataSync(), dense.grad!.dataSync()].map((t) => Array.from(t));
      [a, b, dense].forEach((t) => t.zeroGrad());
      return out;
    };
    const fused = run(true);
    expect(fused[0]).toHaveLength(9 * 12);
    expect(fused).toEqual(run(false));
  });

  it('refuses parts of different row counts and ids outside a table, naming the feature', () => {
    const t = wm.zeros([4, 2]);
    expect(() => wm.gatherConcat([{ table: t, ids: wm.tensor(Int32Array.from([0, 1])) }, wm.zeros([3, 1])])).toThrow(
      /part 1 .* must be \[2, width\]/,
    );
    expect(() => wm.gatherConcat([{ table: t, ids: wm.tensor(Int32Array.from([0, 9])), what: "feature 'city'" }])).toThrow(
      /id 9 at position 1 is outside \[0, 4\) for feature 'city'/,
    );
  });
});
