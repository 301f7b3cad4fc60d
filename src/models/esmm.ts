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
import { MultiTaskModel, missing, towerOptions, withEmbeddingDim, type MLPParams } from './base.js';

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
    this.cvrTower = this.ownedBy(0, this.child('cvrTower', new MLP(this.embedding.outputDim, towerOptions(cvrParams))));
    this.ctrTower = this.ownedBy(1, this.child('ctrTower', new MLP(this.embedding.outputDim, towerOptions(ctrParams))));
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
