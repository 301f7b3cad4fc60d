// Ops: a forward through the backend's primitives plus a backward rule written in terms of other
// ops, so every rule works on every backend. Each op validates its inputs before allocating
// anything, so a failed op leaves its inputs untouched. The ops live in ops/, one family a file;
// this file is their public face (import * as ops from '.../tensor/ops.js'): every export of a family
// file is public, so a new op needs no line here; shared internals live in ops/internal.ts and ops/raw.ts.
export { contiguousStrides, type DType } from '../backend/backend.js';
export * from './ops/batchnorm.js';
export * from './ops/dropout.js';
export * from './ops/elementwise.js';
export * from './ops/gather.js';
export * from './ops/gating.js';
export { broadcastShapes } from './ops/internal.js';
export * from './ops/linalg.js';
export * from './ops/losses.js';
export * from './ops/reduce.js';
export * from './ops/shape.js';
export { full, zeros } from './tensor.js';
