// MMoE (Ma et al., KDD 2018): experts shared by all tasks; each task has its own gate, a softmax over
// the experts computed from the input, and its tower reads the gate-weighted sum of expert outputs.
// Left out, the towers are DEFAULT_TOWER_UNITS ([32]) each; gateActivation 'sigmoid' weighs each
// expert by its own sigmoid instead of the softmax.
//
//   features → embedding ─┬─ experts 1..E ──────────┐
//                         ├─ gate 0 → softmax ─ Σ_e ─┴─ tower 0 → ŷ0
//                         └─ gate 1 → softmax ─ Σ_e ─── tower 1 → ŷ1
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { Experts, type ExpertsOptions, Gate } from '../nn/experts.js';
import { MLP } from '../nn/layers.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { MOE_SPELLINGS, type MoESpellings } from '../spellings.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  checkModelOptions,
  defaultTowers,
  type GateMixture,
  type MLPParams,
  MultiTaskModel,
  missing,
  modelOptions,
  resolveTaskTypes,
  TASK_OPTION_NAMES,
  type TaskOptions,
  type TaskType,
  towerOptions,
  unstack,
} from './base.js';
import type { ModelEntry, PresetInput } from './registry.js';

/** MMoE's and OMoE's options, torch-rechub's names. */
export interface MoEParams extends TaskOptions {
  nExpert?: number;
  /** Every expert's MLP (no output layer). */
  expertParams?: ExpertsOptions;
  /** One tower per task; each ends in Linear(→ 1). Default: DEFAULT_TOWER_UNITS ([32]) for every task. */
  towerParamsList?: MLPParams[];
  /**
   * 'softmax' (default, the paper's gate; torch-rechub has only this): the expert weights of a row sum
   * to 1. 'sigmoid' (the tutorials' gate_activation): each weight is sigmoid(logit) on its own, and the
   * mixture is Σ_e w_e · E_e.
   */
  gateActivation?: GateActivation;
}

export type GateActivation = 'softmax' | 'sigmoid';

/** What the constructors take: torch-rechub's names or the tutorial's (numExperts, expertUnits, towerUnits, ...). */
export type MoEOptions = MoEParams & MoESpellings;
export type MMoEOptions = MoEOptions;

/** The internal option names of MMoE and OMoE. */
export const MOE_OPTION_NAMES = [...TASK_OPTION_NAMES, 'nExpert', 'expertParams', 'towerParamsList', 'gateActivation'];

/** MMoE's and OMoE's options in the internal names, checked; the experts' and towers' parameters. */
export function moeOptions(
  model: string,
  given: MoEOptions,
): Omit<MoEParams, 'taskTypes'> & {
  taskTypes: TaskType[];
  nExpert: number;
  expertParams: ExpertsOptions;
  towerParamsList: MLPParams[];
  gateActivation: GateActivation;
} {
  const opts = modelOptions<MoEParams>(model, given, MOE_OPTION_NAMES, MOE_SPELLINGS);
  const taskTypes = resolveTaskTypes(model, opts, opts.towerParamsList?.length);
  checkModelOptions(model, opts, MOE_OPTION_NAMES, ['expertParams', 'towerParamsList']);
  const gate = opts.gateActivation === undefined ? 'softmax' : String(opts.gateActivation).toLowerCase();
  if (gate !== 'softmax' && gate !== 'sigmoid')
    throw new Error(`${model}: gateActivation must be 'softmax' or 'sigmoid', got ${JSON.stringify(opts.gateActivation)}`);
  return {
    ...opts,
    taskTypes,
    nExpert: opts.nExpert ?? missing(model, 'nExpert (or numExperts)'),
    expertParams: opts.expertParams ?? missing(model, 'expertParams: { dims: [...] } (or expertUnits)'),
    towerParamsList: opts.towerParamsList ?? defaultTowers(taskTypes.length),
    gateActivation: gate,
  };
}

/**
 * The gate weights and the mixture of experts: logits [T, B, E], experts [E, B, H] → mix [T, B, H],
 * weights [T, B, E]. Softmax gates use the fused gateMix kernel; sigmoid gates weigh each expert by
 * sigmoid(logit) on its own, mix[t, b] = Σ_e w[t, b, e] · experts[e, b], as a batched matmul.
 */
export function mixExperts(logits: Tensor, experts: Tensor, activation: GateActivation): { mix: Tensor; weights: Tensor } {
  if (activation === 'softmax') return ops.gateMix(logits, experts);
  const weights = ops.sigmoid(logits);
  // [B, T, E] · [B, E, H] → [B, T, H] → [T, B, H]
  const batchFirst = (t: Tensor) => ops.transpose(t, [1, 0, 2]);
  return { mix: batchFirst(ops.matmul(batchFirst(weights), batchFirst(experts))), weights };
}

export class MMoE extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly experts: Experts;
  readonly gates: Gate[];
  readonly towers: MLP[];
  readonly gateActivation: GateActivation;

  constructor(given: MMoEOptions) {
    const opts = moeOptions('MMoE', given);
    super(opts.taskTypes, opts.taskNames);
    this.keepConfig(MMOE_ENTRY.name, opts);
    this.features = opts.features;
    this.gateActivation = opts.gateActivation;

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    const inputDim = this.embedding.outputDim;
    this.experts = this.child('experts', new Experts(opts.nExpert, inputDim, opts.expertParams));
    this.gates = this.taskTypes.map((_, i) => this.child(`gates.${i}`, new Gate(inputDim, opts.nExpert)));
    this.towers = opts.towerParamsList.map((p, i) => this.child(`towers.${i}`, new MLP(this.experts.outputDim, towerOptions(p))));
  }

  override get torchRechubClass(): string {
    return MMOE_ENTRY.torchRechubClass;
  }

  override torchRechubEntries(): TorchEntry[] {
    if (this.gateActivation !== 'softmax')
      throw new Error(
        "MMoE: torch-rechub's MMOE has softmax gates only, so a model with gateActivation 'sigmoid' cannot be imported or exported",
      );
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.experts.torchEntries(Array.from({ length: this.experts.nExpert }, (_, e) => `experts.${e}`)),
      ...this.gates.flatMap((gate, t) => gate.torchEntries(`gates.${t}`)),
      ...this.towers.flatMap((tower, t) => tower.torchEntries(`towers.${t}`)),
    ];
  }

  /** Gate i mixes every expert for task i. */
  override mixtures(): GateMixture[] {
    return this.gates.map((gate, i) => ({ key: this.taskNames[i], gate, experts: [{ module: this.experts, offset: 0 }], tasks: [i] }));
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    const expertOutputs = this.experts.forward(input); // [E, B, H]
    const gateLogits = ops.stack(this.gates.map((gate) => gate.forward(input))); // [T, B, E]
    const { mix, weights } = mixExperts(gateLogits, expertOutputs, this.gateActivation); // mix [T, B, H]

    const gateWeights: Record<string, Tensor> = {};
    this.takeGateWeights(weights, this.taskNames, gateWeights);
    this.setGateWeights(gateWeights);

    const towerInputs = unstack(mix);
    return this.taskOutputs(this.towers.map((tower, i) => tower.forward(towerInputs[i])));
  }
}

/** MMoE in the model registry (registry.ts): its names, torch-rechub class, summary, constructor and CLI preset. */
export const MMOE_ENTRY = {
  name: 'mmoe',
  aliases: ['MMOE'],
  torchRechubClass: 'MMOE',
  summary: 'Multi-gate mixture of experts: shared experts, one softmax gate per task (Ma et al., KDD 2018)',
  build: (opts: object) => new MMoE(opts as MMoEOptions),
  preset: ({ features, taskTypes, taskNames, nExpert }: PresetInput) =>
    new MMoE({
      features: features(4),
      taskTypes,
      taskNames,
      nExpert: nExpert ?? 8,
      expertParams: { dims: [16] },
      towerParamsList: taskTypes.map(() => ({ dims: [8] })),
    }),
} as const satisfies ModelEntry;
