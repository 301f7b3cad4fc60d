#!/usr/bin/env node
// The command-line front door: `webmtl train`, `webmtl gen-data`, `webmtl experiment mmoe-synthetic`,
// `webmtl walkthrough`, and for trained models `webmtl predict`, `webmtl export`, `webmtl import`.
import { realpathSync } from 'node:fs';
import { readFile, stat, writeFile as writeTextFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ColumnarDataset, vocabSizesFromMax } from './data/columns.js';
import { csvHeaderOfFile, readCsv } from './data/csv.js';
import { aliCcpSchema, loadAliCcp, type SplitDatasets } from './data/datasets.js';
import { describeTable, prepareTable, proposeTableSchema } from './data/ingest.js';
import { type BatchSource, DataGenerator, DataLoader, type HostBatch } from './data/loader.js';
import type { Preprocessor } from './data/preprocessor.js';
import type { RawBlock } from './data/raw.js';
import { parseSchema, schemaFromLists, schemaToJSON, type TableSchema } from './data/schema.js';
import { generateAliCcpSplits, writeAliCcpCsv } from './data/synthetic-ali-ccp.js';
import { writeRawTableCsv } from './data/synthetic-raw.js';
import { encodeModel, loadModel, saveModel } from './deploy/bundle.js';
import {
  budgetPoints,
  checkClaims,
  collectResult,
  curveArea,
  EXPERIMENT_DEFAULTS,
  EXPERIMENT_MODELS,
  type ExperimentJob,
  type ExperimentModel,
  type ExperimentSettings,
  experimentJobs,
  experimentSettings,
  formatClaims,
  formatTable,
  MODEL_LABELS,
  type RunResult,
  runExperimentJob,
} from './experiments/mmoe-synthetic.js';
import { formatWalkthrough, runWalkthrough } from './experiments/walkthrough.js';
import { type BackendName, init } from './init.js';
import { makeDirectory, writeFileAtomically } from './io/checkpoint.js';
import { exportTorchRechubFiles, importTorchRechubFiles } from './io/torch-rechub.js';
import { createModel, MODEL_ENTRIES, MODEL_NAMES, type ModelEntry, type Schema } from './models/registry.js';
import { BALANCE_METHODS, STRATEGY_METHODS } from './mtl/registry.js';
import type { BalanceMethod } from './mtl/strategy.js';
import { describeUnknown } from './options.js';
import { renderExperimentReport, renderReport, writeReport } from './report/html.js';
import { seed } from './tensor/random.js';
import type { TaskReport } from './train/metrics.js';
import { IngestProgressBar } from './train/progress.js';
import { MTLTrainer, type MTLTrainerOptions } from './train/trainer.js';
import { VERSION } from './version.js';

/** Exit status of a command line webmtl cannot run as written (unknown command or flag, bad value). */
export const USAGE_EXIT = 2;

/** A mistake in the command line (not a failure while running): exits with USAGE_EXIT. */
class UsageError extends Error {
  /** The command the mistake is in ('train', 'experiment mmoe-synthetic'), for the message's prefix. */
  constructor(
    message: string,
    readonly command = '',
  ) {
    super(message);
  }
}

const COMMANDS = ['train', 'predict', 'export', 'import', 'schema', 'gen-data', 'experiment', 'walkthrough'] as const;
type Command = (typeof COMMANDS)[number];

const USAGE = `Usage:
  webmtl train [options]      train a model and print per-task test metrics (--save-model: a bundle)
  webmtl predict --model <bundle> --data <table> --out <preds.csv|.parquet>
                              score raw rows of a table of any size with a saved model bundle
  webmtl export --model <bundle> (--onnx <file> | --torch-rechub <dir>)
                              the model as ONNX (for ONNX Runtime, Triton) or as torch-rechub weights
  webmtl import --torch-rechub <dir> --out <bundle>
                              a torch-rechub model (weights + model.json) back into a bundle
  webmtl schema <data> [options]
                              propose a schema for your own CSV/Parquet table (each column's role)
  webmtl gen-data [options]   write a synthetic Ali-CCP-schema set as CSV (train/val/test), or a
                              census-shaped table of raw text categories (--table census-raw)
  webmtl experiment mmoe-synthetic [options]
                              the MMoE paper's synthetic experiment: Shared-Bottom, OMoE and MMoE at
                              task correlations 1, 0.9, 0.5, many runs each; training-loss curves,
                              final-loss spread, the paper's claims checked with 95% intervals
  webmtl walkthrough [--seed N]
                              print the numbers of docs/gradient-routing.md: how gates route task
                              gradients, and what MetaBalance, GradNorm and PCGrad change (seconds)
  webmtl <command> --help     that command's options
  webmtl --help               everything: every command's options, models and balancing methods
  webmtl --version            the version of webmtl
`;

function trainOptionsHelp(methods: readonly BalanceMethod[], models: readonly ModelEntry[]): string {
  return `train options:
  --model <name>        ${models.map((m) => m.name).join(' | ')} (default mmoe)
  --data <path>         your own table with --schema or --label: a CSV or Parquet file, a folder of
                        shards or a glob ('data/part-*.parquet'). Without them: a folder with
                        ali_ccp_{train,val,test}.csv (or *_sample.csv), or one CSV with the Ali-CCP
                        columns (split 80/10/10). Default: a synthetic Ali-CCP-schema set generated in
                        memory (--rows), then the shipped 200-row Ali-CCP sample
  --schema <file>       the table's schema (JSON; write one with webmtl schema): labels, sparse, dense,
                        sequence and ignored columns, scaling, rare-value bucketing
  --label <cols>        instead of --schema: the label columns (comma-separated), with --sparse <cols>
                        and --dense <cols> (not named: ignored) and --sequence <cols>
  --val <path>          validation files (file, folder or glob); without --val and --test, 10% and 10%
                        of --data's rows are held out (by a hash of the row position)
  --test <path>         test files
  --engine <e>          auto | duckdb | light: the file reader (default auto: DuckDB when installed,
                        else papaparse for CSV and hyparquet for Parquet)
  --storage <s>         auto | memory | disk (default auto: tables over 512 MiB go to a binary
                        columnar cache on disk and train streamed in blocks, with bounded memory)
  --cache-dir <dir>     where the on-disk cache goes (default: .webmtl-cache next to the data)
  --rows <n>            rows of the generated training set (default 200000; val and test get 10% each)
  --epochs <n>          epochs (default 2)
  --batch-size <n>      rows per batch (default 1024)
  --lr <x>              Adam learning rate (default 0.001)
  --weight-decay <x>    L2 weight decay (default 0)
  --balance <method>    ${methods.map((m) => m.name).join(' | ')} (default fixed: mean loss)
  --device <d>          auto | wasm | cpu | webgpu (default auto: WebGPU on a hardware adapter, else
                        the WASM SIMD backend, else the TypeScript CPU reference; webgpu in Node needs
                        the optional package: npm install webgpu@0.6.2)
  --patience <n>        early-stopping patience in epochs (default: none)
  --model-path <dir>    save best.safetensors and last.safetensors there (checkpoints, to resume)
  --save-model <file>   save the trained model (as fit leaves it: the best epoch's weights after an
                        early stop) as a bundle, e.g. model.webmtl: configuration, weights, the
                        preprocessing fitted on --data and the task names; webmtl predict and export,
                        and loadModel in Node and pages read it
  --seed <n>            seed for weights, shuffling and data generation (default 2022)
  --quiet               no progress bar or epoch lines
  --report <file>       also write an HTML report (learning curves, task weights, gradient conflict,
                        gates, expert shares; the gradient inspector runs about 24 times)
`;
}

const PREDICT_OPTIONS_HELP = `predict options:
  --model <file>        the model bundle (webmtl train --save-model, or saveModel in code)
  --data <path>         the rows to score: a CSV or Parquet file, a folder of shards or a glob; the
                        training table's feature columns (raw values: unseen categories get the
                        unseen id, as in training), labels not needed
  --out <file>          preds.csv or preds.parquet (Parquet needs DuckDB): one column per task
                        (probabilities; values for regression tasks), one line per row, in order;
                        written whole or not at all
  --keep <cols>         input columns copied in front of the scores (e.g. a row id)
  --engine <e>          auto | duckdb | light: the file reader (default auto)
  --batch-size <n>      rows per forward pass (default 4096)
  --device <d>          auto | wasm | cpu | webgpu (default auto)
  --quiet               no progress line
`;

const EXPORT_OPTIONS_HELP = `export options:
  --model <file>        the model bundle
  --onnx <file>         write the model in eval mode as ONNX (opset 17): one input per feature (int64
                        ids, float32 numbers), output 'scores' [batch, tasks]; the preprocessing is not
                        part of the graph (ids come from your serving code or webmtl's preprocessing)
  --torch-rechub <dir>  write <dir>/model.json (torch-rechub class, constructor arguments, features) and
                        <dir>/state_dict.safetensors (its names and layouts): docs/scale-out.md
`;

const IMPORT_OPTIONS_HELP = `import options:
  --torch-rechub <dir>  a folder with model.json and state_dict.safetensors (docs/scale-out.md)
  --out <file>          the bundle to write (e.g. model.webmtl)
  --preprocessing-from <file>
                        copy the preprocessing of this bundle (the one exported), so that predict takes
                        raw rows again
`;

const SCHEMA_OPTIONS_HELP = `schema options:
  --label <cols>        the label columns (comma-separated; default: columns named like click,
                        purchase, conversion, label, target, income, …)
  --ignore <cols>       columns to leave out (ids of rows, timestamps, …)
  --sample-rows <n>     rows read to propose roles (default 10000)
  --engine <e>          auto | duckdb | light (default auto)
  --out <file>          write the schema there (default: print it)
`;

const GEN_DATA_OPTIONS_HELP = `gen-data options:
  --table <t>           ali-ccp (default): ali_ccp_{train,val,test}.csv, ids already encoded;
                        census-raw: one census_raw.csv shaped like the census-income table, with raw
                        text categories, missing values ('?') and labels income_50k, never_married
  --rows <n>            rows (ali-ccp: training rows, val and test get 10% each; default 200000)
  --out <dir>           output folder (default ./data/generated)
  --seed <n>            seed (default 2022)
`;

const EXPERIMENT_OPTIONS_HELP = `experiment mmoe-synthetic options:
  --runs <n>            runs per model and correlation; run i uses seed i's draw for every model
                        and ρ (default ${EXPERIMENT_DEFAULTS.runs}; the paper: 200). --seeds is the old name
  --rows <n>            training rows per run (default ${EXPERIMENT_DEFAULTS.rows}; the test set gets --eval-rows)
  --eval-rows <n>       test rows (default ${EXPERIMENT_DEFAULTS.evalRows})
  --epochs <n>          epochs per run (default ${EXPERIMENT_DEFAULTS.epochs}); the step budget is epochs × rows / batch
  --batch-size <n>      rows per batch (default ${EXPERIMENT_DEFAULTS.batchSize})
  --lr <x>              Adam learning rate (default ${EXPERIMENT_DEFAULTS.lr})
  --curve-points <n>    points on each run's training-loss curve (default ${EXPERIMENT_DEFAULTS.curvePoints})
  --claim-from <f>      test the claims on the curve from this fraction of the budget on
                        (default ${EXPERIMENT_DEFAULTS.claimFrom}: the whole curve)
  --correlations <list> task correlations, comma-separated (default ${EXPERIMENT_DEFAULTS.correlations.join(',')})
  --models <list>       ${EXPERIMENT_MODELS.join(',')} (default: all three)
  --jobs <n>            runs in parallel worker threads (default: min(2, CPU cores))
  --device <d>          the backend of every run (default auto: WebGPU on a hardware adapter, else wasm)
  --report <file>       also write an HTML report (curves with bands, claims, final-loss histograms)
  --json <file>         also write every run's numbers as JSON
  --quiet               no line per finished run
`;

const WALKTHROUGH_OPTIONS_HELP = `walkthrough options:
  --seed <n>            seed of the toy model and data (default 7)
`;

function modelsHelp(models: readonly ModelEntry[]): string {
  return `models (--model):\n${models.map((m) => helpItem(m.name, m.summary)).join('\n')}\n`;
}

function methodsHelp(methods: readonly BalanceMethod[]): string {
  return `balancing methods (--balance; docs/balancing.md):\n${methods
    .map((m) => helpItem(m.name, m.summary + (m.paper ? ` (${m.paper.authors}, ${m.paper.venue})` : '')))
    .join('\n')}\n`;
}

/**
 * The --help text. The models and balancing methods, with their summaries, come from the registries
 * (any others passed in are listed the same way).
 */
export function cliHelp(methods: readonly BalanceMethod[] = BALANCE_METHODS, models: readonly ModelEntry[] = MODEL_ENTRIES): string {
  return [
    `webmtl — multi-task learning for recommendation\n\n${USAGE}`,
    trainOptionsHelp(methods, models),
    PREDICT_OPTIONS_HELP,
    EXPORT_OPTIONS_HELP,
    IMPORT_OPTIONS_HELP,
    SCHEMA_OPTIONS_HELP,
    GEN_DATA_OPTIONS_HELP,
    EXPERIMENT_OPTIONS_HELP,
    WALKTHROUGH_OPTIONS_HELP,
    modelsHelp(models),
    `${methodsHelp(methods)}\nExit status: 0 done, 1 failed while running, ${USAGE_EXIT} the command line is wrong.\n`,
  ].join('\n');
}

/** `webmtl <command> --help`: that command's usage and options only. */
export function commandHelp(
  command: Command,
  methods: readonly BalanceMethod[] = BALANCE_METHODS,
  models: readonly ModelEntry[] = MODEL_ENTRIES,
): string {
  switch (command) {
    case 'train':
      return [
        'webmtl train [options]: train a model on your own table (--data with --schema or --label) or on Ali-CCP-schema data, and print per-task test metrics\n',
        trainOptionsHelp(methods, models),
        modelsHelp(models),
        methodsHelp(methods),
      ].join('\n');
    case 'predict':
      return `webmtl predict --model <bundle> --data <file|folder|glob> --out <file> [options]: score every row of a
table (CSV or Parquet, any size, streamed block by block; labels not needed) with a saved model bundle\n\n${PREDICT_OPTIONS_HELP}`;
    case 'export':
      return `webmtl export --model <bundle> [--onnx <file>] [--torch-rechub <dir>]: the model for other runtimes\n\n${EXPORT_OPTIONS_HELP}`;
    case 'import':
      return `webmtl import --torch-rechub <dir> --out <bundle> [--preprocessing-from <bundle>]: a torch-rechub model
back into a bundle (for webmtl predict, Node and pages)\n\n${IMPORT_OPTIONS_HELP}`;
    case 'schema':
      return `webmtl schema <file|folder|glob> [options]: propose each column's role (label, sparse category,
dense number, sequence, ignore) from a sample of rows, as an editable JSON schema for webmtl train --schema\n\n${SCHEMA_OPTIONS_HELP}`;
    case 'gen-data':
      return `webmtl gen-data [options]: write a synthetic Ali-CCP-schema set as ali_ccp_{train,val,test}.csv, or a census-shaped table of raw text (--table census-raw)\n\n${GEN_DATA_OPTIONS_HELP}`;
    case 'experiment':
      return `webmtl experiment mmoe-synthetic [options]: the MMoE paper's synthetic experiment (Shared-Bottom, OMoE
and MMoE at task correlations 1, 0.9, 0.5, many paired runs each), measured as the paper does: the
training loss over steps (Figure 4) and the spread of the final loss over runs (Figure 5); the
claims with 95% intervals\n\n${EXPERIMENT_OPTIONS_HELP}`;
    case 'walkthrough':
      return `webmtl walkthrough [--seed N]: print the numbers of docs/gradient-routing.md (how gates route task
gradients, and what MetaBalance, GradNorm and PCGrad change)\n\n${WALKTHROUGH_OPTIONS_HELP}`;
  }
}

/** `  name   text`, the text wrapped at 100 columns under the option descriptions' column. */
function helpItem(name: string, text: string): string {
  const indent = ' '.repeat(24);
  const lines: string[] = [];
  let line = `  ${name.padEnd(20)}  `;
  for (const word of text.split(' ')) {
    if (line.length + word.length > 100 && line.trim().length > name.length) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

function num(v: string | undefined, fallback: number, name: string, check?: { integer?: boolean; min?: number; above?: number }): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  if (check?.integer && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  if (check?.min !== undefined && n < check.min) throw new UsageError(`--${name} must be at least ${check.min}, got '${v}'`);
  if (check?.above !== undefined && !(n > check.above)) throw new UsageError(`--${name} must be greater than ${check.above}, got '${v}'`);
  return n;
}

/** `'x' (did you mean 'y'?)`: one unknown name with its near miss, if any. */
const suggest = (given: string, known: readonly string[]): string => describeUnknown([given], known);

type FlagSpec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean }>;

/**
 * parseArgs, with the command line's mistakes as UsageErrors that name the command: an unknown flag
 * (with the nearest known one), a flag without its value, a stray argument.
 */
function parseFlags<O extends FlagSpec>(command: string, argv: string[], options: O, allowPositionals = false) {
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const known = Object.keys(options).map((k) => `--${k}`);
  const unknown = tokens.flatMap((t) => (t.kind === 'option' && !(t.name in options) ? [t.rawName] : []));
  if (unknown.length) {
    const list = unknown.map((f) => suggest(f, known)).join(', ');
    throw new UsageError(`unknown option${unknown.length > 1 ? 's' : ''} ${list}; run webmtl ${command} --help for its options`, command);
  }
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\.$/, '')}; run webmtl ${command} --help for its options`, command);
  }
}

const DEVICES = ['auto', 'wasm', 'cpu', 'webgpu'];

function oneOf(v: string, allowed: readonly string[], name: string): string {
  const k = v.toLowerCase().replace(/[-_]/g, '');
  if (!allowed.includes(k)) throw new UsageError(`--${name} ${suggest(v, allowed)}: the choices are ${allowed.join(', ')}`);
  return k;
}

/** How to train on a table that is not Ali-CCP's: the two commands. */
const OWN_TABLE_HINT = (path: string) =>
  `for your own table, propose a schema and train with it: webmtl schema ${path} --label <label columns> --out schema.json, ` +
  `check the roles in schema.json, then webmtl train --data ${path} --schema schema.json (or inline: --label <labels> [--sparse …] [--dense …])`;

async function loadData(path: string): Promise<SplitDatasets> {
  const info = await stat(path).catch(() => {
    throw new Error(`--data ${path}: no such file or folder (a glob or a folder of shards needs --schema or --label)`);
  });
  const { labelColumns, sparseColumns, denseColumns } = aliCcpSchema;
  if (info.isDirectory()) {
    const { readdir } = await import('node:fs/promises');
    if (!(await readdir(path)).some((f) => /^ali_ccp_train.*\.csv$/.test(f)))
      throw new UsageError(
        `--data ${path}: no ali_ccp_train*.csv there, and no --schema or --label was given; ${OWN_TABLE_HINT(path)}`,
        'train',
      );
    return loadAliCcp(path);
  }
  const header = path.toLowerCase().endsWith('.csv') ? await csvHeaderOfFile(path) : [];
  const missing = [...labelColumns, ...sparseColumns, ...denseColumns].filter((c) => !header.includes(c));
  if (missing.length)
    throw new UsageError(
      `--data ${path} does not have the Ali-CCP columns (missing ${missing
        .slice(0, 4)
        .map((c) => JSON.stringify(c))
        .join(', ')}${missing.length > 4 ? ', …' : ''}) and no --schema or --label was given; ${OWN_TABLE_HINT(path)}`,
      'train',
    );
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

const TRAIN_FLAGS = {
  model: { type: 'string', default: 'mmoe' },
  data: { type: 'string' },
  val: { type: 'string' },
  test: { type: 'string' },
  schema: { type: 'string' },
  label: { type: 'string' },
  sparse: { type: 'string' },
  dense: { type: 'string' },
  sequence: { type: 'string' },
  engine: { type: 'string', default: 'auto' },
  storage: { type: 'string', default: 'auto' },
  'cache-dir': { type: 'string' },
  rows: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  balance: { type: 'string', default: 'fixed' },
  device: { type: 'string', default: 'auto' },
  patience: { type: 'string' },
  'model-path': { type: 'string' },
  'save-model': { type: 'string' },
  seed: { type: 'string' },
  quiet: { type: 'boolean', default: false },
  report: { type: 'string' },
} as const satisfies FlagSpec;

/** What a training run reads: batch sources for the three splits and the schema the model is built for. */
interface TrainingData {
  loaders: Record<'train' | 'val' | 'test', BatchSource<HostBatch>>;
  schema: Schema;
  /** The data's line in the report's facts. */
  fact: string;
  /** Extra lines printed after the test metrics (the generator's oracle AUCs). */
  after?: string;
  /** The shipped Ali-CCP sample is evaluated too when the vocabularies fit (Ali-CCP-schema data only). */
  aliCcpVocab?: Record<string, number>;
  /** Your own table's fitted preprocessing (saved in the bundle, so that predict takes raw rows). */
  preprocessor?: Preprocessor;
}

async function train(argv: string[]): Promise<void> {
  const { values: a } = parseFlags('train', argv, TRAIN_FLAGS);
  // Every flag is checked before any data is generated or read.
  await checkOutputFolder(a.report, 'report');
  await checkOutputFolder(a['save-model'], 'save-model');
  const runSeed = num(a.seed, 2022, 'seed', { integer: true });
  const batchSize = num(a['batch-size'], 1024, 'batch-size', { integer: true, min: 2 });
  const rows = num(a.rows, 200_000, 'rows', { integer: true, min: 20 });
  const epochs = num(a.epochs, 2, 'epochs', { integer: true, min: 1 });
  const lr = num(a.lr, 1e-3, 'lr', { above: 0 });
  const weightDecay = num(a['weight-decay'], 0, 'weight-decay', { min: 0 });
  const patience = a.patience === undefined ? undefined : num(a.patience, 0, 'patience', { integer: true, min: 1 });
  const modelName = oneOf(a.model, MODEL_NAMES, 'model');
  const device = oneOf(a.device, DEVICES, 'device');
  const balance = oneOf(a.balance, STRATEGY_METHODS, 'balance');
  const engine = oneOf(a.engine, ENGINES, 'engine') as (typeof ENGINES)[number];
  const storage = oneOf(a.storage, STORAGES, 'storage') as (typeof STORAGES)[number];
  const table = a.schema !== undefined || a.label !== undefined;
  if (a.schema !== undefined && a.label !== undefined)
    throw new UsageError(
      'give either --schema <file> or --label (with --sparse/--dense), not both: the schema file already names the labels',
      'train',
    );
  if (!table) {
    const tableOnly = (['val', 'test', 'sparse', 'dense', 'sequence', 'cache-dir'] as const).filter((f) => a[f] !== undefined);
    if (tableOnly.length)
      throw new UsageError(
        `${tableOnly.map((f) => `--${f}`).join(', ')} ${tableOnly.length > 1 ? 'need' : 'needs'} --schema or --label (your own table)`,
        'train',
      );
  }
  if (table && a.data === undefined)
    throw new UsageError('--schema and --label describe your own table: give it with --data <file|folder|glob>', 'train');
  if (a.schema !== undefined && !(await stat(a.schema).catch(() => null))?.isFile())
    throw new UsageError(`--schema ${a.schema}: no such file (write one with: webmtl schema <data files> --out ${a.schema})`, 'train');
  seed(runSeed);

  let data: TrainingData;
  if (table) data = await ownTable(a, { batchSize, seed: runSeed, engine, storage });
  else if (a.data) data = await aliCcpFiles(a.data, batchSize, runSeed);
  else data = syntheticAliCcp(rows, batchSize, runSeed);
  const model = createModel(modelName, data.schema);
  console.log(`model: ${model.constructor.name}, ${model.numParameters().toLocaleString('en-US')} parameters`);

  const { train: trainDl, val: valDl, test: testDl } = data.loaders;
  const hasVal = valDl.numRows > 0;
  const nEpoch = epochs;
  const opts: MTLTrainerOptions = {
    nEpoch,
    optimizerParams: { lr, weightDecay },
    adaptiveParams: { method: balance } as MTLTrainerOptions['adaptiveParams'],
    device: device as MTLTrainerOptions['device'],
    earlystopPatience: patience,
    modelPath: a['model-path'],
    seed: runSeed,
    progress: a.quiet ? 'none' : 'auto',
    // About 24 inspector reports over the run: enough points for the report's charts, little extra time.
    inspectEvery: a.report ? Math.max(1, Math.round((nEpoch * trainDl.length) / 24)) : undefined,
  };
  if (patience !== undefined && !hasVal)
    throw new UsageError('--patience needs validation rows; give --val, or leave --patience out', 'train');
  // A bundle that could not be written (the preprocessing too large for one file, say) fails now, not after training.
  if (a['save-model']) await encodeModel(model, { preprocessor: data.preprocessor });
  const trainer = new MTLTrainer(model, opts);
  const history = await trainer.fit(trainDl, hasVal ? valDl : undefined);
  const testMetrics = testDl.numRows > 0 ? await trainer.evaluate(testDl) : null;
  if (testMetrics) {
    console.log(`test metrics (${model.backend?.name} backend):`);
    console.log(formatReport(testMetrics));
  } else console.log('no test rows: give --test <files> for test metrics');
  if (data.after) console.log(data.after);
  if (a['save-model']) {
    const metadata: Record<string, string> = { data: data.fact, trained: new Date().toISOString() };
    if (testMetrics) metadata.test_metrics = JSON.stringify(testMetrics);
    await saveModel(a['save-model'], model, { preprocessor: data.preprocessor, metadata });
    console.log(
      `model bundle: ${a['save-model']}${data.preprocessor ? ' (with the preprocessing: predict takes raw rows)' : ' (no preprocessing: predict takes the Ali-CCP ids)'}`,
    );
  }

  if (a.report) {
    const html = renderReport({
      history,
      modelName: model.constructor.name,
      strategyName: balance,
      stepsPerEpoch: trainDl.length,
      testMetrics: testMetrics ?? {},
      facts: [
        ['parameters', model.numParameters().toLocaleString('en-US')],
        ['data', data.fact],
        ['optimizer', `Adam, lr ${opts.optimizerParams!.lr}, batch ${batchSize}, seed ${runSeed}`],
        ['device', model.backend?.name ?? 'cpu'],
      ],
    });
    await writeReport(a.report, html);
    console.log(`report: ${a.report}`);
  }

  if (data.aliCcpVocab) {
    const sample = await loadAliCcp();
    const fits = sample.sparseColumns.every((c) => sample.vocabSizes[c] <= (data.aliCcpVocab![c] ?? 0));
    if (fits) {
      console.log('the shipped Ali-CCP sample (50 test rows: too few for AUC to mean much):');
      console.log(formatReport(await trainer.evaluate(new DataLoader(sample.test, { batchSize: 64 }))));
    }
  }
}

const ENGINES = ['auto', 'duckdb', 'light'] as const;
const STORAGES = ['auto', 'memory', 'disk'] as const;

function splitLoaders(data: SplitDatasets, batchSize: number, runSeed: number): TrainingData['loaders'] {
  return {
    train: new DataLoader(data.train, { batchSize, shuffle: true, seed: runSeed }),
    val: new DataLoader(data.val, { batchSize: Math.max(batchSize, 4096) }),
    test: new DataLoader(data.test, { batchSize: Math.max(batchSize, 4096) }),
  };
}

/** The default data: a synthetic Ali-CCP-schema set generated in memory. */
function syntheticAliCcp(rows: number, batchSize: number, runSeed: number): TrainingData {
  const data = generateAliCcpSplits({ train: rows, val: Math.round(rows / 10), test: Math.round(rows / 10), seed: runSeed });
  const o = data.oracle.test;
  console.log(
    `data: synthetic Ali-CCP schema (train ${data.train.length}, val ${data.val.length}, test ${data.test.length} rows; click rate ${o.clickRate.toFixed(3)}, purchase rate ${o.purchaseRate.toFixed(3)})`,
  );
  return {
    loaders: splitLoaders(data, batchSize, runSeed),
    schema: { ...data, itemColumns: aliCcpSchema.itemColumns },
    fact: `synthetic Ali-CCP schema, ${data.train.length.toLocaleString('en-US')} training rows`,
    after: `  oracle (true probabilities): click auc ${o.clickAuc.toFixed(4)}, purchase auc ${o.purchaseAuc.toFixed(4)}, cvr on clicked ${o.cvrAucOnClicked.toFixed(4)}`,
    aliCcpVocab: data.vocabSizes,
  };
}

/** `--data` without a schema: Ali-CCP-schema files (a folder of ali_ccp_*.csv, or one CSV with its columns). */
async function aliCcpFiles(path: string, batchSize: number, runSeed: number): Promise<TrainingData> {
  const data = await loadData(path);
  console.log(`data: ${path} (train ${data.train.length}, val ${data.val.length}, test ${data.test.length} rows)`);
  return {
    loaders: splitLoaders(data, batchSize, runSeed),
    schema: { ...data, itemColumns: aliCcpSchema.itemColumns },
    fact: path,
    aliCcpVocab: data.vocabSizes,
  };
}

/** `--data` with `--schema` or `--label`: the user's own table, read, preprocessed and (when large) cached on disk. */
async function ownTable(
  a: {
    data?: string;
    val?: string;
    test?: string;
    schema?: string;
    label?: string;
    sparse?: string;
    dense?: string;
    sequence?: string;
    'cache-dir'?: string;
    quiet?: boolean;
  },
  o: { batchSize: number; seed: number; engine: (typeof ENGINES)[number]; storage: (typeof STORAGES)[number] },
): Promise<TrainingData> {
  const data = a.data!;
  let schema: TableSchema;
  if (a.schema !== undefined) {
    const text = await readFile(a.schema, 'utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--schema ${a.schema} is not JSON: ${(e as Error).message}`, 'train');
    }
    schema = parseSchema(json, a.schema);
  } else {
    const { columns } = await describeTable(data, { engine: o.engine });
    schema = schemaFromLists(columns, {
      label: list(a.label, 'label')!,
      sparse: list(a.sparse, 'sparse'),
      dense: list(a.dense, 'dense'),
      sequence: list(a.sequence, 'sequence'),
    });
  }
  const progress = a.quiet ? null : await IngestProgressBar.create();
  const table = await prepareTable(data, {
    schema,
    val: a.val,
    test: a.test,
    engine: o.engine,
    storage: o.storage,
    cacheDir: a['cache-dir'],
    seed: o.seed,
    onProgress: progress ? (p) => progress.update(p) : undefined,
  }).finally(() => progress?.stop());
  const ms = table.modelSchema;
  const held = a.val === undefined && a.test === undefined ? ', 10% each held out of --data' : '';
  const n = (split: 'train' | 'val' | 'test') => table.rows(split).toLocaleString('en-US');
  console.log(
    `data: ${data}: train ${n('train')}, val ${n('val')}, test ${n('test')} rows${held}; ` +
      `${ms.labelColumns.length} labels, ${ms.sparseColumns.length} sparse, ${ms.denseColumns.length} dense, ${ms.sequenceColumns.length} sequence columns; ` +
      `${table.storage === 'disk' ? `streamed from the on-disk cache${table.fromCache ? ' (reused)' : ''}` : 'in memory'}`,
  );
  return {
    loaders: table.loaders({ batchSize: o.batchSize, seed: o.seed }),
    schema: ms,
    fact: `${data}, ${table.rows('train').toLocaleString('en-US')} training rows`,
    preprocessor: table.preprocessor,
  };
}

const PREDICT_FLAGS = {
  model: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  keep: { type: 'string' },
  engine: { type: 'string', default: 'auto' },
  'batch-size': { type: 'string' },
  device: { type: 'string', default: 'auto' },
  quiet: { type: 'boolean', default: false },
} as const satisfies FlagSpec;

/** A required flag's value, or a UsageError naming it. */
function required<T extends string | undefined>(v: T, flag: string, command: string, what: string): string {
  if (v === undefined) throw new UsageError(`give --${flag} <${what}>; run webmtl ${command} --help for its options`, command);
  return v;
}

async function predict(argv: string[]): Promise<void> {
  const { values: a } = parseFlags('predict', argv, PREDICT_FLAGS);
  const modelFile = required(a.model, 'model', 'predict', 'bundle');
  const data = required(a.data, 'data', 'predict', 'file|folder|glob');
  const out = required(a.out, 'out', 'predict', 'preds.csv|preds.parquet');
  if (!/\.(csv|parquet)$/i.test(out)) throw new UsageError(`--out ${out}: end the name in .csv or .parquet`, 'predict');
  await checkOutputFolder(out, 'out');
  const batchSize = num(a['batch-size'], 4096, 'batch-size', { integer: true, min: 1 });
  const engine = oneOf(a.engine, ENGINES, 'engine') as (typeof ENGINES)[number];
  const device = oneOf(a.device, DEVICES, 'device') as BackendName;
  await init({ backend: device });
  const bundle = await loadModel(modelFile);
  const { predictTable } = await import('./deploy/predict-table.js');
  const started = Date.now();
  const tty = process.stderr.isTTY && !a.quiet;
  const { rows } = await predictTable(bundle, data, {
    out,
    keep: list(a.keep, 'keep'),
    engine,
    batchSize,
    onProgress: tty
      ? (p) =>
          process.stderr.write(
            `\rscoring: ${p.rows.toLocaleString('en-US')} rows, ${((100 * p.bytesDone) / Math.max(p.bytesTotal, 1)).toFixed(0)}% `,
          )
      : undefined,
  });
  if (tty) process.stderr.write('\n');
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `${out}: ${rows.toLocaleString('en-US')} rows scored for ${bundle.tasks.map((t) => t.name).join(', ')} ` +
      `(${bundle.model.constructor.name}, ${bundle.model.backend?.name} backend, ${seconds.toFixed(1)} s)`,
  );
}

const EXPORT_FLAGS = {
  model: { type: 'string' },
  onnx: { type: 'string' },
  'torch-rechub': { type: 'string' },
} as const satisfies FlagSpec;

async function exportCommand(argv: string[]): Promise<void> {
  const { values: a } = parseFlags('export', argv, EXPORT_FLAGS);
  const modelFile = required(a.model, 'model', 'export', 'bundle');
  if (a.onnx === undefined && a['torch-rechub'] === undefined)
    throw new UsageError('say what to write: --onnx <file> and/or --torch-rechub <dir>', 'export');
  await checkOutputFolder(a.onnx, 'onnx');
  await init({ backend: 'cpu' });
  const bundle = await loadModel(modelFile);
  // Everything is computed (and a model the target cannot express refused) before anything is written.
  const onnx = a.onnx === undefined ? null : await (await import('./io/onnx/index.js')).exportOnnx(bundle.model);
  const rechub = a['torch-rechub'] === undefined ? null : await exportTorchRechubFiles(bundle.model);
  if (onnx && a.onnx !== undefined) {
    await writeFileAtomically(a.onnx, onnx, 'ONNX model');
    console.log(
      `${a.onnx}: ONNX (inputs ${bundle.model.features.map((f) => f.name).join(', ')}; output scores: ${bundle.tasks.map((t) => t.name).join(', ')})`,
    );
  }
  if (rechub && a['torch-rechub'] !== undefined) {
    const dir = a['torch-rechub'];
    await makeDirectory(dir);
    await writeFileAtomically(join(dir, 'state_dict.safetensors'), rechub.stateDict, 'torch-rechub weights');
    await writeFileAtomically(
      join(dir, 'model.json'),
      new TextEncoder().encode(`${JSON.stringify(rechub.spec, null, 2)}\n`),
      'torch-rechub model.json',
    );
    console.log(
      `${dir}: model.json (torch-rechub ${rechub.spec.class}) and state_dict.safetensors; load them in Python as docs/scale-out.md shows`,
    );
  }
}

const IMPORT_FLAGS = {
  'torch-rechub': { type: 'string' },
  out: { type: 'string' },
  'preprocessing-from': { type: 'string' },
} as const satisfies FlagSpec;

async function importCommand(argv: string[]): Promise<void> {
  const { values: a } = parseFlags('import', argv, IMPORT_FLAGS);
  const dir = required(a['torch-rechub'], 'torch-rechub', 'import', 'dir');
  const out = required(a.out, 'out', 'import', 'bundle');
  await checkOutputFolder(out, 'out');
  await init({ backend: 'cpu' });
  const read = async (name: string) =>
    readFile(join(dir, name)).catch((e) => {
      throw new Error(
        `--torch-rechub ${dir}: cannot read ${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the folder needs model.json and state_dict.safetensors`,
      );
    });
  const specText = new TextDecoder().decode(await read('model.json'));
  let spec: unknown;
  try {
    spec = JSON.parse(specText);
  } catch (e) {
    throw new Error(`--torch-rechub ${dir}: model.json is not JSON (${(e as Error).message})`);
  }
  const model = importTorchRechubFiles(spec as never, await read('state_dict.safetensors'));
  const preprocessor = a['preprocessing-from'] ? ((await loadModel(a['preprocessing-from'])).preprocessor ?? undefined) : undefined;
  if (a['preprocessing-from'] && !preprocessor)
    throw new Error(`--preprocessing-from ${a['preprocessing-from']}: that bundle has no preprocessing to copy`);
  await saveModel(out, model, { preprocessor, metadata: { imported_from: `torch-rechub ${dir}` } });
  console.log(
    `${out}: ${model.constructor.name} from torch-rechub${preprocessor ? `, with the preprocessing of ${a['preprocessing-from']}` : ''}`,
  );
}

const SCHEMA_FLAGS = {
  label: { type: 'string' },
  ignore: { type: 'string' },
  'sample-rows': { type: 'string' },
  engine: { type: 'string', default: 'auto' },
  out: { type: 'string' },
} as const satisfies FlagSpec;

async function schemaCommand(argv: string[]): Promise<void> {
  const { values: a, positionals } = parseFlags('schema', argv, SCHEMA_FLAGS, true);
  if (positionals.length === 0)
    throw new UsageError('give the table: webmtl schema <file|folder|glob> [--label …] [--out schema.json]', 'schema');
  await checkOutputFolder(a.out, 'out');
  const sampleRows = num(a['sample-rows'], 10_000, 'sample-rows', { integer: true, min: 1 });
  const engine = oneOf(a.engine, ENGINES, 'engine') as (typeof ENGINES)[number];
  const { schema, sample, files } = await proposeTableSchema(positionals.length === 1 ? positionals[0] : positionals, {
    labels: list(a.label, 'label'),
    ignore: list(a.ignore, 'ignore'),
    sampleRows,
    engine,
  });
  const summary = `${describeSchema(schema, sample)}\n(${files.length} file${files.length > 1 ? 's' : ''}; roles proposed from the first ${sample.rows} rows: check them, edit the JSON, then train with --schema)`;
  if (a.out) {
    await writeTextFile(a.out, schemaToJSON(schema));
    console.log(summary);
    console.log(`schema: ${a.out}`);
  } else {
    process.stderr.write(`${summary}\n`);
    process.stdout.write(schemaToJSON(schema));
  }
}

/** One line per column: role, stored type, and what the sample shows (distinct values, range, rate). */
function describeSchema(schema: TableSchema, sample: RawBlock): string {
  const width = Math.min(40, Math.max(...schema.columns.map((c) => c.name.length)));
  return schema.columns
    .map((c) => {
      const col = sample.columns[c.name];
      let seen = '';
      if (col) {
        const values = col.type === 'string' ? col.values : Array.from(col.values as ArrayLike<number>);
        const present = values.filter(
          (v, i) => v !== null && !(typeof v === 'number' && Number.isNaN(v)) && !(col.type === 'int' && col.missing?.[i]),
        );
        const distinct = new Set(present).size;
        const missing = values.length - present.length;
        if (c.role === 'dense' && present.length) {
          const nums = present as number[];
          seen = `${Math.min(...nums)} … ${Math.max(...nums)}`;
        } else seen = `${distinct.toLocaleString('en-US')} distinct`;
        if (c.role === 'label' && present.length)
          seen += `, mean ${((present as number[]).reduce((x, y) => x + Number(y), 0) / present.length).toFixed(3)}`;
        if (missing) seen += `, ${missing} missing`;
      }
      return `  ${c.name.slice(0, width).padEnd(width)}  ${c.role.padEnd(8)}  ${c.type.padEnd(6)}  ${seen}`;
    })
    .join('\n');
}

async function genData(argv: string[]): Promise<void> {
  const { values: a } = parseFlags('gen-data', argv, {
    table: { type: 'string', default: 'ali-ccp' },
    rows: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
  });
  const table = oneOf(a.table, ['aliccp', 'censusraw'], 'table');
  const rows = num(a.rows, 200_000, 'rows', { integer: true, min: 20 });
  const genSeed = num(a.seed, 2022, 'seed', { integer: true });
  const out = a.out ?? 'data/generated';
  if (table === 'censusraw') {
    await makeDirectory(out);
    const file = `${out}/census_raw.csv`;
    const written = await writeRawTableCsv(file, { rows, seed: genSeed });
    console.log(
      `wrote ${file} (${written.rows} rows, ${(written.bytes / 2 ** 20).toFixed(1)} MiB: 32 text columns, 7 numbers, labels income_50k and never_married)`,
    );
    console.log(`describe it: webmtl schema ${file} --label income_50k,never_married --out schema.json`);
    console.log(`then train:  webmtl train --data ${file} --schema schema.json`);
    return;
  }
  const gen = generateAliCcpSplits({ train: rows, val: Math.round(rows / 10), test: Math.round(rows / 10), seed: genSeed });
  await makeDirectory(out);
  for (const split of ['train', 'val', 'test'] as const) await writeAliCcpCsv(gen[split], `${out}/ali_ccp_${split}.csv`);
  const o = gen.oracle.test;
  console.log(`wrote ${out}/ali_ccp_{train,val,test}.csv (${rows} / ${gen.val.length} / ${gen.test.length} rows)`);
  console.log(
    `oracle AUC on test: click ${o.clickAuc.toFixed(4)}, purchase ${o.purchaseAuc.toFixed(4)}, cvr on clicked ${o.cvrAucOnClicked.toFixed(4)}`,
  );
  console.log(`train on it: webmtl train --data ${out}`);
}

/** Fails before any training when a report or JSON file could not be written where asked. */
async function checkOutputFolder(file: string | undefined, flag: string): Promise<void> {
  if (file === undefined) return;
  const folder = dirname(file);
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory()) throw new UsageError(`--${flag} ${file}: the folder ${folder} does not exist`);
}

function list(v: string | undefined, name: string): string[] | undefined {
  if (v === undefined) return undefined;
  const items = v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} needs a comma-separated list`);
  return items;
}

/** Runs the jobs on `n` worker threads (this same file, started with workerData), one job at a time each. */
async function runInWorkers(
  settings: ExperimentSettings,
  device: BackendName,
  jobs: ExperimentJob[],
  n: number,
  onRun: (run: RunResult) => void,
): Promise<RunResult[]> {
  const queue = [...jobs];
  const runs: RunResult[] = [];
  const workers = Array.from(
    { length: Math.min(n, jobs.length) },
    () => new Worker(new URL(import.meta.url), { workerData: { webmtlExperimentWorker: true, settings, device } }),
  );
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const next = () => {
              const job = queue.shift();
              if (job) w.postMessage(job);
              else resolve();
            };
            w.on('message', (m: { run?: RunResult; error?: string }) => {
              if (m.error !== undefined) return reject(new Error(m.error));
              runs.push(m.run!);
              onRun(m.run!);
              next();
            });
            w.on('error', reject);
            w.on('exit', (code) =>
              queue.length || code !== 0 ? reject(new Error(`an experiment worker exited with code ${code}`)) : resolve(),
            );
            next();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return runs;
}

/** The worker side of runInWorkers: trains the jobs it is sent and posts each result back. */
function experimentWorker(): void {
  const { settings, device } = workerData as { settings: ExperimentSettings; device: BackendName };
  parentPort!.on('message', (job: ExperimentJob) => {
    runExperimentJob(settings, job, { device }).then(
      (run) => parentPort!.postMessage({ run }),
      (e: Error) =>
        parentPort!.postMessage({ error: `${MODEL_LABELS[job.model]} at ρ=${job.correlation}, seed ${job.seed}: ${e.message}` }),
    );
  });
}

const EXPERIMENT_FLAGS = {
  runs: { type: 'string' },
  seeds: { type: 'string' },
  'curve-points': { type: 'string' },
  'claim-from': { type: 'string' },
  rows: { type: 'string' },
  'eval-rows': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  correlations: { type: 'string' },
  models: { type: 'string' },
  jobs: { type: 'string' },
  device: { type: 'string', default: 'auto' },
  report: { type: 'string' },
  json: { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const satisfies FlagSpec;

async function experiment(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name !== 'mmoe-synthetic') {
    const which =
      name === undefined || name.startsWith('-') ? 'which experiment?' : `unknown experiment ${suggest(name, ['mmoe-synthetic'])}.`;
    throw new UsageError(`${which} The one experiment is mmoe-synthetic: webmtl experiment mmoe-synthetic [options]`, 'experiment');
  }
  const { values: a } = parseFlags('experiment mmoe-synthetic', rest, EXPERIMENT_FLAGS);
  await checkOutputFolder(a.report, 'report');
  await checkOutputFolder(a.json, 'json');
  const d = EXPERIMENT_DEFAULTS;
  if (a.runs !== undefined && a.seeds !== undefined)
    throw new UsageError('--seeds is the old name of --runs; give only --runs', 'experiment mmoe-synthetic');
  const settings = experimentSettings({
    runs: a.runs !== undefined ? num(a.runs, d.runs, 'runs') : num(a.seeds, d.runs, 'seeds'),
    curvePoints: num(a['curve-points'], d.curvePoints, 'curve-points'),
    claimFrom: num(a['claim-from'], d.claimFrom, 'claim-from'),
    rows: num(a.rows, d.rows, 'rows'),
    evalRows: num(a['eval-rows'], d.evalRows, 'eval-rows'),
    epochs: num(a.epochs, d.epochs, 'epochs'),
    batchSize: num(a['batch-size'], d.batchSize, 'batch-size'),
    lr: num(a.lr, d.lr, 'lr'),
    correlations: list(a.correlations, 'correlations')?.map((v) => num(v, NaN, 'correlations')),
    models: list(a.models, 'models')?.map((m) => m.toLowerCase().replace(/[-_]/g, '') as ExperimentModel),
  });
  const jobs = experimentJobs(settings);
  // Workers load this file again, so they need the built JavaScript (not a TypeScript source run by a loader).
  const canFork = import.meta.url.endsWith('.js');
  const nJobs = canFork ? Math.max(1, Math.min(num(a.jobs, Math.min(2, availableParallelism()), 'jobs'), jobs.length)) : 1;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  console.log(
    `mmoe-synthetic: d = ${settings.dim}, ${settings.rows} training rows, ${plural(settings.epochs, 'epoch')} of batch ${settings.batchSize} (${settings.steps} steps), Adam lr ${settings.lr}; ` +
      `${settings.models.map((m) => `${MODEL_LABELS[m]} ${settings.parameters[m].toLocaleString('en-US')}`).join(', ')} parameters (Shared-Bottom bottom ${settings.bottomUnits} units); ` +
      `${plural(jobs.length, 'run')} (${plural(settings.correlations.length, 'correlation')} × ${plural(settings.runs, 'run')} × ${plural(settings.models.length, 'model')}) on ${plural(nJobs, 'thread')}`,
  );
  const started = Date.now();
  let done = 0;
  const onRun = (run: RunResult) => {
    done++;
    if (!a.quiet)
      console.log(
        `  [${String(done).padStart(String(jobs.length).length)}/${jobs.length}] ${MODEL_LABELS[run.model].padEnd(13)} ρ=${String(run.correlation).padEnd(4)} run ${run.seed}  train loss (geo. mean) ${Math.exp(curveArea(run)).toFixed(4)}  final test MSE ${run.testLoss.toFixed(4)}  (${run.seconds.toFixed(1)} s)`,
      );
  };
  let runs: RunResult[];
  const device = a.device as BackendName;
  if (nJobs > 1) runs = await runInWorkers(settings, device, jobs, nJobs, onRun);
  else {
    runs = [];
    for (const job of jobs) {
      const run = await runExperimentJob(settings, job, { device });
      runs.push(run);
      onRun(run);
    }
  }
  const result = collectResult(settings, runs, (Date.now() - started) / 1000);
  const claims = checkClaims(result);
  console.log(
    `\ntraining loss (MSE, mean of the two tasks) over ${settings.steps} steps: its mean over the budget (the area under the curve) and at steps ${budgetPoints(
      settings.curveSteps.length,
    )
      .map((j) => settings.curveSteps[j])
      .join(', ')}; final test loss and its spread; ${plural(settings.runs, 'run')} per row, 95% t intervals:`,
  );
  console.log(formatTable(result));
  console.log(`\nthe paper's claims on this run:`);
  console.log(formatClaims(claims));
  console.log(`\n${result.seconds.toFixed(0)} s`);
  if (a.report) {
    await writeReport(a.report, renderExperimentReport({ result, claims }));
    console.log(`report: ${a.report}`);
  }
  if (a.json) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(a.json, JSON.stringify({ ...result, claims }, null, 1));
    console.log(`json: ${a.json}`);
  }
}

async function walkthrough(argv: string[]): Promise<void> {
  const { values: a } = parseFlags('walkthrough', argv, { seed: { type: 'string' } });
  console.log(formatWalkthrough(await runWalkthrough({ seed: num(a.seed, 7, 'seed') })));
}

/**
 * Runs one command line (the arguments after `webmtl`); resolves to the exit status. Help and the
 * version go to stdout; usage mistakes throw a UsageError (exit status USAGE_EXIT).
 */
async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined) {
    process.stderr.write(`webmtl — multi-task learning for recommendation\n\n${USAGE}`);
    return USAGE_EXIT;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    console.log(VERSION);
    return 0;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    if (topic !== undefined && !COMMANDS.includes(topic as Command))
      throw new UsageError(`unknown command ${suggest(topic, COMMANDS)}; the commands are ${COMMANDS.join(', ')}`, 'help');
    console.log(topic === undefined ? cliHelp() : commandHelp(topic as Command));
    return 0;
  }
  if (!COMMANDS.includes(command as Command)) {
    const what = command.startsWith('-') ? 'option' : 'command';
    const known = what === 'option' ? ['--help', '--version'] : COMMANDS;
    throw new UsageError(
      `unknown ${what} ${suggest(command, known)}; the commands are ${COMMANDS.join(', ')}. Run webmtl --help for the usage`,
    );
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(command as Command));
    return 0;
  }
  if (command === 'train') await train(rest);
  else if (command === 'predict') await predict(rest);
  else if (command === 'export') await exportCommand(rest);
  else if (command === 'import') await importCommand(rest);
  else if (command === 'schema') await schemaCommand(rest);
  else if (command === 'gen-data') await genData(rest);
  else if (command === 'experiment') await experiment(rest);
  else await walkthrough(rest);
  return 0;
}

/** Whether this file is the program Node was started with (not a module imported by tests). */
function isProgram(): boolean {
  const started = process.argv[1];
  if (!started) return false;
  const self = fileURLToPath(import.meta.url);
  // `node dist/node/cli` leaves the extension off argv[1].
  return [started, `${started}.js`].some((file) => {
    try {
      return realpathSync(file) === self;
    } catch {
      return false;
    }
  });
}

if (!isMainThread && (workerData as { webmtlExperimentWorker?: boolean } | null)?.webmtlExperimentWorker) {
  experimentWorker();
} else if (isProgram()) {
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (e: Error) => {
      const where = e instanceof UsageError && e.command ? `webmtl ${e.command}` : 'webmtl';
      console.error(`${where}: ${e.message}`);
      process.exit(e instanceof UsageError ? USAGE_EXIT : 1);
    },
  );
}
