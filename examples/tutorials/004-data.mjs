// Translates "Torch-Rechub Tutorial: Multi-Task" (004-esmm-mmoe-on-ali-ccp.zh.md), the cells before the
// models: "Ali-CCP数据集介绍" (loading the sample) and "数据预处理" (joining the splits, the labels).
// 004-esmm.mjs and 004-mmoe.mjs import it, as the notebook's later cells use these variables.
//   node examples/tutorials/004-data.mjs
import * as wm from 'webmtl';

// Load the three sample files (pd.read_csv → wm.readCsv: one typed array per column)
export const data_path = await wm.packageDataDir('ali-ccp'); // the Ali-CCP sample shipped with webmtl
const df_train = await wm.readCsv(`${data_path}/ali_ccp_train_sample.csv`);
const df_val = await wm.readCsv(`${data_path}/ali_ccp_val_sample.csv`);
const df_test = await wm.readCsv(`${data_path}/ali_ccp_test_sample.csv`);
console.log('train : val : test = %d %d %d', df_train.numRows, df_val.numRows, df_test.numRows);
// df_train.head(5): 'click' and 'purchase' are the labels, D* columns dense, the others sparse ids
console.log(df_train.header.join(' '));
for (let i = 0; i < 5; i++) console.log(df_train.header.map((col) => wm.formatFloat32(df_train.columns[col][i])).join(' '));

// The samples are already encoded (sparse ids) and normalised (dense values): no preprocessing needed.
export const [train_idx, val_idx] = [df_train.numRows, df_train.numRows + df_val.numRows];
// pd.concat([...], axis=0): per column, the rows of train, val and test in turn
const concat = Object.fromEntries(
  df_train.header.map((col) => [col, [df_train, df_val, df_test].flatMap((df) => Array.from(df.columns[col]))]),
);
// task 1 (as cvr): main task, purchase prediction; task 2 (as ctr): auxiliary task, click prediction
const renamed = { purchase: 'cvr_label', click: 'ctr_label' };
export const data = Object.fromEntries(Object.entries(concat).map(([col, values]) => [renamed[col] ?? col, values]));
data.ctcvr_label = data.cvr_label.map((cvr, i) => cvr * data.ctr_label[i]);
// data.columns: the column names in file order (a JavaScript object lists number-like keys such as '101' first)
export const data_columns = [...df_train.header.map((col) => renamed[col] ?? col), 'ctcvr_label'];
