// webmtl: multi-task learning for recommendation on a small tensor engine (WebGPU + CPU).
export * from './tensor/index.js';
export { init, createBackend } from './init.js';
export type { BackendName, InitOptions } from './init.js';
export type { Backend, Buffer, DType, BackendStats, TypedArray } from './backend/backend.js';
export { CpuBackend } from './backend/cpu/cpu-backend.js';
export * from './nn/index.js';
export * from './features.js';
export * from './models/index.js';
export * from './data/index.js';
export * from './optim/index.js';
export * from './train/metrics.js';
export * from './io/safetensors.js';
export * from './io/checkpoint.js';
