// The synthetic experiment of the MMoE paper (Ma et al., KDD 2018, §4): two regression tasks whose
// correlation ρ is a knob (src/data/synthetic-mmoe.ts), learned by Shared-Bottom, OMoE and MMoE of
// (about) the same size. The paper's findings, which checkClaims() tests on a run:
//   1. every model does better when the tasks are more correlated;
//   2. MMoE loses the least as the correlation falls;
//   3. the mixture-of-experts models beat Shared-Bottom.
import type { Backend } from '../backend/backend.js';
import type { ColumnarDataset } from '../data/columns.js';
import { DataLoader } from '../data/loader.js';
import { generateMmoeSynthetic } from '../data/synthetic-mmoe.js';
import { DenseFeature } from '../features.js';
import type { BackendName } from '../init.js';
import type { MultiTaskModel } from '../models/base.js';
import { MMoE } from '../models/mmoe.js';
import { OMoE } from '../models/omoe.js';
import { SharedBottom } from '../models/shared-bottom.js';
import { type GradientReport, inspectGradients } from '../mtl/inspector.js';
import { type Claim, claimVerdict } from '../report/html.js';
import { tidyAsync } from '../tensor/engine.js';
import { seed as seedGlobal } from '../tensor/random.js';
import { toDevice } from '../train/batch.js';
import type { RegressionReport } from '../train/metrics.js';
import { MTLTrainer } from '../train/trainer.js';

export const EXPERIMENT_MODELS = ['sharedbottom', 'omoe', 'mmoe'] as const;
export type ExperimentModel = (typeof EXPERIMENT_MODELS)[number];

export const MODEL_LABELS: Record<ExperimentModel, string> = { sharedbottom: 'Shared-Bottom', omoe: 'OMoE', mmoe: 'MMoE' };

/** The paper's sizes: 8 experts of 16 units, towers of 8. */
export const PAPER_SIZES = { nExpert: 8, expertUnits: 16, towerUnits: 8 } as const;

export interface MmoeSyntheticExperimentOptions {
  /** Task correlations ρ (default [1, 0.9, 0.5], the paper's). */
  correlations?: number[];
  /** Runs per (model, ρ), seeds 1..n (default 3). */
  seeds?: number;
  /** Training rows (default 6000); validation and test get `evalRows` each. */
  rows?: number;
  /** Rows of the validation set and of the test set (default 2000 each). */
  evalRows?: number;
  /** Input dimension d (default 100, as in the MMoE paper). */
  dim?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  models?: ExperimentModel[];
  device?: BackendName | Backend;
  /** Inspect each trained model's task gradients on a test batch (for reports; default true, cheap). */
  inspect?: boolean;
  /** Called after every run (model, ρ, seed). */
  onRun?: (run: RunResult, done: number, total: number) => void;
}

export interface RunResult {
  model: ExperimentModel;
  correlation: number;
  seed: number;
  parameters: number;
  /** Mean of the two tasks' test MSE. */
  testLoss: number;
  /** Test MSE per task. */
  taskLoss: [number, number];
  /** Per epoch: the mean over tasks of the training loss and of the validation MSE. */
  trainCurve: number[];
  valCurve: number[];
  seconds: number;
  /** The gradient inspector on 1024 test rows after training (unless `inspect: false`). */
  gradients?: GradientReport;
}

export interface CellSummary {
  model: ExperimentModel;
  correlation: number;
  mean: number;
  std: number;
  n: number;
}

export interface ExperimentSettings {
  correlations: number[];
  seeds: number;
  rows: number;
  evalRows: number;
  dim: number;
  epochs: number;
  batchSize: number;
  lr: number;
  models: ExperimentModel[];
  /** Every model's display name (MODEL_LABELS), in EXPERIMENT_MODELS order, for reports. */
  labels: Record<ExperimentModel, string>;
  /** The MoE models' experts and every model's towers (PAPER_SIZES). */
  sizes: { nExpert: number; expertUnits: number; towerUnits: number };
  /** Shared-Bottom's bottom width, solved so that its parameter count matches MMoE's. */
  bottomUnits: number;
  parameters: Record<ExperimentModel, number>;
}

export interface ExperimentResult {
  settings: ExperimentSettings;
  runs: RunResult[];
  cells: CellSummary[];
  seconds: number;
}

// A claim is the report's shape (holds: null when the run lacks a model or a second ρ).
export type { Claim };

/**
 * Defaults sized for a few minutes on two cores with the TypeScript CPU backend (27 runs of about 10
 * CPU-seconds each): 6,000 training rows for 10 epochs of batch 128 (470 steps), by which the
 * validation loss has flattened; Adam with lr 0.01, which gave all three models a lower loss than
 * 1e-3 and 3e-3 in a check at ρ = 0.5.
 */
export const EXPERIMENT_DEFAULTS = {
  correlations: [1, 0.9, 0.5],
  seeds: 5,
  rows: 20000,
  evalRows: 2000,
  dim: 100,
  epochs: 10,
  batchSize: 128,
  lr: 1e-2,
} as const;

const featuresFor = (dim: number) => Array.from({ length: dim }, (_, k) => new DenseFeature(`x${k}`));
const TASKS = ['y1', 'y2'];
const REGRESSION: ['regression', 'regression'] = ['regression', 'regression'];

/** The three models at the paper's sizes; Shared-Bottom's bottom has `bottomUnits` units. */
export function buildModel(name: ExperimentModel, dim: number, bottomUnits: number): MultiTaskModel {
  const features = featuresFor(dim);
  const towerParamsList = [{ dims: [PAPER_SIZES.towerUnits] }, { dims: [PAPER_SIZES.towerUnits] }];
  const moe = {
    features,
    taskTypes: REGRESSION,
    taskNames: TASKS,
    nExpert: PAPER_SIZES.nExpert,
    expertParams: { dims: [PAPER_SIZES.expertUnits] },
    towerParamsList,
  };
  switch (name) {
    case 'mmoe':
      return new MMoE(moe);
    case 'omoe':
      return new OMoE(moe);
    case 'sharedbottom':
      return new SharedBottom({
        features,
        taskTypes: REGRESSION,
        taskNames: TASKS,
        bottomParams: { dims: [bottomUnits] },
        towerParamsList,
      });
    default:
      throw new Error(`mmoe-synthetic: unknown model '${name as string}'; use ${EXPERIMENT_MODELS.join(', ')}`);
  }
}

/**
 * The width h of Shared-Bottom's one-layer bottom whose parameter count is closest to MMoE's. The
 * count is affine in h (bottom: (d + 3)h, towers: 2·(8h + …)), so two probes give it exactly.
 */
export function matchedBottomUnits(dim: number): number {
  const count = (h: number) => buildModel('sharedbottom', dim, h).numParameters();
  const target = buildModel('mmoe', dim, 1).numParameters();
  const [c1, c2] = [count(1), count(2)];
  const slope = c2 - c1;
  return Math.max(1, Math.round((target - (c1 - slope)) / slope));
}

function mean(xs: number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for a single run. */
function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1));
}

const mse = (r: unknown) => (r as RegressionReport).mse;

/** The settings of a run: the options with their defaults, Shared-Bottom's width and the parameter counts. */
export function experimentSettings(options: MmoeSyntheticExperimentOptions = {}): ExperimentSettings {
  const d = EXPERIMENT_DEFAULTS;
  const base = {
    correlations: options.correlations ?? [...d.correlations],
    seeds: options.seeds ?? d.seeds,
    rows: options.rows ?? d.rows,
    evalRows: options.evalRows ?? d.evalRows,
    dim: options.dim ?? d.dim,
    epochs: options.epochs ?? d.epochs,
    batchSize: options.batchSize ?? d.batchSize,
    lr: options.lr ?? d.lr,
    models: options.models ?? [...EXPERIMENT_MODELS],
  };
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`mmoe-synthetic: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt(base.seeds, 'seeds');
  positiveInt(base.rows, 'rows');
  positiveInt(base.evalRows, 'evalRows');
  positiveInt(base.epochs, 'epochs');
  positiveInt(base.batchSize, 'batchSize');
  if (base.dim < 2 || !Number.isInteger(base.dim)) throw new Error(`mmoe-synthetic: dim must be an integer >= 2, got ${base.dim}`);
  if (base.correlations.length === 0) throw new Error('mmoe-synthetic: give at least one correlation');
  for (const r of base.correlations) if (!(r >= -1 && r <= 1)) throw new Error(`mmoe-synthetic: correlations must be in [-1, 1], got ${r}`);
  if (base.models.length === 0) throw new Error(`mmoe-synthetic: give at least one model of ${EXPERIMENT_MODELS.join(', ')}`);
  for (const m of base.models)
    if (!EXPERIMENT_MODELS.includes(m)) throw new Error(`mmoe-synthetic: unknown model '${m}'; use ${EXPERIMENT_MODELS.join(', ')}`);
  const bottomUnits = matchedBottomUnits(base.dim);
  const parameters = Object.fromEntries(EXPERIMENT_MODELS.map((m) => [m, buildModel(m, base.dim, bottomUnits).numParameters()])) as Record<
    ExperimentModel,
    number
  >;
  return { ...base, labels: { ...MODEL_LABELS }, sizes: { ...PAPER_SIZES }, bottomUnits, parameters };
}

export interface ExperimentJob {
  model: ExperimentModel;
  correlation: number;
  seed: number;
}

/** Every (ρ, seed, model) of the settings, in the order of the table; seeds are 1..n. */
export function experimentJobs(settings: ExperimentSettings): ExperimentJob[] {
  const jobs: ExperimentJob[] = [];
  for (const correlation of settings.correlations) {
    for (let seed = 1; seed <= settings.seeds; seed++) for (const model of settings.models) jobs.push({ model, correlation, seed });
  }
  return jobs;
}

/**
 * Trains one model on one (ρ, seed) draw and tests it. Each job seeds everything it uses, so jobs can
 * run in any order or in parallel workers and give the same numbers.
 */
export async function runExperimentJob(
  settings: ExperimentSettings,
  job: ExperimentJob,
  opts: { device?: BackendName | Backend; inspect?: boolean } = {},
): Promise<RunResult> {
  const { rows, evalRows, dim } = settings;
  // One draw of (w1, w2, α, β) per seed (the same at every ρ), split into train / validation / test.
  const all = generateMmoeSynthetic({ rows: rows + 2 * evalRows, dim, correlation: job.correlation, seed: job.seed }).toDataset();
  return trainOne(job.model, {
    ...settings,
    correlation: job.correlation,
    seed: job.seed,
    train: all.slice(0, rows),
    val: all.slice(rows, rows + evalRows),
    test: all.slice(rows + evalRows),
    device: opts.device,
    inspect: opts.inspect ?? true,
  });
}

/** The result of a set of runs (in any order): runs sorted as the jobs, and the per-cell summary. */
export function collectResult(settings: ExperimentSettings, runs: RunResult[], seconds: number): ExperimentResult {
  const order = experimentJobs(settings);
  const rank = (r: RunResult) => order.findIndex((j) => j.model === r.model && j.correlation === r.correlation && j.seed === r.seed);
  const sorted = [...runs].sort((a, b) => rank(a) - rank(b));
  return { settings, runs: sorted, cells: summarize(sorted), seconds };
}

/** Trains every model at every ρ for every seed, one after another; the data of (ρ, seed) is the same for all models. */
export async function runMmoeSynthetic(options: MmoeSyntheticExperimentOptions = {}): Promise<ExperimentResult> {
  const settings = experimentSettings(options);
  const started = Date.now();
  const jobs = experimentJobs(settings);
  const runs: RunResult[] = [];
  for (const job of jobs) {
    const run = await runExperimentJob(settings, job, { device: options.device, inspect: options.inspect });
    runs.push(run);
    options.onRun?.(run, runs.length, jobs.length);
  }
  return collectResult(settings, runs, (Date.now() - started) / 1000);
}

interface OneRun {
  correlation: number;
  seed: number;
  train: ColumnarDataset;
  val: ColumnarDataset;
  test: ColumnarDataset;
  dim: number;
  epochs: number;
  batchSize: number;
  lr: number;
  bottomUnits: number;
  device?: BackendName | Backend;
  inspect: boolean;
}

async function trainOne(name: ExperimentModel, o: OneRun): Promise<RunResult> {
  const started = Date.now();
  // Model initialisation draws from the global generator: the same seed gives the same weights.
  seedGlobal(1000 + o.seed);
  const model = buildModel(name, o.dim, o.bottomUnits);
  const trainer = new MTLTrainer(model, {
    nEpoch: o.epochs,
    optimizerParams: { lr: o.lr },
    device: o.device ?? 'cpu',
    progress: 'none',
    seed: o.seed,
    // The paper reports each run at its best validation epoch (mean AUC of the two tasks).
    restoreBest: true,
    earlystopTask: 'mean',
  });
  const history = await trainer.fit(
    new DataLoader(o.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed }),
    new DataLoader(o.val, { batchSize: 4096 }),
  );
  const test = await trainer.evaluate(new DataLoader(o.test, { batchSize: 4096 }));
  const taskLoss = TASKS.map((t) => mse(test[t])) as [number, number];
  let gradients: GradientReport | undefined;
  if (o.inspect) {
    const first = new DataLoader(o.test, { batchSize: 1024 })[Symbol.iterator]().next().value!;
    model.train();
    gradients = await tidyAsync(() =>
      inspectGradients(
        model,
        toDevice(
          first,
          model.backend!,
          model.features.map((f) => f.name),
        ),
      ),
    );
  }
  return {
    model: name,
    correlation: o.correlation,
    seed: o.seed,
    parameters: model.numParameters(),
    testLoss: mean(taskLoss),
    taskLoss,
    trainCurve: history.epochs.map((e) => mean(TASKS.map((t) => e.trainLoss[t]))),
    valCurve: history.epochs.map((e) => mean(TASKS.map((t) => mse(e.val![t])))),
    seconds: (Date.now() - started) / 1000,
    ...(gradients ? { gradients } : {}),
  };
}

/** Mean ± std of the test loss per (model, ρ), in the order the runs came. */
export function summarize(runs: RunResult[]): CellSummary[] {
  const cells = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${r.model}@${r.correlation}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key)!.push(r);
  }
  return [...cells.values()].map((rs) => {
    const losses = rs.map((r) => r.testLoss);
    return { model: rs[0].model, correlation: rs[0].correlation, mean: mean(losses), std: std(losses), n: losses.length };
  });
}

const fmt = (v: number) => v.toFixed(3);

/** The paper's three qualitative claims, each checked on the cell means of a run. */
export function checkClaims(input: ExperimentResult | CellSummary[]): Claim[] {
  const cells = Array.isArray(input) ? input : input.cells;
  const models = EXPERIMENT_MODELS.filter((m) => cells.some((c) => c.model === m));
  const rhos = [...new Set(cells.map((c) => c.correlation))].sort((a, b) => b - a); // high → low
  const at = (m: ExperimentModel, rho: number) => cells.find((c) => c.model === m && c.correlation === rho)?.mean;
  const label = (m: ExperimentModel) => MODEL_LABELS[m];
  const claims: Claim[] = [];

  // 1. Lower loss at higher ρ, for every model and every pair of neighbouring correlations.
  {
    const claim = 'All models do better (lower test loss) at higher task correlation';
    if (rhos.length < 2 || models.length === 0) claims.push({ claim, holds: null, detail: 'needs at least two correlations' });
    else {
      const failures: string[] = [];
      const lines = models.map((m) => {
        const seq = rhos.map((r) => at(m, r));
        for (let i = 0; i + 1 < rhos.length; i++) {
          const [hi, lo] = [seq[i], seq[i + 1]];
          if (hi === undefined || lo === undefined || !(hi < lo)) failures.push(`${label(m)} ρ=${rhos[i]} vs ρ=${rhos[i + 1]}`);
        }
        return `${label(m)} ${seq.map((v) => (v === undefined ? '–' : fmt(v))).join(' → ')}`;
      });
      claims.push({
        claim,
        holds: failures.length === 0,
        detail: `loss from ρ=${rhos[0]} to ρ=${rhos[rhos.length - 1]}: ${lines.join('; ')}${failures.length ? `. Not lower at higher ρ: ${failures.join(', ')}` : ''}`,
      });
    }
  }

  // 2. MMoE's loss grows the least between the highest and the lowest correlation.
  {
    const claim = 'MMoE degrades least as the correlation falls';
    const [hi, lo] = [rhos[0], rhos[rhos.length - 1]];
    const growth = models.map((m) => ({ m, g: (at(m, lo) ?? NaN) - (at(m, hi) ?? NaN) }));
    if (rhos.length < 2 || !models.includes('mmoe') || models.length < 2)
      claims.push({ claim, holds: null, detail: 'needs MMoE, another model and at least two correlations' });
    else {
      const mmoe = growth.find((x) => x.m === 'mmoe')!.g;
      const others = growth.filter((x) => x.m !== 'mmoe');
      claims.push({
        claim,
        holds: others.every((x) => mmoe < x.g),
        detail: `loss(ρ=${lo}) − loss(ρ=${hi}): ${growth.map((x) => `${label(x.m)} ${x.g >= 0 ? '+' : ''}${fmt(x.g)}`).join(', ')}`,
      });
    }
  }

  // 3. Averaged over the correlations, both MoE models have a lower loss than Shared-Bottom.
  {
    const avg = (m: ExperimentModel) => mean(rhos.map((r) => at(m, r) ?? NaN));
    const moe = models.filter((m) => m !== 'sharedbottom');
    const claim = `The MoE models (${(moe.length ? [...moe].reverse() : (['mmoe', 'omoe'] as ExperimentModel[])).map(label).join(', ')}) beat Shared-Bottom on average over ρ`;
    if (!models.includes('sharedbottom') || moe.length === 0)
      claims.push({ claim, holds: null, detail: 'needs Shared-Bottom and a MoE model' });
    else {
      const sb = avg('sharedbottom');
      claims.push({
        claim,
        holds: moe.every((m) => avg(m) < sb),
        detail: `mean test loss over ρ: ${models.map((m) => `${label(m)} ${fmt(avg(m))}`).join(', ')}`,
      });
    }
  }
  return claims;
}

/** Rows: models; columns: ρ; cells: mean ± std of the test loss over seeds. */
export function formatTable(result: ExperimentResult): string {
  const { correlations } = result.settings;
  const models = EXPERIMENT_MODELS.filter((m) => result.cells.some((c) => c.model === m));
  const cell = (m: ExperimentModel, rho: number) => {
    const c = result.cells.find((x) => x.model === m && x.correlation === rho);
    return c ? `${fmt(c.mean)} ± ${fmt(c.std)}` : '–';
  };
  const header = ['model', 'params', ...correlations.map((r) => `ρ = ${r}`)];
  const rows = models.map((m) => [
    MODEL_LABELS[m],
    result.settings.parameters[m].toLocaleString('en-US'),
    ...correlations.map((r) => cell(m, r)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols: string[]) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('   '), ...rows.map(line)].join('\n');
}

export function formatClaims(claims: Claim[]): string {
  return claims.map((c) => `  [${claimVerdict(c)}] ${c.claim}\n      ${c.detail}`).join('\n');
}

export { claimVerdict };
