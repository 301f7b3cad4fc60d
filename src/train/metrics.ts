// Evaluation metrics over a whole evaluation set (never averaged per batch), in float64.
// AUC itself lives in data/auc.ts (rocAuc: exact, ties count half, O(n log n)); this module is the
// public home of the metrics and turns AUC's undefined cases into a null with a reason.
import { rocAuc } from '../data/auc.js';

/** A metric that can be undefined for the given data (e.g. AUC when every label is 0). */
export interface MetricValue {
  value: number | null;
  /** Why value is null. */
  reason?: string;
}

function checkLengths(metric: string, labels: ArrayLike<number>, preds: ArrayLike<number>): number {
  if (labels.length !== preds.length) {
    throw new Error(`${metric}: ${labels.length} labels but ${preds.length} predictions; they must have the same length`);
  }
  if (labels.length === 0) throw new Error(`${metric}: the evaluation set is empty; there is nothing to score`);
  return labels.length;
}

function firstNaN(xs: ArrayLike<number>): number {
  for (let i = 0; i < xs.length; i++) if (Number.isNaN(xs[i])) return i;
  return -1;
}

const isPositive = (label: number): boolean => label > 0.5;

/**
 * Exact ROC AUC: the probability that a random positive scores above a random negative, with ties
 * counted as half (equivalently, the Mann–Whitney statistic with average ranks). Labels > 0.5 are
 * positive. Null (with a reason) when only one class is present or a score is NaN.
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): MetricValue {
  const n = checkLengths('auc', labels, scores);
  let positives = 0;
  for (let i = 0; i < n; i++) if (isPositive(labels[i])) positives++;
  if (positives === 0 || positives === n) {
    return {
      value: null,
      reason: `AUC is undefined: all ${n} labels are ${positives === 0 ? 'negative' : 'positive'} (it needs both classes)`,
    };
  }
  const bad = firstNaN(scores);
  if (bad >= 0) return { value: null, reason: `AUC is undefined: the score at row ${bad} is NaN (did training diverge?)` };
  return { value: rocAuc(labels, scores) };
}

export interface GaucValue extends MetricValue {
  /** Groups with both classes, which enter the mean. */
  groupsUsed: number;
  /** Groups with one class only (AUC undefined), left out. */
  groupsSkipped: number;
}

/**
 * Group AUC (Zhou et al., DIN 2018; as torch-rechub's gauc_score): the AUC of each group (e.g. each
 * user) over its own rows, averaged with each group weighted by its number of rows (impressions):
 * GAUC = Σ_g n_g · AUC_g / Σ_g n_g, over the groups that have both a positive and a negative label.
 * Groups with one class are skipped (their AUC is undefined); null when no group has both.
 */
export function gauc(labels: ArrayLike<number>, scores: ArrayLike<number>, groups: Int32Array | ArrayLike<number>): GaucValue {
  const n = checkLengths('gauc', labels, scores);
  if (groups.length !== n) throw new Error(`gauc: ${n} labels but ${groups.length} group ids; they must have the same length`);
  const bad = firstNaN(scores);
  if (bad >= 0)
    return {
      value: null,
      reason: `GAUC is undefined: the score at row ${bad} is NaN (did training diverge?)`,
      groupsUsed: 0,
      groupsSkipped: 0,
    };

  // Rows ordered by group, so each group is a contiguous run of row indices.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => groups[a] - groups[b] || a - b);

  let weighted = 0;
  let weight = 0;
  let used = 0;
  let skipped = 0;
  for (let start = 0; start < n; ) {
    const id = groups[order[start]];
    let end = start;
    let positives = 0;
    while (end < n && groups[order[end]] === id) {
      if (isPositive(labels[order[end]])) positives++;
      end++;
    }
    const size = end - start;
    if (positives === 0 || positives === size) skipped++;
    else {
      weighted += size * rocAuc(labels, scores, order.subarray(start, end));
      weight += size;
      used++;
    }
    start = end;
  }
  if (used === 0) {
    return {
      value: null,
      reason: `GAUC is undefined: none of the ${skipped} groups has both a positive and a negative label`,
      groupsUsed: 0,
      groupsSkipped: skipped,
    };
  }
  return { value: weighted / weight, groupsUsed: used, groupsSkipped: skipped };
}

/** Mean binary cross-entropy of probabilities against labels in [0, 1]; probs are clamped to [eps, 1 − eps]. */
export function logloss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = 1e-7): number {
  const n = checkLengths('logloss', labels, probs);
  if (!(eps > 0 && eps < 0.5)) throw new Error(`logloss: eps must be in (0, 0.5), got ${eps}`);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(Math.max(probs[i], eps), 1 - eps);
    const y = labels[i];
    total -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return total / n;
}

/** Mean squared error. */
export function mse(labels: ArrayLike<number>, preds: ArrayLike<number>): number {
  const n = checkLengths('mse', labels, preds);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = preds[i] - labels[i];
    total += d * d;
  }
  return total / n;
}

/** Mean absolute error. */
export function mae(labels: ArrayLike<number>, preds: ArrayLike<number>): number {
  const n = checkLengths('mae', labels, preds);
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.abs(preds[i] - labels[i]);
  return total / n;
}

/** Fraction of rows where (prob > threshold) matches (label > 0.5); threshold 0.5 by default. */
export function accuracy(labels: ArrayLike<number>, probs: ArrayLike<number>, threshold = 0.5): number {
  const n = checkLengths('accuracy', labels, probs);
  let correct = 0;
  for (let i = 0; i < n; i++) if (probs[i] > threshold === isPositive(labels[i])) correct++;
  return correct / n;
}

export interface ClassificationReport {
  type: 'classification';
  /** Null when the set has one class only (see aucReason). */
  auc: number | null;
  aucReason?: string;
  logloss: number;
  n: number;
  positives: number;
}

export interface RegressionReport {
  type: 'regression';
  mse: number;
  mae: number;
  n: number;
}

export type TaskReport = ClassificationReport | RegressionReport;

/** The standard metrics of one task over the whole evaluation set (preds are probabilities for classification). */
export function evaluateTask(type: 'classification', labels: ArrayLike<number>, preds: ArrayLike<number>): ClassificationReport;
export function evaluateTask(type: 'regression', labels: ArrayLike<number>, preds: ArrayLike<number>): RegressionReport;
export function evaluateTask(type: 'classification' | 'regression', labels: ArrayLike<number>, preds: ArrayLike<number>): TaskReport;
export function evaluateTask(type: 'classification' | 'regression', labels: ArrayLike<number>, preds: ArrayLike<number>): TaskReport {
  if (type === 'regression') return { type, mse: mse(labels, preds), mae: mae(labels, preds), n: labels.length };
  if (type !== 'classification') throw new Error(`evaluateTask: unknown task type '${String(type)}'; use 'classification' or 'regression'`);
  const a = auc(labels, preds);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (isPositive(labels[i])) positives++;
  return {
    type,
    auc: a.value,
    ...(a.reason ? { aucReason: a.reason } : {}),
    logloss: logloss(labels, preds),
    n: labels.length,
    positives,
  };
}
