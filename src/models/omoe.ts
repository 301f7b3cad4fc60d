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
import { type GateMixture, MultiTaskModel, towerOptions, unstack } from './base.js';
import { type GateActivation, type MoEOptions, mixExperts, moeOptions } from './mmoe.js';
import type { ModelEntry, PresetInput } from './registry.js';

export type OMoEOptions = MoEOptions;

export class OMoE extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly experts: Experts;
  readonly gate: Gate;
  readonly towers: MLP[];
  readonly gateActivation: GateActivation;

  constructor(given: OMoEOptions) {
    const opts = moeOptions('OMoE', given);
    super(opts.taskTypes, opts.taskNames);
    this.keepConfig(OMOE_ENTRY.name, opts);
    this.features = opts.features;
    this.gateActivation = opts.gateActivation;

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    const inputDim = this.embedding.outputDim;
    this.experts = this.child('experts', new Experts(opts.nExpert, inputDim, opts.expertParams));
    this.gate = this.child('gate', new Gate(inputDim, opts.nExpert));
    this.towers = opts.towerParamsList.map((p, i) => this.child(`towers.${i}`, new MLP(this.experts.outputDim, towerOptions(p))));
  }

  /** One gate mixes every expert for all tasks. */
  override mixtures(): GateMixture[] {
    return [{ key: 'shared', gate: this.gate, experts: [{ module: this.experts, offset: 0 }], tasks: this.taskTypes.map((_, i) => i) }];
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    const expertOutputs = this.experts.forward(input); // [E, B, H]
    const [batch, nExpert] = [input.shape[0], this.experts.nExpert];
    const gateLogits = ops.reshape(this.gate.forward(input), [1, batch, nExpert]);
    const { mix, weights } = mixExperts(gateLogits, expertOutputs, this.gateActivation); // mix [1, B, H]

    const gateWeights: Record<string, Tensor> = {};
    this.takeGateWeights(weights, ['shared'], gateWeights);
    this.setGateWeights(gateWeights);

    const [shared] = unstack(mix);
    return this.taskOutputs(this.towers.map((tower) => tower.forward(shared)));
  }
}

/** OMoE in the model registry (registry.ts): its names, torch-rechub class, summary, constructor and CLI preset. */
export const OMOE_ENTRY = {
  name: 'omoe',
  aliases: ['OMoE'],
  torchRechubClass: null,
  summary: "One-gate mixture of experts: shared experts and one softmax gate for all tasks (the MMoE paper's baseline)",
  build: (opts: object) => new OMoE(opts as OMoEOptions),
  preset: ({ features, taskTypes, taskNames, nExpert }: PresetInput) =>
    new OMoE({
      features: features(4),
      taskTypes,
      taskNames,
      nExpert: nExpert ?? 8,
      expertParams: { dims: [16] },
      towerParamsList: taskTypes.map(() => ({ dims: [8] })),
    }),
} as const satisfies ModelEntry;
