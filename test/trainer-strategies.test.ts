// Every balancing method through the trainer's two ways in: adaptiveParams / taskWeightsStrategy, and
// MetaBalance passed as the optimizer. Each must still learn, and the history records its weights.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import type { MultiTaskModel } from '../src/models/base.js';
import { createModel } from '../src/models/registry.js';
import { MetaBalance, STRATEGY_METHODS } from '../src/mtl/index.js';
import { setBackend } from '../src/tensor/engine.js';
import { seed } from '../src/tensor/random.js';
import type { ClassificationReport } from '../src/train/metrics.js';
import { MTLTrainer, type MTLTrainerOptions } from '../src/train/trainer.js';

setBackend(new CpuBackend());
const data = generateAliCcpSplits({ train: 8000, val: 2000, test: 2000, seed: 11, vocabScale: 0.05 });
const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };

async function trainWith(opts: Partial<MTLTrainerOptions>, model?: MultiTaskModel) {
  if (!model) {
    seed(3);
    model = createModel('mmoe', schema);
  }
  const trainer = new MTLTrainer(model, { nEpoch: 2, optimizerParams: { lr: 3e-3 }, device: 'cpu', progress: 'none', seed: 3, ...opts });
  const history = await trainer.fit(new DataLoader(data.train, { batchSize: 512, shuffle: true, seed: 1 }));
  const test = await trainer.evaluate(new DataLoader(data.test, { batchSize: 4096 }));
  return { history, click: (test.click as ClassificationReport).auc!, trainer };
}

const flatParams = (model: { parameters(): { dataSync(): ArrayLike<number> }[] }) =>
  model.parameters().flatMap((p) => Array.from(p.dataSync()));

describe('balancing strategies through MTLTrainer', () => {
  // What each method reduces to when it changes nothing: the plain sum of the task losses.
  let sumParams: number[] = [];
  beforeAll(async () => {
    sumParams = flatParams((await trainWith({ taskWeights: [1, 1] })).trainer.model);
  });

  for (const method of STRATEGY_METHODS) {
    it(`${method} trains MMoE and records its task weights per epoch`, async () => {
      const { history, click, trainer } = await trainWith({ adaptiveParams: { method } as MTLTrainerOptions['adaptiveParams'] });
      expect(click).toBeGreaterThan(0.62);
      // Same data, seed and init as the plain-sum run: a method that changed nothing would end on the
      // same parameters. (Fixed is the mean; DWA is w = 1 for its first two epochs, by the paper.)
      if (method !== 'fixed' && method !== 'dwa') {
        const params = flatParams(trainer.model);
        const moved = params.reduce((m, v, i) => Math.max(m, Math.abs(v - sumParams[i])), 0);
        expect(moved, `${method} vs the plain sum`).toBeGreaterThan(1e-3);
      }
      for (const e of history.epochs) {
        const w = Object.values(e.taskWeights);
        expect(w).toHaveLength(2);
        expect(w.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
      }
    });
  }

  it("the tutorial's spelling taskWeightsStrategy + gradnormAlpha selects GradNorm with that alpha", async () => {
    const { trainer } = await trainWith({ taskWeightsStrategy: 'gradnorm', gradnormAlpha: 0.5, nEpoch: 1 });
    expect(trainer.strategy.name).toBe('gradnorm');
    expect((trainer.strategy as unknown as { alpha: number }).alpha).toBe(0.5);
  });

  it('new MetaBalance(model.parameters(), ...) as the optimizer balances while Adam updates', async () => {
    seed(3);
    const model = createModel('mmoe', schema);
    const mb = new MetaBalance(model.parameters(), { relaxFactor: 0.7, beta: 0.9 });
    const { trainer, click } = await trainWith({ optimizer: mb }, model);
    expect(trainer.strategy).toBe(mb);
    expect(trainer.optimizer.type).toBe('Adam');
    expect(click).toBeGreaterThan(0.62);
  });

  it('bad balancing options fail at construction with the known methods listed', () => {
    seed(3);
    const model = createModel('mmoe', schema);
    expect(() => new MTLTrainer(model, { adaptiveParams: { method: 'magic' } as never })).toThrow(
      /unknown method 'magic'.*fixed, uwl, gradnorm/,
    );
    expect(() => new MTLTrainer(model, { adaptiveParams: { method: 'gradnorm', alpha: -1 } })).toThrow(/alpha/);
    expect(() => new MTLTrainer(model, { adaptiveParams: { method: 'metabalance', relaxFactor: 2 } })).toThrow(/relaxFactor/);
  });
});
