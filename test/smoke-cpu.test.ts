import { describe, expect, it } from 'vitest';
import * as wm from '../src/tensor/index.js';

describe('smoke', () => {
  it('issue example', async () => {
    const x = wm.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const w = wm.randn([2, 3], { seed: 7, requiresGrad: true });
    const loss = wm.matmul(x, w).relu().sum();
    loss.backward();
    console.log(await w.grad!.toArray(), await x.grad!.toArray(), await loss.item());
    expect(w.grad!.shape).toEqual([2, 3]);
  });
});
