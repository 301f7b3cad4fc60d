// Dropout: inverted dropout with a seeded, backend-independent mask.
import { empty, type Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
import { needFloat } from './internal.js';

/** Inverted dropout with a seeded mask: same seed, same mask, on every backend. */
export function dropout(x: Tensor, p: number, opts: { training: boolean; seed: number }): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!opts.training || p === 0) return x;
  needFloat('dropout', [x]);
  if (x.size === 0) return x;
  const mask = empty(x.shape, 'f32', x.backend);
  x.backend.dropoutMask(mask.buffer, x.size, p, opts.seed >>> 0);
  return mul(x, mask);
}
