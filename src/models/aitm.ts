// AITM (Xi et al., KDD 2021): tasks of a conversion funnel (impression → click → purchase ...). Each
// task has its own bottom; task i ≥ 1 takes information transferred from task i − 1 through an info
// gate, and an attention unit (AIT) weighs its own representation against that information. Training
// adds the paper's behavioural-expectation calibrator, α · mean_batch Σ_{t≥1} max(ŷ_t − ŷ_{t−1}, 0):
// a later step of the funnel should not be likelier than the one before it.
//
//   embedding ─┬─ bottom 0 → z0 ───────────────────────────── tower 0 → ŷ0
//              │             └─ info gate → p0 ─┐
//              └─ bottom 1 → q1 ───────────── AIT(q1, p0) → z1 ─ tower 1 → ŷ1
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { Linear, MLP } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { AITM_SPELLINGS, type BottomSpellings } from '../spellings.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  checkModelOptions,
  defaultTowers,
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

export interface AITMParams extends TaskOptions {
  /** Number of tasks, in funnel order (default: the length of taskTypes or towerParamsList). */
  nTask?: number;
  /** Each task's bottom MLP (no output layer). */
  bottomParams?: MLPParams;
  towerParamsList?: MLPParams[];
  /**
   * α of the behavioural-expectation calibrator (default 0.6, the paper's setting; 0 turns it off, as
   * in torch-rechub's AITM, which has no calibrator). Tasks must be in funnel order (click before
   * purchase) and all classification for α > 0.
   */
  calibratorWeight?: number;
}

/** torch-rechub's names or the tutorial's (numTasks, hiddenUnits, towerUnits, ...). */
export type AITMOptions = AITMParams & BottomSpellings;

const OPTION_NAMES = [...TASK_OPTION_NAMES, 'nTask', 'bottomParams', 'towerParamsList', 'calibratorWeight'];

/** The paper's calibrator weight α. */
export const AITM_CALIBRATOR_WEIGHT = 0.6;

/**
 * The Adaptive Information Transfer unit: items u = [own, transferred] (each [B, d]);
 * w_j = softmax_j(⟨q(u_j), k(u_j)⟩ / √d), output Σ_j w_j · v(u_j). q, k, v are Linear without bias.
 */
export class TransferAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  constructor(readonly dim: number) {
    super();
    this.query = this.child('query', new Linear(dim, dim, { bias: false }));
    this.key = this.child('key', new Linear(dim, dim, { bias: false }));
    this.value = this.child('value', new Linear(dim, dim, { bias: false }));
  }
  /** torch-rechub's AttentionLayer: q_layer, k_layer, v_layer, Linear without bias. */
  torchEntries(prefix: string): TorchEntry[] {
    return [
      ...this.query.torchEntries(`${prefix}.q_layer`),
      ...this.key.torchEntries(`${prefix}.k_layer`),
      ...this.value.torchEntries(`${prefix}.v_layer`),
    ];
  }
  forward(own: Tensor, transferred: Tensor): Tensor {
    const u = ops.stack([own, transferred], 1); // [B, 2, d]
    const q = this.query.forward(u);
    const k = this.key.forward(u);
    const v = this.value.forward(u);
    const scores = ops.mul(ops.sum(ops.mul(q, k), -1), 1 / Math.sqrt(this.dim)); // [B, 2]
    const w = ops.unsqueeze(ops.softmax(scores), -1); // [B, 2, 1]
    return ops.sum(ops.mul(w, v), 1); // [B, d]
  }
}

export class AITM extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly bottoms: MLP[];
  /** infoGates[i − 1] and attentions[i − 1] serve task i. */
  readonly infoGates: MLP[];
  readonly attentions: TransferAttention[];
  readonly towers: MLP[];
  /** α of the behavioural-expectation calibrator (0: none). */
  readonly calibratorWeight: number;

  constructor(given: AITMOptions) {
    const opts = modelOptions<AITMParams>('AITM', given, OPTION_NAMES, AITM_SPELLINGS);
    super(resolveTaskTypes('AITM', opts, opts.towerParamsList?.length), opts.taskNames);
    checkModelOptions('AITM', opts, OPTION_NAMES, ['bottomParams', 'towerParamsList']);
    this.keepConfig(AITM_ENTRY.name, opts);
    this.features = opts.features;
    const bottomParams = opts.bottomParams ?? missing('AITM', 'bottomParams: { dims: [...] } (or hiddenUnits)');
    if (!bottomParams.dims.length) throw new Error('AITM: bottomParams.dims needs at least one hidden size (the width the tasks exchange)');
    const towerParams = opts.towerParamsList ?? defaultTowers(this.nTask);
    const allClassification = this.taskTypes.every((t) => t === 'classification');
    this.calibratorWeight = opts.calibratorWeight ?? (allClassification ? AITM_CALIBRATOR_WEIGHT : 0);
    if (!(this.calibratorWeight >= 0 && Number.isFinite(this.calibratorWeight))) {
      throw new Error(`AITM: calibratorWeight must be a finite number ≥ 0, got ${opts.calibratorWeight}`);
    }
    if (this.calibratorWeight > 0 && !allClassification) {
      throw new Error(
        "AITM: the calibrator compares the tasks' probabilities, so every task must be a classification task; pass calibratorWeight: 0 for regression tasks",
      );
    }

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    const bottom = () => new MLP(this.embedding.outputDim, { ...bottomParams, outputLayer: false });
    this.bottoms = this.taskTypes.map((_, i) => this.child(`bottoms.${i}`, bottom()));
    const d = this.bottoms[0].outputDim;
    this.infoGates = [];
    this.attentions = [];
    for (let i = 1; i < this.nTask; i++) {
      this.infoGates.push(this.child(`infoGates.${i - 1}`, new MLP(d, { dims: [d], outputLayer: false })));
      this.attentions.push(this.child(`attentions.${i - 1}`, new TransferAttention(d)));
    }
    this.towers = towerParams.map((p, i) => this.child(`towers.${i}`, new MLP(d, towerOptions(p))));
  }

  override get torchRechubClass(): string {
    return AITM_ENTRY.torchRechubClass;
  }

  override torchRechubEntries(): TorchEntry[] {
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.bottoms.flatMap((bottom, t) => bottom.torchEntries(`bottoms.${t}`)),
      ...this.towers.flatMap((tower, t) => tower.torchEntries(`towers.${t}`)),
      ...this.infoGates.flatMap((gate, i) => gate.torchEntries(`info_gates.${i}`)),
      ...this.attentions.flatMap((ait, i) => ait.torchEntries(`aits.${i}`)),
    ];
  }

  /** α · mean over the batch of Σ_{t≥1} max(ŷ_t − ŷ_{t−1}, 0), from forward()'s output [batch, nTask]. */
  override auxiliaryLoss(output: Tensor): Tensor | null {
    if (this.calibratorWeight === 0 || this.nTask < 2) return null;
    const [batch, nTask] = output.shape;
    const later = ops.slice(output, [0, 1], [batch, nTask - 1]);
    const earlier = ops.slice(output, [0, 0], [batch, nTask - 1]);
    const excess = ops.relu(ops.sub(later, earlier));
    return ops.mul(ops.mean(ops.sum(excess, 1)), this.calibratorWeight);
  }

  forward(x: FeatureBatch): Tensor {
    const input = this.embedding.forward(x);
    const z = [this.bottoms[0].forward(input)];
    for (let i = 1; i < this.nTask; i++) {
      const transferred = this.infoGates[i - 1].forward(z[i - 1]);
      z.push(this.attentions[i - 1].forward(this.bottoms[i].forward(input), transferred));
    }
    return this.taskOutputs(this.towers.map((tower, i) => tower.forward(z[i])));
  }
}

/** AITM in the model registry (registry.ts): its names, torch-rechub class, summary, constructor and CLI preset. */
export const AITM_ENTRY = {
  name: 'aitm',
  aliases: ['AITM'],
  torchRechubClass: 'AITM',
  summary: 'Adaptive information transfer along a conversion funnel, with a behavioural-expectation calibrator (Xi et al., KDD 2021)',
  build: (opts: object) => new AITM(opts as AITMOptions),
  preset: ({ features, taskTypes, taskNames }: PresetInput) =>
    new AITM({
      features: features(4),
      taskTypes,
      taskNames,
      bottomParams: { dims: [32, 16] },
      towerParamsList: taskTypes.map(() => ({ dims: [8] })),
    }),
} as const satisfies ModelEntry;
