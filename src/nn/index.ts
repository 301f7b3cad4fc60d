export type { FeatureBatch } from './embedding-layer.js';
export { EmbeddingLayer } from './embedding-layer.js';
export type { ExpertsOptions } from './experts.js';
export { Experts, Gate, GroupedBatchNorm } from './experts.js';
export type { ActivationName, MLPOptions } from './layers.js';
export { activation, BatchNorm1d, Dice, Dropout, Embedding, Linear, MLP, PReLU } from './layers.js';
export { Module } from './module.js';
export type { TorchCounterEntry, TorchEntry, TorchTensorEntry } from './torch-layout.js';
