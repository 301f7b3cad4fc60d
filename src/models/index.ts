export type { AITMOptions, AITMParams } from './aitm.js';
export { AITM, AITM_CALIBRATOR_WEIGHT, TransferAttention } from './aitm.js';
export type {
  GateMixture,
  MLPParams,
  ModelConfig,
  ParameterGroups,
  SeedOption,
  TaskOptions,
  TaskPlan,
  TaskTerm,
  TaskType,
  TaskTypeInput,
} from './base.js';
export { DEFAULT_TOWER_UNITS, MultiTaskModel, normalizeTaskType, sharedTaskLayers, withEmbeddingDim } from './base.js';
export type { ESMMOptions, ESMMParams } from './esmm.js';
export { ESMM } from './esmm.js';
export type { GateActivation, MMoEOptions, MMoEOptions as MMOEOptions, MoEOptions, MoEParams } from './mmoe.js';
/** MMOE: torch-rechub's class name for MMoE (the same class). */
export { MMoE, MMoE as MMOE } from './mmoe.js';
export type { OMoEOptions } from './omoe.js';
export { OMoE } from './omoe.js';
export type { PLEOptions, PLEParams } from './ple.js';
export { CGCLevel, PLE } from './ple.js';
export type { ModelEntry, ModelName, PresetInput, Schema } from './registry.js';
export { createModel, MODEL_ENTRIES, MODEL_NAMES, modelEntry, modelFromConfig, sparseFeatures } from './registry.js';
export type { SharedBottomOptions, SharedBottomParams } from './shared-bottom.js';
export { SharedBottom } from './shared-bottom.js';
