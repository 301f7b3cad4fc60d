// Task balancing: strategies behind the BalanceStrategy interface, createStrategy() from a spec such as
// torch-rechub's adaptive_params ({ method: 'gradnorm', alpha: 1.5 }) through the registry of methods
// (registry.ts), and the gradient inspector.
export type { BalanceContext, BalanceMethod, BalanceStrategy, Paper, StepReport, StrategyDefaults, StrategySnapshot, StrategyState } from './strategy.js';
export { balanceMethod } from './strategy.js';
export { BALANCE_METHODS, STRATEGY_METHODS, createStrategy, findBalanceMethod } from './registry.js';
export type { StrategyMethod, StrategySpec } from './registry.js';
export { makeBalanceContext, modelBalanceContext } from './context.js';
export type { BalanceContextInit, MTLBalanceContext } from './context.js';
export { FixedWeights, fixedMethod } from './fixed.js';
export type { FixedWeightsOptions } from './fixed.js';
export { UWL, uwlMethod } from './uwl.js';
export type { UWLOptions } from './uwl.js';
export { GradNorm, gradNormMethod, gradNormLayer } from './gradnorm.js';
export type { GradNormOptions } from './gradnorm.js';
export { MetaBalance, metaBalanceMethod, isBalanceStrategy } from './metabalance.js';
export type { MetaBalanceOptions } from './metabalance.js';
export { PCGrad, pcgradMethod, projectionOrder, projectConflicting } from './pcgrad.js';
export type { PCGradOptions } from './pcgrad.js';
export { DWA, dwaMethod, dwaWeights } from './dwa.js';
export type { DWAOptions } from './dwa.js';
export { CAGrad, cagradMethod, cagradDirection, solveCAGradDual, cagradObjective, CAGRAD_MAX_TASKS } from './cagrad.js';
export type { CAGradOptions, CAGradSolution } from './cagrad.js';
export { inspectGradients, GradientRecorder } from './inspector.js';
export type { GradientReport, GroupReport, ExpertReport, InspectOptions, InspectBatch, RecordedReport } from './inspector.js';
