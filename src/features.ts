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

export class SparseFeature {
  readonly kind = 'sparse' as const;
  readonly name: string;
  readonly vocabSize: number;
  readonly embedDim: number;
  readonly sharedWith?: string;
  readonly paddingIdx?: number;
  constructor(opts: SparseFeatureOptions) {
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
  constructor(opts: SparseFeatureOptions & { pooling?: Pooling; maxLen?: number }) {
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
