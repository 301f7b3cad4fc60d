// Ops: a forward through the backend's primitives plus a backward rule written in terms of other
// ops, so every rule works on every backend. Each op validates its inputs before allocating
// anything, so a failed op leaves its inputs untouched. The ops live in ops/, one family a file;
// this file is their public face (import * as ops from '.../tensor/ops.js').
export { contiguousStrides, type DType } from '../backend/backend.js';
export { full, zeros } from './tensor.js';
export { broadcastShapes } from './ops/internal.js';
export { abs, add, affine, clamp, div, exp, leakyRelu, log, maximum, mul, neg, pow, prelu, relu, sigmoid, sqrt, square, sub, tanh, where } from './ops/elementwise.js';
export { logSoftmax, max, mean, softmax, sum, sumTo } from './ops/reduce.js';
export { assign, broadcastTo, concat, pad, reshape, slice, split, squeeze, stack, transpose, unsqueeze } from './ops/shape.js';
export { linear, matmul, type MatmulOptions } from './ops/linalg.js';
export { gatherConcat, gatherRows, indexSelect, scatterAddRows, type RowLookup } from './ops/gather.js';
export { binaryCrossEntropy, binaryCrossEntropyWithLogits, mseLoss, type Reduction } from './ops/losses.js';
export { batchNorm1d, type BatchNormState } from './ops/batchnorm.js';
export { dropout } from './ops/dropout.js';
export { gateMix } from './ops/gating.js';
