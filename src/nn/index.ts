export { Module } from './module.js';
export { Linear, BatchNorm1d, Dropout, Embedding, MLP, PReLU, Dice, activation } from './layers.js';
export type { ActivationName, MLPOptions } from './layers.js';
export { EmbeddingLayer } from './embedding-layer.js';
export type { FeatureBatch } from './embedding-layer.js';
export { Experts, Gate, GroupedBatchNorm } from './experts.js';
export type { ExpertsOptions } from './experts.js';
export type { TorchEntry, TorchTensorEntry, TorchCounterEntry } from './torch-layout.js';
