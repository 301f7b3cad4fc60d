// Host batches (typed arrays from a DataLoader) to device tensors.

import type { Backend } from '../backend/backend.js';
import { SequenceColumn } from '../data/columns.js';
import type { HostBatch } from '../data/loader.js';
import type { FeatureBatch } from '../nn/embedding-layer.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';

export interface DeviceBatch {
  x: FeatureBatch;
  /** Labels [size, nLabel]. */
  y: Tensor;
  size: number;
}

/** Uploads the columns the model reads (all columns when `columns` is undefined) and the labels. */
export function toDevice(batch: HostBatch, backend: Backend, columns?: readonly string[]): DeviceBatch {
  const x: FeatureBatch = {};
  for (const name of columns ?? Object.keys(batch.x)) {
    const col = batch.x[name];
    if (col instanceof SequenceColumn) x[name] = fromArray(col.values, [batch.size, col.width], { backend });
    else if (col) x[name] = fromArray(col, [batch.size], { backend });
  }
  const nLabel = batch.size > 0 ? batch.y.length / batch.size : 0;
  return { x, y: fromArray(batch.y, [batch.size, nLabel], { backend }), size: batch.size };
}
