// Translates "Torch-Rechub Tutorial: Multi-Task" (004-esmm-mmoe-on-ali-ccp.zh.md), section
// "使用torch-rechub训练MMOE模型": the same steps as for ESMM, with dense features too.
//   node examples/tutorials/004-mmoe.mjs [--epochs N]
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wm from 'webmtl';
import { data, data_columns, train_idx, val_idx } from './004-data.mjs';

// What this cell takes from the ESMM section's cells: the column lists and the training settings.
const col_names = data_columns;
const dense_cols = ['D109_14', 'D110_14', 'D127_14', 'D150_14', 'D508', 'D509', 'D702', 'D853'];
// As in the tutorial, ctcvr_label is not left out here, so it is counted among the sparse columns.
const sparse_cols = col_names.filter((col) => !dense_cols.includes(col) && !['cvr_label', 'ctr_label'].includes(col));
const device = 'auto'; // WebGPU on a GPU, else wasm on the CPU
const learning_rate = 1e-3;
const flag = process.argv.indexOf('--epochs');
const epoch = flag > 0 ? Number(process.argv[flag + 1]) : 1; // 10
const weight_decay = 1e-5;
const save_dir = join(tmpdir(), 'webmtl-tutorial-004', 'saved');
if (!existsSync(save_dir)) mkdirSync(save_dir, { recursive: true });
const task_types = ['classification', 'classification'];

// Define the model: MMOE takes dense and sparse features, and classification and regression tasks
const used_cols = [...sparse_cols, ...dense_cols];
const features = [
  ...sparse_cols.map((col) => new wm.SparseFeature(col, Math.max(...data[col]) + 1, 4)),
  ...dense_cols.map((col) => new wm.DenseFeature(col)),
];
const model = new wm.MMOE({
  features,
  taskTypes: task_types,
  nExpert: 8,
  expertParams: { dims: [16] },
  towerParamsList: [{ dims: [8] }, { dims: [8] }],
});
// Build the dataloaders
const label_cols = ['cvr_label', 'ctr_label'];
const rows = (from, to) => [
  Object.fromEntries(used_cols.map((name) => [name, data[name].slice(from, to)])),
  label_cols.map((col) => data[col].slice(from, to)),
];
const [x_train, y_train] = rows(0, train_idx);
const [x_val, y_val] = rows(train_idx, val_idx);
const [x_test, y_test] = rows(val_idx);
const dg = new wm.DataGenerator(x_train, y_train);
const [train_dataloader, val_dataloader, test_dataloader] = dg.generateDataloader({
  xVal: x_val,
  yVal: y_val,
  xTest: x_test,
  yTest: y_test,
  batchSize: 1024,
});
// Train and evaluate
const mtl_trainer = new wm.MTLTrainer(model, {
  taskTypes: task_types,
  optimizerParams: { lr: learning_rate, weightDecay: weight_decay },
  nEpoch: epoch,
  earlystopPatience: 30,
  device,
  modelPath: save_dir,
});
await mtl_trainer.fit(train_dataloader, val_dataloader);
const auc = await mtl_trainer.evaluate(mtl_trainer.model, test_dataloader);
console.log('test auc:', auc); // the tutorial's cell ends before printing it
