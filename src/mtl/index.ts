// Task balancing: strategies behind the BalanceStrategy interface, createStrategy() from a spec such as
// torch-rechub's adaptive_params ({ method: 'gradnorm', alpha: 1.5 }) through the registry of methods
// (registry.ts), and the gradient inspector.

export type { CAGradOptions, CAGradSolution } from './cagrad.js';
export { CAGRAD_MAX_TASKS, CAGrad, cagradDirection, cagradMethod, cagradObjective, solveCAGradDual } from './cagrad.js';
export type { BalanceContextInit, MTLBalanceContext } from './context.js';
export { makeBalanceContext, modelBalanceContext } from './context.js';
export type { DWAOptions } from './dwa.js';
export { DWA, dwaMethod, dwaWeights } from './dwa.js';
export type { FixedWeightsOptions } from './fixed.js';
export { FixedWeights, fixedMethod } from './fixed.js';
export type { GradNormOptions } from './gradnorm.js';
export { GradNorm, gradNormLayer, gradNormMethod } from './gradnorm.js';
export type { ExpertReport, GradientReport, GroupReport, InspectBatch, InspectOptions, RecordedReport } from './inspector.js';
export { GradientRecorder, inspectGradients } from './inspector.js';
export type { MetaBalanceOptions } from './metabalance.js';
export { isBalanceStrategy, MetaBalance, metaBalanceMethod } from './metabalance.js';
export type { PCGradOptions } from './pcgrad.js';
export { PCGrad, pcgradMethod, projectConflicting, projectionOrder } from './pcgrad.js';
export type { StrategyMethod, StrategySpec } from './registry.js';
export { BALANCE_METHODS, createStrategy, findBalanceMethod, STRATEGY_METHODS } from './registry.js';
export type {
  BalanceContext,
  BalanceMethod,
  BalanceStrategy,
  Paper,
  StepReport,
  StrategyDefaults,
  StrategySnapshot,
  StrategyState,
} from './strategy.js';
export { balanceMethod } from './strategy.js';
export type { UWLOptions } from './uwl.js';
export { UWL, uwlMethod } from './uwl.js';
