// Experts: E expert MLPs of one shape, evaluated together. Each layer holds the weights of all experts
// stacked ([E, in, out]), so a layer is one batched matmul with its bias (ops.linear) and one grouped BatchNorm
// however many experts there are. Per expert the parameters are exactly those of a torch-rechub
// MLP(output_layer=False): Linear → BatchNorm1d → activation → Dropout per hidden size.

import { stageWrite } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { globalRng, init } from '../tensor/random.js';
import { full, ones, type Tensor, zeros } from '../tensor/tensor.js';
import { type ActivationName, applyActivation, BatchNorm1d, diceMix, Linear, type StatelessActivation } from './layers.js';
import { Module } from './module.js';
import { batchNormEntries, linearEntries, type TorchEntry } from './torch-layout.js';

export interface ExpertsOptions {
  /** Hidden sizes of every expert, e.g. [16] or [32, 16]. */
  dims: number[];
  activation?: ActivationName | string;
  dropout?: number;
}

/** BatchNorm over the batch axis of [G, B, C], one set of statistics and affine parameters per group. */
export class GroupedBatchNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** Training-mode forwards so far, per group (torch's num_batches_tracked of each expert's BatchNorm). */
  readonly numBatchesTracked: number[];
  constructor(
    readonly groups: number,
    readonly numFeatures: number,
    readonly opts: { eps?: number; momentum?: number; affine?: boolean } = {},
  ) {
    super();
    const shape = [groups, 1, numFeatures];
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', ones(shape)) : null;
    this.bias = affine ? this.param('bias', zeros(shape)) : null;
    this.runningMean = this.buffer('running_mean', zeros(shape));
    this.runningVar = this.buffer('running_var', ones(shape));
    this.numBatchesTracked = Array<number>(groups).fill(0);
  }
  /** Group `g`'s entries, as one torch BatchNorm1d. */
  torchEntries(prefix: string, g: number): TorchEntry[] {
    return batchNormEntries(prefix, this, { get: () => this.numBatchesTracked[g], set: (v) => (this.numBatchesTracked[g] = v) }, g);
  }
  /** `relu`: apply ReLU to the result (one pass at inference on backends that fuse it). */
  forward(x: Tensor, opts: { relu?: boolean } = {}): Tensor {
    const shape = [this.groups, 1, this.numFeatures];
    if (this.training) stageWrite(() => this.numBatchesTracked.forEach((n, g) => (this.numBatchesTracked[g] = n + 1)));
    const gamma = this.weight ?? full(shape, 1, { backend: x.backend });
    const beta = this.bias ?? full(shape, 0, { backend: x.backend });
    return ops.batchNorm1d(
      x,
      gamma,
      beta,
      { runningMean: this.runningMean, runningVar: this.runningVar },
      {
        training: this.training,
        eps: this.opts.eps,
        momentum: this.opts.momentum,
        relu: opts.relu,
      },
    );
  }
}

const EXPERT_ACTIVATIONS = ['relu', 'sigmoid', 'tanh', 'leakyrelu', 'linear', 'prelu', 'dice'];

/**
 * An activation applied to [E, B, C]. Learnable ones keep one set of values per expert, as E
 * separate torch modules would: PReLU one slope per expert, Dice one α per expert and channel.
 */
class ExpertActivation extends Module {
  readonly slope: Tensor | null = null;
  readonly alpha: Tensor | null = null;
  readonly bn: GroupedBatchNorm | null = null;
  constructor(
    readonly kind: string,
    nExpert: number,
    dim: number,
  ) {
    super();
    if (!EXPERT_ACTIVATIONS.includes(kind)) {
      throw new Error(`Experts: unknown activation '${kind}'; use one of ${EXPERT_ACTIVATIONS.join(', ')}`);
    }
    if (kind === 'prelu') this.slope = this.param('weight', full([nExpert, 1, 1], 0.25));
    if (kind === 'dice') {
      this.alpha = this.param('alpha', zeros([nExpert, 1, dim]));
      this.bn = this.child('bn', new GroupedBatchNorm(nExpert, dim, { affine: false, eps: 1e-8 }));
    }
  }
  forward(x: Tensor): Tensor {
    if (this.kind === 'prelu') return ops.prelu(x, this.slope!);
    if (this.kind === 'dice') return diceMix(x, ops.sigmoid(this.bn!.forward(x)), this.alpha!);
    return applyActivation(this.kind as StatelessActivation, x);
  }
  /** Expert e's activation parameters in torch-rechub (PReLU: its slope [1]). */
  torchEntries(prefix: string, e: number): TorchEntry[] {
    if (this.slope) return [{ kind: 'parameter', name: `${prefix}.weight`, shape: [1], tensor: this.slope, slot: e }];
    if (this.alpha)
      throw new Error(
        `${prefix}: Dice has no torch-rechub counterpart with the same parameters (torch-rechub's Dice has one α and no BatchNorm); use another activation to export`,
      );
    return [];
  }
}

/** One hidden layer of all experts: batched Linear → grouped BatchNorm → activation → Dropout. */
class ExpertLayer extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly bn: GroupedBatchNorm;
  readonly act: ExpertActivation;
  constructor(
    nExpert: number,
    readonly inFeatures: number,
    readonly outFeatures: number,
    activation: string,
    readonly dropout: number,
  ) {
    super();
    // torch's Linear default, drawn independently for every expert.
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', init.uniform([nExpert, inFeatures, outFeatures], -bound, bound));
    this.bias = this.param('bias', init.uniform([nExpert, 1, outFeatures], -bound, bound));
    this.bn = this.child('bn', new GroupedBatchNorm(nExpert, outFeatures));
    this.act = this.child('act', new ExpertActivation(activation, nExpert, outFeatures));
  }
  forward(x: Tensor): Tensor {
    const z = ops.linear(x, this.weight, this.bias);
    // ReLU goes into the BatchNorm call, which fuses the two at inference where the backend can.
    const h = this.act.kind === 'relu' ? this.bn.forward(z, { relu: true }) : this.act.forward(this.bn.forward(z));
    if (!this.training || this.dropout === 0) return h;
    return ops.dropout(h, this.dropout, { training: true, seed: globalRng().nextUint32() });
  }
  /** Expert e's block k of a torch-rechub MLP: Linear at mlp.4k, BatchNorm1d at 4k + 1, activation at 4k + 2. */
  torchEntries(prefix: string, k: number, e: number): TorchEntry[] {
    return [
      ...linearEntries(`${prefix}.mlp.${4 * k}`, this.weight, this.bias, e),
      ...this.bn.torchEntries(`${prefix}.mlp.${4 * k + 1}`, e),
      ...this.act.torchEntries(`${prefix}.mlp.${4 * k + 2}`, e),
    ];
  }
}

export class Experts extends Module {
  readonly layers: ExpertLayer[];
  /** Width of each expert's output (the last hidden size). */
  readonly outputDim: number;

  constructor(
    readonly nExpert: number,
    readonly inputDim: number,
    opts: ExpertsOptions,
  ) {
    super();
    if (!Number.isInteger(nExpert) || nExpert < 1)
      throw new Error(`Experts: the number of experts must be a positive integer, got ${nExpert}`);
    if (!opts.dims?.length) throw new Error('Experts: dims must list at least one hidden size, e.g. { dims: [16] }');
    const dropout = opts.dropout ?? 0;
    if (!(dropout >= 0 && dropout < 1)) throw new Error(`Experts: dropout must be in [0, 1), got ${dropout}`);
    const activation = (opts.activation ?? 'relu').toLowerCase();
    let d = inputDim;
    this.layers = opts.dims.map((h, i) => {
      const layer = this.child(`layers.${i}`, new ExpertLayer(nExpert, d, h, activation, dropout));
      d = h;
      return layer;
    });
    this.outputDim = d;
  }

  /**
   * x [B, D] (the same input for every expert) or [E, B, D] (one input per expert) → [E, B, H].
   */
  forward(x: Tensor): Tensor {
    const shared = x.rank === 2;
    const width = x.shape[x.rank - 1];
    if ((!shared && (x.rank !== 3 || x.shape[0] !== this.nExpert)) || width !== this.inputDim) {
      throw new Error(
        `Experts(${this.nExpert} × ${this.inputDim} → ${this.outputDim}): expected input [batch, ${this.inputDim}] or [${this.nExpert}, batch, ${this.inputDim}], got ${x.describe()}`,
      );
    }
    let h = x;
    for (const layer of this.layers) h = layer.forward(h);
    return h;
  }

  /** torch-rechub keeps one MLP(output_layer=False) per expert; `names[e]` is expert e's module path. */
  torchEntries(names: string[]): TorchEntry[] {
    if (names.length !== this.nExpert) throw new Error(`Experts.torchEntries: ${names.length} names for ${this.nExpert} experts`);
    return names.flatMap((name, e) => this.layers.flatMap((layer, k) => layer.torchEntries(name, k, e)));
  }
}

/**
 * A gate: Linear(→ nExpert) → BatchNorm, as torch-rechub's gate MLP. It returns the logits; the
 * softmax and the weighted sum of experts happen together in ops.gateMix.
 */
export class Gate extends Module {
  readonly linear: Linear;
  readonly bn: BatchNorm1d;
  constructor(
    readonly inputDim: number,
    readonly nExpert: number,
  ) {
    super();
    this.linear = this.child('linear', new Linear(inputDim, nExpert));
    this.bn = this.child('bn', new BatchNorm1d(nExpert));
  }
  /** x [B, D] → logits [B, nExpert]. */
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.linear.forward(x));
  }
  /** torch-rechub's gate: MLP(dims=[nExpert], activation softmax, output_layer=False): Linear at mlp.0, BatchNorm1d at mlp.1. */
  torchEntries(prefix: string): TorchEntry[] {
    return [...this.linear.torchEntries(`${prefix}.mlp.0`), ...this.bn.torchEntries(`${prefix}.mlp.1`)];
  }
}
