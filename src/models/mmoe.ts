// MMoE (Ma et al., KDD 2018): experts shared by all tasks; each task has its own gate, a softmax over
// the experts computed from the input, and its tower reads the gate-weighted sum of expert outputs.
//
//   features → embedding ─┬─ experts 1..E ──────────┐
//                         ├─ gate 0 → softmax ─ Σ_e ─┴─ tower 0 → ŷ0
//                         └─ gate 1 → softmax ─ Σ_e ─── tower 1 → ŷ1
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { Experts, Gate, type ExpertsOptions } from '../nn/experts.js';
import { MLP } from '../nn/layers.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { checkModelOptions, TASK_OPTION_NAMES, MultiTaskModel, missing, resolveTaskTypes, resolveTowers, towerOptions, unstack, withEmbeddingDim, type MLPParams, type TaskOptions } from './base.js';

export interface MoEOptions extends TaskOptions {
  nExpert?: number;
  /** Every expert's MLP (no output layer). */
  expertParams?: ExpertsOptions;
  /** One tower per task; each ends in Linear(→ 1). */
  towerParamsList?: MLPParams[];
  /** Tutorial names: nExpert, expertParams.dims, expertParams.activation, every tower's dims. */
  numExperts?: number;
  expertUnits?: number[];
  expertActivation?: string;
  towerUnits?: number[];
  taskHiddenUnits?: number[];
  /** Only 'softmax' (the gate of the paper), accepted for tutorial code. */
  gateActivation?: string;
}

export type MMoEOptions = MoEOptions;

/** The option names of MMoE and OMoE. */
export const MOE_OPTION_NAMES = [...TASK_OPTION_NAMES, 'nExpert', 'expertParams', 'towerParamsList', 'numExperts', 'expertUnits', 'expertActivation', 'towerUnits', 'taskHiddenUnits', 'gateActivation'];

/** nExpert and expertParams from the torch-rechub names or the tutorial's. */
export function resolveExperts(model: string, opts: MoEOptions): { nExpert: number; expertParams: ExpertsOptions } {
  if (opts.gateActivation !== undefined && opts.gateActivation.toLowerCase() !== 'softmax') {
    throw new Error(`${model}: gates are softmax gates; gateActivation '${opts.gateActivation}' is not supported`);
  }
  const nExpert = opts.nExpert ?? opts.numExperts ?? missing(model, 'nExpert (or numExperts)');
  const expertParams = opts.expertParams ?? (opts.expertUnits ? { dims: opts.expertUnits } : missing(model, 'expertParams: { dims: [...] } (or expertUnits)'));
  return { nExpert, expertParams: { ...expertParams, activation: expertParams.activation ?? opts.expertActivation } };
}

export class MMoE extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly experts: Experts;
  readonly gates: Gate[];
  readonly towers: MLP[];

  constructor(opts: MMoEOptions) {
    super(resolveTaskTypes('MMoE', opts, resolveTowers('MMoE', opts)?.length), opts.taskNames);
    checkModelOptions('MMoE', opts, MOE_OPTION_NAMES, ['expertParams', 'towerParamsList']);
    this.features = withEmbeddingDim(opts.features, opts.embeddingDim);
    const { nExpert, expertParams } = resolveExperts('MMoE', opts);
    const towerParams = resolveTowers('MMoE', opts, this.nTask)!;

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    const inputDim = this.embedding.outputDim;
    this.experts = this.child('experts', new Experts(nExpert, inputDim, expertParams));
    this.gates = this.taskTypes.map((_, i) => this.child(`gates.${i}`, new Gate(inputDim, nExpert)));
    this.towers = towerParams.map((p, i) => this.child(`towers.${i}`, new MLP(this.experts.outputDim, towerOptions(p))));
  }

  override get torchRechubClass(): string {
    return 'MMOE';
  }

  override torchRechubEntries(): TorchEntry[] {
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.experts.torchEntries(Array.from({ length: this.experts.nExpert }, (_, e) => `experts.${e}`)),
      ...this.gates.flatMap((gate, t) => gate.torchEntries(`gates.${t}`)),
      ...this.towers.flatMap((tower, t) => tower.torchEntries(`towers.${t}`)),
    ];
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    const expertOutputs = this.experts.forward(input); // [E, B, H]
    const gateLogits = ops.stack(this.gates.map((gate) => gate.forward(input))); // [T, B, E]
    const { mix, weights } = ops.gateMix(gateLogits, expertOutputs); // mix [T, B, H]

    const gateWeights: Record<string, Tensor> = {};
    this.takeGateWeights(weights, this.taskNames, gateWeights);
    this.setGateWeights(gateWeights);

    const towerInputs = unstack(mix);
    return this.taskOutputs(this.towers.map((tower, i) => tower.forward(towerInputs[i])));
  }
}
