// The README's quick start, as a script: node examples/quickstart.mjs [--rows 200000]
// (the same code; only the row count and the checkpoint folder come from here).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wm from 'webmtl';

const flag = process.argv.indexOf('--rows');
const rows = flag > 0 ? Number(process.argv[flag + 1]) : 200_000;
const checkpoints = mkdtempSync(join(tmpdir(), 'webmtl-quickstart-'));

await wm.init({ backend: 'auto' }); // WebGPU on a GPU, else wasm on the CPU; returns the name used

// Data: the shipped Ali-CCP sample, a folder of the full CSVs, or a generated set.
const data = wm.generateAliCcpSplits({ train: rows, val: rows / 10, test: rows / 10, seed: 1 });
// const data = await wm.loadAliCcp('path/to/ali-ccp');   // ali_ccp_{train,val,test}.csv

const features = [
  ...data.sparseColumns.map((name) => new wm.SparseFeature({ name, vocabSize: data.vocabSizes[name], embedDim: 4 })),
  ...data.denseColumns.map((name) => new wm.DenseFeature({ name })),
];
const model = new wm.MMoE({
  features,
  taskTypes: ['classification', 'classification'],
  taskNames: ['click', 'purchase'],
  nExpert: 8,
  expertParams: { dims: [16] },
  towerParamsList: [{ dims: [8] }, { dims: [8] }],
  seed: 2022, // the initial weights: the same model every run
});
console.log(model.numParameters()); // 291,554 — the same as torch-rechub

// torch-rechub style: x = { column: typed array }, y = labels [rows, nTask]
const [trainDl, valDl, testDl] = new wm.DataGenerator(data.train.x, data.train.y).generateDataloader({
  xVal: data.val.x,
  yVal: data.val.y,
  xTest: data.test.x,
  yTest: data.test.y,
  batchSize: 1024,
}); // or no val/test sets and splitRatio: [0.8, 0.1]
const trainer = new wm.MTLTrainer(model, {
  optimizer: 'adam',
  optimizerParams: { lr: 1e-3, weightDecay: 0 },
  taskWeights: [1, 0.5], // or adaptiveParams: { method: 'gradnorm', alpha: 1.5 }
  taskSpecificLr: { purchase: 5e-4 }, // the purchase tower and gate get their own lr
  nEpoch: 2,
  earlystopPatience: 3,
  earlystopTask: 'mean',
  modelPath: checkpoints,
  seed: 2022,
});
const history = await trainer.fit(trainDl, valDl); // per epoch: per-task train loss, val metrics, task weights
console.log('best epoch:', history.bestEpoch + 1); // epochs are counted from 0 in the history
console.log(await trainer.evaluate(testDl)); // { click: { auc, logloss, n, positives }, purchase: {...} }
const preds = await trainer.predict(testDl); // { click: Float32Array, purchase: Float32Array }
console.log('first click probabilities:', Array.from(preds.click.slice(0, 3)));
