// Labels against the plan of the losses a model trains. The models own the plan
// (MultiTaskModel.taskPlan: usually output i against label i; ESMM trains pCTR and pCTCVR over all
// impressions); this file checks label values against it.
import type { TaskPlan } from '../models/base.js';

export type { TaskPlan, TaskTerm } from '../models/base.js';

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
