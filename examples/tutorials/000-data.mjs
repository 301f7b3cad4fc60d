// Translates "Multi-Task Learning Tutorial" (000-multi-task-tutorial.en.md), section "Data Preparation".
// The other 000-*.mjs examples import what this module builds; run alone it prints the data's shape.
//   node examples/tutorials/000-data.mjs
//
// The tutorial reads one file (ali_ccp_data.csv) with columns user_id, age, ... that the shipped sample
// does not have. Here: the shipped Ali-CCP sample (data/ali-ccp, train/val/test files), its item-side
// fields as item_features and its other sparse fields as user_features; 'conversion' is the sample's
// purchase label.
import { pathToFileURL } from 'node:url';
import * as wm from 'webmtl';

// Load data
const df = await wm.loadAliCcp(); // the shipped sample; wm.loadAliCcp(dir) reads a folder of full CSVs

// Feature definitions (webmtl's models take feature objects, not column names: name, vocabulary size, embedding size)
const item_cols = df.itemColumns;
const user_cols = df.sparseColumns.filter((col) => !item_cols.includes(col));
export const user_features = user_cols.map((col) => new wm.SparseFeature(col, df.vocabSizes[col], 16));
export const item_features = item_cols.map((col) => new wm.SparseFeature(col, df.vocabSizes[col], 16));
export const features = [...user_features, ...item_features];

// Multi-task labels
export const tasks = ['click', 'conversion']; // CTR and CVR tasks

// The dataloaders the tutorial's trainer.fit(train_dataloader, val_dataloader) reads (it never builds
// them): x as one array per column, y as one array per task, named after `tasks`.
const columns = features.map((f) => f.name);
const xy = (split) => [
  Object.fromEntries(columns.map((col) => [col, split.x[col]])),
  { click: split.label('click'), conversion: split.label('purchase') },
];
const [x_train, y_train] = xy(df.train);
const [x_val, y_val] = xy(df.val);
const [x_test, y_test] = xy(df.test);
export const [train_dataloader, val_dataloader, test_dataloader] = new wm.DataGenerator(x_train, y_train).generateDataloader({
  xVal: x_val,
  yVal: y_val,
  xTest: x_test,
  yTest: y_test,
  batchSize: 1024,
});

/** The tutorial's n_epochs, or fewer with --epochs N (the tests pass --epochs 1). */
/** The model the tutorial built last (its PLE section); the sections after it train this model. */
export function tutorialPLE() {
  return new wm.PLE({
    features,
    expertUnits: [256, 128],
    numExperts: 4,
    numLayers: 3,
    numSharedExperts: 2,
    taskTypes: ['binary', 'binary'],
  });
}

export function epochs(n_epochs) {
  const flag = process.argv.indexOf('--epochs');
  return flag > 0 ? Number(process.argv[flag + 1]) : n_epochs;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log('train : val : test = %d %d %d', df.train.length, df.val.length, df.test.length);
  console.log('user features: %d, item features: %d, tasks: %s', user_features.length, item_features.length, tasks.join(', '));
}
