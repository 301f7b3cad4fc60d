// The synthetic experiment of the MMoE paper (Ma et al., KDD 2018, §4), measured as the paper measures
// it: two regression tasks whose correlation ρ is a knob (src/data/synthetic-mmoe.ts), learned by
// Shared-Bottom, OMoE and MMoE of (about) the same size, many runs per (model, ρ).
//
// The paper does not compare final losses at convergence (with enough data and steps every model fits
// both tasks, which hides the effect). Its Figure 4 plots the average *training loss over steps* per
// model and ρ, and its trainability study (§4.4, Figure 5) the *distribution of final losses* over 200
// runs. So each run here records its training loss (mean of the two tasks' MSE, the paper's y-axis) on
// a fixed step grid and its final test loss, and checkClaims() tests, with 95% intervals over runs:
//   1. every model learns better (lower area under its training-loss curve) when the tasks are more correlated;
//   2. MMoE's curve rises the least as the correlation falls;
//   3. the mixture-of-experts models have a lower curve than Shared-Bottom;
//   4. (trainability) Shared-Bottom's final losses spread the widest over runs.
// Run i of every (model, ρ) uses seed i: the same inputs, label directions, sine terms, noise, batch
// order and initial weights, so differences are paired by seed, which removes the draw-to-draw
// difficulty that dominates unpaired spreads.
import type { Backend } from '../backend/backend.js';
import type { ColumnarDataset } from '../data/columns.js';
import { DataLoader } from '../data/loader.js';
import { Rng } from '../data/random.js';
import { generateMmoeSynthetic } from '../data/synthetic-mmoe.js';
import { DenseFeature } from '../features.js';
import type { BackendName } from '../init.js';
import type { MultiTaskModel } from '../models/base.js';
import { MMoE } from '../models/mmoe.js';
import { OMoE } from '../models/omoe.js';
import { SharedBottom } from '../models/shared-bottom.js';
import { type GradientReport, inspectGradients } from '../mtl/inspector.js';
import { checkOptionNames } from '../options.js';
import { type Claim, claimVerdict } from '../report/html.js';
import { histogram } from '../report/svg.js';
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
  /** Runs per (model, ρ), seeds 1..n (default EXPERIMENT_DEFAULTS.runs; the paper: 200). */
  runs?: number;
  /** The old name of `runs` (accepted; give one or the other). */
  seeds?: number;
  /** Training rows (default EXPERIMENT_DEFAULTS.rows); the test set gets `evalRows`. */
  rows?: number;
  /** Rows of the test set (default 2000). */
  evalRows?: number;
  /** Input dimension d (default 100, as in the MMoE paper). */
  dim?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** Points on each run's training-loss curve (default 40): the loss is averaged over windows of steps/points steps. */
  curvePoints?: number;
  /**
   * Where, as a fraction of the budget, the part of the curve the claims are tested on starts (default
   * 0: the whole curve; 0.5: its second half, after the first steps that fit the labels' mean and scale).
   */
  claimFrom?: number;
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
  /** Mean of the two tasks' test MSE after the last step (the trainability study's "final loss"). */
  testLoss: number;
  /** Test MSE per task. */
  taskLoss: [number, number];
  /**
   * The training loss (mean of the two tasks' MSE) on the settings' step grid: curve[j] is the mean of
   * the per-step losses of steps (j·curveEvery, (j+1)·curveEvery], plotted at settings.curveSteps[j].
   */
  curve: number[];
  seconds: number;
  /** The gradient inspector on 1024 test rows after training (unless `inspect: false`). */
  gradients?: GradientReport;
}

/** A mean over runs with its 95% interval (Student t on the runs; NaN bounds for one run). */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  n: number;
}

/** The spread of a set of values: sample std, interquartile range, 10% and 90% quantiles. */
export interface Spread {
  std: number;
  iqr: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

export interface CellSummary {
  model: ExperimentModel;
  correlation: number;
  n: number;
  /** The geometric-mean training loss over the budget (exp of the mean log-area, curveArea), 95% interval over runs. */
  area: Interval;
  /** The same over the claims' part of the budget (from settings.claimPoint on). */
  lateArea: Interval;
  /** The mean curve over runs with its 95% band, one value per point of settings.curveSteps. */
  curve: { mean: number[]; lo: number[]; hi: number[] };
  /** Final test loss: mean (95% interval) and spread over runs. */
  test: Interval;
  spread: Spread;
  /** Mean and std of the final test loss (kept for tables that show mean ± std). */
  mean: number;
  std: number;
}

export interface ExperimentSettings {
  correlations: number[];
  runs: number;
  rows: number;
  evalRows: number;
  dim: number;
  epochs: number;
  batchSize: number;
  lr: number;
  models: ExperimentModel[];
  /** Training steps per epoch (batches of two rows or more) and in all. */
  stepsPerEpoch: number;
  steps: number;
  /** Steps per curve point, and the step at the end of each point's window. */
  curveEvery: number;
  curveSteps: number[];
  /** The claims are tested on the curve from this fraction of the budget, i.e. from point claimPoint on. */
  claimFrom: number;
  claimPoint: number;
  /** Every model's display name (MODEL_LABELS), in EXPERIMENT_MODELS order, for reports. */
  labels: Record<ExperimentModel, string>;
  /** The MoE models' experts and every model's towers (PAPER_SIZES). */
  sizes: { nExpert: number; expertUnits: number; towerUnits: number };
  /** Shared-Bottom's bottom width, solved so that its parameter count matches MMoE's. */
  bottomUnits: number;
  parameters: Record<ExperimentModel, number>;
}

/**
 * A paired comparison of two curves over steps: per run, the log of one curve over the other at each
 * point; its mean over runs with the 95% t band, as percent (+5 = the first curve 5% higher).
 */
export interface CurveContrast {
  /** 'rho': model at a lower ρ vs itself at the highest ρ; 'model': Shared-Bottom vs a MoE model, averaged over ρ. */
  kind: 'rho' | 'model';
  model: ExperimentModel;
  /** The lower ρ (kind 'rho'). */
  correlation?: number;
  label: string;
  mean: number[];
  lo: number[];
  hi: number[];
}

export interface ExperimentResult {
  settings: ExperimentSettings;
  runs: RunResult[];
  cells: CellSummary[];
  /** The paired curves behind the claims, for the report. */
  contrasts: CurveContrast[];
  seconds: number;
}

// A claim is the report's shape (holds: null when the run lacks a model or a second ρ, or, with
// `inconclusive`, when an interval spans the null value).
export type { Claim };

/**
 * Defaults, chosen with pilot runs (numbers in the README, "the MMoE experiment"). The paper's sizes
 * and d = 100 stay. 10,000 training rows seen 4 times (batch 128: 316 steps of Adam, lr 0.01): close
 * to fresh data at every step, so the training curve measures learning rather than memorising and
 * the final test loss equals what was learned (with 2,000 rows the models overfit, test loss 2–3×
 * the training loss, and the final-loss spread measured overfitting). The budget ends while the
 * curves still fall, where the models differ. 40 runs per (model, ρ): 360 runs, about 3 minutes on two
 * wasm worker threads; the paired 95% intervals of the ρ effect are then a few percent wide.
 * claimFrom 0: the claims read the whole curve (how fast and how far); testing only its second half
 * gave wider intervals and no different answer in the pilots.
 */
export const EXPERIMENT_DEFAULTS = {
  correlations: [1, 0.9, 0.5],
  runs: 40,
  rows: 10000,
  evalRows: 2000,
  dim: 100,
  epochs: 4,
  batchSize: 128,
  lr: 1e-2,
  curvePoints: 40,
  claimFrom: 0,
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

// ---------------------------------------------------------------------------------------------------
// Statistics. Intervals are 95%: Student t for means and paired differences (the runs are independent
// draws, and with 20+ runs the mean of a difference is close to normal even when the losses are
// skewed); a seeded percentile bootstrap for the ratio of two spreads, which has no simple formula.

export function mean(xs: number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((s, v) => s + (v - m) ** 2, 0) / (xs.length - 1));
}

/** The 97.5% quantile of Student's t with `df` degrees of freedom (table to 30, then a Cornish–Fisher expansion). */
export function tQuantile975(df: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093,
    2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
  ];
  if (!(df >= 1)) return NaN;
  if (df <= 30) return table[Math.round(df) - 1];
  const z = 1.959964;
  const [z3, z5, z7] = [z ** 3, z ** 5, z ** 7];
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3);
}

/** The mean of `xs` with its 95% Student-t interval (lo = hi = NaN with fewer than two values). */
export function meanInterval(xs: number[]): Interval {
  const n = xs.length;
  const m = n ? mean(xs) : NaN;
  if (n < 2) return { estimate: m, lo: NaN, hi: NaN, n };
  const half = (tQuantile975(n - 1) * std(xs)) / Math.sqrt(n);
  return { estimate: m, lo: m - half, hi: m + half, n };
}

/** Element-wise a[i] − b[i] of two arrays aligned by seed. */
export function pairedDifferences(a: number[], b: number[]): number[] {
  if (a.length !== b.length) throw new Error(`paired differences need aligned runs, got ${a.length} and ${b.length}`);
  return a.map((v, i) => v - b[i]);
}

/** The p-quantile of xs with linear interpolation between order statistics (R's type 7, numpy's default). */
export function quantile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * p;
  const i = Math.floor(h);
  return i + 1 < s.length ? s[i] + (h - i) * (s[i + 1] - s[i]) : s[i];
}

export function spreadOf(xs: number[]): Spread {
  return {
    std: std(xs),
    iqr: quantile(xs, 0.75) - quantile(xs, 0.25),
    p10: quantile(xs, 0.1),
    p90: quantile(xs, 0.9),
    min: Math.min(...xs),
    max: Math.max(...xs),
  };
}

// The histogram of the trainability study is the report's (src/report/svg.ts), so the report draws the bins tested here.
export { histogram };

/**
 * A 95% percentile-bootstrap interval of `stat` over `n` paired runs: each resample draws n run indices
 * with replacement (the same indices for every model and ρ, which keeps the pairing). Seeded, so a
 * result is reproducible.
 */
export function bootstrapInterval(
  n: number,
  stat: (indices: number[]) => number,
  opts: { resamples?: number; seed?: number } = {},
): Interval {
  const all = Array.from({ length: n }, (_, i) => i);
  const estimate = stat(all);
  if (n < 2) return { estimate, lo: NaN, hi: NaN, n };
  const rng = new Rng(opts.seed ?? 7);
  const values: number[] = [];
  for (let b = 0; b < (opts.resamples ?? 2000); b++) {
    const v = stat(all.map(() => rng.int(n)));
    if (Number.isFinite(v)) values.push(v);
  }
  return { estimate, lo: quantile(values, 0.025), hi: quantile(values, 0.975), n };
}

/** Where an interval lies against a null value: above it, below it, or across it. */
export function intervalSide(iv: Interval, at = 0): 'above' | 'below' | 'spans' {
  if (iv.lo > at) return 'above';
  if (iv.hi < at) return 'below';
  return 'spans';
}

// ---------------------------------------------------------------------------------------------------

/** The settings of a run: the options with their defaults, Shared-Bottom's width and the parameter counts. */
const OPTION_NAMES = [
  'correlations',
  'runs',
  'seeds',
  'rows',
  'evalRows',
  'dim',
  'epochs',
  'batchSize',
  'lr',
  'curvePoints',
  'claimFrom',
  'models',
  'device',
  'inspect',
  'onRun',
];

export function experimentSettings(options: MmoeSyntheticExperimentOptions = {}): ExperimentSettings {
  checkOptionNames('mmoe-synthetic', options, OPTION_NAMES);
  const d = EXPERIMENT_DEFAULTS;
  if (options.runs !== undefined && options.seeds !== undefined && options.runs !== options.seeds)
    throw new Error(`mmoe-synthetic: seeds is the old name of runs; give one of them, got runs ${options.runs} and seeds ${options.seeds}`);
  const base = {
    correlations: options.correlations ?? [...d.correlations],
    runs: options.runs ?? options.seeds ?? d.runs,
    rows: options.rows ?? d.rows,
    evalRows: options.evalRows ?? d.evalRows,
    dim: options.dim ?? d.dim,
    epochs: options.epochs ?? d.epochs,
    batchSize: options.batchSize ?? d.batchSize,
    lr: options.lr ?? d.lr,
    models: options.models ?? [...EXPERIMENT_MODELS],
  };
  const curvePoints = options.curvePoints ?? d.curvePoints;
  const positiveInt = (v: number, name: string) => {
    if (!Number.isInteger(v) || v < 1) throw new Error(`mmoe-synthetic: ${name} must be a positive integer, got ${v}`);
  };
  positiveInt(base.runs, 'runs');
  positiveInt(base.rows, 'rows');
  positiveInt(base.evalRows, 'evalRows');
  positiveInt(base.epochs, 'epochs');
  positiveInt(base.batchSize, 'batchSize');
  positiveInt(curvePoints, 'curvePoints');
  const claimFrom = options.claimFrom ?? d.claimFrom;
  if (!(claimFrom >= 0 && claimFrom < 1)) throw new Error(`mmoe-synthetic: claimFrom must be a fraction in [0, 1), got ${claimFrom}`);
  if (base.dim < 2 || !Number.isInteger(base.dim)) throw new Error(`mmoe-synthetic: dim must be an integer >= 2, got ${base.dim}`);
  if (base.correlations.length === 0) throw new Error('mmoe-synthetic: give at least one correlation');
  for (const r of base.correlations) if (!(r >= -1 && r <= 1)) throw new Error(`mmoe-synthetic: correlations must be in [-1, 1], got ${r}`);
  if (base.models.length === 0) throw new Error(`mmoe-synthetic: give at least one model of ${EXPERIMENT_MODELS.join(', ')}`);
  for (const m of base.models)
    if (!EXPERIMENT_MODELS.includes(m)) throw new Error(`mmoe-synthetic: unknown model '${m}'; use ${EXPERIMENT_MODELS.join(', ')}`);
  // The trainer skips a last batch of one row (BatchNorm needs two).
  const stepsPerEpoch = Math.floor(base.rows / base.batchSize) + (base.rows % base.batchSize >= 2 ? 1 : 0);
  if (stepsPerEpoch === 0) throw new Error(`mmoe-synthetic: rows (${base.rows}) must give at least one batch of two rows`);
  const steps = stepsPerEpoch * base.epochs;
  const curveEvery = Math.max(1, Math.floor(steps / curvePoints));
  const curveSteps = Array.from({ length: Math.floor(steps / curveEvery) }, (_, j) => (j + 1) * curveEvery);
  const bottomUnits = matchedBottomUnits(base.dim);
  const parameters = Object.fromEntries(EXPERIMENT_MODELS.map((m) => [m, buildModel(m, base.dim, bottomUnits).numParameters()])) as Record<
    ExperimentModel,
    number
  >;
  return {
    ...base,
    stepsPerEpoch,
    steps,
    curveEvery,
    curveSteps,
    claimFrom,
    claimPoint: Math.min(curveSteps.length - 1, Math.floor(curveSteps.length * claimFrom)),
    labels: { ...MODEL_LABELS },
    sizes: { ...PAPER_SIZES },
    bottomUnits,
    parameters,
  };
}

export interface ExperimentJob {
  model: ExperimentModel;
  correlation: number;
  seed: number;
}

/** Every (ρ, seed, model) of the settings, in the order of the table; seeds are 1..runs. */
export function experimentJobs(settings: ExperimentSettings): ExperimentJob[] {
  const jobs: ExperimentJob[] = [];
  for (const correlation of settings.correlations) {
    for (let seed = 1; seed <= settings.runs; seed++) for (const model of settings.models) jobs.push({ model, correlation, seed });
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
  // One draw of (u1, u2, α, β, x, noise) per seed, the same at every ρ (only w2 turns with ρ), split
  // into train / test.
  const all = generateMmoeSynthetic({ rows: rows + evalRows, dim, correlation: job.correlation, seed: job.seed }).toDataset();
  return trainOne(job.model, settings, {
    correlation: job.correlation,
    seed: job.seed,
    train: all.slice(0, rows),
    test: all.slice(rows),
    device: opts.device,
    inspect: opts.inspect ?? true,
  });
}

/** The result of a set of runs (in any order): runs sorted as the jobs, and the per-cell summary. */
export function collectResult(settings: ExperimentSettings, runs: RunResult[], seconds: number): ExperimentResult {
  const order = experimentJobs(settings);
  const rank = (r: RunResult) => order.findIndex((j) => j.model === r.model && j.correlation === r.correlation && j.seed === r.seed);
  const sorted = [...runs].sort((a, b) => rank(a) - rank(b));
  return { settings, runs: sorted, cells: summarize(sorted, settings.claimPoint), contrasts: curveContrasts(sorted), seconds };
}

/**
 * The paired curves behind claims 1–3: each model at every lower ρ against itself at the highest ρ,
 * and Shared-Bottom against each MoE model (the log-ratio averaged over ρ), per point, over the seeds
 * present in every cell.
 */
export function curveContrasts(runs: RunResult[]): CurveContrast[] {
  const models = EXPERIMENT_MODELS.filter((m) => runs.some((r) => r.model === m));
  const rhos = [...new Set(runs.map((r) => r.correlation))].sort((a, b) => b - a);
  const find = (m: ExperimentModel, rho: number, seed: number) =>
    runs.find((r) => r.model === m && r.correlation === rho && r.seed === seed);
  const seeds = [...new Set(runs.map((r) => r.seed))]
    .filter((sd) => models.every((m) => rhos.every((rho) => find(m, rho, sd))))
    .sort((a, b) => a - b);
  if (seeds.length < 2) return [];
  const points = Math.min(...runs.map((r) => r.curve.length));
  const band = (logRatio: (seed: number, j: number) => number) => {
    const ivs = Array.from({ length: points }, (_, j) => meanInterval(seeds.map((sd) => logRatio(sd, j))));
    const pct = (v: number) => 100 * (Math.exp(v) - 1);
    return { mean: ivs.map((iv) => pct(iv.estimate)), lo: ivs.map((iv) => pct(iv.lo)), hi: ivs.map((iv) => pct(iv.hi)) };
  };
  const out: CurveContrast[] = [];
  for (const m of models)
    for (const rho of rhos.slice(1))
      out.push({
        kind: 'rho',
        model: m,
        correlation: rho,
        label: `${MODEL_LABELS[m]}, ρ = ${rho} vs ${rhos[0]}`,
        ...band((sd, j) => Math.log(find(m, rho, sd)!.curve[j] / find(m, rhos[0], sd)!.curve[j])),
      });
  if (models.includes('sharedbottom'))
    for (const m of models.filter((x) => x !== 'sharedbottom'))
      out.push({
        kind: 'model',
        model: m,
        label: `Shared-Bottom vs ${MODEL_LABELS[m]}`,
        ...band((sd, j) => mean(rhos.map((rho) => Math.log(find('sharedbottom', rho, sd)!.curve[j] / find(m, rho, sd)!.curve[j])))),
      });
  return out;
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
  test: ColumnarDataset;
  device?: BackendName | Backend;
  inspect: boolean;
}

const mse = (r: unknown) => (r as RegressionReport).mse;

async function trainOne(name: ExperimentModel, s: ExperimentSettings, o: OneRun): Promise<RunResult> {
  const started = Date.now();
  // Model initialisation draws from the global generator: the same seed gives the same weights.
  seedGlobal(1000 + o.seed);
  const model = buildModel(name, s.dim, s.bottomUnits);
  // The per-step training loss comes from the trainer's progress events (stepLosses: the step's own
  // loss per task); the curve averages it over windows of curveEvery steps.
  const curve: number[] = [];
  let window = 0;
  let inWindow = 0;
  const trainer = new MTLTrainer(model, {
    nEpoch: s.epochs,
    optimizerParams: { lr: s.lr },
    device: o.device ?? 'cpu',
    progress: 'none',
    seed: o.seed,
    onProgress: (e) => {
      window += mean(TASKS.map((t) => e.stepLosses[t]));
      if (++inWindow === s.curveEvery) {
        if (curve.length < s.curveSteps.length) curve.push(window / inWindow);
        window = 0;
        inWindow = 0;
      }
    },
  });
  // No validation and no best-epoch restore: the paper's "final loss" is the loss where training ends.
  await trainer.fit(new DataLoader(o.train, { batchSize: s.batchSize, shuffle: true, seed: o.seed }));
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
    curve,
    seconds: (Date.now() - started) / 1000,
    ...(gradients ? { gradients } : {}),
  };
}

/**
 * The area under a run's training-loss curve on a log scale, as a height: the mean of log(loss) over
 * the budget's curve points. On a log scale every part of the budget counts by how many times lower
 * one curve is than another: on a linear scale the first steps (loss ~3, falling by the label's mean
 * and scale, the same for every model and ρ) would outweigh the rest, where the models differ. Its
 * exponential is the geometric-mean training loss; a difference of two is the log of their ratio.
 */
export const curveArea = (r: Pick<RunResult, 'curve'>, from = 0): number => mean(r.curve.slice(from).map(Math.log));

/** exp of an interval on the log scale: a geometric mean (or a ratio) with its interval. */
const expInterval = (iv: Interval): Interval => ({ ...iv, estimate: Math.exp(iv.estimate), lo: Math.exp(iv.lo), hi: Math.exp(iv.hi) });
/** A difference of log areas as a percent change of the curve: +4.1% [1.2%, 7.0%]. */
export const formatPercent = (iv: Interval): string => {
  const p = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(100 * (Math.exp(v) - 1)).toFixed(1)}%` : '–');
  return `${p(iv.estimate)} [${p(iv.lo)}, ${p(iv.hi)}]`;
};

/** Per (model, ρ), in the order the runs came: the curve area, the mean curve with its band, the final test loss and its spread. */
export function summarize(runs: RunResult[], claimPoint = 0): CellSummary[] {
  const cells = new Map<string, RunResult[]>();
  for (const r of runs) {
    const key = `${r.model}@${r.correlation}`;
    if (!cells.has(key)) cells.set(key, []);
    cells.get(key)!.push(r);
  }
  return [...cells.values()].map((rs) => {
    const losses = rs.map((r) => r.testLoss);
    const points = Math.min(...rs.map((r) => r.curve.length));
    const bands = Array.from({ length: points }, (_, j) => meanInterval(rs.map((r) => r.curve[j])));
    return {
      model: rs[0].model,
      correlation: rs[0].correlation,
      n: rs.length,
      area: expInterval(meanInterval(rs.map((r) => curveArea(r)))),
      lateArea: expInterval(meanInterval(rs.map((r) => curveArea(r, claimPoint)))),
      curve: { mean: bands.map((b) => b.estimate), lo: bands.map((b) => b.lo), hi: bands.map((b) => b.hi) },
      test: meanInterval(losses),
      spread: spreadOf(losses),
      mean: mean(losses),
      std: std(losses),
    };
  });
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const signed = (v: number) => `${v >= 0 ? '+' : ''}${fmt(v)}`;
/** An effect with its interval: +0.012 [0.004, 0.020]. */
export const formatInterval = (iv: Interval, f: (v: number) => string = signed) => `${f(iv.estimate)} [${fmt(iv.lo)}, ${fmt(iv.hi)}]`;

/** A claim made of several comparisons, each an interval that the claim wants above `at`. */
function verdict(
  claim: string,
  effects: { label: string; iv: Interval }[],
  at: number,
  show: (iv: Interval) => string,
  note: string,
): Claim {
  const sides = effects.map((e) => intervalSide(e.iv, at));
  const detail = `${note}: ${effects.map((e) => `${e.label} ${show(e.iv)}`).join('; ')}`;
  if (sides.every((x) => x === 'above')) return { claim, holds: true, detail };
  const against = effects.filter((_, i) => sides[i] === 'below').map((e) => e.label);
  if (against.length) return { claim, holds: false, detail: `${detail}. Interval on the wrong side: ${against.join(', ')}` };
  const open = effects.filter((_, i) => sides[i] === 'spans').map((e) => e.label);
  return { claim, holds: null, inconclusive: true, detail: `${detail}. Interval spans ${at}: ${open.join(', ')}` };
}

/**
 * The paper's claims, each tested on paired runs (seed i of every model and ρ shares its data and
 * initial draw) with 95% intervals: holds when every interval is on the claimed side, does not hold
 * when one is on the other side, inconclusive (holds: null, inconclusive: true) otherwise.
 */
export function checkClaims(
  input: ExperimentResult | { runs: RunResult[]; settings?: { claimPoint: number; curveSteps: number[] } },
): Claim[] {
  const runs = input.runs;
  const from = input.settings?.claimPoint ?? 0;
  const part = from > 0 && input.settings ? ` from step ${input.settings.curveSteps[from - 1]} on` : '';
  const models = EXPERIMENT_MODELS.filter((m) => runs.some((r) => r.model === m));
  const rhos = [...new Set(runs.map((r) => r.correlation))].sort((a, b) => b - a); // high → low
  const label = (m: ExperimentModel) => MODEL_LABELS[m];
  // Seeds present in every cell: the pairs.
  const seeds = [...new Set(runs.map((r) => r.seed))]
    .filter((sd) => models.every((m) => rhos.every((rho) => runs.some((r) => r.model === m && r.correlation === rho && r.seed === sd))))
    .sort((a, b) => a - b);
  const get = (m: ExperimentModel, rho: number, f: (r: RunResult) => number) =>
    seeds.map((sd) => f(runs.find((r) => r.model === m && r.correlation === rho && r.seed === sd)!));
  const area = (m: ExperimentModel, rho: number) => get(m, rho, (r) => curveArea(r, from));
  const claims: Claim[] = [];
  const few = seeds.length < 2 ? 'needs two or more runs per cell' : null;

  // 1. Lower curve at higher ρ, for every model and every pair of neighbouring correlations.
  {
    const claim = 'All models learn better (lower training-loss curve) at higher task correlation';
    if (rhos.length < 2 || models.length === 0 || few)
      claims.push({ claim, holds: null, detail: few ?? 'needs at least two correlations' });
    else {
      const effects = models.flatMap((m) =>
        rhos.slice(0, -1).map((hi, i) => ({
          label: `${label(m)} ρ ${hi}→${rhos[i + 1]}`,
          iv: meanInterval(pairedDifferences(area(m, rhos[i + 1]), area(m, hi))),
        })),
      );
      claims.push(
        verdict(
          claim,
          effects,
          0,
          formatPercent,
          `how much higher the training-loss curve${part} is at the lower ρ (geometric mean), paired by run, 95% t interval`,
        ),
      );
    }
  }

  // 2. MMoE's curve rises the least between the highest and the lowest correlation.
  {
    const claim = 'MMoE degrades least as the correlation falls';
    const [hi, lo] = [rhos[0], rhos[rhos.length - 1]];
    if (rhos.length < 2 || !models.includes('mmoe') || models.length < 2 || few)
      claims.push({ claim, holds: null, detail: few ?? 'needs MMoE, another model and at least two correlations' });
    else {
      const rise = (m: ExperimentModel) => pairedDifferences(area(m, lo), area(m, hi));
      const effects = models
        .filter((m) => m !== 'mmoe')
        .map((m) => ({ label: `${label(m)} vs MMoE`, iv: meanInterval(pairedDifferences(rise(m), rise('mmoe'))) }));
      const c = verdict(
        claim,
        effects,
        0,
        formatPercent,
        `the curve${part} rises from ρ=${hi} to ρ=${lo} by ${models.map((m) => `${label(m)} ${formatPercent(meanInterval(rise(m)))}`).join(', ')}; how much more another model's rises than MMoE's (ratio of ratios, paired by run, 95% t interval)`,
      );
      claims.push(c);
    }
  }

  // 3. Averaged over the correlations, both MoE models have a lower curve than Shared-Bottom.
  {
    const moe = models.filter((m) => m !== 'sharedbottom');
    const claim = `The MoE models (${(moe.length ? [...moe].reverse() : (['mmoe', 'omoe'] as ExperimentModel[])).map(label).join(', ')}) learn better than Shared-Bottom`;
    if (!models.includes('sharedbottom') || moe.length === 0 || few)
      claims.push({ claim, holds: null, detail: few ?? 'needs Shared-Bottom and a MoE model' });
    else {
      const avgOverRho = (m: ExperimentModel) => seeds.map((_, i) => mean(rhos.map((rho) => area(m, rho)[i])));
      const effects = moe.map((m) => ({
        label: `Shared-Bottom vs ${label(m)}`,
        iv: meanInterval(pairedDifferences(avgOverRho('sharedbottom'), avgOverRho(m))),
      }));
      claims.push(
        verdict(
          claim,
          effects,
          0,
          formatPercent,
          `how much higher Shared-Bottom's training-loss curve${part} is (geometric mean, averaged over ρ), paired by run, 95% t interval`,
        ),
      );
    }
  }

  // 4. Trainability (§4.4): Shared-Bottom's final losses spread the widest over runs.
  {
    const moe = models.filter((m) => m !== 'sharedbottom');
    const claim = "Shared-Bottom's final loss varies the most from run to run (trainability)";
    if (!models.includes('sharedbottom') || moe.length === 0 || seeds.length < 3)
      claims.push({
        claim,
        holds: null,
        detail: seeds.length < 3 ? 'needs three or more runs per cell' : 'needs Shared-Bottom and a MoE model',
      });
    else {
      const test = Object.fromEntries(models.map((m) => [m, rhos.map((rho) => get(m, rho, (r) => r.testLoss))])) as Record<
        ExperimentModel,
        number[][]
      >;
      // The ratio of standard deviations per ρ, combined over ρ by the geometric mean; the bootstrap
      // resamples runs (seeds) jointly, so every model and ρ keeps its pairing.
      const ratio = (m: ExperimentModel) => (idx: number[]) =>
        Math.exp(mean(rhos.map((_, k) => Math.log(std(idx.map((i) => test.sharedbottom[k][i])) / std(idx.map((i) => test[m][k][i]))))));
      const effects = moe.map((m, j) => ({
        label: `std Shared-Bottom / std ${label(m)}`,
        iv: bootstrapInterval(seeds.length, ratio(m), { seed: 11 + j }),
      }));
      const stds = models.map((m) => `${label(m)} ${test[m].map((xs) => fmt(std(xs))).join('/')}`).join(', ');
      claims.push(
        verdict(
          claim,
          effects,
          1,
          (iv) => `${iv.estimate.toFixed(2)}× [${iv.lo.toFixed(2)}, ${iv.hi.toFixed(2)}]`,
          `std of the final test loss at ρ=${rhos.join('/')}: ${stds}; ratio (geometric mean over ρ, 95% bootstrap interval)`,
        ),
      );
    }
  }
  return claims;
}

/** Rows: (model, ρ); columns: the curve (area with its interval, loss at ¼, ½ and all of the budget) and the final test loss with its spread. */
export function formatTable(result: ExperimentResult): string {
  const { correlations, curveSteps } = result.settings;
  const models = EXPERIMENT_MODELS.filter((m) => result.cells.some((c) => c.model === m));
  const budgets = budgetPoints(curveSteps.length);
  const late = result.settings.claimPoint > 0;
  const header = [
    'model',
    'ρ',
    'train loss, geo. mean [95% CI]',
    ...(late ? [`from step ${result.settings.curveSteps[result.settings.claimPoint - 1]} [95% CI]`] : []),
    ...budgets.map((j) => `@${curveSteps[j]}`),
    'test loss [95% CI]',
    'std',
    '10–90% range',
  ];
  const rows: string[][] = [];
  for (const m of models)
    for (const rho of correlations) {
      const c = result.cells.find((x) => x.model === m && x.correlation === rho);
      if (!c) continue;
      rows.push([
        MODEL_LABELS[m],
        String(rho),
        formatInterval(c.area, fmt),
        ...(late ? [formatInterval(c.lateArea, fmt)] : []),
        ...budgets.map((j) => fmt(c.curve.mean[j])),
        formatInterval(c.test, fmt),
        fmt(c.spread.std),
        `${fmt(c.spread.p10)}–${fmt(c.spread.p90)}`,
      ]);
    }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cols: string[]) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The curve points at a quarter, half and all of the budget. */
export function budgetPoints(points: number): number[] {
  if (points === 0) return [];
  return [...new Set([Math.ceil(points / 4) - 1, Math.ceil(points / 2) - 1, points - 1])];
}

export function formatClaims(claims: Claim[]): string {
  return claims.map((c) => `  [${claimVerdict(c)}] ${c.claim}\n      ${c.detail}`).join('\n');
}

export { claimVerdict };
