// ESMM (Ma et al., SIGIR 2018): the CVR tower is trained over the entire impression space through
// pCTCVR = pCTR · pCVR, so it never sees only the (biased, sparse) clicked rows. The two towers share
// the feature embeddings; the loss is BCE(pCTR, click) + BCE(pCTCVR, click·purchase).
//
//   user + item embeddings ─┬─ CVR tower → pCVR ─┐
//                           └─ CTR tower → pCTR ─┴─ × → pCTCVR
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { MLP } from '../nn/layers.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { ESMM_SPELLINGS, type ESMMSpellings } from '../spellings.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  checkModelOptions,
  DEFAULT_TOWER_UNITS,
  type MLPParams,
  MultiTaskModel,
  missing,
  modelOptions,
  type SeedOption,
  type TaskPlan,
  type TaskType,
  towerOptions,
} from './base.js';
import type { ModelEntry, PresetInput } from './registry.js';

export interface ESMMParams extends SeedOption {
  userFeatures?: Feature[];
  itemFeatures?: Feature[];
  cvrParams?: MLPParams;
  ctrParams?: MLPParams;
}

/** torch-rechub's names or the tutorial's (features, hiddenUnits, towerUnits, embeddingDim). */
export type ESMMOptions = ESMMParams & ESMMSpellings<Feature>;

const OPTION_NAMES = ['userFeatures', 'itemFeatures', 'cvrParams', 'ctrParams'];

export class ESMM extends MultiTaskModel {
  readonly features: Feature[];
  readonly userFeatures: Feature[];
  readonly itemFeatures: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly cvrTower: MLP;
  readonly ctrTower: MLP;

  constructor(given: ESMMOptions) {
    const opts = modelOptions<ESMMParams>('ESMM', given, OPTION_NAMES, ESMM_SPELLINGS);
    // Outputs in torch-rechub's order; the trainer fits 'ctr' and 'ctcvr', 'cvr' is learned through them.
    super(['classification', 'classification', 'classification'], ['cvr', 'ctr', 'ctcvr']);
    checkModelOptions('ESMM', opts, OPTION_NAMES, ['cvrParams', 'ctrParams']);
    this.keepConfig(ESMM_ENTRY.name, opts);
    const user = opts.userFeatures ?? [];
    this.features = [...user, ...(opts.itemFeatures ?? [])];
    if (this.features.length === 0) missing('ESMM', 'userFeatures and itemFeatures (or features)');
    this.userFeatures = this.features.slice(0, user.length);
    this.itemFeatures = this.features.slice(user.length);
    // Towers left out (the tutorial's simple style): DEFAULT_TOWER_UNITS each.
    const cvrParams = opts.cvrParams ?? { dims: [...DEFAULT_TOWER_UNITS] };
    const ctrParams = opts.ctrParams ?? { dims: [...DEFAULT_TOWER_UNITS] };

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    this.cvrTower = this.child('cvrTower', new MLP(this.embedding.outputDim, towerOptions(cvrParams)));
    this.ctrTower = this.child('ctrTower', new MLP(this.embedding.outputDim, towerOptions(ctrParams)));
  }

  /** pCTR against click and pCTCVR against click·purchase, over all impressions; pCVR has no loss of its own. */
  override trainedTasks(): { name: string; type: TaskType; output: number }[] {
    return [
      { name: 'ctr', type: 'classification', output: 1 },
      { name: 'ctcvr', type: 'classification', output: 2 },
    ];
  }

  /** L = L_ctr + L_ctcvr (the paper's loss; torch-rechub's MTLTrainer sums them too). */
  override defaultTaskWeights(): number[] {
    return [1, 1];
  }

  /**
   * Labels: two columns [click, purchase] (Ali-CCP order: CTR then CTCVR, since purchase ⇒ click), or
   * three in torch-rechub's order [cvr, ctr, ctcvr]. CVR is evaluated on clicked rows, where
   * conversion is defined.
   */
  override taskPlan(nLabel: number): TaskPlan {
    if (nLabel !== 2 && nLabel !== 3) {
      throw new Error(`ESMM needs labels [click, purchase] (2 columns) or [cvr, ctr, ctcvr] (3 columns); the data has ${nLabel}`);
    }
    const [ctr, ctcvr] = nLabel === 2 ? [0, 1] : [1, 2];
    const c = 'classification' as const;
    const train = [
      { name: 'ctr', type: c, output: 1, label: ctr },
      { name: 'ctcvr', type: c, output: 2, label: ctcvr },
    ];
    return { nLabel, train, evaluate: [...train, { name: 'cvr', type: c, output: 0, label: ctcvr, onlyWhere: ctr }] };
  }

  override get torchRechubClass(): string {
    return ESMM_ENTRY.torchRechubClass;
  }

  override torchRechubEntries(): TorchEntry[] {
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.cvrTower.torchEntries('tower_cvr'),
      ...this.ctrTower.torchEntries('tower_ctr'),
    ];
  }

  /** [batch, 3]: pCVR, pCTR, pCTCVR. */
  forward(x: FeatureBatch): Tensor {
    const groups = [this.userFeatures, this.itemFeatures].filter((g) => g.length > 0);
    const input = this.embedding.forwardGroups(x, groups);
    const pCvr = ops.sigmoid(this.cvrTower.forward(input));
    const pCtr = ops.sigmoid(this.ctrTower.forward(input));
    return ops.concat([pCvr, pCtr, ops.mul(pCtr, pCvr)], 1);
  }
}

/** ESMM in the model registry (registry.ts): its names, torch-rechub class, summary, constructor and CLI preset. */
export const ESMM_ENTRY = {
  name: 'esmm',
  aliases: ['ESMM'],
  torchRechubClass: 'ESMM',
  summary: 'Entire-space multi-task model: pCTCVR = pCTR · pCVR over all impressions (Ma et al., SIGIR 2018)',
  build: (opts: object) => new ESMM(opts as ESMMOptions),
  preset: ({ schema, features, taskTypes }: PresetInput) => {
    if (taskTypes.length !== 2 || taskTypes.some((t) => t !== 'classification'))
      throw new Error(
        `createModel('esmm'): ESMM has two classification tasks (click, then conversion: pCTR and pCTCVR); this schema has ${taskTypes.length} (${taskTypes.join(', ')}). Pick another model, or give exactly two 0/1 labels`,
      );
    const items = new Set(schema.itemColumns ?? []);
    if (items.size === 0) {
      throw new Error(
        'createModel(\'esmm\'): the schema has no itemColumns to split user and item features; pass schema.itemColumns (Ali-CCP\'s are wm.aliCcpSchema.itemColumns; in a table schema, mark item columns with "side": "item")',
      );
    }
    const all = features(16);
    return new ESMM({
      userFeatures: all.filter((f) => !items.has(f.name)),
      itemFeatures: all.filter((f) => items.has(f.name)),
      cvrParams: { dims: [16, 8] },
      ctrParams: { dims: [16, 8] },
    });
  },
} as const satisfies ModelEntry;
