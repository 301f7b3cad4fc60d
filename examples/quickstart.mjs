// The README's quick start, runnable: node examples/quickstart.mjs [--rows 200000]
import * as wm from 'webmtl';

const rowsArg = process.argv.indexOf('--rows');
const rows = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 50_000;

console.log('backend:', await wm.init({ backend: 'auto' }));

const data = wm.generateAliCcpSplits({ train: rows, val: rows / 10, test: rows / 10, seed: 1 });
const features = [
  ...data.sparseColumns.map((name) => new wm.SparseFeature({ name, vocabSize: data.vocabSizes[name], embedDim: 4 })),
  ...data.denseColumns.map((name) => new wm.DenseFeature({ name })),
];
const model = new wm.MMoE({
  features, taskTypes: ['classification', 'classification'], taskNames: ['click', 'purchase'],
  nExpert: 8, expertParams: { dims: [16] }, towerParamsList: [{ dims: [8] }, { dims: [8] }],
});
console.log('parameters:', model.numParameters());

const [trainDl, valDl, testDl] = new wm.DataGenerator(data.train.x, data.train.y).generateDataloader({
  xVal: data.val.x, yVal: data.val.y, xTest: data.test.x, yTest: data.test.y, batchSize: 1024,
});
const trainer = new wm.MTLTrainer(model, {
  optimizer: 'adam', optimizerParams: { lr: 1e-3 },
  taskWeights: [1, 0.5], taskSpecificLr: { purchase: 5e-4 },
  nEpoch: 2, earlystopPatience: 3, seed: 2022,
});
const history = await trainer.fit(trainDl, valDl);
console.log('best epoch:', history.bestEpoch);
console.log(await trainer.evaluate(testDl));
const preds = await trainer.predict(testDl);
console.log('first click probabilities:', Array.from(preds.click.slice(0, 3)));
