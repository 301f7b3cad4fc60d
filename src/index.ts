// webmtl: multi-task learning for recommendation on a small tensor engine (WebGPU, WebAssembly + CPU).

export type {
  Backend,
  BackendStats,
  BatchNormShape,
  Buffer,
  DType,
  MatmulShape,
  OutOfMemoryInfo,
  RowPlacement,
  TypedArray,
} from './backend/backend.js';
export { OutOfMemoryError } from './backend/backend.js';
export type { CpuBackendOptions } from './backend/cpu/cpu-backend.js';
export { CpuBackend } from './backend/cpu/cpu-backend.js';
export type { WasmBackendOptions } from './backend/wasm/wasm-backend.js';
export { createWasmBackend, WasmBackend } from './backend/wasm/wasm-backend.js';
export { WebGPUPackageMissingError } from './backend/webgpu/device.js';
export * from './data/index.js';
export type { BundleTask, ModelSource, PredictRow, SaveModelOptions } from './deploy/bundle.js';
export { decodeModel, encodeModel, loadModel, MODEL_BUNDLE_FORMAT, ModelBundle, ModelBundleError, saveModel } from './deploy/bundle.js';
export type {
  CellSummary,
  Claim,
  ExperimentModel,
  ExperimentResult,
  MmoeSyntheticExperimentOptions,
  RunResult,
} from './experiments/mmoe-synthetic.js';
export {
  checkClaims,
  EXPERIMENT_DEFAULTS,
  EXPERIMENT_MODELS,
  formatClaims,
  formatTable,
  matchedBottomUnits,
  PAPER_SIZES,
  runMmoeSynthetic,
  summarize,
} from './experiments/mmoe-synthetic.js';
export type { WalkthroughOptions, WalkthroughResult } from './experiments/walkthrough.js';
export { formatWalkthrough, runWalkthrough } from './experiments/walkthrough.js';
export * from './features.js';
export type { BackendName, InitOptions } from './init.js';
export { createBackend, init } from './init.js';
export * from './io/checkpoint.js';
export * from './io/onnx/index.js';
export * from './io/safetensors.js';
export * from './io/torch-rechub.js';
export * from './models/index.js';
export * from './mtl/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export type { ExperimentReportInput, ExperimentReportResult, TrainingReportInput } from './report/html.js';
export { renderExperimentReport, renderReport, writeReport } from './report/html.js';
export * from './tensor/index.js';
export type { Predictions } from './train/evaluate.js';
export { collectPredictions, evaluateMultiTask, outputsByName, resultNames, scorePredictions } from './train/evaluate.js';
export * from './train/metrics.js';
export type { ProgressEvent, ProgressMode } from './train/progress.js';
export type { EpochRecord, History, MTLTrainerOptions, OptimizerName, OptimizerParams, SchedulerSpec } from './train/trainer.js';
export {
  describeEpoch,
  MTLTrainer,
  NonFiniteGradientError,
  NonFiniteLossError,
  NonFiniteStatisticsError,
  NonFiniteStepError,
} from './train/trainer.js';
export { VERSION } from './version.js';
