// A torch-rechub user's first hour (issue #15): the calls the tutorials write work as written —
// shared_task_layers, the simple constructors (default towers, sigmoid gates), positional features,
// MMOE, torch-rechub's evaluate(model, loader), prediction without labels, one naming of results,
// seeded models, float32 dense columns, per-task label arrays, and torch-rechub's early stopping.
import { beforeEach, describe, expect, it } from 'vitest';
import * as wm from '../src/index.js';

const cpu = new wm.CpuBackend();
beforeEach(() => wm.setBackend(cpu));

const features = (): wm.Feature[] => [new wm.SparseFeature('user', 7, 3), new wm.SparseFeature('item', 5, 3), new wm.DenseFeature('price')];

/** n rows of the features above, labels [click, purchase] that depend on them. */
function rows(n: number, seed = 1) {
  const rng = new wm.Rng(seed);
  const user = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 7));
  const item = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 5));
  const price = Float32Array.from({ length: n }, () => rng.uniform());
  const click = Float32Array.from({ length: n }, (_, i) => (user[i] % 2 === 0 || rng.uniform() < 0.2 ? 1 : 0));
  const purchase = Float32Array.from({ length: n }, (_, i) => (click[i] === 1 && (item[i] < 2 || rng.uniform() < 0.1) ? 1 : 0));
  return { x: { user, item, price }, click, purchase };
}

const values = (m: wm.MultiTaskModel) => Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, Array.from(t.dataSync())]));
const auc = (r: wm.TaskReport) => (r as wm.ClassificationReport).auc!;

describe('sharedTaskLayers (torch-rechub shared_task_layers)', () => {
  it('returns [shared, task-specific] parameters from the wiring, together every parameter once', () => {
    const model = new wm.MMoE({ features: features(), numTasks: 2, numExperts: 3, expertUnits: [4], towerUnits: [2], seed: 1 });
    const [shared, task] = wm.sharedTaskLayers(model);
    const name = new Map(model.namedParameters().map(([n, t]) => [t, n]));
    expect(shared.map((t) => name.get(t)!).every((n) => /^(embedding|experts)\./.test(n))).toBe(true);
    expect(task.map((t) => name.get(t)!).every((n) => /^(gates|towers)\./.test(n))).toBe(true);
    expect(new Set([...shared, ...task])).toEqual(new Set(model.parameters()));
    expect(shared.length + task.length).toBe(model.parameters().length);
    const groups = model.parameterGroups();
    expect(shared).toEqual(groups.shared.map(([, t]) => t));
    expect(task).toEqual(groups.perTask.flat().map(([, t]) => t));
  });

  it("ESMM: over its trained losses, the CVR tower is ctcvr's own and the CTR tower (read by both) is shared", () => {
    const model = new wm.ESMM({ features: features(), hiddenUnits: [4], towerUnits: [2] });
    const [shared, task] = wm.sharedTaskLayers(model);
    const cvr = new Set(model.cvrTower.parameters());
    expect(task.length).toBeGreaterThan(0);
    expect(task.every((t) => cvr.has(t))).toBe(true);
    expect(model.ctrTower.parameters().every((t) => shared.includes(t))).toBe(true);
  });
});

describe("the tutorials' simple constructors", () => {
  it('MMoE as the tutorial writes it: towers default to DEFAULT_TOWER_UNITS ([32]) per task', () => {
    const simple = new wm.MMoE({
      features: features(),
      expertUnits: [16, 8],
      numExperts: 8,
      numTasks: 2,
      expertActivation: 'relu',
      gateActivation: 'softmax',
      seed: 3,
    });
    expect(wm.DEFAULT_TOWER_UNITS).toEqual([32]);
    const explicit = new wm.MMoE({
      features: features(),
      taskTypes: ['classification', 'classification'],
      nExpert: 8,
      expertParams: { dims: [16, 8], activation: 'relu' },
      towerParamsList: [{ dims: [32] }, { dims: [32] }],
      seed: 3,
    });
    expect(values(simple)).toEqual(values(explicit));
    const other = new wm.MMoE({ ...{ features: features(), expertUnits: [16, 8], numExperts: 8, numTasks: 2 }, towerUnits: [16], seed: 3 });
    expect(other.numParameters()).not.toBe(simple.numParameters());
  });

  it('PLE, SharedBottom and ESMM as the tutorial writes them', () => {
    const ple = new wm.PLE({
      features: features(),
      expertUnits: [8, 4],
      numExperts: 4,
      numLayers: 3,
      numSharedExperts: 2,
      taskTypes: ['binary', 'binary'],
      seed: 2,
    });
    const plePlain = new wm.PLE({
      features: features(),
      taskTypes: ['classification', 'classification'],
      nLevel: 3,
      nExpertSpecific: 4,
      nExpertShared: 2,
      expertParams: { dims: [8, 4] },
      towerParamsList: [{ dims: [32] }, { dims: [32] }],
      seed: 2,
    });
    expect(values(ple)).toEqual(values(plePlain));

    const sb = new wm.SharedBottom({ features: features(), hiddenUnits: [8, 4], numTasks: 2, taskTypes: ['binary', 'binary'], seed: 4 });
    const sbPlain = new wm.SharedBottom({
      features: features(),
      taskTypes: ['classification', 'classification'],
      bottomParams: { dims: [8, 4] },
      towerParamsList: [{ dims: [32] }, { dims: [32] }],
      seed: 4,
    });
    expect(values(sb)).toEqual(values(sbPlain));
    const sbTutorial = new wm.SharedBottom({
      features: features(),
      hiddenUnits: [8, 4],
      taskHiddenUnits: [6, 3],
      numTasks: 2,
      taskTypes: ['binary', 'binary'],
    });
    expect(sbTutorial.nTask).toBe(2);

    const esmm = new wm.ESMM({ features: features(), hiddenUnits: [8, 4], towerUnits: [3, 2], embeddingDim: 5 });
    expect(esmm.features.filter((f) => f.kind === 'sparse').every((f) => f.embedDim === 5)).toBe(true);
    const bare = new wm.ESMM({ userFeatures: features().slice(0, 1), itemFeatures: features().slice(1), seed: 5 });
    const towers = new wm.ESMM({
      userFeatures: features().slice(0, 1),
      itemFeatures: features().slice(1),
      cvrParams: { dims: [32] },
      ctrParams: { dims: [32] },
      seed: 5,
    });
    expect(values(bare)).toEqual(values(towers));
  });

  it("gateActivation 'sigmoid': each expert weighed by its own sigmoid(logit), mixture Σ w_e·E_e (by hand)", () => {
    const model = new wm.MMoE({
      features: features(),
      numTasks: 2,
      numExperts: 3,
      expertUnits: [4],
      towerUnits: [2],
      gateActivation: 'sigmoid',
      seed: 7,
    });
    const n = 5;
    const d = rows(n, 3);
    const x = {
      user: wm.fromArray(d.x.user, [n]),
      item: wm.fromArray(d.x.item, [n]),
      price: wm.fromArray(d.x.price, [n]),
    };
    const out = Array.from(model.predict(x).dataSync());
    model.eval();
    const input = model.embedding.forward(x);
    const experts = Array.from(model.experts.forward(input).dataSync()); // [E, B, H]
    const [E, H] = [3, model.experts.outputDim];
    for (let t = 0; t < 2; t++) {
      const logits = Array.from(model.gates[t].forward(input).dataSync()); // [B, E]
      const w = logits.map((v) => 1 / (1 + Math.exp(-v)));
      const mix = new Float32Array(n * H);
      for (let b = 0; b < n; b++)
        for (let h = 0; h < H; h++) {
          let s = 0;
          for (let e = 0; e < E; e++) s += w[b * E + e] * experts[(e * n + b) * H + h];
          mix[b * H + h] = s;
        }
      const tower = Array.from(model.towers[t].forward(wm.fromArray(mix, [n, H])).dataSync());
      for (let b = 0; b < n; b++) expect(out[b * 2 + t]).toBeCloseTo(1 / (1 + Math.exp(-tower[b])), 5);
      // The weights the model keeps are the sigmoids: each in (0, 1), not summing to 1.
      const kept = Array.from(model.lastGateWeights![model.taskNames[t]].dataSync());
      kept.forEach((v, i) => expect(v).toBeCloseTo(w[i], 6));
    }
    // The softmax model from the same weights differs (its path is the fused gateMix).
    const soft = new wm.MMoE({ features: features(), numTasks: 2, numExperts: 3, expertUnits: [4], towerUnits: [2], seed: 7 });
    expect(Array.from(soft.predict(x).dataSync())).not.toEqual(out);
  });

  it('sigmoid gates train: every gate and expert gets a gradient', () => {
    const model = new wm.OMoE({ features: features(), numTasks: 2, numExperts: 2, expertUnits: [4], gateActivation: 'sigmoid', seed: 1 });
    const n = 8;
    const d = rows(n);
    const x = { user: wm.fromArray(d.x.user, [n]), item: wm.fromArray(d.x.item, [n]), price: wm.fromArray(d.x.price, [n]) };
    wm.backward(wm.sum(model.forward(x)));
    for (const [name, p] of model.namedParameters())
      if (/^(gate|experts)\./.test(name) && !/bn/.test(name)) expect(p.grad, name).toBeTruthy();
  });
});

describe("torch-rechub's call shapes", () => {
  it('SparseFeature(name, vocabSize, embedDim) and SequenceFeature(name, vocabSize, embedDim, pooling), next to the object form', () => {
    const f = new wm.SparseFeature('101', 200, 16);
    expect([f.name, f.vocabSize, f.embedDim]).toEqual(['101', 200, 16]);
    expect(new wm.SparseFeature('101', 200).embedDim).toBe(4);
    const shared = new wm.SparseFeature('hist_item', 200, { embedDim: 8, sharedWith: 'item' });
    expect([shared.embedDim, shared.sharedWith]).toEqual([8, 'item']);
    expect(new wm.SparseFeature({ name: '101', vocabSize: 200, embedDim: 16 })).toEqual(f);
    const s = new wm.SequenceFeature('hist', 50, 8, 'sum');
    expect([s.name, s.vocabSize, s.embedDim, s.pooling]).toEqual(['hist', 50, 8, 'sum']);
    expect(new wm.SequenceFeature({ name: 'hist', vocabSize: 50, embedDim: 8, pooling: 'sum' })).toEqual(s);
    expect(() => new wm.SparseFeature('101', 0, 4)).toThrow(/SparseFeature '101': vocabSize must be a positive integer, got 0/);
    expect(() => new wm.SparseFeature('' as never, 3)).toThrow(/name is required/);
    expect(() => new (wm.SparseFeature as unknown as new (...a: unknown[]) => unknown)({ name: 'a', vocabSize: 3 }, 4)).toThrow(
      /either one options object or/,
    );
  });

  it('MMOE is MMoE', () => {
    expect(wm.MMOE).toBe(wm.MMoE);
    const m = new wm.MMOE({ features: features(), numTasks: 2, numExperts: 2, expertUnits: [4] });
    expect(m).toBeInstanceOf(wm.MMoE);
  });
});

describe('evaluation and prediction', () => {
  const d = rows(600, 2);
  const test = rows(300, 9);
  const build = () => new wm.MMoE({ features: features(), numTasks: 2, numExperts: 2, expertUnits: [8], towerUnits: [4], seed: 11 });
  const loaders = () =>
    new wm.DataGenerator(d.x, { click: d.click, purchase: d.purchase }).generateDataloader({
      xVal: test.x,
      yVal: { click: test.click, purchase: test.purchase },
      xTest: test.x,
      yTest: { click: test.click, purchase: test.purchase },
      batchSize: 64,
    });

  it('trainer.evaluate(model, loader) equals trainer.evaluate(loader); results are keyed by one rule everywhere', async () => {
    const model = build();
    const trainer = new wm.MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none', seed: 1 });
    const [train, , testDl] = loaders();
    await trainer.fit(train);
    const a = await trainer.evaluate(testDl);
    const b = await trainer.evaluate(trainer.model, testDl);
    expect(b).toEqual(a);
    expect(Object.keys(a)).toEqual(['click', 'purchase']);
    // The same names from evaluateMultiTask and predict (the model was built without taskNames).
    expect(Object.keys(await wm.evaluateMultiTask(model, testDl))).toEqual(['click', 'purchase']);
    expect(await wm.evaluateMultiTask(model, testDl)).toEqual(a);
    expect(Object.keys(await trainer.predict(testDl))).toEqual(['click', 'purchase']);
    // A model's own taskNames win over the label names, everywhere.
    const named = new wm.MMoE({ features: features(), numTasks: 2, taskNames: ['ctr', 'cvr'], numExperts: 2, expertUnits: [8] });
    const t2 = new wm.MTLTrainer(named, { device: 'cpu', progress: 'none' });
    expect(Object.keys(await t2.evaluate(testDl))).toEqual(['ctr', 'cvr']);
    expect(Object.keys(await t2.predict(testDl))).toEqual(['ctr', 'cvr']);
    expect(Object.keys(await wm.evaluateMultiTask(named, testDl))).toEqual(['ctr', 'cvr']);
    // Another model passed to evaluate(model, loader) is evaluated, not the trainer's.
    expect(await trainer.evaluate(named, testDl)).toEqual(await wm.evaluateMultiTask(named, testDl));
    await expect(trainer.evaluate(model, undefined as never)).rejects.toThrow(/pass a loader/);
  });

  it('predict works on a loader without labels, with the same values and names as on the labelled one', async () => {
    const model = build();
    const trainer = new wm.MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none' });
    const [train, , testDl] = loaders();
    await trainer.fit(train);
    const features = new wm.DataGenerator(test.x); // no y
    expect(features.dataset.nTask).toBe(0);
    const unlabelled = new wm.DataLoader(features.dataset, { batchSize: 50 });
    const p = await trainer.predict(unlabelled);
    const q = await trainer.predict(testDl);
    expect(Object.keys(p)).toEqual(['click', 'purchase']);
    expect(p).toEqual(q);
    // Also through generateDataloader with only x sets.
    const [, , testOnly] = new wm.DataGenerator(test.x).generateDataloader({ xVal: test.x, xTest: test.x, batchSize: 64 });
    expect(await trainer.predict(testOnly)).toEqual(q);
    // Before any training, on an unlabelled loader: the model's names.
    expect(Object.keys(await new wm.MTLTrainer(build(), { device: 'cpu', progress: 'none' }).predict(unlabelled))).toEqual([
      'task0',
      'task1',
    ]);
    await expect(trainer.evaluate(unlabelled)).rejects.toThrow(/the loader has no labels; evaluation needs them/);
    await expect(new wm.MTLTrainer(build(), { device: 'cpu', progress: 'none' }).fit(unlabelled)).rejects.toThrow(
      /the training loader has no labels/,
    );
  });

  it('taskSpecificLr keyed by label name works on a model built without taskNames', async () => {
    const trainer = new wm.MTLTrainer(build(), {
      nEpoch: 1,
      device: 'cpu',
      progress: 'none',
      optimizerParams: { lr: 1e-3 },
      taskSpecificLr: { purchase: 5e-4 },
      scheduler: { type: 'step', stepSize: 1, gamma: 0.5 },
    });
    await trainer.fit(loaders()[0]);
    // After one epoch the step schedule halved each group's own base rate.
    expect(trainer.optimizer.paramGroups.map((g) => [g.name, g.lr])).toEqual([
      ['shared', 5e-4],
      ['task0', 5e-4],
      ['task1', 2.5e-4],
    ]);
  });
});

describe("the tutorial's PLE on the Ali-CCP sample", () => {
  it('each task has its own parameters (the wiring probe neither saturates nor overflows), so taskSpecificLr by label name applies', async () => {
    const df = await wm.loadAliCcp();
    const features = df.sparseColumns.map((col) => new wm.SparseFeature(col, df.vocabSizes[col], 16));
    const model = new wm.PLE({
      features,
      expertUnits: [256, 128],
      numExperts: 4,
      numLayers: 3,
      numSharedExperts: 2,
      taskTypes: ['binary', 'binary'],
    });
    const groups = model.trainedParameterGroups();
    // Per task: the last two levels' task gates, the last level's two-layer task experts, the tower.
    expect(groups.perTask.map((g) => g.length)).toEqual([22, 22]);
    expect(groups.perTask[0].every(([n]) => /^(levels\.[12]\.task(Gates|Experts)\.0\.|towers\.0\.)/.test(n))).toBe(true);
    const trainer = new wm.MTLTrainer(model, {
      taskSpecificLr: { click: 0.001, conversion: 0.0005 },
      nEpochs: 1,
      device: 'cpu',
      progress: 'none',
    });
    const y = { click: df.train.label('click'), conversion: df.train.label('purchase') };
    const x = Object.fromEntries(features.map((f) => [f.name, df.train.x[f.name]]));
    await trainer.fit(new wm.DataLoader(new wm.DataGenerator(x, y).dataset, { batchSize: 64 }));
    expect(trainer.optimizer.paramGroups.map((g) => [g.name, g.lr])).toEqual([
      ['shared', 0.001],
      ['task0', 0.001],
      ['task1', 0.0005],
    ]);
  });

  it("MTLTrainer's taskTypes may list ESMM's trained losses (torch-rechub's tutorial gives two)", () => {
    const model = new wm.ESMM({ features: features(), hiddenUnits: [4], towerUnits: [2] });
    expect(() => new wm.MTLTrainer(model, { taskTypes: ['classification', 'classification'] })).not.toThrow();
    expect(() => new wm.MTLTrainer(model, { taskTypes: ['classification', 'classification', 'classification'] })).not.toThrow();
    expect(() => new wm.MTLTrainer(model, { taskTypes: ['regression', 'classification'] })).toThrow(
      /taskTypes \[regression, classification\] do not match the model's \[classification, classification, classification\] \(or its trained losses' \[classification, classification\]\)/,
    );
  });
});

describe('reproducibility', () => {
  it('a model seed fixes its initial weights; with the trainer seed the whole run repeats', async () => {
    const d = rows(300, 4);
    const run = async (modelSeed: number) => {
      const model = new wm.MMoE({ features: features(), numTasks: 2, numExperts: 2, expertUnits: [8], seed: modelSeed });
      const init = values(model);
      wm.randn([3]); // draws between building and training do not matter: the trainer seeds fit()
      const [train] = new wm.DataGenerator(d.x, [d.click, d.purchase]).generateDataloader({ splitRatio: [0.8, 0.1], batchSize: 32 });
      const t = new wm.MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none', seed: 5 });
      const h = await t.fit(train);
      return { init, loss: h.epochs[0].trainLoss, end: values(model) };
    };
    const a = await run(1);
    wm.randn([17]); // the global stream moved on
    const b = await run(1);
    expect(b).toEqual(a);
    expect((await run(2)).init).not.toEqual(a.init);
    expect(() => new wm.MMoE({ features: features(), numTasks: 2, numExperts: 2, expertUnits: [8], seed: -1 })).toThrow(
      /MMoE: seed must be a whole number in \[0, 2\^32\), got -1/,
    );
  });
});

describe('data as torch-rechub users hand it over', () => {
  it('labels as one array per task ([clicks, purchases]) or as rows give the same dataset', () => {
    const d = rows(5, 1);
    const perTask = new wm.DataGenerator(d.x, [d.click, d.purchase]).dataset;
    const asRows = new wm.DataGenerator(
      d.x,
      Array.from({ length: 5 }, (_, i) => [d.click[i], d.purchase[i]]),
    ).dataset;
    expect(perTask.nTask).toBe(2);
    expect(Array.from(perTask.labels)).toEqual(Array.from(asRows.labels));
    expect(Array.from(perTask.label(1))).toEqual(Array.from(d.purchase));
    const plain = new wm.DataGenerator(d.x, [Array.from(d.click), Array.from(d.purchase)], { labelNames: ['click', 'purchase'] }).dataset;
    expect(plain.labelNames).toEqual(['click', 'purchase']);
    expect(Array.from(plain.labels)).toEqual(Array.from(perTask.labels));
    // Neither n rows nor arrays of n labels: the error says both shapes.
    expect(() => new wm.DataGenerator(d.x, [d.click, d.purchase.subarray(0, 4)])).toThrow(
      /x has 5 rows but y has 2 \(arrays of lengths 5, 4\).*one array of 5 labels per task/,
    );
  });

  it("readCsv reads a DenseFeature's whole-number column as float32; an int32 dense column still trains", async () => {
    const lines = ['user,item,price,click,purchase'];
    const d = rows(200, 6);
    for (let i = 0; i < 200; i++) lines.push(`${d.x.user[i]},${d.x.item[i]},${i % 3},${d.click[i]},${d.purchase[i]}`);
    const text = `${lines.join('\n')}\n`;
    const auto = await wm.readCsv({ text });
    expect(auto.columns.price).toBeInstanceOf(Int32Array);
    const typed = await wm.readCsv({ text }, { features: features() });
    expect(typed.columns.price).toBeInstanceOf(Float32Array);
    expect(typed.columns.user).toBeInstanceOf(Int32Array);
    expect(Object.keys(typed.columns).sort()).toEqual(['click', 'item', 'price', 'purchase', 'user']);
    expect(Array.from(typed.columns.price as Float32Array)).toEqual(Array.from(auto.columns.price as Int32Array));
    await expect(wm.readCsv({ text }, { features: features(), columns: { price: 'sparse' } })).rejects.toThrow(
      /column "price" is a dense feature but columns declares it 'sparse'/,
    );

    const train = async (table: wm.CsvTable) => {
      const ds = wm.ColumnarDataset.fromColumns(table.columns, ['click', 'purchase']);
      const model = new wm.SharedBottom({ features: features(), numTasks: 2, hiddenUnits: [4], seed: 3 });
      const t = new wm.MTLTrainer(model, { nEpoch: 1, device: 'cpu', progress: 'none', seed: 3 });
      const h = await t.fit(new wm.DataLoader(ds, { batchSize: 50 }));
      return h.epochs[0].trainLoss;
    };
    expect(await train(auto)).toEqual(await train(typed));
  });
});

describe("early stopping as torch-rechub's", () => {
  const d = rows(800, 12);
  const v = rows(300, 13);
  const loaders = () =>
    new wm.DataGenerator(d.x, [d.click, d.purchase], { labelNames: ['click', 'purchase'] }).generateDataloader({
      xVal: v.x,
      yVal: [v.click, v.purchase],
      xTest: v.x,
      yTest: [v.click, v.purchase],
      batchSize: 64,
    });
  const build = () => new wm.SharedBottom({ features: features(), numTasks: 2, hiddenUnits: [8], seed: 21 });

  it('watches task 0 by default and keeps the last weights unless it stopped early (restoreBest: true always restores)', async () => {
    const [train, val] = loaders();
    const trainer = new wm.MTLTrainer(build(), { nEpoch: 4, learningRate: 0.3, device: 'cpu', progress: 'none', seed: 1 });
    const h = await trainer.fit(train, val);
    h.epochs.forEach((e) => expect(e.score).toBe(auc(e.val!.click)));
    expect(h.stoppedEarly).toBe(false);
    const last = h.epochs[h.epochs.length - 1];
    expect(auc((await trainer.evaluate(val)).click)).toBeCloseTo(auc(last.val!.click), 12);

    const [train2, val2] = loaders();
    const restoring = new wm.MTLTrainer(build(), {
      nEpoch: 4,
      learningRate: 0.3,
      device: 'cpu',
      progress: 'none',
      seed: 1,
      restoreBest: true,
    });
    const h2 = await restoring.fit(train2, val2);
    expect(h2.bestScore).toBe(h.bestScore);
    expect(auc((await restoring.evaluate(val2)).click)).toBeCloseTo(h2.bestScore!, 12);
    // This run peaks before its last epoch, so the two trainers end on different weights.
    expect(h.bestEpoch).toBeLessThan(h.epochs.length - 1);
    expect(h2.bestScore).not.toBeCloseTo(auc(last.val!.click), 6);
  });

  it('earlystopTask: mean still averages the tasks', async () => {
    const [train, val] = loaders();
    const trainer = new wm.MTLTrainer(build(), { nEpoch: 1, device: 'cpu', progress: 'none', earlystopTask: 'mean' });
    const h = await trainer.fit(train, val);
    const e = h.epochs[0];
    expect(e.score).toBeCloseTo((auc(e.val!.click) + auc(e.val!.purchase)) / 2, 12);
  });

  it('patience (or restoreBest) without validation data is an error, not ignored', async () => {
    const [train] = loaders();
    await expect(
      new wm.MTLTrainer(build(), { nEpoch: 1, device: 'cpu', progress: 'none', earlystopPatience: 2 }).fit(train),
    ).rejects.toThrow(
      /earlystopPatience acts on validation scores, but no validation loader was given; call fit\(trainLoader, valLoader\)/,
    );
    await expect(
      new wm.MTLTrainer(build(), { nEpoch: 1, device: 'cpu', progress: 'none', earlyStopPatience: 2, restoreBest: true }).fit(train),
    ).rejects.toThrow(/earlystopPatience and restoreBest act on validation scores/);
    // restoreBest: false asks for nothing, so it needs no validation data.
    const history = await new wm.MTLTrainer(build(), { nEpoch: 1, device: 'cpu', progress: 'none', restoreBest: false }).fit(train);
    expect(history.epochs).toHaveLength(1);
  });
});
