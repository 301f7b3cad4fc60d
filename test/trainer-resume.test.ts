// A run stopped after an epoch and resumed from its checkpoint (trainer.resume) ends on exactly the
// parameters and balancing state of the run that never stopped, for every balancing method: the
// checkpoint carries the model, Adam's and the scheduler's state, the strategy's weights, averages,
// history or random stream, and the global random generator (dropout); the data loader moves on to
// the next epoch's shuffle. Checkpoints that do not fit are refused before anything changes.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { ColumnarDataset } from '../src/data/columns.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import { DenseFeature } from '../src/features.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { MMoE } from '../src/models/mmoe.js';
import { sparseFeatures } from '../src/models/registry.js';
import { STRATEGY_METHODS, type StrategyMethod } from '../src/mtl/index.js';
import { setBackend } from '../src/tensor/engine.js';
import { seed } from '../src/tensor/random.js';
import { MTLTrainer, type MTLTrainerOptions } from '../src/train/trainer.js';

setBackend(new CpuBackend());
const data = generateAliCcpSplits({ train: 1500, val: 10, test: 10, seed: 5, vocabScale: 0.05 });
const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };
// Three tasks (PCGrad's projection order is random only from three on): click, purchase, and either.
const labels = new Float32Array(data.train.length * 3);
for (let i = 0; i < data.train.length; i++) {
  const [click, purchase] = [data.train.labels[2 * i], data.train.labels[2 * i + 1]];
  labels.set([click, purchase, Math.max(click, purchase)], 3 * i);
}
const train = new ColumnarDataset(data.train.columns, labels, ['click', 'purchase', 'either']);
const loader = () => new DataLoader(train, { batchSize: 256, shuffle: true, seed: 2 });

// Dropout (masks drawn from the global generator) and a decaying learning rate, which the
// checkpoint must carry too.
function trainer(method: StrategyMethod, nEpoch: number, modelPath?: string): MTLTrainer {
  seed(4);
  const features = [...sparseFeatures(schema, 4), ...schema.denseColumns.map((d) => new DenseFeature(d))];
  const tower = { dims: [8], dropout: 0.2 };
  const model = new MMoE({
    features,
    taskTypes: ['classification', 'classification', 'classification'],
    taskNames: ['click', 'purchase', 'either'],
    nExpert: 4,
    expertParams: { dims: [16], dropout: 0.2 },
    towerParamsList: [tower, tower, tower],
  });
  return new MTLTrainer(model, {
    nEpoch,
    adaptiveParams: { method } as MTLTrainerOptions['adaptiveParams'],
    optimizerParams: { lr: 3e-3 },
    scheduler: { type: 'step', stepSize: 1, gamma: 0.5 },
    device: 'cpu',
    progress: 'none',
    seed: 9,
    modelPath,
  });
}

const flatParams = (t: MTLTrainer) => t.model.parameters().flatMap((p) => Array.from(p.dataSync()));

describe('a run resumed from its checkpoint continues as if it had never stopped', () => {
  for (const method of STRATEGY_METHODS) {
    it(method, async () => {
      const whole = trainer(method, 3);
      await whole.fit(loader());

      const dir = await mkdtemp(join(tmpdir(), 'webmtl-resume-'));
      await trainer(method, 2, dir).fit(loader());
      const resumed = trainer(method, 3);
      await resumed.resume(join(dir, 'last.safetensors'));
      const history = await resumed.fit(loader());

      expect(history.epochs.map((e) => e.epoch)).toEqual([2]);
      expect(flatParams(resumed)).toEqual(flatParams(whole));
      expect(await resumed.strategy.stateDict?.()).toEqual(await whole.strategy.stateDict?.());
    });
  }

  it('the strategy state is what the method needs: GradNorm weights off 1, DWA a loss per epoch', async () => {
    const gradnorm = trainer('gradnorm', 1);
    await gradnorm.fit(loader());
    const g = (await gradnorm.strategy.stateDict!()) as { weights: number[]; initialLosses: number[]; watched: string[] };
    expect(g.weights).toHaveLength(3);
    expect(g.weights.some((w) => Math.abs(w - 1) > 1e-4)).toBe(true);
    expect(g.initialLosses.every((l) => l > 0)).toBe(true);
    expect(g.watched.length).toBeGreaterThan(0);
    const dwa = trainer('dwa', 2);
    await dwa.fit(loader());
    expect(((await dwa.strategy.stateDict!()) as { history: number[][] }).history).toHaveLength(2);
  });

  it('a checkpoint of another balancing method, or with a broken strategy state, is refused and changes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webmtl-resume-'));
    await trainer('gradnorm', 1, dir).fit(loader());
    const file = join(dir, 'last.safetensors');

    const other = trainer('dwa', 2);
    const before = flatParams(other);
    await expect(other.resume(file)).rejects.toThrow(/trained with the balancing method 'gradnorm' but this trainer uses 'dwa'/);
    expect(flatParams(other)).toEqual(before);

    const decoded = decodeSafetensors(await readFile(file));
    const header = JSON.parse(decoded.metadata['webmtl.strategy']);
    header.state.weights = [1, -2];
    const broken = join(dir, 'broken.safetensors');
    await writeFile(broken, encodeSafetensors(decoded.tensors, { ...decoded.metadata, 'webmtl.strategy': JSON.stringify(header) }));
    const same = trainer('gradnorm', 2);
    const untouched = flatParams(same);
    await expect(same.resume(broken)).rejects.toThrow(/GradNorm state: weights must be > 0/);
    expect(flatParams(same)).toEqual(untouched);
    expect(await same.strategy.stateDict!()).toEqual({ lr: null, weights: null, initialLosses: null, watched: null });
  });
});
