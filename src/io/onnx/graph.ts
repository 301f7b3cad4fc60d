// GraphBuilder: collects the nodes and initializers of an ONNX graph under readable, unique names, and
// hands the module emitters small helpers, one per ONNX operator they use.
import type { Tensor } from '../../tensor/tensor.js';
import type { AttributeValue, NodeData, TensorData, ValueInfoData } from './proto.js';

/** Why a model or option cannot be exported to ONNX, and what to do instead. */
export class OnnxExportError extends Error {
  override readonly name = 'OnnxExportError';
}

type Attrs = Record<string, number | number[] | string | AttributeValue>;

function attribute(v: number | number[] | string | AttributeValue): AttributeValue {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'ints', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v };
  return v;
}

export class GraphBuilder {
  readonly nodes: NodeData[] = [];
  readonly initializers: TensorData[] = [];
  readonly inputs: ValueInfoData[] = [];
  readonly outputs: ValueInfoData[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();

  /**
   * `values`: every parameter and buffer of the model read back to the host (exportOnnx reads them
   * once, asynchronously, so that building the graph is synchronous on any backend).
   */
  constructor(private readonly values: Map<Tensor, Float32Array>) {}

  /** `base`, or `base_1`, `base_2`, ... when taken. */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Reserves a graph input's name (exactly: a clash is an error). */
  input(info: ValueInfoData): string {
    if (this.used.has(info.name)) throw new OnnxExportError(`ONNX export: two graph inputs/outputs are named '${info.name}'`);
    this.used.add(info.name);
    this.inputs.push(info);
    return info.name;
  }

  /** Reserves the graph output's name; setOutput() later makes a value that output. */
  declareOutput(info: ValueInfoData): void {
    if (this.used.has(info.name))
      throw new OnnxExportError(
        `ONNX export: the output name '${info.name}' is also a feature's name; pass another { outputName } (default 'scores')`,
      );
    this.used.add(info.name);
    this.outputs.push(info);
  }

  /** Makes `value` the declared output (an Identity node, so that the output keeps its name). */
  setOutput(value: string): void {
    const name = this.outputs[0].name;
    this.nodes.push({ name, opType: 'Identity', inputs: [value], outputs: [name], attributes: {} });
  }

  /** The host values of a model tensor. */
  host(t: Tensor): Float32Array {
    const v = this.values.get(t);
    if (!v) throw new OnnxExportError(`ONNX export: tensor ${t.name ?? t.describe()} is not a parameter or buffer of the model`);
    return v;
  }

  /** An initializer holding `data` (float32 or int64) of shape `dims`; returns its unique name. */
  initializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: [...dims], data });
    return unique;
  }

  /** A model tensor as an initializer, once however often it is read (a shared embedding table). */
  param(name: string, t: Tensor): string {
    const key = `param:${name}`;
    const known = this.constants.get(key);
    if (known) return known;
    const made = this.initializer(name, t.shape, this.host(t));
    this.constants.set(key, made);
    return made;
  }

  /** A float32 scalar or vector constant, shared by every node that uses the same values. */
  floats(values: readonly number[], dims: readonly number[] = values.length === 1 ? [] : [values.length]): string {
    const key = `f:${dims.join('x')}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(`const_f_${values.join('_').slice(0, 40)}`, dims, Float32Array.from(values));
      this.constants.set(key, name);
    }
    return name;
  }

  /** An int64 vector constant (axes, shapes), shared like floats(). */
  int64s(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i:${dims.join('x')}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = this.initializer(
        `const_i_${values.join('_')}`.replace(/-/g, 'm'),
        dims,
        BigInt64Array.from(values, (v) => BigInt(v)),
      );
      this.constants.set(key, name);
    }
    return name;
  }

  /** One node named `name` (made unique) with one output named after it; returns the output. */
  op(opType: string, name: string, inputs: string[], attrs: Attrs = {}): string {
    const unique = this.unique(name);
    const attributes = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, attribute(v)]));
    this.nodes.push({ name: unique, opType, inputs, outputs: [unique], attributes });
    return unique;
  }

  // ---- the operators the emitters use ----------------------------------------------------------------

  matmul = (name: string, a: string, b: string) => this.op('MatMul', name, [a, b]);
  add = (name: string, a: string, b: string) => this.op('Add', name, [a, b]);
  sub = (name: string, a: string, b: string) => this.op('Sub', name, [a, b]);
  mul = (name: string, a: string, b: string) => this.op('Mul', name, [a, b]);
  div = (name: string, a: string, b: string) => this.op('Div', name, [a, b]);
  sigmoid = (name: string, x: string) => this.op('Sigmoid', name, [x]);
  /** Softmax over the last axis (opset ≥ 13: one axis, not the flattened tail). */
  softmax = (name: string, x: string) => this.op('Softmax', name, [x], { axis: -1 });
  concat = (name: string, xs: string[], axis: number) => (xs.length === 1 ? xs[0] : this.op('Concat', name, xs, { axis }));
  unsqueeze = (name: string, x: string, axes: number[]) => this.op('Unsqueeze', name, [x, this.int64s(axes)]);
  squeeze = (name: string, x: string, axes: number[]) => this.op('Squeeze', name, [x, this.int64s(axes)]);
  reshape = (name: string, x: string, shape: number[]) => this.op('Reshape', name, [x, this.int64s(shape)]);
  transpose = (name: string, x: string, perm: number[]) => this.op('Transpose', name, [x], { perm });
  /** ReduceSum over `axes` (opset ≥ 13: axes as an input). */
  reduceSum = (name: string, x: string, axes: number[], keepdims: 0 | 1) =>
    this.op('ReduceSum', name, [x, this.int64s(axes)], { keepdims });
}
