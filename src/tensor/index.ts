export { Tensor, Storage, tensor, fromArray, zeros, ones, full, backward, grad, sizeOf } from './tensor.js';
export type { Shape, NestedArray, CreateOptions, GradNode } from './tensor.js';
export { noGrad, tidy, tidyAsync, keep, getBackend, setBackend, isGradEnabled } from './engine.js';
export { Random, seed, randn, rand, init as initializers, globalRng, type RandomState } from './random.js';
export type { RandomOptions } from './random.js';
export * from './ops.js';
