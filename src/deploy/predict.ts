// Scoring with a loaded model bundle: model inputs (ids and numbers, from the bundle's preprocessing
// or given directly) in batches through the model in eval mode, one Float32Array per task out.
// Browser-safe; the CLI's streaming `webmtl predict` (predict-table.ts) uses the same steps per block.
import { ColumnarDataset, type Columns, padSequences } from '../data/columns.js';
import { DataError } from '../data/errors.js';
import { DataLoader } from '../data/loader.js';
import { type FeatureSchema, validateFeatures, validateSparseIds } from '../data/validate.js';
import type { MultiTaskModel } from '../models/base.js';
import { collectPredictions } from '../train/evaluate.js';
import type { ModelBundle, PredictRow } from './bundle.js';

/** Rows per forward pass when predicting (memory grows with it; the result does not depend on it). */
export const PREDICT_BATCH_SIZE = 4096;

/** What validateFeatures checks for the model's inputs: every feature present, ids in range, finite numbers. */
export function inputSchema(model: MultiTaskModel): FeatureSchema {
  const schema: Required<FeatureSchema> = { sparse: {}, dense: [], sequence: {} };
  for (const f of model.features) {
    if (f.kind === 'sparse') schema.sparse[f.name] = f.vocabSize;
    else if (f.kind === 'dense') (schema.dense as string[]).push(f.name);
    else schema.sequence[f.name] = { vocabSize: f.vocabSize, maxLen: f.maxLen };
  }
  return schema;
}

/**
 * Rows of model inputs (a bundle saved without preprocessing): a sparse feature's id, a dense
 * feature's number, a sequence feature's list of ids (padded in front with the feature's paddingIdx
 * or 0 to its maxLen, or to the longest list). Checked as training data is.
 */
export function rowsToModelInputs(model: MultiTaskModel, rows: readonly PredictRow[]): ColumnarDataset {
  const columns: Columns = {};
  const cell = (i: number, name: string): unknown => {
    const row = rows[i];
    if (row === null || typeof row !== 'object')
      throw new DataError(`Row ${i} is ${String(row)}, not an object of column values. Fix: pass one { column: value } object per row.`, {
        row: i,
      });
    if (!(name in row))
      throw new DataError(`Row ${i} has no value for feature "${name}". Fix: give every row a value for each of the model's features.`, {
        row: i,
        column: name,
      });
    return row[name];
  };
  for (const f of model.features) {
    if (f.kind === 'sequence') {
      const lists = rows.map((_, i) => {
        const v = cell(i, f.name);
        if (!Array.isArray(v))
          throw new DataError(`Row ${i}: sequence feature "${f.name}" needs a list of ids, got ${JSON.stringify(v)}.`, {
            row: i,
            column: f.name,
          });
        return v as number[];
      });
      columns[f.name] = padSequences(lists, { maxlen: f.maxLen, value: f.paddingIdx ?? 0 });
    } else {
      // Ids are checked as the numbers given, before they become int32 (2^32 + 1 must not pass as 1).
      const out = f.kind === 'sparse' ? new Float64Array(rows.length) : new Float32Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const v = cell(i, f.name);
        if (typeof v !== 'number' || (f.kind === 'sparse' && !Number.isInteger(v)))
          throw new DataError(
            `Row ${i}: feature "${f.name}" needs ${f.kind === 'sparse' ? 'an integer id' : 'a number'}, got ${JSON.stringify(v)}. ` +
              'Fix: pass the model inputs, or save the bundle with its preprocessing (saveModel(file, model, { preprocessor })) to predict on raw values.',
            { row: i, column: f.name, value: v },
          );
        out[i] = v;
      }
      if (f.kind === 'sparse') validateSparseIds(f.name, out, f.vocabSize);
      columns[f.name] = out instanceof Float64Array ? Int32Array.from(out) : out;
    }
  }
  validateFeatures(columns, inputSchema(model), 'the rows');
  return new ColumnarDataset(columns, new Float32Array(0), [], rows.length);
}

/** The model's outputs for every row of `inputs` (features only), one Float32Array per task, by task name. */
export async function predictColumns(
  bundle: ModelBundle,
  inputs: ColumnarDataset,
  batchSize = PREDICT_BATCH_SIZE,
): Promise<Record<string, Float32Array>> {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new DataError(`predict: batchSize must be a whole number ≥ 1, got ${batchSize}.`);
  const names = bundle.tasks.map((t) => t.name);
  const out: Record<string, Float32Array> = Object.fromEntries(names.map((n) => [n, new Float32Array(inputs.length)]));
  if (inputs.length === 0) return out;
  const p = await collectPredictions(
    bundle.model,
    new DataLoader(inputs, { batchSize, features: bundle.model.features.map((f) => f.name) }),
  );
  names.forEach((name, k) => {
    const column = out[name];
    for (let r = 0; r < p.rows; r++) column[r] = p.outputs[r * p.nOut + k];
  });
  return out;
}
