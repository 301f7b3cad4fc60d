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
import { Experts, type ExpertsOptions, Gate } from '../nn/experts.js';
import { MLP } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { PLE_SPELLINGS, type PLESpellings } from '../spellings.js';
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
  towerOptions,
} from './base.js';
import type { ModelEntry, PresetInput } from './registry.js';

export interface PLEParams extends TaskOptions {
  /** Number of CGC levels (1 = CGC). */
  nLevel?: number;
  /** Experts per task in each level. */
  nExpertSpecific?: number;
  /** Shared experts in each level. */
  nExpertShared?: number;
  expertParams?: ExpertsOptions;
  towerParamsList?: MLPParams[];
}

/** torch-rechub's names or the tutorial's (numLayers, numExperts, numSharedExperts, expertUnits, towerUnits, ...). */
export type PLEOptions = PLEParams & PLESpellings;

const OPTION_NAMES = [...TASK_OPTION_NAMES, 'nLevel', 'nExpertSpecific', 'nExpertShared', 'expertParams', 'towerParamsList'];

/**
 * One CGC level. Task-specific and shared experts are separate Experts groups (one batched matmul per
 * group and layer) so that each task's experts are parameters of their own for parameterGroups().
 */
export class CGCLevel extends Module {
  readonly taskExperts: Experts[];
  readonly sharedExperts: Experts | null;
  readonly taskGates: Gate[];
  readonly sharedGate: Gate | null;

  constructor(
    nTask: number,
    readonly nExpertSpecific: number,
    readonly nExpertShared: number,
    inputDim: number,
    expertParams: ExpertsOptions,
    withSharedGate: boolean,
  ) {
    super();
    this.taskExperts = Array.from({ length: nTask }, (_, i) =>
      this.child(`taskExperts.${i}`, new Experts(nExpertSpecific, inputDim, expertParams)),
    );
    this.sharedExperts = nExpertShared > 0 ? this.child('sharedExperts', new Experts(nExpertShared, inputDim, expertParams)) : null;
    this.taskGates = Array.from({ length: nTask }, (_, i) =>
      this.child(`taskGates.${i}`, new Gate(inputDim, nExpertSpecific + nExpertShared)),
    );
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
   * Its gates, keyed by `keys` (one per task gate, then the shared gate's): task gate i mixes its own
   * experts, then the shared ones; the shared gate mixes every task's experts in task order, then the
   * shared ones.
   */
  mixtures(keys: string[]): GateMixture[] {
    const n = this.nExpertSpecific;
    const shared = (offset: number) => (this.sharedExperts ? [{ module: this.sharedExperts, offset }] : []);
    const mixtures: GateMixture[] = this.taskGates.map((gate, i) => ({
      key: keys[i],
      gate,
      experts: [{ module: this.taskExperts[i], offset: 0 }, ...shared(n)],
      tasks: [i],
    }));
    if (this.sharedGate) {
      const own = this.taskExperts.map((module, t) => ({ module, offset: t * n }));
      mixtures.push({
        key: keys[this.taskGates.length],
        gate: this.sharedGate,
        experts: [...own, ...shared(this.taskExperts.length * n)],
        tasks: [],
      });
    }
    return mixtures;
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

  constructor(given: PLEOptions) {
    const opts = modelOptions<PLEParams>('PLE', given, OPTION_NAMES, PLE_SPELLINGS);
    super(resolveTaskTypes('PLE', opts, opts.towerParamsList?.length), opts.taskNames);
    checkModelOptions('PLE', opts, OPTION_NAMES, ['expertParams', 'towerParamsList']);
    this.keepConfig(PLE_ENTRY.name, opts);
    this.features = opts.features;
    const nLevel = opts.nLevel ?? 1;
    const nSpecific = opts.nExpertSpecific ?? missing('PLE', 'nExpertSpecific (experts per task; or numExperts)');
    const nShared = opts.nExpertShared ?? missing('PLE', 'nExpertShared (or numSharedExperts)');
    const expertParams = opts.expertParams ?? missing('PLE', 'expertParams: { dims: [...] } (or expertUnits)');
    const towerParams = opts.towerParamsList ?? defaultTowers(this.nTask);
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
    return PLE_ENTRY.torchRechubClass;
  }

  override torchRechubEntries(): TorchEntry[] {
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.levels.flatMap((level, l) => level.torchEntries(`cgc_layers.${l}`)),
      ...this.towers.flatMap((tower, t) => tower.torchEntries(`towers.${t}`)),
    ];
  }

  /** The keys of level l's gates: the task names (then 'shared'), prefixed 'level<l>.' below the last level. */
  private gateKeys(l: number): string[] {
    const last = l === this.levels.length - 1;
    return [...this.taskNames, ...(last ? [] : ['shared'])].map((n) => (last ? n : `level${l}.${n}`));
  }

  override mixtures(): GateMixture[] {
    return this.levels.flatMap((level, l) => level.mixtures(this.gateKeys(l)));
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    let inputs = Array<Tensor>(this.nTask + 1).fill(input);
    const gateWeights: Record<string, Tensor> = {};
    this.levels.forEach((level, l) => {
      const { outputs, gateWeights: weights } = level.forward(inputs);
      const keys = this.gateKeys(l);
      weights.forEach((w, g) => this.takeGateWeights(w, [keys[g]], gateWeights));
      inputs = outputs;
    });
    this.setGateWeights(gateWeights);
    return this.taskOutputs(this.towers.map((tower, i) => tower.forward(inputs[i])));
  }
}

/** PLE in the model registry (registry.ts): its names, torch-rechub class, summary, constructor and CLI preset. */
export const PLE_ENTRY = {
  name: 'ple',
  aliases: ['PLE'],
  torchRechubClass: 'PLE',
  summary: 'Progressive layered extraction: stacked levels of task-specific and shared experts (Tang et al., RecSys 2020)',
  build: (opts: object) => new PLE(opts as PLEOptions),
  preset: ({ features, taskTypes, taskNames }: PresetInput) =>
    new PLE({
      features: features(4),
      taskTypes,
      taskNames,
      nLevel: 1,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [16] },
      towerParamsList: taskTypes.map(() => ({ dims: [8] })),
    }),
} as const satisfies ModelEntry;
