// Feature definitions, as torch-rechub users write them: sparse ids, dense values, id sequences.

export interface SparseFeatureOptions {
  name: string;
  vocabSize: number;
  embedDim?: number;
  /** Use the embedding table of another feature (same vocabulary), e.g. item id in a history sequence. */
  sharedWith?: string;
  /** An id whose embedding is ignored (sequences) — typically 0. */
  paddingIdx?: number;
}

/** What a positional call gives after the name and vocabulary size: the embedding size, or the other options. */
export type FeatureRest<O> = number | Omit<O, 'name' | 'vocabSize'>;

/**
 * One options object, or torch-rechub's positional form (name, vocabSize, embedDim, ...) where the
 * third argument may also be an object of the remaining options.
 */
function featureOptions<O extends SparseFeatureOptions>(what: string, args: unknown[], positional: (keyof O)[]): O {
  const [first, ...rest] = args;
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
    if (rest.some((a) => a !== undefined))
      throw new Error(`${what}: pass either one options object or (name, vocabSize, embedDim, ...), not an object and more arguments`);
    return first as O;
  }
  if (typeof first !== 'string' || first === '')
    throw new Error(`${what}: name is required: new ${what}('user_id', vocabSize, embedDim) or new ${what}({ name, vocabSize, embedDim })`);
  const opts: Record<string, unknown> = { name: first, vocabSize: rest[0] };
  const tail = rest.slice(1);
  if (tail.length > positional.length)
    throw new Error(`${what} '${first}': takes (name, ${['vocabSize', ...positional].join(', ')}), got ${args.length} arguments`);
  tail.forEach((v, i) => {
    if (i === 0 && typeof v === 'object' && v !== null) {
      if (tail.length > 1) throw new Error(`${what} '${first}': an options object must be the last argument`);
      for (const k of ['name', 'vocabSize']) {
        if (k in v) throw new Error(`${what} '${first}': ${k} is given positionally; leave it out of the options object`);
      }
      Object.assign(opts, v);
    } else if (v !== undefined) opts[positional[i] as string] = v;
  });
  return opts as O;
}

export class SparseFeature {
  readonly kind = 'sparse' as const;
  readonly name: string;
  readonly vocabSize: number;
  readonly embedDim: number;
  readonly sharedWith?: string;
  readonly paddingIdx?: number;
  /**
   * `new SparseFeature({ name, vocabSize, embedDim })`, or torch-rechub's positional
   * `new SparseFeature(name, vocabSize, embedDim?, sharedWith?, paddingIdx?)` (the third argument may
   * be `{ embedDim, sharedWith, paddingIdx }`). embedDim defaults to 4.
   */
  constructor(opts: SparseFeatureOptions);
  constructor(name: string, vocabSize: number, embedDim?: FeatureRest<SparseFeatureOptions>, sharedWith?: string, paddingIdx?: number);
  constructor(...args: unknown[]) {
    const opts = featureOptions<SparseFeatureOptions>('SparseFeature', args, ['embedDim', 'sharedWith', 'paddingIdx']);
    if (!opts.name) throw new Error('SparseFeature: name is required');
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 1) {
      throw new Error(`SparseFeature '${opts.name}': vocabSize must be a positive integer, got ${opts.vocabSize}`);
    }
    this.name = opts.name;
    this.vocabSize = opts.vocabSize;
    this.embedDim = opts.embedDim ?? 4;
    this.sharedWith = opts.sharedWith;
    this.paddingIdx = opts.paddingIdx;
  }
  /** The name of the embedding table this feature reads. */
  get tableName(): string {
    return this.sharedWith ?? this.name;
  }
}

export class DenseFeature {
  readonly kind = 'dense' as const;
  readonly name: string;
  readonly embedDim = 1;
  constructor(opts: { name: string } | string) {
    this.name = typeof opts === 'string' ? opts : opts.name;
    if (!this.name) throw new Error('DenseFeature: name is required');
  }
}

export type Pooling = 'mean' | 'sum' | 'concat';

export interface SequenceFeatureOptions extends SparseFeatureOptions {
  pooling?: Pooling;
  /** Sequence length; required for 'concat' pooling. */
  maxLen?: number;
}

export class SequenceFeature {
  readonly kind = 'sequence' as const;
  readonly name: string;
  readonly vocabSize: number;
  readonly embedDim: number;
  readonly pooling: Pooling;
  readonly sharedWith?: string;
  readonly paddingIdx?: number;
  /** Sequence length; required for 'concat' pooling (the flattened width depends on it). */
  readonly maxLen?: number;
  /**
   * `new SequenceFeature({ name, vocabSize, embedDim, pooling, maxLen })`, or torch-rechub's positional
   * `new SequenceFeature(name, vocabSize, embedDim?, pooling?, sharedWith?, paddingIdx?)` (the third
   * argument may be an object of the other options). Pooling defaults to 'mean'.
   */
  constructor(opts: SequenceFeatureOptions);
  constructor(
    name: string,
    vocabSize: number,
    embedDim?: FeatureRest<SequenceFeatureOptions>,
    pooling?: Pooling,
    sharedWith?: string,
    paddingIdx?: number,
  );
  constructor(...args: unknown[]) {
    const opts = featureOptions<SequenceFeatureOptions>('SequenceFeature', args, ['embedDim', 'pooling', 'sharedWith', 'paddingIdx']);
    if (!opts.name) throw new Error('SequenceFeature: name is required');
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 1) {
      throw new Error(`SequenceFeature '${opts.name}': vocabSize must be a positive integer, got ${opts.vocabSize}`);
    }
    this.name = opts.name;
    this.vocabSize = opts.vocabSize;
    this.embedDim = opts.embedDim ?? 4;
    this.pooling = opts.pooling ?? 'mean';
    this.sharedWith = opts.sharedWith;
    this.paddingIdx = opts.paddingIdx;
    this.maxLen = opts.maxLen;
    if (this.pooling === 'concat' && !this.maxLen) {
      throw new Error(`SequenceFeature '${opts.name}': pooling 'concat' needs maxLen (the flattened width is maxLen × embedDim)`);
    }
  }
  get tableName(): string {
    return this.sharedWith ?? this.name;
  }
}

export type Feature = SparseFeature | DenseFeature | SequenceFeature;

/** Width a feature adds to the flattened model input. */
export function featureWidth(f: Feature): number {
  if (f.kind === 'dense') return 1;
  if (f.kind === 'sequence' && f.pooling === 'concat') return f.embedDim * (f.maxLen ?? 1);
  return f.embedDim;
}

/** A feature as plain JSON, as a model bundle stores it; featureFromJSON rebuilds the feature. */
export type FeatureJSON =
  | { kind: 'sparse'; name: string; vocabSize: number; embedDim: number; sharedWith?: string; paddingIdx?: number }
  | { kind: 'dense'; name: string }
  | {
      kind: 'sequence';
      name: string;
      vocabSize: number;
      embedDim: number;
      pooling: Pooling;
      sharedWith?: string;
      paddingIdx?: number;
      maxLen?: number;
    };

export function featureToJSON(f: Feature): FeatureJSON {
  if (f.kind === 'dense') return { kind: 'dense', name: f.name };
  const optional = {
    ...(f.sharedWith !== undefined && { sharedWith: f.sharedWith }),
    ...(f.paddingIdx !== undefined && { paddingIdx: f.paddingIdx }),
  };
  if (f.kind === 'sparse') return { kind: 'sparse', name: f.name, vocabSize: f.vocabSize, embedDim: f.embedDim, ...optional };
  return {
    kind: 'sequence',
    name: f.name,
    vocabSize: f.vocabSize,
    embedDim: f.embedDim,
    pooling: f.pooling,
    ...optional,
    ...(f.maxLen !== undefined && { maxLen: f.maxLen }),
  };
}

const FEATURE_JSON_KEYS = {
  sparse: ['kind', 'name', 'vocabSize', 'embedDim', 'sharedWith', 'paddingIdx'],
  dense: ['kind', 'name'],
  sequence: ['kind', 'name', 'vocabSize', 'embedDim', 'pooling', 'sharedWith', 'paddingIdx', 'maxLen'],
} as const;

/** featureToJSON's inverse; `where` names the place in the caller's file for the error. Unknown keys are errors. */
export function featureFromJSON(spec: unknown, where: string): Feature {
  const s = spec as Record<string, unknown> | null;
  const kind = s && typeof s === 'object' && !Array.isArray(s) ? s.kind : undefined;
  if (kind !== 'sparse' && kind !== 'dense' && kind !== 'sequence')
    throw new Error(`${where}: a feature must be { kind: 'sparse' | 'dense' | 'sequence', name, ... }, got ${JSON.stringify(spec)}`);
  const known: readonly string[] = FEATURE_JSON_KEYS[kind];
  const unknown = Object.keys(s as object).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`${where}: a ${kind} feature has no key ${unknown.join(', ')}; its keys are ${known.join(', ')}`);
  const { kind: _, ...opts } = s as Record<string, unknown>;
  const bad = (key: string, what: string) => {
    throw new Error(`${where}: ${kind} feature ${JSON.stringify(opts.name)}: ${key} must be ${what}, got ${JSON.stringify(opts[key])}`);
  };
  const count = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
  if (typeof opts.name !== 'string' || opts.name === '') bad('name', 'a non-empty string');
  if (kind !== 'dense') {
    if (!count(opts.vocabSize, 1)) bad('vocabSize', 'a whole number ≥ 1');
    if (!count(opts.embedDim, 1)) bad('embedDim', 'a whole number ≥ 1');
    if (opts.sharedWith !== undefined && (typeof opts.sharedWith !== 'string' || opts.sharedWith === ''))
      bad('sharedWith', 'a feature name');
    if (opts.paddingIdx !== undefined && !count(opts.paddingIdx, 0)) bad('paddingIdx', 'a whole number ≥ 0');
  }
  if (kind === 'sequence') {
    if (!['mean', 'sum', 'concat'].includes(opts.pooling as string)) bad('pooling', "'mean', 'sum' or 'concat'");
    if (opts.maxLen !== undefined && !count(opts.maxLen, 1)) bad('maxLen', 'a whole number ≥ 1');
  }
  try {
    if (kind === 'dense') return new DenseFeature(opts as { name: string });
    if (kind === 'sparse') return new SparseFeature(opts as unknown as SparseFeatureOptions);
    return new SequenceFeature(opts as unknown as SequenceFeatureOptions);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}
