// Shared-Bottom (Caruana 1997; the baseline of the MMoE and PLE papers): one bottom MLP over the
// feature embeddings, shared by all tasks, then one tower per task.
//
//   features → embedding → bottom MLP ─┬─ tower 0 → ŷ0
//                                      └─ tower 1 → ŷ1
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { MLP } from '../nn/layers.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { type BottomSpellings, SHARED_BOTTOM_SPELLINGS } from '../spellings.js';
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

export interface SharedBottomParams extends TaskOptions {
  /** The shared bottom MLP (no output layer). */
  bottomParams?: MLPParams;
  /** One tower per task; each ends in Linear(→ 1). */
  towerParamsList?: MLPParams[];
}

/** torch-rechub's names or the tutorial's (hiddenUnits, towerUnits, numTasks, ...). */
export type SharedBottomOptions = SharedBottomParams & BottomSpellings;

const OPTION_NAMES = [...TASK_OPTION_NAMES, 'bottomParams', 'towerParamsList'];

export class SharedBottom extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly bottom: MLP;
  readonly towers: MLP[];

  constructor(given: SharedBottomOptions) {
    const opts = modelOptions<SharedBottomParams>('SharedBottom', given, OPTION_NAMES, SHARED_BOTTOM_SPELLINGS);
    super(resolveTaskTypes('SharedBottom', opts, opts.towerParamsList?.length), opts.taskNames);
    checkModelOptions('SharedBottom', opts, OPTION_NAMES, ['bottomParams', 'towerParamsList']);
    this.keepConfig(SHARED_BOTTOM_ENTRY.name, opts);
    this.features = opts.features;
    const bottomParams = opts.bottomParams ?? missing('SharedBottom', 'bottomParams: { dims: [...] } (or hiddenUnits)');
    const towerParams = opts.towerParamsList ?? defaultTowers(this.nTask);

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    this.bottom = this.child('bottom', new MLP(this.embedding.outputDim, { ...bottomParams, outputLayer: false }));
    this.towers = towerParams.map((p, i) => this.child(`towers.${i}`, new MLP(this.bottom.outputDim, towerOptions(p))));
  }

  override get torchRechubClass(): string {
    return SHARED_BOTTOM_ENTRY.torchRechubClass;
  }

  override torchRechubEntries(): TorchEntry[] {
    return [
      ...this.embedding.torchEntries('embedding'),
      ...this.bottom.torchEntries('bottom_mlp'),
      ...this.towers.flatMap((tower, t) => tower.torchEntries(`towers.${t}`)),
    ];
  }

  forward(x: FeatureBatch): Tensor {
    const shared = this.bottom.forward(this.embedding.forward(x));
    return this.taskOutputs(this.towers.map((tower) => tower.forward(shared)));
  }
}

/** SharedBottom in the model registry (registry.ts): its names, torch-rechub class, summary, constructor and CLI preset. */
export const SHARED_BOTTOM_ENTRY = {
  name: 'sharedbottom',
  aliases: ['SharedBottom', 'shared-bottom'],
  torchRechubClass: 'SharedBottom',
  summary: 'One bottom MLP shared by all tasks, then a tower per task (Caruana 1997)',
  build: (opts: object) => new SharedBottom(opts as SharedBottomOptions),
  preset: ({ features, taskTypes, taskNames }: PresetInput) =>
    new SharedBottom({
      features: features(4),
      taskTypes,
      taskNames,
      bottomParams: { dims: [117] },
      towerParamsList: taskTypes.map(() => ({ dims: [8] })),
    }),
} as const satisfies ModelEntry;
