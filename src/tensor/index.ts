export { getBackend, isGradEnabled, keep, noGrad, setBackend, tidy, tidyAsync } from './engine.js';
export * from './ops.js';
export type { RandomOptions } from './random.js';
export { globalRng, init as initializers, Random, type RandomState, rand, randn, seed } from './random.js';
export type { CreateOptions, GradNode, NestedArray, Shape } from './tensor.js';
export { backward, fromArray, full, grad, ones, Storage, sizeOf, Tensor, tensor, zeros } from './tensor.js';
