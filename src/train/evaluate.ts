// Evaluation over a whole set: predictions are gathered on the host batch by batch (one readback per
// batch), then each task's metrics are computed once over all rows — never averaged per batch.
import type { BatchSource, HostBatch } from '../data/loader.js';
import type { MultiTaskModel } from '../models/base.js';
import { tidyAsync } from '../tensor/engine.js';
import { featuresToDevice } from './batch.js';
import { evaluateTask, type TaskReport } from './metrics.js';
import type { TaskPlan } from './tasks.js';

export interface Predictions {
  /** Model outputs [rows, nOut] row-major. */
  outputs: Float32Array;
  /** Labels [rows, nLabel] row-major. */
  labels: Float32Array;
  rows: number;
  nOut: number;
  nLabel: number;
}

function modelBackend(model: MultiTaskModel) {
  const b = model.backend;
  if (!b) throw new Error(`${model.constructor.name} has no parameters`);
  return b;
}

/** Runs the model in eval mode over every batch and keeps outputs and labels (none for a loader without labels) on the host. */
export async function collectPredictions(model: MultiTaskModel, loader: BatchSource<HostBatch>): Promise<Predictions> {
  const backend = modelBackend(model);
  const outs: Float32Array[] = [];
  const labs: Float32Array[] = [];
  let rows = 0;
  let nOut = 0;
  let nLabel = 0;
  for (const batch of loader) {
    if (batch.size === 0) continue;
    const values = await tidyAsync(async () => {
      const out = model.predict(featuresToDevice(batch, backend, model.features));
      nOut = out.shape[1];
      return (await out.data()) as Float32Array;
    });
    outs.push(values);
    labs.push(batch.y.slice());
    nLabel = batch.y.length / batch.size;
    rows += batch.size;
  }
  if (rows === 0) throw new Error('evaluate: the loader yielded no rows; check the split sizes and batchSize');
  const concat = (parts: Float32Array[]): Float32Array => {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return all;
  };
  return { outputs: concat(outs), labels: concat(labs), rows, nOut, nLabel };
}

/** The metrics of every task of `plan` from gathered predictions. */
export function scorePredictions(p: Predictions, plan: TaskPlan): Record<string, TaskReport> {
  const report: Record<string, TaskReport> = {};
  for (const t of plan.evaluate) {
    const labels: number[] = [];
    const preds: number[] = [];
    for (let r = 0; r < p.rows; r++) {
      if (t.onlyWhere !== undefined && p.labels[r * p.nLabel + t.onlyWhere] !== 1) continue;
      labels.push(p.labels[r * p.nLabel + t.label]);
      preds.push(p.outputs[r * p.nOut + t.output]);
    }
    report[t.name] =
      labels.length > 0
        ? evaluateTask(t.type, labels, preds)
        : t.type === 'classification'
          ? {
              type: 'classification',
              auc: null,
              aucReason: 'no rows to evaluate (no clicked rows in this set)',
              logloss: NaN,
              n: 0,
              positives: 0,
            }
          : { type: 'regression', mse: NaN, mae: NaN, n: 0 };
  }
  return report;
}

/**
 * The one rule that names task results everywhere (MTLTrainer's history, evaluate and predict, and
 * evaluateMultiTask): the names given (MTLTrainer's or evaluateMultiTask's taskNames); else the
 * model's taskNames when it was built with them; else the loader's label names when it has one per
 * label column (a DataGenerator's y given as { click, purchase }, a readCsv table's label columns);
 * else the model's task0, task1, ... ESMM names its results ctr, ctcvr and cvr whatever the labels.
 * Returns the names to pass to model.taskPlan (undefined: the model's own).
 */
export function resultNames(
  model: MultiTaskModel,
  loader: { labelNames?: readonly string[] } | undefined,
  nLabel: number,
  given?: readonly string[],
): string[] | undefined {
  if (given) return [...given];
  const defaults = model.taskNames.every((n, i) => n === `task${i}`);
  const labels = loader?.labelNames;
  return defaults && nLabel > 0 && labels?.length === nLabel ? [...labels] : undefined;
}

/**
 * Per-task metrics over a whole loader: { [task]: { auc, logloss, n, positives } } for classification,
 * { mse, mae, n } for regression, keyed as resultNames() says. ESMM reports ctr, ctcvr, and cvr on
 * clicked rows.
 */
export async function evaluateMultiTask(
  model: MultiTaskModel,
  loader: BatchSource<HostBatch>,
  opts: { taskNames?: string[] } = {},
): Promise<Record<string, TaskReport>> {
  const p = await collectPredictions(model, loader);
  if (p.nLabel === 0) throw new Error('evaluateMultiTask: the loader has no labels; evaluation needs them (predict works without)');
  return scorePredictions(p, model.taskPlan(p.nLabel, resultNames(model, loader as { labelNames?: string[] }, p.nLabel, opts.taskNames)));
}

/**
 * Each model output as one Float32Array over the rows, keyed by the name the plan's evaluation gives
 * the output (the names of evaluate's results), else the model's own name for it.
 */
export function outputsByName(p: Predictions, plan: TaskPlan, model: MultiTaskModel): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (let j = 0; j < p.nOut; j++) {
    const col = new Float32Array(p.rows);
    for (let r = 0; r < p.rows; r++) col[r] = p.outputs[r * p.nOut + j];
    const name = plan.evaluate.find((t) => t.output === j)?.name ?? model.taskNames[j] ?? `output${j}`;
    out[name] = col;
  }
  return out;
}
