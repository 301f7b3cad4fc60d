// A seeded random batch for a model's features: normal values for dense features, ids below each
// sparse feature's vocabulary, and 0/1 labels (40% ones) for nLabel tasks.
import type { Feature } from '../../src/features.js';
import * as wm from '../../src/tensor/index.js';

export function randomBatch(
  features: readonly Feature[],
  rows: number,
  nLabel: number,
  seed: number,
): { x: Record<string, wm.Tensor>; y: wm.Tensor } {
  const r = new wm.Random(seed);
  const x = randomFeatures(features, rows, r);
  const y = wm.fromArray(
    Float32Array.from({ length: rows * nLabel }, () => (r.uniform() < 0.4 ? 1 : 0)),
    [rows, nLabel],
  );
  return { x, y };
}

/** The features of randomBatch alone, drawn from `r` (a seed gives randomBatch's x). */
export function randomFeatures(features: readonly Feature[], rows: number, r: wm.Random): Record<string, wm.Tensor> {
  const x: Record<string, wm.Tensor> = {};
  for (const f of features) {
    x[f.name] =
      f.kind === 'dense'
        ? wm.fromArray(
            Float32Array.from({ length: rows }, () => r.normal()),
            [rows],
          )
        : wm.fromArray(
            Int32Array.from({ length: rows }, () => r.int(f.vocabSize)),
            [rows],
          );
  }
  return x;
}
