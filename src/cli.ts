#!/usr/bin/env node
// The command-line front door: `webmtl train`, `webmtl gen-data`.
import { parseArgs } from 'node:util';
import { stat } from 'node:fs/promises';
import { ColumnarDataset, vocabSizesFromMax } from './data/columns.js';
import { readCsv } from './data/csv.js';
import { aliCcpSchema, loadAliCcp, type SplitDatasets } from './data/datasets.js';
import { DataGenerator, DataLoader } from './data/loader.js';
import { generateAliCcpSplits, writeAliCcpCsv } from './data/synthetic-ali-ccp.js';
import { makeDirectory } from './io/checkpoint.js';
import { createModel, MODEL_NAMES } from './models/presets.js';
import { seed } from './tensor/random.js';
import type { TaskReport } from './train/metrics.js';
import { MTLTrainer, type MTLTrainerOptions } from './train/trainer.js';

const HELP = `webmtl — multi-task learning for recommendation

Usage:
  webmtl train [options]      train a model and print per-task test metrics
  webmtl gen-data [options]   write a synthetic Ali-CCP-schema set as CSV (train/val/test)
  webmtl --help

train options:
  --model <name>        ${MODEL_NAMES.join(' | ')} (default mmoe)
  --data <dir|csv>      a folder with ali_ccp_{train,val,test}.csv (or *_sample.csv), or one CSV with
                        the Ali-CCP columns (split 80/10/10). Default: a synthetic Ali-CCP-schema set
                        generated in memory (--rows), then the shipped 200-row Ali-CCP sample
  --rows <n>            rows of the generated training set (default 100000; val and test get 10% each)
  --epochs <n>          epochs (default 2)
  --batch-size <n>      rows per batch (default 1024)
  --lr <x>              Adam learning rate (default 0.001)
  --weight-decay <x>    L2 weight decay (default 0)
  --balance <method>    fixed | uwl | gradnorm | metabalance | pcgrad | dwa (default fixed: mean loss)
  --device <d>          auto | cpu | webgpu (default auto: WebGPU on a hardware adapter, else CPU)
  --patience <n>        early-stopping patience in epochs (default: none)
  --model-path <dir>    save best.safetensors and last.safetensors there
  --seed <n>            seed for weights, shuffling and data generation (default 2022)
  --quiet               no progress bar or epoch lines

gen-data options:
  --rows <n>            training rows (default 200000; val and test get 10% each)
  --out <dir>           output folder (default ./data/generated)
  --seed <n>            seed (default 2022)
`;

function num(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${v}'`);
  return n;
}

async function loadData(path: string): Promise<SplitDatasets> {
  const info = await stat(path).catch(() => {
    throw new Error(`--data ${path}: no such file or folder`);
  });
  if (info.isDirectory()) return loadAliCcp(path);
  const { labelColumns, sparseColumns, denseColumns } = aliCcpSchema;
  const columns = Object.fromEntries([
    ...labelColumns.map((c) => [c, 'dense' as const]),
    ...sparseColumns.map((c) => [c, 'sparse' as const]),
    ...denseColumns.map((c) => [c, 'dense' as const]),
  ]);
  const table = await readCsv({ path }, { columns });
  const all = ColumnarDataset.fromColumns(table.columns, [...labelColumns]);
  const [train, val, test] = new DataGenerator(all).generateDataloader({ splitRatio: [0.8, 0.1], batchSize: 1, shuffle: false });
  return {
    train: train.dataset,
    val: val.dataset,
    test: test.dataset,
    sparseColumns: [...sparseColumns],
    denseColumns: [...denseColumns],
    labelColumns: [...labelColumns],
    vocabSizes: vocabSizesFromMax([all.columns], [...sparseColumns]),
  };
}

function formatReport(report: Record<string, TaskReport>): string {
  return Object.entries(report)
    .map(([task, m]) =>
      m.type === 'classification'
        ? `  ${task.padEnd(10)} auc ${m.auc === null ? `n/a (${m.aucReason})` : m.auc.toFixed(4)}  logloss ${m.logloss.toFixed(4)}  rows ${m.n}  positives ${m.positives}`
        : `  ${task.padEnd(10)} mse ${m.mse.toFixed(4)}  mae ${m.mae.toFixed(4)}  rows ${m.n}`,
    )
    .join('\n');
}

async function train(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: 'mmoe' },
      data: { type: 'string' },
      rows: { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      'weight-decay': { type: 'string' },
      balance: { type: 'string', default: 'fixed' },
      device: { type: 'string', default: 'auto' },
      patience: { type: 'string' },
      'model-path': { type: 'string' },
      seed: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const runSeed = num(a.seed, 2022, 'seed');
  const batchSize = num(a['batch-size'], 1024, 'batch-size');
  const rows = num(a.rows, 100_000, 'rows');
  seed(runSeed);

  let data: SplitDatasets;
  let oracle: string | null = null;
  if (a.data) {
    data = await loadData(a.data);
    console.log(`data: ${a.data} (train ${data.train.length}, val ${data.val.length}, test ${data.test.length} rows)`);
  } else {
    const gen = generateAliCcpSplits({ train: rows, val: Math.round(rows / 10), test: Math.round(rows / 10), seed: runSeed });
    data = gen;
    const o = gen.oracle.test;
    oracle = `  oracle (true probabilities): click auc ${o.clickAuc.toFixed(4)}, purchase auc ${o.purchaseAuc.toFixed(4)}, cvr on clicked ${o.cvrAucOnClicked.toFixed(4)}`;
    console.log(`data: synthetic Ali-CCP schema (train ${data.train.length}, val ${data.val.length}, test ${data.test.length} rows; click rate ${o.clickRate.toFixed(3)}, purchase rate ${o.purchaseRate.toFixed(3)})`);
  }
  const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };
  const model = createModel(a.model, schema);
  console.log(`model: ${model.constructor.name}, ${model.numParameters().toLocaleString('en-US')} parameters`);

  const trainDl = new DataLoader(data.train, { batchSize, shuffle: true, seed: runSeed });
  const valDl = new DataLoader(data.val, { batchSize: Math.max(batchSize, 4096) });
  const testDl = new DataLoader(data.test, { batchSize: Math.max(batchSize, 4096) });
  const opts: MTLTrainerOptions = {
    nEpoch: num(a.epochs, 2, 'epochs'),
    optimizerParams: { lr: num(a.lr, 1e-3, 'lr'), weightDecay: num(a['weight-decay'], 0, 'weight-decay') },
    adaptiveParams: { method: a.balance } as MTLTrainerOptions['adaptiveParams'],
    device: a.device as MTLTrainerOptions['device'],
    earlystopPatience: a.patience === undefined ? undefined : num(a.patience, 0, 'patience'),
    modelPath: a['model-path'],
    seed: runSeed,
    progress: a.quiet ? 'none' : 'auto',
  };
  const trainer = new MTLTrainer(model, opts);
  await trainer.fit(trainDl, valDl);
  console.log(`test metrics (${model.backend?.name} backend):`);
  console.log(formatReport(await trainer.evaluate(testDl)));
  if (oracle) console.log(oracle);

  if (!a.data) {
    const sample = await loadAliCcp();
    const fits = sample.sparseColumns.every((c) => sample.vocabSizes[c] <= (data.vocabSizes[c] ?? 0));
    if (fits) {
      console.log('the shipped Ali-CCP sample (50 test rows: too few for AUC to mean much):');
      console.log(formatReport(await trainer.evaluate(new DataLoader(sample.test, { batchSize: 64 }))));
    }
  }
}

async function genData(argv: string[]): Promise<void> {
  const { values: a } = parseArgs({ args: argv, options: { rows: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } } });
  const rows = num(a.rows, 200_000, 'rows');
  const out = a.out ?? 'data/generated';
  const gen = generateAliCcpSplits({ train: rows, val: Math.round(rows / 10), test: Math.round(rows / 10), seed: num(a.seed, 2022, 'seed') });
  await makeDirectory(out);
  for (const split of ['train', 'val', 'test'] as const) await writeAliCcpCsv(gen[split], `${out}/ali_ccp_${split}.csv`);
  const o = gen.oracle.test;
  console.log(`wrote ${out}/ali_ccp_{train,val,test}.csv (${rows} / ${gen.val.length} / ${gen.test.length} rows)`);
  console.log(`oracle AUC on test: click ${o.clickAuc.toFixed(4)}, purchase ${o.purchaseAuc.toFixed(4)}, cvr on clicked ${o.cvrAucOnClicked.toFixed(4)}`);
  console.log(`train on it: webmtl train --data ${out}`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP);
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(HELP);
    return;
  }
  if (command === 'train') return train(rest);
  if (command === 'gen-data') return genData(rest);
  throw new Error(`Unknown command '${command}'. Run webmtl --help`);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`webmtl: ${e.message}`);
    process.exit(1);
  },
);
