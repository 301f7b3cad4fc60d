// Tensor: a shape, a dtype and reference-counted storage on one backend, plus the autograd node
// that produced it. Ops live in ops/ (ops.ts re-exports them); the methods here are thin forwards to them.
import type { Backend, Buffer, DType, TypedArray } from '../backend/backend.js';
import { getBackend, keep, noGrad, registerTensorCheck, track } from './engine.js';
import * as ops from './ops.js';

export type Shape = readonly number[];
export type NestedArray = number | NestedArray[];

/** Device memory shared by a tensor and its views (reshape). Freed when the last owner disposes. */
export class Storage {
  refs = 1;
  constructor(
    readonly buffer: Buffer,
    /** Host copy of int32 ids, kept for tensors made from host data (gather needs it to validate ids). */
    readonly host?: Int32Array,
  ) {}
}

/** A step of the tape: the op that made a tensor, its inputs, and how to send a gradient back. */
export interface GradNode {
  op: string;
  inputs: Tensor[];
  /** Gradients for each input (null where the input needs none), in terms of other ops. */
  backward: (grad: Tensor) => (Tensor | null)[];
}

let nextId = 0;

export const fmtShape = (shape: Shape): string => `[${shape.join(', ')}]`;

/** How a value that should have been a number reads in an error message: "a string ('a')", "undefined". */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return `a string ('${v.length > 40 ? `${v.slice(0, 40)}…` : v}')`;
    case 'boolean':
      return `a boolean (${v})`;
    case 'bigint':
      return `a bigint (${v}n)`;
    case 'number':
      return `the number ${v}`;
    case 'object':
      return ArrayBuffer.isView(v) ? `a ${v.constructor.name}` : 'an object';
    default:
      return `a ${typeof v}`;
  }
}

/**
 * Throws unless `shape` is an array of non-negative integers (0 is an empty axis, as in PyTorch).
 * Every creation point calls it before allocating, so a bad shape changes nothing.
 */
export function checkShape(op: string, shape: unknown): asserts shape is Shape {
  if (!Array.isArray(shape)) {
    throw new Error(`${op}: shape must be an array of dimensions (e.g. [2, 3]; [] for a scalar), got ${describeValue(shape)}`);
  }
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new Error(
        `${op}: axis ${i} of shape ${fmtShape(shape)} is ${typeof d === 'number' ? d : describeValue(d)}; each dimension must be a non-negative integer (0 for an empty axis${d === -1 ? '; -1 infers a dimension only in reshape' : ''})`,
      );
    }
  }
}

/** Number of elements of a shape; throws (as checkShape) on a negative, fractional or non-finite dimension. */
export function sizeOf(shape: Shape): number {
  if (!Array.isArray(shape)) checkShape('shape', shape);
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (!Number.isInteger(d) || d < 0) checkShape('shape', shape);
    n *= d;
  }
  return n;
}

const DTYPES: readonly string[] = ['f32', 'i32'];

function checkDType(op: string, dtype: unknown): asserts dtype is DType {
  if (!DTYPES.includes(dtype as string)) {
    throw new Error(`${op}: dtype ${typeof dtype === 'string' ? `'${dtype}'` : describeValue(dtype)} is not supported; use 'f32' or 'i32'`);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  private storage: Storage | null;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  node: GradNode | null = null;
  /** Optional label used in error messages and by Module for parameter names. */
  name?: string;

  constructor(
    storage: Storage,
    readonly shape: Shape,
    readonly dtype: DType,
    requiresGrad = false,
  ) {
    this.storage = storage;
    this.size = sizeOf(shape);
    this.requiresGrad = requiresGrad;
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get backend(): Backend {
    return this.buffer.backend;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** The device buffer; throws a clear error after dispose(). */
  get buffer(): Buffer {
    return this.liveStorage().buffer;
  }

  /** Host copy of int32 ids when this tensor was made from host data. */
  get hostIds(): Int32Array | undefined {
    return this.liveStorage().host;
  }

  private liveStorage(): Storage {
    if (!this.storage) {
      throw new Error(
        `Tensor ${this.describe()} was used after dispose(). Keep it alive (keep(t), or return it from tidy()) while it is needed.`,
      );
    }
    return this.storage;
  }

  describe(): string {
    return `${this.name ? `'${this.name}' ` : ''}${fmtShape(this.shape)} ${this.dtype}`;
  }

  /** A tensor sharing this one's storage under a new shape with the same number of elements (no copy). */
  view(shape: Shape): Tensor {
    checkShape('view', shape);
    const n = sizeOf(shape);
    if (n !== this.size) {
      throw new Error(
        `view: shape ${fmtShape(shape)} (${n} elements) does not match the ${this.size} elements of ${this.describe()}; use reshape (-1 infers one dimension)`,
      );
    }
    const s = this.liveStorage();
    s.refs++;
    return new Tensor(s, [...shape], this.dtype);
  }

  /**
   * Moves this tensor's values to another backend in place (same Tensor object, so modules and
   * optimizers holding it keep working). Its gradient is dropped; views of it keep the old storage.
   */
  async moveTo(backend: Backend): Promise<void> {
    const s = this.liveStorage();
    if (s.buffer.backend === backend) return;
    const values = await s.buffer.backend.read(s.buffer);
    // values.length is the buffer's size: at least 1, also for an empty tensor.
    const buf = backend.alloc(values.length, this.dtype);
    backend.write(buf, values);
    this.zeroGrad();
    if (--s.refs === 0) s.buffer.backend.free(s.buffer);
    this.storage = new Storage(buf, s.host);
  }

  /**
   * Exchanges the values (storage) of two tensors of one shape and dtype, in place and without a copy.
   * Used to run a model on stand-in values and put its own back (MultiTaskModel's routing probe).
   */
  exchangeStorage(other: Tensor): void {
    if (other.shape.join() !== this.shape.join() || other.dtype !== this.dtype) {
      throw new Error(`exchangeStorage: ${this.describe()} and ${other.describe()} differ in shape or dtype`);
    }
    const mine = this.liveStorage();
    this.storage = other.liveStorage();
    other.storage = mine;
  }

  dispose(): void {
    if (!this.storage) return;
    const s = this.storage;
    this.storage = null;
    if (--s.refs === 0) s.buffer.backend.free(s.buffer);
    this.node = null;
  }

  /** Values as a flat typed array (the only readback). */
  async data(): Promise<TypedArray> {
    const buf = this.buffer;
    // An empty tensor's buffer holds one placeholder element; it has no values to read.
    if (this.size === 0) return this.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    return this.backend.read(buf);
  }

  /** Synchronous values, only on backends that can (CPU). */
  dataSync(): TypedArray {
    const b = this.backend;
    if (!b.readSync) throw new Error(`dataSync() is not available on the ${b.name} backend; use await t.data()`);
    if (this.size === 0) return this.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    return b.readSync(this.buffer);
  }

  /** Values as nested arrays matching the shape. */
  async toArray(): Promise<NestedArray> {
    return nest(Array.from(await this.data()), this.shape);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a one-element tensor, got ${fmtShape(this.shape)}`);
    return (await this.data())[0];
  }

  /** A new tensor with the same storage that is cut off from the graph. */
  detach(): Tensor {
    return this.view(this.shape);
  }

  /** Reverse-mode differentiation from this tensor; accumulates into .grad of leaves. */
  backward(grad?: Tensor): void {
    backward(this, grad);
  }

  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  // ---- op forwards (see ops.ts) ----
  add(b: Tensor | number): Tensor {
    return ops.add(this, b);
  }
  sub(b: Tensor | number): Tensor {
    return ops.sub(this, b);
  }
  mul(b: Tensor | number): Tensor {
    return ops.mul(this, b);
  }
  div(b: Tensor | number): Tensor {
    return ops.div(this, b);
  }
  pow(b: Tensor | number): Tensor {
    return ops.pow(this, b);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  clamp(min: number, max: number): Tensor {
    return ops.clamp(this, min, max);
  }
  matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor {
    return ops.matmul(this, b, opts);
  }
  sum(axis?: number | number[], keepDims = false): Tensor {
    return ops.sum(this, axis, keepDims);
  }
  mean(axis?: number | number[], keepDims = false): Tensor {
    return ops.mean(this, axis, keepDims);
  }
  max(axis?: number | number[], keepDims = false): Tensor {
    return ops.max(this, axis, keepDims);
  }
  reshape(shape: number[]): Tensor {
    return ops.reshape(this, shape);
  }
  transpose(perm?: number[]): Tensor {
    return ops.transpose(this, perm);
  }
  softmax(): Tensor {
    return ops.softmax(this);
  }
  logSoftmax(): Tensor {
    return ops.logSoftmax(this);
  }
  get T(): Tensor {
    return ops.transpose(this);
  }
}

registerTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

function nest(flat: number[], shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0];
  const [n, ...rest] = shape;
  const step = sizeOf(rest);
  return Array.from({ length: n }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), rest));
}

// ---- creation ----------------------------------------------------------------------------------

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
  backend?: Backend;
}

/** A tensor of `shape` filled from a typed array (copied to the device). */
export function fromArray(data: TypedArray, shape: Shape, opts: CreateOptions = {}): Tensor {
  return fromArrayAs('fromArray', data, shape, opts);
}

/**
 * Values as int32, refusing what would change: a fraction, NaN, ±Infinity or a value outside int32
 * (ids and counts are whole numbers; torch also refuses an overflow).
 */
function toInt32(op: string, data: ArrayLike<number>): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new Error(`${op}: element ${i} is ${v}, which is not a whole number in the int32 range; round it first or use dtype 'f32'`);
    }
    out[i] = v;
  }
  return out;
}

/** Numeric typed arrays other than Float32Array/Int32Array are converted; these cannot be. */
const isBigIntArray = (v: ArrayBufferView): boolean =>
  (typeof BigInt64Array !== 'undefined' && v instanceof BigInt64Array) ||
  (typeof BigUint64Array !== 'undefined' && v instanceof BigUint64Array);

function fromArrayAs(op: string, data: TypedArray, shape: Shape, opts: CreateOptions): Tensor {
  checkShape(op, shape);
  if (opts.dtype !== undefined) checkDType(op, opts.dtype);
  const raw: unknown = data;
  if (ArrayBuffer.isView(raw)) {
    if (raw instanceof DataView || isBigIntArray(raw)) {
      throw new Error(
        `${op}: data must be a Float32Array, an Int32Array, another numeric typed array or an array of numbers, got a ${raw.constructor.name}`,
      );
    }
  } else if (Array.isArray(raw)) {
    const i = raw.findIndex((v) => typeof v !== 'number');
    if (i >= 0) throw new Error(`${op}: data[${i}] is ${describeValue(raw[i])}; every value must be a number`);
  } else {
    throw new Error(`${op}: data must be a Float32Array, an Int32Array or an array of numbers, got ${describeValue(raw)}`);
  }
  const dtype: DType = opts.dtype ?? (data instanceof Int32Array ? 'i32' : 'f32');
  const n = sizeOf(shape);
  if (data.length !== n) {
    throw new Error(
      `${op}: ${data.length} values do not fill shape ${fmtShape(shape)} (${n} elements); pass exactly ${n} values or change the shape`,
    );
  }
  const backend = opts.backend ?? getBackend();
  const values =
    dtype === 'f32'
      ? data instanceof Float32Array
        ? data
        : Float32Array.from(data)
      : data instanceof Int32Array
        ? data
        : toInt32(op, data);
  // An empty tensor gets a one-element placeholder buffer (as empty()), so no backend sees a zero-size buffer.
  const buf = backend.alloc(Math.max(n, 1), dtype);
  if (n > 0) backend.write(buf, values);
  const host = dtype === 'i32' ? (values as Int32Array).slice() : undefined;
  return new Tensor(new Storage(buf, host), [...shape], dtype, opts.requiresGrad ?? false);
}

/**
 * Validates nested arrays of numbers and flattens them: the shape comes from the first element at each
 * depth, and the first element that is not a number, or a row whose length or nesting differs, is an
 * error naming its index (values[1][2]). Booleans, strings, null, undefined, objects, bigints and holes
 * of sparse arrays are errors; NaN and ±Infinity are numbers.
 */
function flattenNested(op: string, values: unknown): { shape: number[]; flat: number[] } {
  const shape: number[] = [];
  let cur: unknown = values;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  const flat: number[] = [];
  // The index path of the element being visited; formatted (values[1][2]) only for an error.
  const at: number[] = [];
  const where = (): string => at.map((i) => `[${i}]`).join('');
  const bad = (v: unknown): Error => {
    const hint =
      typeof v === 'boolean'
        ? ' (convert booleans first, e.g. values.map(Number))'
        : typeof v === 'string'
          ? ' (parse strings first, e.g. Number(s))'
          : '';
    return new Error(`${op}: values${where()} is ${describeValue(v)}; every element must be a number${hint}`);
  };
  const ragged = (what: string): Error =>
    new Error(
      `${op}: ragged nested array: values${where()} ${what} (shape ${fmtShape(shape)} from the first elements); make every row the same length and depth`,
    );
  const walk = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v === 'number') flat.push(v);
      else if (Array.isArray(v)) throw ragged('is an array where a number is expected');
      else throw bad(v);
      return;
    }
    if (!Array.isArray(v)) {
      if (typeof v === 'number') throw ragged(`is a number where an array of ${shape[depth]} is expected`);
      throw bad(v);
    }
    if (v.length !== shape[depth]) throw ragged(`has ${v.length} element${v.length === 1 ? '' : 's'} where ${shape[depth]} are expected`);
    if (depth === shape.length - 1) {
      // The innermost rows, where nearly all the elements are: no recursion.
      for (let i = 0; i < v.length; i++) {
        const e: unknown = v[i];
        if (typeof e === 'number') {
          flat.push(e);
          continue;
        }
        at.push(i);
        if (!(i in v)) throw new Error(`${op}: values${where()} is missing (a hole in a sparse array); every element must be a number`);
        if (Array.isArray(e)) throw ragged('is an array where a number is expected');
        throw bad(e);
      }
      return;
    }
    for (let i = 0; i < v.length; i++) {
      at.push(i);
      if (!(i in v)) throw new Error(`${op}: values${where()} is missing (a hole in a sparse array); every element must be a number`);
      walk(v[i], depth + 1);
      at.pop();
    }
  };
  walk(values, 0);
  return { shape, flat };
}

/**
 * wm.tensor([[1, 2], [3, 4]]) — nested arrays of numbers, a typed array (with shape), or a number.
 * Non-numeric elements (booleans included) and ragged arrays are errors naming the first bad element.
 */
export function tensor(values: NestedArray | TypedArray, opts: CreateOptions & { shape?: Shape } = {}): Tensor {
  if (opts.shape !== undefined) checkShape('tensor', opts.shape);
  if (opts.dtype !== undefined) checkDType('tensor', opts.dtype);
  if (ArrayBuffer.isView(values)) {
    return fromArrayAs('tensor', values as TypedArray, opts.shape ?? [(values as TypedArray).length], opts);
  }
  const { shape: inferred, flat } = flattenNested('tensor', values);
  const shape = opts.shape ?? inferred;
  if (flat.length !== sizeOf(shape)) {
    throw new Error(
      `tensor: ${flat.length} values do not fill shape ${fmtShape(shape)} (${sizeOf(shape)} elements); pass exactly that many values or change the shape`,
    );
  }
  const typed = opts.dtype === 'i32' ? toInt32('tensor', flat) : Float32Array.from(flat);
  return fromArrayAs('tensor', typed, shape, opts);
}

/** An uninitialised tensor on a backend (kernels fill it). Internal. An empty tensor gets a one-element placeholder buffer. */
export function empty(shape: Shape, dtype: DType = 'f32', backend: Backend = getBackend()): Tensor {
  checkShape('empty', shape);
  checkDType('empty', dtype);
  return new Tensor(new Storage(backend.alloc(Math.max(sizeOf(shape), 1), dtype)), [...shape], dtype);
}

function fullAs(op: string, shape: Shape, value: number, opts: CreateOptions): Tensor {
  checkShape(op, shape);
  if (typeof value !== 'number') throw new Error(`${op}: the fill value must be a number, got ${describeValue(value)}`);
  checkDType(op, opts.dtype ?? 'f32');
  const t = empty(shape, opts.dtype ?? 'f32', opts.backend ?? getBackend());
  if (t.size > 0) t.backend.fill(t.buffer, value, t.size);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

export const full = (shape: Shape, value: number, opts: CreateOptions = {}): Tensor => fullAs('full', shape, value, opts);
export const zeros = (shape: Shape, opts: CreateOptions = {}): Tensor => fullAs('zeros', shape, 0, opts);
export const ones = (shape: Shape, opts: CreateOptions = {}): Tensor => fullAs('ones', shape, 1, opts);

// ---- autograd ----------------------------------------------------------------------------------

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: graphs of deep models would overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (!seen.has(next) && next.requiresGrad) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order.reverse();
}

/**
 * Propagates `seed` (d root / d root) back through the tape. For each tensor in `wanted` (or every
 * leaf that requires grad when wanted is undefined) the gradient is handed to `deliver`.
 */
function propagate(root: Tensor, seed: Tensor, wanted: Set<Tensor> | undefined, deliver: (t: Tensor, g: Tensor) => void): void {
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  noGrad(() => {
    for (const t of order) {
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const isWanted = wanted ? wanted.has(t) : !t.node;
      if (isWanted) deliver(t, g);
      if (t.node) {
        const inputGrads = t.node.backward(g);
        t.node.inputs.forEach((input, i) => {
          const gi = inputGrads[i];
          if (!gi || !input.requiresGrad) {
            if (gi && gi !== g) gi.dispose();
            return;
          }
          const prev = grads.get(input);
          if (prev) {
            grads.set(input, ops.add(prev, gi));
            prev.dispose();
            if (gi !== g) gi.dispose();
          } else grads.set(input, gi === g ? g.view(g.shape) : gi);
        });
      }
      if (!isWanted) g.dispose();
    }
  });
  for (const g of grads.values()) g.dispose();
}

function seedFor(root: Tensor, grad: Tensor | undefined, who: string): Tensor {
  if (!root.requiresGrad) {
    throw new Error(`${who}: tensor ${root.describe()} does not require grad (no input of it has requiresGrad: true)`);
  }
  if (grad) {
    if (grad.shape.join() !== root.shape.join()) {
      throw new Error(`${who}: gradient shape ${fmtShape(grad.shape)} does not match tensor shape ${fmtShape(root.shape)}`);
    }
    return grad.view(grad.shape);
  }
  if (root.size !== 1) {
    throw new Error(
      `${who}: tensor ${fmtShape(root.shape)} is not a scalar; pass a gradient of the same shape, or reduce it first (e.g. loss.sum() or loss.mean())`,
    );
  }
  return full(root.shape, 1, { backend: root.backend });
}

export function backward(root: Tensor, grad?: Tensor): void {
  const seed = seedFor(root, grad, 'backward');
  propagate(root, seed, undefined, (leaf, g) => {
    if (leaf.grad) {
      const sum = noGrad(() => ops.add(leaf.grad!, g));
      leaf.grad.dispose();
      g.dispose();
      leaf.grad = keep(sum);
    } else leaf.grad = keep(g);
  });
}

/**
 * Gradients of `output` with respect to `inputs`, returned (not accumulated into .grad).
 * The graph is kept, so several grad() calls can share one forward pass (per-task gradients).
 * Inputs that do not influence output get a zero gradient.
 */
export function grad(output: Tensor, inputs: Tensor[], gradOutput?: Tensor): Tensor[] {
  const seed = seedFor(output, gradOutput, 'grad');
  const found = new Map<Tensor, Tensor>();
  propagate(output, seed, new Set(inputs), (t, g) => found.set(t, g));
  return inputs.map((t) => found.get(t) ?? zeros(t.shape, { backend: t.backend }));
}
