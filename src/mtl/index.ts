// Task balancing: strategies behind the BalanceStrategy interface, createStrategy() from a spec such as
// torch-rechub's adaptive_params ({ method: 'gradnorm', alpha: 1.5 }), and the gradient inspector.
import type { TaskTypeInput } from '../models/base.js';
import { describeUnknown, unknownKeys } from '../options.js';
import { CAGrad, type CAGradOptions } from './cagrad.js';
import { DWA, type DWAOptions } from './dwa.js';
import { FixedWeights, type FixedWeightsOptions } from './fixed.js';
import { GradNorm, type GradNormOptions } from './gradnorm.js';
import { MetaBalance, type MetaBalanceOptions } from './metabalance.js';
import { PCGrad, type PCGradOptions } from './pcgrad.js';
import type { BalanceStrategy } from './strategy.js';
import { UWL, type UWLOptions } from './uwl.js';

export type { BalanceContext, BalanceStrategy, StepReport, StrategyState } from './strategy.js';
export { makeBalanceContext, modelBalanceContext } from './context.js';
export type { BalanceContextInit, MTLBalanceContext } from './context.js';
export { FixedWeights, UWL, GradNorm, MetaBalance, PCGrad, DWA, CAGrad };
export type { FixedWeightsOptions, UWLOptions, GradNormOptions, MetaBalanceOptions, PCGradOptions, DWAOptions, CAGradOptions };
export { gradNormLayer } from './gradnorm.js';
export { isBalanceStrategy } from './metabalance.js';
export { projectionOrder, projectConflicting } from './pcgrad.js';
export { dwaWeights } from './dwa.js';
export { cagradDirection, solveCAGradDual, cagradObjective, CAGRAD_MAX_TASKS } from './cagrad.js';
export type { CAGradSolution } from './cagrad.js';
export { inspectGradients, GradientRecorder } from './inspector.js';
export type { GradientReport, GroupReport, ExpertReport, InspectOptions, InspectBatch, RecordedReport } from './inspector.js';

export type StrategySpec =
  | ({ method: 'fixed' } & FixedWeightsOptions)
  | ({ method: 'uwl' } & UWLOptions)
  | ({ method: 'gradnorm' } & GradNormOptions)
  | ({ method: 'metabalance' } & MetaBalanceOptions)
  | ({ method: 'pcgrad' } & PCGradOptions)
  | ({ method: 'dwa' } & DWAOptions)
  | ({ method: 'cagrad' } & CAGradOptions);

export type StrategyMethod = StrategySpec['method'];

/** What the caller (the trainer) knows that some strategies need: the trained tasks' types (UWL). */
export interface StrategyDefaults {
  taskTypes?: TaskTypeInput[];
}

const OPTIONS: Record<StrategyMethod, string[]> = {
  fixed: ['weights'],
  uwl: ['taskTypes', 'nTask', 'backend'],
  gradnorm: ['alpha', 'layer', 'lr', 'minWeight'],
  metabalance: ['relaxFactor', 'beta', 'targetTask', 'nTask'],
  pcgrad: ['seed'],
  dwa: ['temperature'],
  cagrad: ['c', 'rescale', 'iterations'],
};

export const STRATEGY_METHODS = Object.keys(OPTIONS) as StrategyMethod[];

/**
 * A strategy from a spec: { method, ...options } (or just the method name). Method names are
 * case-insensitive; unknown methods and unknown option names are errors.
 */
export function createStrategy(spec: StrategySpec | StrategyMethod, defaults: StrategyDefaults = {}): BalanceStrategy {
  const given = typeof spec === 'string' ? { method: spec } : spec;
  if (!given || typeof given !== 'object' || typeof given.method !== 'string') {
    throw new Error(`createStrategy: expected { method: '${STRATEGY_METHODS.join("' | '")}', ...options }, got ${JSON.stringify(spec)}`);
  }
  const method = given.method.toLowerCase() as StrategyMethod;
  if (!Object.hasOwn(OPTIONS, method)) {
    throw new Error(`createStrategy: unknown method '${given.method}'; known methods: ${STRATEGY_METHODS.join(', ')}`);
  }
  const { method: _m, ...options } = given as { method: string } & Record<string, unknown>;
  const unknown = unknownKeys(options, OPTIONS[method]);
  if (unknown.length) {
    throw new Error(`createStrategy: ${method} has no option${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, OPTIONS[method])}; its options are ${OPTIONS[method].join(', ') || '(none)'}`);
  }
  switch (method) {
    case 'fixed': return new FixedWeights(options as FixedWeightsOptions);
    case 'uwl': {
      const o = options as UWLOptions;
      return new UWL({ ...o, taskTypes: o.taskTypes ?? (o.nTask === undefined ? defaults.taskTypes : undefined) });
    }
    case 'gradnorm': return new GradNorm(options as GradNormOptions);
    case 'metabalance': return new MetaBalance(options as MetaBalanceOptions);
    case 'pcgrad': return new PCGrad(options as PCGradOptions);
    case 'dwa': return new DWA(options as DWAOptions);
    case 'cagrad': return new CAGrad(options as CAGradOptions);
  }
}
