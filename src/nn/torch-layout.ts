// Where each of a module's values sits in a torch-rechub state dict: the name torch-rechub gives it,
// its shape there, and how it maps onto our tensor. Layers describe themselves (Linear, BatchNorm1d,
// MLP, Experts, Gate, the embedding tables); each model lists its layers under torch-rechub's module
// paths. io/torch-rechub.ts reads these lists to import and export weights.
import type { Tensor } from '../tensor/tensor.js';

/** One tensor of a torch-rechub state dict, held in our tensor `tensor` (or in one slice of it). */
export interface TorchTensorEntry {
  kind: 'parameter' | 'buffer';
  /** torch-rechub's name, e.g. 'experts.2.mlp.0.weight'. */
  name: string;
  /** Its shape in torch, e.g. [out, in] for a Linear weight. */
  shape: number[];
  tensor: Tensor;
  /**
   * Experts are stacked on axis 0 of our tensor ([E, in, out], [E, 1, C]); torch-rechub keeps one
   * module per expert. `slot` is the expert this entry is.
   */
  slot?: number;
  /** torch stores Linear weights [out, in]; we store [in, out]. */
  transposed?: boolean;
}

/** BatchNorm's num_batches_tracked (an integer buffer in torch; a plain counter here). */
export interface TorchCounterEntry {
  kind: 'counter';
  name: string;
  get(): number;
  set(value: number): void;
}

export type TorchEntry = TorchTensorEntry | TorchCounterEntry;

/** The entries of a Linear-like weight [in, out] (or slot `slot` of [E, in, out]) and its bias. */
export function linearEntries(prefix: string, weight: Tensor, bias: Tensor | null, slot?: number): TorchEntry[] {
  const [inF, outF] = weight.shape.slice(-2);
  const out: TorchEntry[] = [{ kind: 'parameter', name: `${prefix}.weight`, shape: [outF, inF], tensor: weight, slot, transposed: true }];
  if (bias) out.push({ kind: 'parameter', name: `${prefix}.bias`, shape: [outF], tensor: bias, slot });
  return out;
}

/** A BatchNorm1d's affine parameters, running statistics and batch counter. */
export function batchNormEntries(
  prefix: string,
  bn: { weight: Tensor | null; bias: Tensor | null; runningMean: Tensor; runningVar: Tensor; numFeatures: number },
  counter: { get(): number; set(v: number): void },
  slot?: number,
): TorchEntry[] {
  const shape = [bn.numFeatures];
  const out: TorchEntry[] = [];
  if (bn.weight) out.push({ kind: 'parameter', name: `${prefix}.weight`, shape, tensor: bn.weight, slot });
  if (bn.bias) out.push({ kind: 'parameter', name: `${prefix}.bias`, shape, tensor: bn.bias, slot });
  out.push(
    { kind: 'buffer', name: `${prefix}.running_mean`, shape, tensor: bn.runningMean, slot },
    { kind: 'buffer', name: `${prefix}.running_var`, shape, tensor: bn.runningVar, slot },
    { kind: 'counter', name: `${prefix}.num_batches_tracked`, ...counter },
  );
  return out;
}

/** Something that can list its torch-rechub entries under a module path. */
export interface TorchLayout {
  torchEntries(prefix: string): TorchEntry[];
}
