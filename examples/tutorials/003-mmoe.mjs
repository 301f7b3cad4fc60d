// Translates "多任务学习（Multi-Task Learning, MTL）" (003-why-mtl-and-mmoe.zh.md), section 1.2.11 "实践":
// MMOE with MTLTrainer on the Ali-CCP sample (settings, data preparation, model, training, test AUC).
//   node examples/tutorials/003-mmoe.mjs [--epochs N]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as wm from 'webmtl';

const SEED = 2022;
const DEVICE = 'wasm'; // the CPU (WebAssembly); 'webgpu' for a GPU. ('cpu' is webmtl's slower TypeScript reference.)

const DATA_DIR = await wm.packageDataDir('ali-ccp'); // the Ali-CCP sample shipped with webmtl

const flag = process.argv.indexOf('--epochs');
const EPOCH = flag > 0 ? Number(process.argv[flag + 1]) : 1;
const BATCH_SIZE = 1024;
const LR = 1e-3;
const WEIGHT_DECAY = 1e-4;
const EARLYSTOP_PATIENCE = 30;

// Adaptive task weights, off unless switched on here
const USE_ADAPTIVE_WEIGHT = false;
const ADAPTIVE_METHOD = 'uwl'; // 'uwl' | 'gradnorm' | 'metabalance' | 'pcgrad' | 'dwa' | 'cagrad'

wm.seed(SEED);
console.log('DATA_DIR:', resolve(DATA_DIR));

// The data as in torch-rechub's examples/ranking/run_ali_ccp_multi_task.py: the same columns and splits
const df_train = await wm.readCsv(`${DATA_DIR}/ali_ccp_train_sample.csv`);
const df_val = await wm.readCsv(`${DATA_DIR}/ali_ccp_val_sample.csv`);
const df_test = await wm.readCsv(`${DATA_DIR}/ali_ccp_test_sample.csv`);
console.log('train : val : test = %d %d %d', df_train.numRows, df_val.numRows, df_test.numRows);

const [train_idx, val_idx] = [df_train.numRows, df_train.numRows + df_val.numRows];
// pd.concat([...], axis=0): per column, the rows of train, val and test in turn
const concat = Object.fromEntries(
  df_train.header.map((col) => [col, [df_train, df_val, df_test].flatMap((df) => Array.from(df.columns[col]))]),
);

// task 1: purchase (cvr), task 2: click (ctr)
const renamed = { purchase: 'cvr_label', click: 'ctr_label' };
const data = Object.fromEntries(Object.entries(concat).map(([col, values]) => [renamed[col] ?? col, values]));

// data.columns in file order (a JavaScript object lists number-like keys such as '101' first)
const col_names = df_train.header.map((col) => renamed[col] ?? col);
const dense_cols = ['D109_14', 'D110_14', 'D127_14', 'D150_14', 'D508', 'D509', 'D702', 'D853'];
const sparse_cols = col_names.filter((c) => !dense_cols.includes(c) && !['cvr_label', 'ctr_label', 'ctcvr_label'].includes(c));

// MMOE trains on the two task labels only
const label_cols = ['cvr_label', 'ctr_label'];
const used_cols = [...sparse_cols, ...dense_cols];

console.log('sparse cols:', sparse_cols.length, 'dense cols:', dense_cols.length);

const features = [
  ...sparse_cols.map((col) => new wm.SparseFeature(col, Math.max(...data[col]) + 1, 4)),
  ...dense_cols.map((col) => new wm.DenseFeature(col)),
];

// x: { column: values }; y: one array per label column
const x_train = Object.fromEntries(used_cols.map((name) => [name, data[name].slice(0, train_idx)]));
const y_train = label_cols.map((col) => data[col].slice(0, train_idx));

const x_val = Object.fromEntries(used_cols.map((name) => [name, data[name].slice(train_idx, val_idx)]));
const y_val = label_cols.map((col) => data[col].slice(train_idx, val_idx));

const x_test = Object.fromEntries(used_cols.map((name) => [name, data[name].slice(val_idx)]));
const y_test = label_cols.map((col) => data[col].slice(val_idx));

const shape = (y) => [y[0].length, y.length]; // numpy's y.shape: (rows, labels)
console.log('y_train shape:', shape(y_train), 'y_val shape:', shape(y_val), 'y_test shape:', shape(y_test));

const task_types = ['classification', 'classification'];

const model = new wm.MMOE({
  features,
  taskTypes: task_types,
  nExpert: 8,
  expertParams: { dims: [16] },
  towerParamsList: [{ dims: [8] }, { dims: [8] }],
});

const dg = new wm.DataGenerator(x_train, y_train);
const [train_dl, val_dl, test_dl] = dg.generateDataloader({
  xVal: x_val,
  yVal: y_val,
  xTest: x_test,
  yTest: y_test,
  batchSize: BATCH_SIZE,
});

// Python's None is JavaScript's undefined here: the option is left at its default
const adaptive_params = USE_ADAPTIVE_WEIGHT ? { method: ADAPTIVE_METHOD } : undefined;

const mtl_trainer = new wm.MTLTrainer(model, {
  taskTypes: task_types,
  optimizerParams: { lr: LR, weightDecay: WEIGHT_DECAY },
  adaptiveParams: adaptive_params,
  nEpoch: EPOCH,
  earlystopPatience: EARLYSTOP_PATIENCE,
  device: DEVICE,
  modelPath: mkdtempSync(join(tmpdir(), 'webmtl-003-')), // the tutorial writes to "./"
});

await mtl_trainer.fit(train_dl, val_dl);
const auc = await mtl_trainer.evaluate(mtl_trainer.model, test_dl);
console.log('test auc:', auc);
