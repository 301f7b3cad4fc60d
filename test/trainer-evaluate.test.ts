// trainer.evaluate(loader) scores the columns of that loader's labels, not those of the loader the
// model was trained on: ESMM trained on [click, purchase] and evaluated on torch-rechub's
// [cvr, ctr, ctcvr] reads ctr from column 1 and ctcvr from column 2.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DataLoader } from '../src/data/loader.js';
import { SparseFeature } from '../src/features.js';
import * as wm from '../src/index.js';

wm.setBackend(new CpuBackend());

describe('MTLTrainer.evaluate after fit', () => {
  it("uses the evaluated loader's label layout", async () => {
    const rows = 256;
    const r = new wm.Random(3);
    const user = Int32Array.from({ length: rows }, () => r.int(20));
    const item = Int32Array.from({ length: rows }, () => r.int(10));
    const click = Float32Array.from({ length: rows }, (_, i) => ((user[i] + item[i]) % 3 === 0 ? 1 : r.uniform() < 0.2 ? 1 : 0));
    const buy = Float32Array.from({ length: rows }, (_, i) => (click[i] && user[i] % 2 === 0 ? 1 : 0));
    const two = new Float32Array(rows * 2);
    const three = new Float32Array(rows * 3);
    for (let i = 0; i < rows; i++) {
      two.set([click[i], buy[i]], i * 2);
      three.set([buy[i], click[i], click[i] * buy[i]], i * 3); // [cvr, ctr, ctcvr]
    }
    wm.seed(1);
    const model = new wm.ESMM({
      userFeatures: [new SparseFeature({ name: 'user', vocabSize: 20, embedDim: 4 })],
      itemFeatures: [new SparseFeature({ name: 'item', vocabSize: 10, embedDim: 4 })],
      cvrParams: { dims: [8] },
      ctrParams: { dims: [8] },
    });
    const trainer = new wm.MTLTrainer(model, { nEpoch: 2, device: 'cpu', progress: 'none', optimizerParams: { lr: 0.01 } });
    await trainer.fit(new DataLoader(new wm.ColumnarDataset({ user, item }, two, ['click', 'purchase']), { batchSize: 64 }));
    const threeLoader = new DataLoader(new wm.ColumnarDataset({ user, item }, three, ['cvr', 'ctr', 'ctcvr']), { batchSize: 64 });
    const got = await trainer.evaluate(threeLoader);
    const want = await wm.evaluateMultiTask(model, threeLoader);
    expect(got.ctr).toEqual(want.ctr);
    expect(got.ctcvr).toEqual(want.ctcvr);
    // And the same scores as on the two-column layout, which holds the same labels.
    const again = await trainer.evaluate(
      new DataLoader(new wm.ColumnarDataset({ user, item }, two, ['click', 'purchase']), { batchSize: 64 }),
    );
    expect(got.ctr).toEqual(again.ctr);
    expect(got.ctcvr).toEqual(again.ctcvr);
  });
});
