// MTLTrainer refuses options it does not know, and says which it knows (a near miss gets a suggestion).
import { describe, expect, it } from 'vitest';
import { SparseFeature } from '../src/features.js';
import * as wm from '../src/index.js';

const model = () =>
  new wm.MMoE({
    features: [new SparseFeature({ name: 'a', vocabSize: 3, embedDim: 2 })],
    numTasks: 2,
    nExpert: 2,
    expertParams: { dims: [3] },
    towerParamsList: [{ dims: [2] }, { dims: [2] }],
  });

describe('MTLTrainer options', () => {
  it('an unknown option is an error that names it and the known ones', () => {
    expect(() => new wm.MTLTrainer(model(), { nEpocs: 2 } as never)).toThrow(
      /MTLTrainer: unknown option 'nEpocs' \(did you mean 'nEpoch'\?\); the options are taskNames, .*nEpoch/,
    );
    // The tutorials' spelling is known, so a near miss of it is suggested too.
    expect(() => new wm.MTLTrainer(model(), { taskWeight: [1, 1] } as never)).toThrow(
      /unknown option 'taskWeight' \(did you mean 'taskWeights'\?\).*the tutorials also write nEpochs/,
    );
    expect(() => new wm.MTLTrainer(model(), { learningRates: 0.1, foo: 1 } as never)).toThrow(
      /unknown options 'learningRates' \(did you mean 'learningRate'\?\), 'foo'/,
    );
    // torch's weight_decay is a spelling of weightDecay now; a misspelt one is still an error.
    expect(() => new wm.MTLTrainer(model(), { optimizerParams: { lr: 1e-3, weight_dekay: 1e-4 } } as never)).toThrow(
      /optimizerParams: unknown option 'weightDekay'.*weightDecay/,
    );
  });

  it('an earlystopTask name that is not a trained task is refused by fit() before any step', async () => {
    const m = model();
    const before = m.parameters().map((p) => Array.from(p.dataSync()));
    const trainer = new wm.MTLTrainer(m, { nEpoch: 1, device: 'cpu', progress: 'none', earlystopTask: 'clik' });
    const ds = new wm.ColumnarDataset({ a: Int32Array.of(0, 1, 2, 0) }, Float32Array.of(1, 0, 0, 1, 1, 1, 0, 0), ['click', 'buy']);
    await expect(trainer.fit(new wm.DataLoader(ds, { batchSize: 4 }))).rejects.toThrow(
      /earlystopTask 'clik' is not a trained task; the tasks are click, buy/,
    );
    expect(m.parameters().map((p) => Array.from(p.dataSync()))).toEqual(before);
  });

  it('one option check everywhere: models, their MLP parameters and readCsv name a near miss too', async () => {
    const features = [new SparseFeature({ name: 'a', vocabSize: 3, embedDim: 2 })];
    expect(
      () =>
        new wm.MMoE({
          features,
          numTasks: 2,
          nExperts: 2,
          nExpert: 2,
          expertParams: { dims: [3] },
          towerParamsList: [{ dims: [2] }, { dims: [2] }],
        } as never),
    ).toThrow(/MMoE: unknown option 'nExperts' \(did you mean 'nExpert'\?\)/);
    expect(
      () =>
        new wm.MMoE({
          features,
          numTasks: 2,
          nExpert: 2,
          expertParams: { dims: [3], dropuot: 0.1 },
          towerParamsList: [{ dims: [2] }, { dims: [2] }],
        } as never),
    ).toThrow(/MMoE expertParams: unknown option 'dropuot' \(did you mean 'dropout'\?\)/);
    await expect(wm.readCsv({ text: 'a\n1\n' }, { delimeter: ',' } as never)).rejects.toThrow(
      /readCsv: unknown option 'delimeter' \(did you mean 'delimiter'\?\)/,
    );
  });

  it('clipGradNorm needs the gradient check that reads the norm', () => {
    expect(() => new wm.MTLTrainer(model(), { clipGradNorm: 1, checkGradients: false })).toThrow(
      /clipGradNorm reads the gradient norm, which checkGradients: false turns off/,
    );
  });

  it('a per-task learning rate for a task that owns no parameter is an error, not ignored', () => {
    const esmm = new wm.ESMM({
      userFeatures: [new SparseFeature({ name: 'u', vocabSize: 3, embedDim: 2 })],
      itemFeatures: [new SparseFeature({ name: 'i', vocabSize: 3, embedDim: 2 })],
      cvrParams: { dims: [2] },
      ctrParams: { dims: [2] },
    });
    // pCTCVR = pCTR·pCVR: both losses reach the CTR tower, so the ctr loss owns nothing.
    expect(() => new wm.MTLTrainer(esmm, { taskSpecificLr: { ctr: 1e-4 } })).toThrow(
      /taskSpecificLr gives task 'ctr' a learning rate, but no parameter is its own/,
    );
    expect(() => new wm.MTLTrainer(esmm, { taskSpecificLr: { ctcvr: 1e-4 } })).not.toThrow();
  });

  it('every documented option is accepted', () => {
    expect(
      () =>
        new wm.MTLTrainer(model(), {
          nEpoch: 1,
          seed: 1,
          progress: 'none',
          device: 'cpu',
          clipGradNorm: 1,
          nonFinite: 'skip',
          checkGradients: true,
          optimizerParams: { lr: 1e-3, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 },
        }),
    ).not.toThrow();
  });
});
