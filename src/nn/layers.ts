// The layers of the models: Linear, BatchNorm1d, Dropout, Embedding, activations, and MLP.

import { stageWrite } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { globalRng, init } from '../tensor/random.js';
import { full, ones, type Tensor, zeros } from '../tensor/tensor.js';
import { Module } from './module.js';
import { batchNormEntries, linearEntries, type TorchEntry } from './torch-layout.js';

/** y = x·W + b with W stored [in, out]; torch's default init U(−1/√in, 1/√in). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', init.uniform([inFeatures, outFeatures], -bound, bound));
    this.bias = opts.bias === false ? null : this.param('bias', init.uniform([outFeatures], -bound, bound));
  }
  forward(x: Tensor): Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures) {
      throw new Error(
        `Linear(${this.inFeatures} → ${this.outFeatures}): input ${x.describe()} has ${x.shape[x.rank - 1]} features, expected ${this.inFeatures}`,
      );
    }
    return ops.linear(x, this.weight, this.bias);
  }
  /** torch's Linear: weight [out, in], bias [out]. */
  torchEntries(prefix: string): TorchEntry[] {
    return linearEntries(prefix, this.weight, this.bias);
  }
}

export class BatchNorm1d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** Training-mode forwards so far (torch's num_batches_tracked; informational, momentum is fixed). */
  numBatchesTracked = 0;
  constructor(
    readonly numFeatures: number,
    readonly opts: { eps?: number; momentum?: number; affine?: boolean } = {},
  ) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.param('bias', zeros([numFeatures])) : null;
    this.runningMean = this.buffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.buffer('running_var', ones([numFeatures]));
  }
  /** `relu`: apply ReLU to the result (one pass at inference on backends that fuse it). */
  forward(x: Tensor, opts: { relu?: boolean } = {}): Tensor {
    const gamma = this.weight ?? full([this.numFeatures], 1);
    const beta = this.bias ?? full([this.numFeatures], 0);
    if (this.training) stageWrite(() => this.numBatchesTracked++);
    return ops.batchNorm1d(
      x,
      gamma,
      beta,
      { runningMean: this.runningMean, runningVar: this.runningVar },
      { training: this.training, ...this.opts, relu: opts.relu },
    );
  }
  torchEntries(prefix: string): TorchEntry[] {
    return batchNormEntries(prefix, this, { get: () => this.numBatchesTracked, set: (v) => (this.numBatchesTracked = v) });
  }
}

/** Inverted dropout; each training call draws a fresh mask seed from the global seeded generator. */
export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout: p must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return ops.dropout(x, this.p, { training: true, seed: globalRng().nextUint32() });
  }
}

/** A lookup table [vocab, dim], initialised N(0, std) (1e-4 as torch-rechub). */
export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly vocabSize: number,
    readonly dim: number,
    opts: { std?: number; name?: string } = {},
  ) {
    super();
    this.weight = this.param('weight', init.normal([vocabSize, dim], 0, opts.std ?? 1e-4));
    this.label = opts.name ?? `Embedding(${vocabSize}, ${dim})`;
  }
  private readonly label: string;
  forward(ids: Tensor): Tensor {
    return ops.gatherRows(this.weight, ids, `${this.label} (vocabulary ${this.vocabSize})`);
  }
}

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'prelu' | 'leakyrelu' | 'dice' | 'softmax' | 'linear';

/** PReLU with one learnable slope (torch's default), initialised 0.25. */
export class PReLU extends Module {
  readonly weight: Tensor;
  constructor() {
    super();
    this.weight = this.param('weight', full([1], 0.25));
  }
  forward(x: Tensor): Tensor {
    return ops.prelu(x, this.weight);
  }
  torchEntries(prefix: string): TorchEntry[] {
    return [{ kind: 'parameter', name: `${prefix}.weight`, shape: [1], tensor: this.weight }];
  }
}

/**
 * Dice (DIN, Zhou et al. 2018): p = sigmoid(BN(x)) without affine, y = p·x + (1 − p)·α·x,
 * α learnable per channel.
 */
export class Dice extends Module {
  readonly alpha: Tensor;
  readonly bn: BatchNorm1d;
  constructor(dim: number) {
    super();
    this.alpha = this.param('alpha', zeros([dim]));
    this.bn = this.child('bn', new BatchNorm1d(dim, { affine: false, eps: 1e-8 }));
  }
  forward(x: Tensor): Tensor {
    return diceMix(x, ops.sigmoid(this.bn.forward(x)), this.alpha);
  }
}

export type StatelessActivation = Exclude<ActivationName, 'prelu' | 'dice'>;

/** The activations without parameters, on a tensor of any shape (softmax: over the last axis). */
export function applyActivation(kind: StatelessActivation, x: Tensor): Tensor {
  switch (kind) {
    case 'relu':
      return ops.relu(x);
    case 'sigmoid':
      return ops.sigmoid(x);
    case 'tanh':
      return ops.tanh(x);
    case 'leakyrelu':
      return ops.leakyRelu(x, 0.01);
    case 'softmax':
      return ops.softmax(x);
    case 'linear':
      return x;
  }
}

/** Dice's output given its gate p = sigmoid(BN(x)): p·x + (1 − p)·α·x. */
export function diceMix(x: Tensor, p: Tensor, alpha: Tensor): Tensor {
  return ops.add(ops.mul(p, x), ops.mul(ops.affine(p, -1, 1), ops.mul(alpha, x)));
}

class Activation extends Module {
  constructor(readonly kind: StatelessActivation) {
    super();
  }
  forward(x: Tensor): Tensor {
    return applyActivation(this.kind, x);
  }
}

const ACTIVATIONS: ActivationName[] = ['relu', 'sigmoid', 'tanh', 'prelu', 'leakyrelu', 'dice', 'softmax', 'linear'];

export function activation(name: ActivationName | string, dim: number): Module & { forward(x: Tensor): Tensor } {
  const n = name.toLowerCase() as ActivationName;
  if (!ACTIVATIONS.includes(n)) throw new Error(`Unknown activation '${name}'; use one of ${ACTIVATIONS.join(', ')}`);
  if (n === 'prelu') return new PReLU();
  if (n === 'dice') return new Dice(dim);
  return new Activation(n);
}

/** An activation's torch-rechub entries: none, or PReLU's slope. Dice's parameters differ from torch-rechub's. */
function activationEntries(act: Module, prefix: string): TorchEntry[] {
  if (act instanceof PReLU) return act.torchEntries(prefix);
  if (act instanceof Dice)
    throw new Error(
      `${prefix}: Dice has no torch-rechub counterpart with the same parameters (torch-rechub's Dice has one α and no BatchNorm); use another activation to export`,
    );
  return [];
}

export interface MLPOptions {
  /** Hidden sizes; each is a block Linear → BatchNorm1d → activation → Dropout. */
  dims: number[];
  dropout?: number;
  activation?: ActivationName | string;
  /** Append a final Linear(→ 1) (torch-rechub's output_layer, default true). */
  outputLayer?: boolean;
}

/** One hidden block of an MLP: Linear → BatchNorm1d → activation → Dropout. */
export interface MLPBlock {
  linear: Linear;
  bn: BatchNorm1d;
  act: Module & { forward(x: Tensor): Tensor };
  drop: Dropout;
}

export class MLP extends Module {
  /** The hidden blocks, in order (read by exporters; forward runs them). */
  readonly blocks: readonly MLPBlock[] = [];
  /** The final Linear(→ 1) of a tower (outputLayer), or null. */
  readonly output: Linear | null;
  readonly outputDim: number;
  constructor(
    readonly inputDim: number,
    opts: MLPOptions,
  ) {
    super();
    let d = inputDim;
    opts.dims.forEach((h, i) => {
      (this.blocks as MLPBlock[]).push({
        linear: this.child(`${i}.linear`, new Linear(d, h)),
        bn: this.child(`${i}.bn`, new BatchNorm1d(h)),
        act: this.child(`${i}.act`, activation(opts.activation ?? 'relu', h)),
        drop: this.child(`${i}.dropout`, new Dropout(opts.dropout ?? 0)),
      });
      d = h;
    });
    this.output = (opts.outputLayer ?? true) ? this.child('output', new Linear(d, 1)) : null;
    this.outputDim = this.output ? 1 : d;
  }
  /**
   * torch-rechub's MLP: an nn.Sequential named `mlp` with four modules per hidden size (Linear,
   * BatchNorm1d, activation, Dropout at 4k … 4k + 3), then the output Linear at 4·len(dims).
   */
  torchEntries(prefix: string): TorchEntry[] {
    const entries = this.blocks.flatMap((b, k) => [
      ...b.linear.torchEntries(`${prefix}.mlp.${4 * k}`),
      ...b.bn.torchEntries(`${prefix}.mlp.${4 * k + 1}`),
      ...activationEntries(b.act, `${prefix}.mlp.${4 * k + 2}`),
    ]);
    if (this.output) entries.push(...this.output.torchEntries(`${prefix}.mlp.${4 * this.blocks.length}`));
    return entries;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const b of this.blocks) {
      // ReLU goes into the BatchNorm call, which fuses the two at inference where the backend can.
      const normed =
        b.act instanceof Activation && b.act.kind === 'relu'
          ? b.bn.forward(b.linear.forward(h), { relu: true })
          : b.act.forward(b.bn.forward(b.linear.forward(h)));
      h = b.drop.forward(normed);
    }
    return this.output ? this.output.forward(h) : h;
  }
}
