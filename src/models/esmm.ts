// ESMM (Ma et al., SIGIR 2018): the CVR tower is trained over the entire impression space through
// pCTCVR = pCTR · pCVR, so it never sees only the (biased, sparse) clicked rows. The two towers share
// the feature embeddings; the loss is BCE(pCTR, click) + BCE(pCTCVR, click·purchase).
//
//   user + item embeddings ─┬─ CVR tower → pCVR ─┐
//                           └─ CTR tower → pCTR ─┴─ × → pCTCVR
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { MLP } from '../nn/layers.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { checkModelOptions, MultiTaskModel, missing, towerOptions, withEmbeddingDim, type MLPParams, type TaskPlan, type TaskType } from './base.js';

export interface ESMMOptions {
  userFeatures?: Feature[];
  itemFeatures?: Feature[];
  /** Tutorial style: all features in one group (instead of userFeatures + itemFeatures). */
  features?: Feature[];
  cvrParams?: MLPParams;
  ctrParams?: MLPParams;
  /**
   * Tutorial names: both towers get dims [...hiddenUnits, ...towerUnits] (either may be omitted);
   * embeddingDim rebuilds every sparse feature with that embedding size.
   */
  hiddenUnits?: number[];
  towerUnits?: number[];
  embeddingDim?: number;
}

export class ESMM extends MultiTaskModel {
  readonly features: Feature[];
  readonly userFeatures: Feature[];
  readonly itemFeatures: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly cvrTower: MLP;
  readonly ctrTower: MLP;

  constructor(opts: ESMMOptions) {
    // Outputs in torch-rechub's order; the trainer fits 'ctr' and 'ctcvr', 'cvr' is learned through them.
    super(['classification', 'classification', 'classification'], ['cvr', 'ctr', 'ctcvr']);
    checkModelOptions('ESMM', opts, ['userFeatures', 'itemFeatures', 'features', 'cvrParams', 'ctrParams', 'hiddenUnits', 'towerUnits', 'embeddingDim'], ['cvrParams', 'ctrParams']);
    if (opts.features && (opts.userFeatures || opts.itemFeatures)) {
      throw new Error('ESMM: pass either userFeatures and itemFeatures, or features, not both');
    }
    const all = withEmbeddingDim(opts.features ?? [...(opts.userFeatures ?? []), ...(opts.itemFeatures ?? [])], opts.embeddingDim);
    if (all.length === 0) missing('ESMM', 'userFeatures and itemFeatures (or features)');
    const nUser = opts.features ? all.length : (opts.userFeatures?.length ?? 0);
    this.features = all;
    this.userFeatures = all.slice(0, nUser);
    this.itemFeatures = all.slice(nUser);

    const tutorialDims = opts.hiddenUnits || opts.towerUnits ? { dims: [...(opts.hiddenUnits ?? []), ...(opts.towerUnits ?? [])] } : undefined;
    const cvrParams = opts.cvrParams ?? tutorialDims ?? missing('ESMM', 'cvrParams: { dims: [...] } (or towerUnits)');
    const ctrParams = opts.ctrParams ?? tutorialDims ?? missing('ESMM', 'ctrParams: { dims: [...] } (or towerUnits)');

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
    return 'ESMM';
  }

  override torchRechubEntries(): TorchEntry[] {
    return [...this.embedding.torchEntries('embedding'), ...this.cvrTower.torchEntries('tower_cvr'), ...this.ctrTower.torchEntries('tower_ctr')];
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
