// Translates "Torch-Rechub Tutorial: Multi-Task" (004-esmm-mmoe-on-ali-ccp.zh.md), section
// "使用torch-rechub训练ESMM模型": define the model, build the dataloaders, train and test.
//   node examples/tutorials/004-esmm.mjs [--epochs N]
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wm from 'webmtl';
import { data, data_columns, train_idx, val_idx } from './004-data.mjs';

// Define the model
const col_names = data_columns;
const dense_cols = ['D109_14', 'D110_14', 'D127_14', 'D150_14', 'D508', 'D509', 'D702', 'D853'];
// As in the tutorial, only cvr_label and ctr_label are left out here, so ctcvr_label (added above) is
// counted among the sparse columns (003 leaves it out too).
const sparse_cols = col_names.filter((col) => !dense_cols.includes(col) && !['cvr_label', 'ctr_label'].includes(col));
console.log('sparse cols:%d dense cols:%d', sparse_cols.length, dense_cols.length);
const label_cols = ['cvr_label', 'ctr_label', 'ctcvr_label']; // in this order: ESMM's outputs are [cvr, ctr, ctcvr]
const used_cols = sparse_cols; // ESMM reads sparse features only, as in the paper
const item_cols = ['129', '205', '206', '207', '210', '216']; // the tutorial's split into user and item fields
const user_cols = used_cols.filter((col) => !item_cols.includes(col));
const user_features = user_cols.map((col) => new wm.SparseFeature(col, Math.max(...data[col]) + 1, 16));
const item_features = item_cols.map((col) => new wm.SparseFeature(col, Math.max(...data[col]) + 1, 16));

const model = new wm.ESMM({
  userFeatures: user_features,
  itemFeatures: item_features,
  cvrParams: { dims: [16, 8] },
  ctrParams: { dims: [16, 8] },
});

// Build the dataloaders: x as { column: values }, y as one array per label column
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

// Train and test
const device = 'auto'; // torch's "cuda if available, else cpu": WebGPU on a GPU, else wasm on the CPU
const learning_rate = 1e-3;
const flag = process.argv.indexOf('--epochs');
const epoch = flag > 0 ? Number(process.argv[flag + 1]) : 1; // 10
const weight_decay = 1e-5;
const save_dir = join(tmpdir(), 'webmtl-tutorial-004', 'saved'); // the tutorial saves next to its data
if (!existsSync(save_dir)) mkdirSync(save_dir, { recursive: true });
const task_types = ['classification', 'classification']; // CTR and CVR are both binary classification
const mtl_trainer = new wm.MTLTrainer(model, {
  taskTypes: task_types,
  optimizerParams: { lr: learning_rate, weightDecay: weight_decay },
  nEpoch: epoch,
  earlystopPatience: 1,
  device,
  modelPath: save_dir,
});
await mtl_trainer.fit(train_dataloader, val_dataloader);
const auc = await mtl_trainer.evaluate(mtl_trainer.model, test_dataloader);
console.log('test auc:', auc);
