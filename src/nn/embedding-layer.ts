// Maps a batch of feature columns to the flattened model input: every sparse/sequence embedding
// (in feature order), then the dense values — the input layout of torch-rechub's MTL models.
import { type DenseFeature, type Feature, featureWidth, type SequenceFeature, type SparseFeature } from '../features.js';
import * as ops from '../tensor/ops.js';
import { fromArray, Tensor } from '../tensor/tensor.js';
import { Embedding } from './layers.js';
import { Module } from './module.js';
import type { TorchEntry } from './torch-layout.js';

export type FeatureBatch = Record<string, Tensor>;

export class EmbeddingLayer extends Module {
  readonly tables = new Map<string, Embedding>();
  readonly sparse: (SparseFeature | SequenceFeature)[];
  readonly dense: DenseFeature[];
  /** Width of the flattened output. */
  readonly outputDim: number;

  constructor(readonly features: Feature[]) {
    super();
    const names = new Set<string>();
    for (const f of features) {
      if (names.has(f.name)) throw new Error(`Feature '${f.name}' is listed twice`);
      names.add(f.name);
    }
    this.sparse = features.filter((f): f is SparseFeature | SequenceFeature => f.kind !== 'dense');
    this.dense = features.filter((f): f is DenseFeature => f.kind === 'dense');
    for (const f of this.sparse) {
      if (f.sharedWith) continue;
      this.tables.set(f.name, this.child(`embed.${f.name}`, new Embedding(f.vocabSize, f.embedDim, { name: `feature '${f.name}'` })));
    }
    for (const f of this.sparse) {
      if (!f.sharedWith) continue;
      const owner = this.tables.get(f.sharedWith);
      if (!owner) throw new Error(`Feature '${f.name}' shares the table of '${f.sharedWith}', which is not a sparse feature of this model`);
      if (owner.dim !== f.embedDim || owner.vocabSize < f.vocabSize) {
        throw new Error(
          `Feature '${f.name}' (vocab ${f.vocabSize}, dim ${f.embedDim}) cannot share '${f.sharedWith}' (vocab ${owner.vocabSize}, dim ${owner.dim})`,
        );
      }
    }
    this.outputDim = features.reduce((n, f) => n + featureWidth(f), 0);
  }

  /** torch-rechub's EmbeddingLayer: one table per feature that owns one, `embed_dict.<feature>.weight` [vocab, dim]. */
  torchEntries(prefix: string): TorchEntry[] {
    return [...this.tables].map(([name, table]) => ({
      kind: 'parameter' as const,
      name: `${prefix}.embed_dict.${name}.weight`,
      shape: [...table.weight.shape],
      tensor: table.weight,
    }));
  }

  private column(x: FeatureBatch, name: string): Tensor {
    const t = x[name];
    if (!t) {
      throw new Error(
        `Missing input column '${name}'; the batch has ${Object.keys(x).join(', ') || 'no columns'}. Add the column or remove the feature.`,
      );
    }
    return t;
  }

  /** The embedding of one sparse or sequence feature: [batch, dim] (concat pooling: [batch, len·dim]). */
  embed(x: FeatureBatch, f: SparseFeature | SequenceFeature): Tensor {
    if (f.kind === 'sparse') {
      const { table, ids, what } = this.lookup(x, f);
      return ops.gatherRows(table, ids, what);
    }
    const table = this.tables.get(f.tableName)!;
    const ids = this.column(x, f.name);
    if (ids.rank !== 2) throw new Error(`Sequence feature '${f.name}' expects ids [batch, length], got ${ids.describe()}`);
    const [batch, len] = ids.shape;
    const emb = ops.gatherRows(table.weight, ids, `feature '${f.name}' (vocabulary ${f.vocabSize})`); // [B, L, d]
    if (f.pooling === 'concat') return ops.reshape(emb, [batch, len * f.embedDim]);
    const mask = this.paddingMask(ids, f.paddingIdx); // [B, L, 1]
    const summed = ops.sum(ops.mul(emb, mask), 1);
    if (f.pooling === 'sum') return summed;
    const counts = ops.add(ops.sum(mask, 1), 1e-16);
    return ops.div(summed, counts);
  }

  private paddingMask(ids: Tensor, paddingIdx: number | undefined): Tensor {
    const host = ids.hostIds!;
    const m = new Float32Array(host.length);
    for (let i = 0; i < host.length; i++) m[i] = host[i] === paddingIdx ? 0 : 1;
    return fromArray(m, [...ids.shape, 1], { backend: ids.backend });
  }

  /** A dense column as [batch, 1]. */
  denseColumn(x: FeatureBatch, f: DenseFeature): Tensor {
    const c = this.column(x, f.name);
    if (c.dtype !== 'f32' || c.rank !== 1)
      throw new Error(
        `Dense feature '${f.name}' expects float32 values [batch], got ${c.describe()}; read the column as float32 (readCsv(src, { features }), or Float32Array.from(column))`,
      );
    return ops.reshape(c, [c.shape[0], 1]);
  }

  /**
   * [batch, width]: the sparse/sequence embeddings of `features` (default: all) in order, then their
   * dense values. Models with feature groups (ESMM's user and item features) pass a subset.
   */
  forward(x: FeatureBatch, features: Feature[] = this.features): Tensor {
    return this.forwardGroups(x, [features]);
  }

  /**
   * The inputs of several feature groups side by side, each laid out as `forward` lays it out, in
   * one pass: sparse lookups are gathered straight into their columns of the result.
   */
  forwardGroups(x: FeatureBatch, groups: Feature[][]): Tensor {
    const parts: (ops.RowLookup | Tensor)[] = [];
    for (const features of groups) {
      for (const f of features) {
        if (f.kind === 'dense') continue;
        parts.push(f.kind === 'sparse' ? this.lookup(x, f) : this.embed(x, f));
      }
      for (const f of features) if (f.kind === 'dense') parts.push(this.denseColumn(x, f));
    }
    if (parts.length === 0) throw new Error('EmbeddingLayer: no features to embed');
    return parts.length === 1 && parts[0] instanceof Tensor ? parts[0] : ops.gatherConcat(parts);
  }

  /** A sparse feature's embedding as a lookup for gatherConcat. */
  private lookup(x: FeatureBatch, f: SparseFeature): ops.RowLookup {
    const ids = this.column(x, f.name);
    if (ids.rank !== 1) throw new Error(`Sparse feature '${f.name}' expects ids [batch], got ${ids.describe()}`);
    return { table: this.tables.get(f.tableName)!.weight, ids, what: `feature '${f.name}' (vocabulary ${f.vocabSize})` };
  }
}
