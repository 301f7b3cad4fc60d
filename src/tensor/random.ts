// Seeded tensors: the global generator, random tensors and the initialisers, drawing from the host
// generator of src/rng.ts (re-exported here), so the same seed reproduces the same run on every backend.
import { Random } from '../rng.js';
import { getBackend } from './engine.js';
import { type CreateOptions, fromArray, type Shape, sizeOf, type Tensor } from './tensor.js';

export { deriveSeed, isRandomState, mix32, Random, type RandomState } from '../rng.js';

let globalRandom = new Random(2022);

/** Seeds the global generator used when no seed is given. */
export function seed(s: number): void {
  globalRandom = new Random(s);
}

export function globalRng(): Random {
  return globalRandom;
}

export interface RandomOptions extends CreateOptions {
  seed?: number;
}

function fill(shape: Shape, opts: RandomOptions, draw: (r: Random) => number): Tensor {
  const r = opts.seed !== undefined ? new Random(opts.seed) : globalRandom;
  const values = new Float32Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = draw(r);
  return fromArray(values, shape, { ...opts, dtype: 'f32', backend: opts.backend ?? getBackend() });
}

export const randn = (shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor =>
  fill(shape, opts, (r) => (opts.mean ?? 0) + (opts.std ?? 1) * r.normal());

export const rand = (shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor =>
  fill(shape, opts, (r) => (opts.low ?? 0) + ((opts.high ?? 1) - (opts.low ?? 0)) * r.uniform());

/** fan_in and fan_out of a weight stored [in, out] (our Linear layout) or a 1-D tensor. */
function fans(shape: Shape): [number, number] {
  if (shape.length < 2) return [shape[0] ?? 1, shape[0] ?? 1];
  const receptive = sizeOf(shape.slice(0, -2));
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

/** Initialisers by name, for layers and users. */
export const init = {
  uniform: (shape: Shape, low: number, high: number, opts: RandomOptions = {}) => rand(shape, { ...opts, low, high }),
  normal: (shape: Shape, mean: number, std: number, opts: RandomOptions = {}) => randn(shape, { ...opts, mean, std }),
  xavierUniform(shape: Shape, opts: RandomOptions = {}): Tensor {
    const [fanIn, fanOut] = fans(shape);
    const bound = Math.sqrt(6 / (fanIn + fanOut));
    return rand(shape, { ...opts, low: -bound, high: bound });
  },
  xavierNormal(shape: Shape, opts: RandomOptions = {}): Tensor {
    const [fanIn, fanOut] = fans(shape);
    return randn(shape, { ...opts, std: Math.sqrt(2 / (fanIn + fanOut)) });
  },
  /** He initialisation for ReLU layers (gain √2, fan_in mode). */
  kaimingUniform(shape: Shape, opts: RandomOptions = {}): Tensor {
    const bound = Math.sqrt(6 / fans(shape)[0]);
    return rand(shape, { ...opts, low: -bound, high: bound });
  },
  kaimingNormal(shape: Shape, opts: RandomOptions = {}): Tensor {
    return randn(shape, { ...opts, std: Math.sqrt(2 / fans(shape)[0]) });
  },
};
