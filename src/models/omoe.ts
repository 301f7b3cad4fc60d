// OMoE, the one-gate mixture of experts (the baseline of the MMoE paper): experts as in MMoE, but a
// single gate, shared by every task, so all towers read the same mixture.
//
//   features → embedding ─┬─ experts 1..E ────────────┐
//                         └─ gate → softmax ─── Σ_e ───┴─┬─ tower 0 → ŷ0
//                                                        └─ tower 1 → ŷ1
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { Experts, Gate } from '../nn/experts.js';
import { MLP } from '../nn/layers.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkModelOptions, MultiTaskModel, resolveTaskTypes, resolveTowers, towerOptions, unstack, withEmbeddingDim } from './base.js';
import { MOE_OPTION_NAMES, resolveExperts, type MoEOptions } from './mmoe.js';

export type OMoEOptions = MoEOptions;

export class OMoE extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly experts: Experts;
  readonly gate: Gate;
  readonly towers: MLP[];

  constructor(opts: OMoEOptions) {
    super(resolveTaskTypes('OMoE', opts, resolveTowers('OMoE', opts)?.length), opts.taskNames);
    checkModelOptions('OMoE', opts, MOE_OPTION_NAMES, ['expertParams', 'towerParamsList']);
    this.features = withEmbeddingDim(opts.features, opts.embeddingDim);
    const { nExpert, expertParams } = resolveExperts('OMoE', opts);
    const towerParams = resolveTowers('OMoE', opts, this.nTask)!;

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    const inputDim = this.embedding.outputDim;
    this.experts = this.child('experts', new Experts(nExpert, inputDim, expertParams));
    this.gate = this.child('gate', new Gate(inputDim, nExpert));
    this.towers = towerParams.map((p, i) => this.child(`towers.${i}`, new MLP(this.experts.outputDim, towerOptions(p))));
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    const expertOutputs = this.experts.forward(input); // [E, B, H]
    const [batch, nExpert] = [input.shape[0], this.experts.nExpert];
    const gateLogits = ops.reshape(this.gate.forward(input), [1, batch, nExpert]);
    const { mix, weights } = ops.gateMix(gateLogits, expertOutputs); // mix [1, B, H]

    const gateWeights: Record<string, Tensor> = {};
    this.takeGateWeights(weights, ['shared'], gateWeights);
    this.setGateWeights(gateWeights);

    const [shared] = unstack(mix);
    return this.taskOutputs(this.towers.map((tower) => tower.forward(shared)));
  }
}
