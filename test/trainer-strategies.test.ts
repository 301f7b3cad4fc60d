// Every balancing method through the trainer's two ways in: adaptiveParams / taskWeightsStrategy, and
// MetaBalance passed as the optimizer. Each must still learn, and the history records its weights.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import { createModel } from '../src/models/presets.js';
import { MetaBalance, STRATEGY_METHODS } from '../src/mtl/index.js';
import { setBackend } from '../src/tensor/engine.js';
import { seed } from '../src/tensor/random.js';
import type { ClassificationReport } from '../src/train/metrics.js';
import { MTLTrainer, type MTLTrainerOptions } from '../src/train/trainer.js';

setBackend(new CpuBackend());
const data = generateAliCcpSplits({ train: 8000, val: 2000, test: 2000, seed: 11, vocabScale: 0.05 });
const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };

async function trainWith(opts: Partial<MTLTrainerOptions>, model = (seed(3), createModel('mmoe', schema))) {
  const trainer = new MTLTrainer(model, { nEpoch: 2, optimizerParams: { lr: 3e-3 }, device: 'cpu', progress: 'none', seed: 3, ...opts });
  const history = await trainer.fit(new DataLoader(data.train, { batchSize: 512, shuffle: true, seed: 1 }));
  const test = await trainer.evaluate(new DataLoader(data.test, { batchSize: 4096 }));
  return { history, click: (test.click as ClassificationReport).auc!, trainer };
}

describe('balancing strategies through MTLTrainer', () => {
  for (const method of STRATEGY_METHODS) {
    it(`${method} trains MMoE and records its task weights per epoch`, async () => {
      const { history, click } = await trainWith({ adaptiveParams: { method } as MTLTrainerOptions['adaptiveParams'] });
      expect(click).toBeGreaterThan(0.62);
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
    expect(() => new MTLTrainer(model, { adaptiveParams: { method: 'magic' } as never })).toThrow(/unknown method 'magic'.*fixed, uwl, gradnorm/);
    expect(() => new MTLTrainer(model, { adaptiveParams: { method: 'gradnorm', alpha: -1 } })).toThrow(/alpha/);
    expect(() => new MTLTrainer(model, { adaptiveParams: { method: 'metabalance', relaxFactor: 2 } })).toThrow(/relaxFactor/);
  });
});
