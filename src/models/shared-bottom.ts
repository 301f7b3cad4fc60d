// Shared-Bottom (Caruana 1997; the baseline of the MMoE and PLE papers): one bottom MLP over the
// feature embeddings, shared by all tasks, then one tower per task.
//
//   features → embedding → bottom MLP ─┬─ tower 0 → ŷ0
//                                      └─ tower 1 → ŷ1
import type { Feature } from '../features.js';
import { EmbeddingLayer, type FeatureBatch } from '../nn/embedding-layer.js';
import { MLP } from '../nn/layers.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TorchEntry } from '../nn/torch-layout.js';
import { checkModelOptions, TASK_OPTION_NAMES, MultiTaskModel, missing, resolveTaskTypes, resolveTowers, towerOptions, withEmbeddingDim, type MLPParams, type TaskOptions } from './base.js';

export interface SharedBottomOptions extends TaskOptions {
  /** The shared bottom MLP (no output layer). */
  bottomParams?: MLPParams;
  /** One tower per task; each ends in Linear(→ 1). */
  towerParamsList?: MLPParams[];
  /** Tutorial name: bottomParams.dims. */
  hiddenUnits?: number[];
  /** Tutorial names: the dims of every tower. */
  taskHiddenUnits?: number[];
  towerUnits?: number[];
}

export class SharedBottom extends MultiTaskModel {
  readonly features: Feature[];
  readonly embedding: EmbeddingLayer;
  readonly bottom: MLP;
  readonly towers: MLP[];

  constructor(opts: SharedBottomOptions) {
    super(resolveTaskTypes('SharedBottom', opts, resolveTowers('SharedBottom', opts)?.length), opts.taskNames);
    checkModelOptions('SharedBottom', opts, [...TASK_OPTION_NAMES, 'bottomParams', 'towerParamsList', 'hiddenUnits', 'taskHiddenUnits', 'towerUnits'], ['bottomParams', 'towerParamsList']);
    this.features = withEmbeddingDim(opts.features, opts.embeddingDim);
    const bottomParams = opts.bottomParams ?? (opts.hiddenUnits ? { dims: opts.hiddenUnits } : missing('SharedBottom', 'bottomParams: { dims: [...] } (or hiddenUnits)'));
    const towerParams = resolveTowers('SharedBottom', opts, this.nTask)!;

    this.embedding = this.child('embedding', new EmbeddingLayer(this.features));
    this.bottom = this.child('bottom', new MLP(this.embedding.outputDim, { ...bottomParams, outputLayer: false }));
    this.towers = towerParams.map((p, i) => this.child(`towers.${i}`, new MLP(this.bottom.outputDim, towerOptions(p))));
  }

  override get torchRechubClass(): string {
    return 'SharedBottom';
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
