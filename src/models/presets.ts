// The configurations of REFERENCE/torch-rechub's Ali-CCP tutorials, by model name, for the CLI, the
// benchmarks and the browser example: one call builds a model from a data schema.
import { DenseFeature, SparseFeature, type Feature } from '../features.js';
import { AITM } from './aitm.js';
import type { MultiTaskModel } from './base.js';
import { ESMM } from './esmm.js';
import { MMoE } from './mmoe.js';
import { OMoE } from './omoe.js';
import { PLE } from './ple.js';
import { SharedBottom } from './shared-bottom.js';

export const MODEL_NAMES = ['mmoe', 'omoe', 'ple', 'sharedbottom', 'esmm', 'aitm'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface Schema {
  /** Sparse column → vocabulary size. */
  vocabSizes: Record<string, number>;
  sparseColumns: readonly string[];
  denseColumns: readonly string[];
  /** ESMM's item-side columns (the rest are user-side). */
  itemColumns?: readonly string[];
  /** Label names, used as task names (e.g. click, purchase). */
  labelColumns?: readonly string[];
}

export function sparseFeatures(schema: Schema, embedDim: number): SparseFeature[] {
  return schema.sparseColumns.map((name) => {
    const vocabSize = schema.vocabSizes[name];
    if (!vocabSize) throw new Error(`No vocabulary size for sparse column '${name}'`);
    return new SparseFeature({ name, vocabSize, embedDim });
  });
}

/** Builds a named model with the tutorial's sizes (MMoE: 8 experts [16], towers [8]; ...). */
export function createModel(name: string, schema: Schema, opts: { embedDim?: number; nExpert?: number } = {}): MultiTaskModel {
  const key = name.toLowerCase().replace(/[-_]/g, '') as ModelName;
  const embedDim = opts.embedDim ?? (key === 'esmm' ? 16 : 4);
  const features: Feature[] = [...sparseFeatures(schema, embedDim), ...schema.denseColumns.map((d) => new DenseFeature(d))];
  const taskNames = schema.labelColumns ? [...schema.labelColumns] : undefined;
  const taskTypes = ['classification', 'classification'] as ('classification' | 'regression')[];
  const towers = [{ dims: [8] }, { dims: [8] }];
  switch (key) {
    case 'mmoe':
      return new MMoE({ features, taskTypes, taskNames, nExpert: opts.nExpert ?? 8, expertParams: { dims: [16] }, towerParamsList: towers });
    case 'omoe':
      return new OMoE({ features, taskTypes, taskNames, nExpert: opts.nExpert ?? 8, expertParams: { dims: [16] }, towerParamsList: towers });
    case 'ple':
      return new PLE({ features, taskTypes, taskNames, nLevel: 1, nExpertSpecific: 2, nExpertShared: 1, expertParams: { dims: [16] }, towerParamsList: towers });
    case 'sharedbottom':
      return new SharedBottom({ features, taskTypes, taskNames, bottomParams: { dims: [117] }, towerParamsList: towers });
    case 'aitm':
      return new AITM({ features, taskTypes, taskNames, bottomParams: { dims: [32, 16] }, towerParamsList: towers });
    case 'esmm': {
      const items = new Set(schema.itemColumns ?? []);
      if (items.size === 0) {
        throw new Error("createModel('esmm'): the schema has no itemColumns to split user and item features; pass schema.itemColumns (Ali-CCP's are wm.aliCcpSchema.itemColumns)");
      }
      return new ESMM({
        userFeatures: features.filter((f) => !items.has(f.name)),
        itemFeatures: features.filter((f) => items.has(f.name)),
        cvrParams: { dims: [16, 8] },
        ctrParams: { dims: [16, 8] },
      });
    }
    default:
      throw new Error(`Unknown model '${name}'; choose one of ${MODEL_NAMES.join(', ')}`);
  }
}
