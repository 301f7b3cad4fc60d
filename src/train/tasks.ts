// Which model output is trained and evaluated against which label column. Usually output i against
// label i; ESMM (Ma et al., SIGIR 2018) trains pCTR and pCTCVR over all impressions and reports the
// CVR it learns implicitly on clicked rows, where conversion is defined.
import type { MultiTaskModel, TaskType } from '../models/base.js';
import { ESMM } from '../models/esmm.js';

export interface TaskTerm {
  name: string;
  type: TaskType;
  /** Column of the model output [batch, nOut]. */
  output: number;
  /** Column of the labels [batch, nLabel]. */
  label: number;
  /** Evaluate only rows where this label column is 1 (ESMM's CVR: clicked rows). */
  onlyWhere?: number;
}

export interface TaskPlan {
  /** The losses the trainer minimises, in order (task weights and balancing refer to these). */
  train: TaskTerm[];
  /** What evaluation reports. */
  evaluate: TaskTerm[];
  /** Number of label columns the data must have. */
  nLabel: number;
}

/**
 * ESMM's labels: two columns [click, purchase] (Ali-CCP order: CTR then CTCVR, since purchase ⇒ click),
 * or three in torch-rechub's order [cvr, ctr, ctcvr].
 */
function esmmPlan(nLabel: number): TaskPlan {
  if (nLabel !== 2 && nLabel !== 3) {
    throw new Error(`ESMM needs labels [click, purchase] (2 columns) or [cvr, ctr, ctcvr] (3 columns); the data has ${nLabel}`);
  }
  const [ctr, ctcvr] = nLabel === 2 ? [0, 1] : [1, 2];
  const c = 'classification' as const;
  return {
    nLabel,
    train: [
      { name: 'ctr', type: c, output: 1, label: ctr },
      { name: 'ctcvr', type: c, output: 2, label: ctcvr },
    ],
    evaluate: [
      { name: 'ctr', type: c, output: 1, label: ctr },
      { name: 'ctcvr', type: c, output: 2, label: ctcvr },
      { name: 'cvr', type: c, output: 0, label: ctcvr, onlyWhere: ctr },
    ],
  };
}

/** The plan for a model and data with `nLabel` label columns named `labelNames`. */
export function taskPlan(model: MultiTaskModel, nLabel: number, names?: string[]): TaskPlan {
  if (model instanceof ESMM) return esmmPlan(nLabel);
  if (nLabel !== model.nTask) {
    throw new Error(
      `${model.constructor.name} has ${model.nTask} tasks (${model.taskNames.join(', ')}) but the data has ${nLabel} label column(s); give one label column per task`,
    );
  }
  const terms = model.taskTypes.map((type, i) => ({ name: names?.[i] ?? model.taskNames[i], type, output: i, label: i }));
  return { nLabel, train: terms, evaluate: terms };
}

/** Checks a host label block [rows, nLabel] against the plan: 0/1 for classification, finite always. */
export function checkLabels(y: Float32Array, plan: TaskPlan, where: string): void {
  const rows = y.length / plan.nLabel;
  for (const t of plan.train) {
    for (let r = 0; r < rows; r++) {
      const v = y[r * plan.nLabel + t.label];
      if (t.type === 'classification' ? v !== 0 && v !== 1 : !Number.isFinite(v)) {
        throw new Error(
          `Label of task '${t.name}' is ${v} in row ${r} of ${where}; a ${t.type} task needs ${t.type === 'classification' ? '0 or 1' : 'finite values'}. ` +
            (t.type === 'classification' ? "Binarise the label or declare the task 'regression'." : 'Drop or fill the missing labels.'),
        );
      }
    }
  }
}
