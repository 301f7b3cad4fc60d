// Host batches (typed arrays from a DataLoader) to device tensors.

import type { Backend } from '../backend/backend.js';
import { SequenceColumn } from '../data/columns.js';
import type { HostBatch } from '../data/loader.js';
import type { Feature } from '../features.js';
import type { FeatureBatch } from '../nn/embedding-layer.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';

export interface DeviceBatch {
  x: FeatureBatch;
  /** Labels [size, nLabel]. */
  y: Tensor;
  size: number;
}

/**
 * Uploads the feature columns `columns` names (all when undefined) and the labels. Given features
 * rather than names, a dense feature's whole-number column (Int32Array: what readCsv's 'auto' makes of
 * "0", "1", ...) is uploaded as float32, the values a dense feature reads.
 */
export function toDevice(batch: HostBatch, backend: Backend, columns?: readonly (string | Feature)[]): DeviceBatch {
  const nLabel = batch.size > 0 ? batch.y.length / batch.size : 0;
  return { x: featuresToDevice(batch, backend, columns), y: fromArray(batch.y, [batch.size, nLabel], { backend }), size: batch.size };
}

/** The feature columns alone (a batch without labels, for prediction); see toDevice. */
export function featuresToDevice(batch: HostBatch, backend: Backend, columns?: readonly (string | Feature)[]): FeatureBatch {
  const x: FeatureBatch = {};
  for (const entry of columns ?? Object.keys(batch.x)) {
    const name = typeof entry === 'string' ? entry : entry.name;
    const col = batch.x[name];
    if (col instanceof SequenceColumn) x[name] = fromArray(col.values, [batch.size, col.width], { backend });
    else if (col instanceof Int32Array && typeof entry !== 'string' && entry.kind === 'dense')
      x[name] = fromArray(Float32Array.from(col), [batch.size], { backend });
    else if (col) x[name] = fromArray(col, [batch.size], { backend });
  }
  return x;
}
