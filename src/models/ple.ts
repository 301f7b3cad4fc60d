// PLE (Tang et al., RecSys 2020): stacked Customized Gate Control (CGC) levels. In each level every
// task has its own experts, and some experts are shared; task i's gate mixes its own experts and the
// shared ones. Every level but the last also has a shared gate over all experts, whose mixture feeds
// the next level's shared experts (each task's mixture feeds its own experts). One level is CGC.
//
//   level l:  input_i ─ experts of task i ─┐
//             input_s ─ shared experts ────┼─ gate i (own + shared) → output_i  (→ next level / tower i)
//                                          └─ shared gate (all)      → output_s  (→ next level)
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { Experts, Gate, type ExpertsOptions } from '../nn/experts.js';
import { MLP } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { checkModelOptions, TASK_OPTION_NAMES, MultiTaskModel, missing, resolveTaskTypes, resolveTowers, towerOptions, withEmbeddingDim, type MLPParams, type TaskOptions } from './base.js';

export interface PLEOptions extends TaskOptions {
  /** Number of CGC levels (1 = CGC). */
  nLevel?: number;
  /** Experts per task in each level. */
  nExpertSpecific?: number;
  /** Shared experts in each level. */
  nExpertShared?: number;
  expertParams?: ExpertsOptions;
  towerParamsList?: MLPParams[];
  /** Tutorial names: nLevel, nExpertSpecific, nExpertShared, expertParams.dims, every tower's dims. */
  numLayers?: number;
  numExperts?: number;
  numSharedExperts?: number;
  expertUnits?: number[];
  expertActivation?: string;
  towerUnits?: number[];
  taskHiddenUnits?: number[];
}

/**
 * One CGC level. Task-specific and shared experts are separate Experts groups (one batched matmul per
 * group and layer) so that each task's experts are parameters of their own for parameterGroups().
 */
export class CGCLevel extends Module {
  readonly taskExperts: Experts[];
  readonly sharedExperts: Experts | null;
  readonly taskGates: Gate[];
  readonly sharedGate: Gate | null;

  constructor(nTask: number, readonly nExpertSpecific: number, readonly nExpertShared: number, inputDim: number, expertParams: ExpertsOptions, withSharedGate: boolean) {
    super();
    this.taskExperts = Array.from({ length: nTask }, (_, i) => this.child(`taskExperts.${i}`, new Experts(nExpertSpecific, inputDim, expertParams)));
    this.sharedExperts = nExpertShared > 0 ? this.child('sharedExperts', new Experts(nExpertShared, inputDim, expertParams)) : null;
    this.taskGates = Array.from({ length: nTask }, (_, i) => this.child(`taskGates.${i}`, new Gate(inputDim, nExpertSpecific + nExpertShared)));
    this.sharedGate = withSharedGate ? this.child('sharedGate', new Gate(inputDim, nTask * nExpertSpecific + nExpertShared)) : null;
  }

  get outputDim(): number {
    return this.taskExperts[0].outputDim;
  }

  /** torch-rechub's CGC: experts_specific (task by task), experts_shared, gates_specific, gate_shared. */
  torchEntries(prefix: string): TorchEntry[] {
    const n = this.nExpertSpecific;
    const names = (group: string, count: number, first = 0) => Array.from({ length: count }, (_, j) => `${prefix}.${group}.${first + j}`);
    return [
      ...this.taskExperts.flatMap((experts, t) => experts.torchEntries(names('experts_specific', n, t * n))),
      ...(this.sharedExperts ? this.sharedExperts.torchEntries(names('experts_shared', this.nExpertShared)) : []),
      ...this.taskGates.flatMap((gate, t) => gate.torchEntries(`${prefix}.gates_specific.${t}`)),
      ...(this.sharedGate ? this.sharedGate.torchEntries(`${prefix}.gate_shared`) : []),
    ];
  }

  /**
   * inputs: one [B, D] per task, then the shared input. Returns one mixture [B, H] per task (then the
   * shared gate's mixture when this level has one) and each gate's weights [1, B, E].
   */
  forward(inputs: Tensor[]): { outputs: Tensor[]; gateWeights: Tensor[] } {
    const sharedInput = inputs[inputs.length - 1];
    const own = this.taskExperts.map((experts, i) => experts.forward(inputs[i])); // each [nSpecific, B, H]
    const shared = this.sharedExperts ? [this.sharedExperts.forward(sharedInput)] : [];

    const mixtures = this.taskGates.map((gate, i) => mixture(gate, inputs[i], [own[i], ...shared]));
    if (this.sharedGate) mixtures.push(mixture(this.sharedGate, sharedInput, [...own, ...shared]));
    return { outputs: mixtures.map((m) => m.output), gateWeights: mixtures.map((m) => m.weights) };
  }
}

/** softmax(gate(x)) · experts for one gate: [B, H], and its weights [1, B, E]. */
function mixture(gate: Gate, x: Tensor, expertGroups: Tensor[]): { output: Tensor; weights: Tensor } {
  const experts = expertGroups.length === 1 ? expertGroups[0] : ops.concat(expertGroups, 0); // [E, B, H]
  const [nExpert, batch, hidden] = experts.shape;
  const { mix, weights } = ops.gateMix(ops.reshape(gate.forward(x), [1, batch, nExpert]), experts);
  return { output: ops.reshape(mix, [batch, hidden]), weights };
}

export class PLE extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly levels: CGCLevel[];
  readonly towers: MLP[];

  constructor(opts: PLEOptions) {
    super(resolveTaskTypes('PLE', opts, resolveTowers('PLE', opts)?.length), opts.taskNames);
    checkModelOptions('PLE', opts, [...TASK_OPTION_NAMES, 'nLevel', 'nExpertSpecific', 'nExpertShared', 'expertParams', 'towerParamsList', 'numLayers', 'numExperts', 'numSharedExperts', 'expertUnits', 'expertActivation', 'towerUnits', 'taskHiddenUnits'], ['expertParams', 'towerParamsList']);
    this.features = withEmbeddingDim(opts.features, opts.embeddingDim);
    const nLevel = opts.nLevel ?? opts.numLayers ?? 1;
    const nSpecific = opts.nExpertSpecific ?? opts.numExperts ?? missing('PLE', 'nExpertSpecific (experts per task; or numExperts)');
    const nShared = opts.nExpertShared ?? opts.numSharedExperts ?? missing('PLE', 'nExpertShared (or numSharedExperts)');
    const given = opts.expertParams ?? (opts.expertUnits ? { dims: opts.expertUnits } : missing('PLE', 'expertParams: { dims: [...] } (or expertUnits)'));
    const expertParams = { ...given, activation: given.activation ?? opts.expertActivation };
    const towerParams = resolveTowers('PLE', opts, this.nTask)!;
    if (!Number.isInteger(nLevel) || nLevel < 1) throw new Error(`PLE: nLevel must be a positive integer, got ${nLevel}`);
    if (!Number.isInteger(nSpecific) || nSpecific < 1) throw new Error(`PLE: nExpertSpecific must be a positive integer, got ${nSpecific}`);
    if (!Number.isInteger(nShared) || nShared < 0) throw new Error(`PLE: nExpertShared must be a non-negative integer, got ${nShared}`);

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    this.levels = [];
    let inputDim = this.embedding.outputDim;
    for (let l = 0; l < nLevel; l++) {
      const level = this.child(`levels.${l}`, new CGCLevel(this.nTask, nSpecific, nShared, inputDim, expertParams, l < nLevel - 1));
      this.levels.push(level);
      inputDim = level.outputDim;
    }
    this.towers = towerParams.map((p, i) => this.child(`towers.${i}`, new MLP(inputDim, towerOptions(p))));
  }

  override get torchRechubClass(): string {
    return 'PLE';
  }

  override torchRechubEntries(): TorchEntry[] {
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.levels.flatMap((level, l) => level.torchEntries(`cgc_layers.${l}`)),
      ...this.towers.flatMap((tower, t) => tower.torchEntries(`towers.${t}`)),
    ];
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    let inputs = Array<Tensor>(this.nTask + 1).fill(input);
    const gateWeights: Record<string, Tensor> = {};
    this.levels.forEach((level, l) => {
      const { outputs, gateWeights: weights } = level.forward(inputs);
      const last = l === this.levels.length - 1;
      const names = [...this.taskNames, ...(last ? [] : ['shared'])].map((n) => (last ? n : `level${l}.${n}`));
      weights.forEach((w, g) => this.takeGateWeights(w, [names[g]], gateWeights));
      inputs = outputs;
    });
    this.setGateWeights(gateWeights);
    return this.taskOutputs(this.towers.map((tower, i) => tower.forward(inputs[i])));
  }
}
