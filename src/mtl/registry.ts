// The balancing methods, in one list: createStrategy(), STRATEGY_METHODS, the StrategySpec type, the
// CLI's --balance choices and help, and the docs test all read it. A new method is its file (the
// strategy and its balanceMethod() entry) and one line in BALANCE_METHODS.
import { describeUnknown, unknownKeys } from '../options.js';
import { cagradMethod } from './cagrad.js';
import { dwaMethod } from './dwa.js';
import { fixedMethod } from './fixed.js';
import { gradNormMethod } from './gradnorm.js';
import { metaBalanceMethod } from './metabalance.js';
import { pcgradMethod } from './pcgrad.js';
import type { BalanceMethod, BalanceStrategy, StrategyDefaults } from './strategy.js';
import { uwlMethod } from './uwl.js';

export const BALANCE_METHODS = [fixedMethod, uwlMethod, gradNormMethod, metaBalanceMethod, pcgradMethod, dwaMethod, cagradMethod] as const;

/** A spec of one entry: { method: name, ...its options }. */
type SpecOf<M> = M extends BalanceMethod<infer Name, infer Options> ? { method: Name } & Options : never;

/** { method, ...options } for any registered method, e.g. { method: 'gradnorm', alpha: 1.5 }. */
export type StrategySpec = SpecOf<(typeof BALANCE_METHODS)[number]>;
export type StrategyMethod = StrategySpec['method'];

export const STRATEGY_METHODS: StrategyMethod[] = BALANCE_METHODS.map((m) => m.name);

/** The entry of a method name (case-insensitive) in `methods`, if any. */
export function findBalanceMethod(name: string, methods: readonly BalanceMethod[] = BALANCE_METHODS): BalanceMethod | undefined {
  const key = name.toLowerCase();
  return methods.find((m) => m.name === key);
}

/**
 * A strategy from a spec: { method, ...options } (or just the method name). Method names are
 * case-insensitive; unknown methods and unknown option names are errors. `methods` is the list to
 * choose from (default: the registered ones), so a method of your own needs no edit here.
 */
export function createStrategy(
  spec: StrategySpec | StrategyMethod,
  defaults: StrategyDefaults = {},
  methods: readonly BalanceMethod[] = BALANCE_METHODS,
): BalanceStrategy {
  const names = methods.map((m) => m.name);
  const given = typeof spec === 'string' ? { method: spec } : spec;
  if (!given || typeof given !== 'object' || typeof given.method !== 'string') {
    throw new Error(`createStrategy: expected { method: '${names.join("' | '")}', ...options }, got ${JSON.stringify(spec)}`);
  }
  const entry = findBalanceMethod(given.method, methods);
  if (!entry) throw new Error(`createStrategy: unknown method '${given.method}'; known methods: ${names.join(', ')}`);
  const { method: _m, ...options } = given as { method: string } & Record<string, unknown>;
  const unknown = unknownKeys(options, entry.options);
  if (unknown.length) {
    throw new Error(
      `createStrategy: ${entry.name} has no option${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, entry.options)}; its options are ${entry.options.join(', ') || '(none)'}`,
    );
  }
  return entry.create(options, defaults);
}
