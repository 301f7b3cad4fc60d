// The tutorials' spellings of model and trainer options, and how each maps onto the one vocabulary the
// code reads inside: torch-rechub's API in camelCase (nExpert, expertParams, towerParamsList, nEpoch,
// adaptiveParams, ...). Every model constructor and MTLTrainer call toInternal() first; past it only
// internal names exist. A leaf module: it renames and reshapes plain option objects, and whatever it
// needs from elsewhere (rebuilding features) is passed in.
import { describeUnknown, unknownKeys } from './options.js';

/** What the caller lends the conversions. */
export interface SpellingContext {
  /** Rebuilds features with another embedding size (models/base.ts's withEmbeddingDim). */
  withEmbeddingDim?: (features: unknown[], dim: number) => unknown[];
  /** Number of trained losses (the trainer: how many taskWeights there must be). */
  nTrained?: number;
}

/** Where a conversion runs: what the target holds so far, the options being built and the ones given. */
export interface SpellingScope {
  where: string;
  /** The target's value so far (given under its internal name, or set by an earlier spelling). */
  current: unknown;
  /** The internal options built so far. */
  options: Record<string, unknown>;
  /** The options as given. */
  given: Record<string, unknown>;
  context: SpellingContext;
}

/** One tutorial name: the internal option(s) it gives, and how its value is reshaped. */
export interface Spelling {
  /** The internal option(s) it sets; none for an option that is only checked (gateActivation). */
  to: readonly string[];
  /** The internal value from the tutorial's (default: as given). */
  convert?: (value: unknown, scope: SpellingScope) => unknown;
  /** This name is a spelling only for values it accepts (the trainer's optimizer: a MetaBalance); others keep the name. */
  when?: (value: unknown) => boolean;
  /** Rewrites its target instead of giving it (embeddingDim rebuilds the features), so never disagrees with it. */
  rewrites?: boolean;
}

/** A model's or the trainer's tutorial names, in the order they are applied. */
export type Spellings = Readonly<Record<string, Spelling>>;

// ---- the tutorials' names, as types -----------------------------------------------------------------

/** Every model that reads one feature list. */
export interface TaskSpellings {
  /** taskTypes: this many classification tasks. */
  numTasks?: number;
  /** Every sparse and sequence feature rebuilt with this embedding size (a feature built without embedDim cannot be told from one built with 4). */
  embeddingDim?: number;
}

/** towerParamsList: the same tower { dims } for every task. */
export interface TowerSpellings {
  towerUnits?: number[];
  taskHiddenUnits?: number[];
}

/** MMoE and OMoE: numExperts → nExpert, expertUnits / expertActivation → expertParams.dims / .activation. */
export interface MoESpellings extends TaskSpellings, TowerSpellings {
  numExperts?: number;
  expertUnits?: number[];
  expertActivation?: string;
}

/** PLE: numLayers → nLevel, numExperts → nExpertSpecific, numSharedExperts → nExpertShared. */
export interface PLESpellings extends TaskSpellings, TowerSpellings {
  numLayers?: number;
  numExperts?: number;
  numSharedExperts?: number;
  expertUnits?: number[];
  expertActivation?: string;
}

/** SharedBottom and AITM: hiddenUnits → bottomParams.dims (AITM: numTasks → nTask). */
export interface BottomSpellings extends TaskSpellings, TowerSpellings {
  hiddenUnits?: number[];
}

/** ESMM: features → userFeatures; both towers get dims [...hiddenUnits, ...towerUnits]. */
export interface ESMMSpellings<Feature> {
  features?: Feature[];
  hiddenUnits?: number[];
  towerUnits?: number[];
  embeddingDim?: number;
}

/** torch's spellings inside MTLTrainer's optimizerParams (converted to camelCase; weight_decay → weightDecay). */
export interface SnakeOptimizerParams {
  weight_decay?: number;
}

/** MTLTrainer: learningRate → optimizerParams.lr, earlyStopPatience → earlystopPatience, nEpochs → nEpoch; taskWeightsStrategy (+ gradnormAlpha), taskWeights or a MetaBalance as optimizer → adaptiveParams. */
export interface TrainerSpellings<Strategy> {
  nEpochs?: number;
  /** optimizerParams.lr. */
  learningRate?: number;
  /** earlystopPatience. */
  earlyStopPatience?: number;
  /** torch-rechub's earlystop_taskid: earlystopTask as an index. */
  earlystopTaskid?: number;
  /** adaptiveParams.method ('gradnorm', 'uwl', ...). */
  taskWeightsStrategy?: string;
  /** GradNorm's alpha, with taskWeightsStrategy: 'gradnorm'. */
  gradnormAlpha?: number;
  /** Fixed loss weights, one per trained task: adaptiveParams { method: 'fixed', weights }. */
  taskWeights?: number[];
  /** A MetaBalance written in the optimizer's place, torch-rechub style: its strategy balances. */
  optimizer?: { strategy: Strategy };
}

// ---- the tables -------------------------------------------------------------------------------------

const fail = (where: string, message: string): never => {
  throw new Error(`${where}: ${message}`);
};
const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));

/** A list of hidden sizes (expertUnits, towerUnits, ...). */
function units(name: string) {
  return (v: unknown, s: SpellingScope): number[] =>
    Array.isArray(v) && v.every((d) => Number.isInteger(d) && d > 0)
      ? v
      : fail(s.where, `${name} must be a list of hidden sizes (positive whole numbers), got ${show(v)}`);
}

/** Sets one field of an MLP's parameters ({ dims, dropout, activation }), keeping the others given. */
function mlpField(field: 'dims' | 'activation', check: (v: unknown, s: SpellingScope) => unknown) {
  return (v: unknown, s: SpellingScope) => ({ ...(isPlainObject(s.current) ? s.current : {}), [field]: check(v, s) });
}

/** The same tower for every task: towerParamsList from one list of hidden sizes. */
function everyTower(name: string) {
  return (v: unknown, s: SpellingScope) => {
    const dims = units(name)(v, s);
    const o = s.options;
    const n = Array.isArray(o.taskTypes)
      ? o.taskTypes.length
      : typeof o.nTask === 'number'
        ? o.nTask
        : Array.isArray(o.towerParamsList)
          ? o.towerParamsList.length
          : undefined;
    if (n === undefined) fail(s.where, `say how many tasks there are: taskTypes (e.g. ['classification', 'classification']) or numTasks`);
    return Array.from({ length: n! }, () => ({ dims }));
  };
}

function taskCount(v: unknown, s: SpellingScope): number {
  return Number.isInteger(v) && (v as number) >= 1
    ? (v as number)
    : fail(s.where, `numTasks must be a positive whole number, got ${show(v)}`);
}

/** numTasks: that many classification tasks, unless taskTypes (of that length) says which. */
const NUM_TASKS: Spelling = {
  to: ['taskTypes'],
  convert: (v, s) => {
    const n = taskCount(v, s);
    return Array.isArray(s.current) && s.current.length === n ? s.current : Array<string>(n).fill('classification');
  },
};

/** embeddingDim: every sparse and sequence feature rebuilt with that embedding size. */
function embeddingDim(...lists: string[]): Spelling {
  return {
    to: lists,
    rewrites: true,
    convert: (dim, s) =>
      Array.isArray(s.current) && s.context.withEmbeddingDim ? s.context.withEmbeddingDim(s.current, dim as number) : s.current,
  };
}

const TOWERS: Spellings = {
  towerUnits: { to: ['towerParamsList'], convert: everyTower('towerUnits') },
  taskHiddenUnits: { to: ['towerParamsList'], convert: everyTower('taskHiddenUnits') },
};

const EXPERTS: Spellings = {
  expertUnits: { to: ['expertParams'], convert: mlpField('dims', units('expertUnits')) },
  expertActivation: { to: ['expertParams'], convert: mlpField('activation', (v) => v) },
};

/** MMoE and OMoE. */
export const MOE_SPELLINGS: Spellings = {
  numTasks: NUM_TASKS,
  embeddingDim: embeddingDim('features'),
  numExperts: { to: ['nExpert'] },
  ...EXPERTS,
  ...TOWERS,
};

export const PLE_SPELLINGS: Spellings = {
  numTasks: NUM_TASKS,
  embeddingDim: embeddingDim('features'),
  numLayers: { to: ['nLevel'] },
  numExperts: { to: ['nExpertSpecific'] },
  numSharedExperts: { to: ['nExpertShared'] },
  ...EXPERTS,
  ...TOWERS,
};

export const SHARED_BOTTOM_SPELLINGS: Spellings = {
  numTasks: NUM_TASKS,
  embeddingDim: embeddingDim('features'),
  hiddenUnits: { to: ['bottomParams'], convert: mlpField('dims', units('hiddenUnits')) },
  ...TOWERS,
};

export const AITM_SPELLINGS: Spellings = {
  numTasks: { to: ['nTask'], convert: taskCount },
  embeddingDim: embeddingDim('features'),
  hiddenUnits: { to: ['bottomParams'], convert: mlpField('dims', units('hiddenUnits')) },
  ...TOWERS,
};

/** ESMM's tutorial gives both towers dims [...hiddenUnits, ...towerUnits]. */
const esmmTower = (name: string) => (v: unknown, s: SpellingScope) => {
  const part = (k: string) => (s.given[k] === undefined ? [] : units(k)(s.given[k], s));
  units(name)(v, s);
  return { ...(isPlainObject(s.current) ? s.current : {}), dims: [...part('hiddenUnits'), ...part('towerUnits')] };
};

export const ESMM_SPELLINGS: Spellings = {
  features: {
    to: ['userFeatures'],
    convert: (v, s) =>
      s.options.itemFeatures !== undefined || s.current !== undefined
        ? fail(s.where, 'pass either userFeatures and itemFeatures, or features, not both')
        : v,
  },
  hiddenUnits: { to: ['cvrParams', 'ctrParams'], convert: esmmTower('hiddenUnits') },
  towerUnits: { to: ['cvrParams', 'ctrParams'], convert: esmmTower('towerUnits') },
  embeddingDim: embeddingDim('userFeatures', 'itemFeatures'),
};

/** snake_case keys (torch's weight_decay) in camelCase (weightDecay); both spellings of one key must agree. */
function camelKeys(v: Record<string, unknown>, s: SpellingScope, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v)) {
    const camel = k.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (Object.hasOwn(out, camel) && !sameValue(out[camel], value))
      fail(s.where, `${what} gives ${camel} twice (${k} ${show(value)} and ${show(out[camel])}); give one of them`);
    out[camel] = value;
  }
  return out;
}

/** The method of a balancing spec, lower case ('' for a strategy object or nothing). */
const methodOf = (spec: unknown): string => (isPlainObject(spec) && typeof spec.method === 'string' ? spec.method.toLowerCase() : '');

/**
 * MTLTrainer. Balancing has one internal option, adaptiveParams (a spec, or a strategy object); the
 * tutorials choose it four ways: taskWeightsStrategy (+ gradnormAlpha), taskWeights, or a MetaBalance
 * in the optimizer's place.
 */
export const TRAINER_SPELLINGS: Spellings = {
  nEpochs: { to: ['nEpoch'] },
  // Before learningRate, which joins the camelCase object this gives.
  optimizerParams: {
    to: ['optimizerParams'],
    when: (v) => isPlainObject(v) && Object.keys(v).some((k) => k.includes('_')),
    convert: (v, s) => camelKeys(v as Record<string, unknown>, s, 'optimizerParams'),
  },
  learningRate: {
    to: ['optimizerParams'],
    convert: (v, s) =>
      typeof v === 'number' && v > 0 && Number.isFinite(v)
        ? { lr: v }
        : fail(s.where, `learningRate must be a number > 0 (optimizerParams.lr), got ${show(v)}`),
  },
  earlyStopPatience: { to: ['earlystopPatience'] },
  /** torch-rechub's earlystop_taskid: the index of the task early stopping watches. */
  earlystopTaskid: { to: ['earlystopTask'] },
  taskWeightsStrategy: {
    to: ['adaptiveParams'],
    convert: (v, s) => {
      if (typeof v !== 'string' || v === '') fail(s.where, `taskWeightsStrategy must be a balancing method's name, got ${show(v)}`);
      return methodOf(s.current) === (v as string).toLowerCase() ? s.current : { method: (v as string).toLowerCase() };
    },
  },
  gradnormAlpha: {
    to: ['adaptiveParams'],
    convert: (v, s) => {
      if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) fail(s.where, `gradnormAlpha must be a number > 0, got ${show(v)}`);
      if (methodOf(s.current) !== 'gradnorm')
        fail(
          s.where,
          "gradnormAlpha is GradNorm's alpha; pass it with taskWeightsStrategy: 'gradnorm' (or give adaptiveParams: { method: 'gradnorm', alpha })",
        );
      return { ...(s.current as object), alpha: v };
    },
  },
  taskWeights: {
    to: ['adaptiveParams'],
    convert: (v, s) => {
      const n = s.context.nTrained;
      const ok =
        Array.isArray(v) && (n === undefined || v.length === n) && v.every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0);
      if (!ok) fail(s.where, `taskWeights must be ${n ?? 'the'} finite numbers ≥ 0, one per trained task, got ${show(v)}`);
      return methodOf(s.current) === 'fixed' ? { ...(s.current as object), weights: v } : { method: 'fixed', weights: v };
    },
  },
  optimizer: {
    to: ['adaptiveParams'],
    when: (v) => typeof v === 'object' && v !== null && 'strategy' in v,
    convert: (v) => (v as { strategy: unknown }).strategy,
  },
};

// ---- the adapter ------------------------------------------------------------------------------------

/**
 * The options with every tutorial name in `table` replaced by the internal option(s) it gives. Names in
 * neither vocabulary are an error (with a near miss from either); so are null values, and two spellings
 * of one option that say different things (both are named).
 */
export function toInternal<T extends object>(
  where: string,
  given: unknown,
  internal: readonly string[],
  table: Spellings,
  context: SpellingContext = {},
): T {
  if (!given || typeof given !== 'object' || Array.isArray(given))
    throw new Error(`${where}: options must be an object, got ${show(given)}`);
  const g = given as Record<string, unknown>;
  const tutorial = Object.keys(table);
  const unknown = unknownKeys(g, [...internal, ...tutorial]);
  if (unknown.length) {
    const extra = tutorial.filter((k) => !internal.includes(k));
    throw new Error(
      `${where}: unknown option${unknown.length > 1 ? 's' : ''} ${describeUnknown(unknown, [...internal, ...extra])}; the options are ${internal.join(', ')}` +
        (extra.length ? ` (the tutorials also write ${extra.join(', ')})` : ''),
    );
  }
  for (const [k, v] of Object.entries(g)) {
    if (v === null) throw new Error(`${where}: ${k} is null; pass a value, or leave it out for the default`);
  }

  const options: Record<string, unknown> = {};
  /** Which name gave each internal option. */
  const source: Record<string, string> = {};
  for (const k of internal) {
    if (g[k] === undefined) continue;
    if (Object.hasOwn(table, k) && table[k].when?.(g[k])) continue;
    options[k] = g[k];
    source[k] = k;
  }
  for (const [name, spelling] of Object.entries(table)) {
    const value = g[name];
    if (value === undefined || (spelling.when && !spelling.when(value))) continue;
    if (spelling.to.length === 0) spelling.convert?.(value, { where, current: undefined, options, given: g, context });
    for (const to of spelling.to) {
      const current = options[to];
      const next = spelling.convert ? spelling.convert(value, { where, current, options, given: g, context }) : value;
      const joined = current === undefined || spelling.rewrites ? next : join(current, next);
      if (joined === CONFLICT) {
        const was = source[to] === to ? to : `${source[to]} (giving ${to})`;
        throw new Error(`${where}: ${name} ${show(value)} and ${was} ${show(current)} say different things; give one of them`);
      }
      if (joined !== undefined) options[to] = joined;
      if (!spelling.rewrites) source[to] ??= name;
    }
  }
  return options as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

const CONFLICT = Symbol('conflict');

/**
 * Two values given for one option, as one: equal values; or plain objects that agree wherever both
 * say something, merged ({ dims } and { activation } of one MLP); otherwise CONFLICT.
 */
function join(a: unknown, b: unknown): unknown {
  if (sameValue(a, b)) return a;
  if (isPlainObject(a) && isPlainObject(b)) {
    const shared = Object.keys(a).filter((k) => a[k] !== undefined && b[k] !== undefined);
    return shared.every((k) => sameValue(a[k], b[k])) ? { ...a, ...b } : CONFLICT;
  }
  return CONFLICT;
}

/** Equal numbers, strings and booleans, the same object, or lists and plain objects equal entry by entry. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => a[k] !== undefined || b[k] !== undefined));
    return [...keys].every((k) => sameValue(a[k], b[k]));
  }
  return false;
}
