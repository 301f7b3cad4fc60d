// The Backend interface: buffers plus a short list of primitive kernels, and optional fused kernels.
// Everything above this layer (autograd, layers, models) is written against these primitives only,
// so a new backend implements the required primitives below and nothing else.
//
// Conventions shared by every kernel:
// - Tensors are contiguous, row-major. Sizes and strides are counted in elements, not bytes.
// - Kernels never allocate: the caller passes an output buffer of the right size (from `alloc`).
// - `alloc` returns zero-filled memory (pooled buffers included).
// - An output may alias an input only in elementwise kernels (unary, binary, where, adam's in-place
//   state); matmul, copy, gather and the rest need a distinct output.
// - Every operand of copy, where and gatherRows has one dtype; i32 arithmetic is exact up to 2^24.
// - Kernels are enqueued, not awaited: only `read` returns values (and may wait for the device).
// - Broadcasting is expressed with strides: a stride of 0 repeats an operand along that axis.
// - Rank of any strided kernel is at most MAX_RANK.
import type { BinaryOp, ReduceOp, UnaryOp } from './kernel-table.js';

// The elementwise ops (names, scalar parameters, code per backend) are declared in kernel-table.ts.
export type { BinaryOp, ReduceOp, UnaryOp } from './kernel-table.js';

export type DType = 'f32' | 'i32';
export type TypedArray = Float32Array | Int32Array;

export const MAX_RANK = 6;

/** Row-major strides of a contiguous tensor of `shape`, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

/** An opaque handle to device memory owned by one backend. */
export interface Buffer {
  readonly backend: Backend;
  /** Number of 4-byte elements. */
  readonly size: number;
  readonly dtype: DType;
}

/** torch's BCELoss floors each log at -100 (so a confidently wrong row costs at most 100). */
export const BCE_LOG_FLOOR = -100;
/** torch's BCELoss backward divides by max(p·(1 − p), BCE_GRAD_EPS). */
export const BCE_GRAD_EPS = 1e-12;

export interface BackendStats {
  /** Device-to-host reads (each `read` call). */
  readbacks: number;
  /** Kernel launches. */
  dispatches: number;
  /** Batches of work handed to the device (queue submits on WebGPU). */
  submits: number;
}

/**
 * A backend is a required core and optional fused kernels. The required primitives (memory, fill,
 * unary, binary, where, reduce, matmul, copy, gatherRows, scatterAddRows, softmax, dropoutMask) are
 * all the layers above need. The fused kernels each compute what a composition of primitives computes,
 * in one pass; where a backend leaves one out, the tensor layer runs that composition instead.
 */
export interface Backend {
  readonly name: string;
  readonly stats: BackendStats;

  // ---------------------------------------------------------------- required primitives

  alloc(size: number, dtype: DType): Buffer;
  /** Host → device. `data.length` must equal `buf.size`. */
  write(buf: Buffer, data: TypedArray): void;
  /** Device → host. The only way values come back. */
  read(buf: Buffer): Promise<TypedArray>;
  /** Synchronous read, only where the backend can do it without waiting (CPU). */
  readSync?(buf: Buffer): TypedArray;
  free(buf: Buffer): void;
  /** Waits until all enqueued work is done (for benchmarks). */
  sync(): Promise<void>;

  /** out[i] = value for i < n (f32 or i32 by out.dtype). */
  fill(out: Buffer, value: number, n: number): void;

  /** out[i] = op(x[i]) for i < n; p0, p1 are the op's scalar parameters (see UnaryOp). */
  unary(op: UnaryOp, x: Buffer, out: Buffer, n: number, p0?: number, p1?: number): void;

  /**
   * Broadcasting binary op over `shape` (the output shape, contiguous):
   * out[idx] = op(a[Σ idx_d * aStrides_d], b[Σ idx_d * bStrides_d]).
   */
  binary(op: BinaryOp, a: Buffer, b: Buffer, out: Buffer, shape: number[], aStrides: number[], bStrides: number[]): void;

  /** out[idx] = cond[...] != 0 ? a[...] : b[...], broadcasting like `binary`. */
  where(
    cond: Buffer,
    a: Buffer,
    b: Buffer,
    out: Buffer,
    shape: number[],
    condStrides: number[],
    aStrides: number[],
    bStrides: number[],
  ): void;

  /** x viewed as [outer, reduce, inner] → out [outer, inner]. */
  reduce(op: ReduceOp, x: Buffer, out: Buffer, outer: number, reduce: number, inner: number): void;

  /**
   * Batched matrix product: for each b < batch, out[b] (M×N) = op(A[b]) (M×K) · op(B[b]) (K×N),
   * where op transposes when transA/transB is set (A[b] is then stored K×M, B[b] N×K).
   * aBatchStride/bBatchStride are in elements; 0 reuses one matrix for every batch entry.
   */
  matmul(a: Buffer, b: Buffer, out: Buffer, p: MatmulShape): void;

  /**
   * Strided copy over `shape`: dst[dstOffset + Σ idx_d * dstStrides_d] = src[srcOffset + Σ idx_d * srcStrides_d].
   * Bit-exact for both dtypes. Covers transpose, slice, concat, stack, broadcast materialisation.
   */
  copy(src: Buffer, dst: Buffer, shape: number[], srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[]): void;

  /**
   * Row gather: out[i, :] = table[ids[i], :] for i < ids.length, rows of `dim` elements.
   * ids are validated by the caller (0 <= id < vocab); `idsHost` is the same ids on the host.
   * `into`: row i goes to out[offset + i·stride …] instead (the columns of a wider matrix, as when
   * embeddings are gathered straight into their concatenation); the rest of out is left as it is.
   */
  gatherRows(table: Buffer, ids: Buffer, idsHost: Int32Array, out: Buffer, dim: number, into?: RowPlacement): void;

  /**
   * Scatter-add of rows (the backward of gatherRows): out is [vocab, dim], zeroed by this kernel,
   * then out[ids[i], :] += src[i, :]. Repeated ids must all be summed (no lost updates).
   */
  scatterAddRows(src: Buffer, ids: Buffer, idsHost: Int32Array, out: Buffer, vocab: number, dim: number): void;

  /** Row-wise softmax (log: logSoftmax) of x viewed as [rows, cols], numerically stable. */
  softmax(x: Buffer, out: Buffer, rows: number, cols: number, log: boolean): void;

  /**
   * Dropout scale mask: out[i] = (hash(seed, i) ≥ p) ? 1/(1-p) : 0, with hash = dropoutUniform (below),
   * so both backends draw the same mask for the same seed.
   */
  dropoutMask(out: Buffer, n: number, p: number, seed: number): void;

  // ---------------------------------------------------------------- optional fused kernels

  /**
   * Matmul with a bias epilogue (a Linear layer in one pass): out[b] = op(A[b]) · op(B[b]) as
   * `matmul`, then bias row b (n values at bias + b·biasBatchStride; stride 0: one row for all)
   * added to every row, each sum rounded as matmul followed by a broadcast add rounds it.
   */
  matmulBias?(a: Buffer, b: Buffer, bias: Buffer, out: Buffer, p: MatmulShape & { biasBatchStride: number }): void;

  /**
   * Fused softmax gating + expert mixture (the heart of MMoE/PLE), forward: softmax, then a batched
   * weighted sum.
   * logits [T, B, E] (one gate per task), experts [E, B, H] (the batched expert outputs).
   * weights[t,b,:] = softmax(logits[t,b,:]);  mix[t,b,h] = Σ_e weights[t,b,e] · experts[e,b,h].
   */
  gateMixForward?(logits: Buffer, experts: Buffer, mix: Buffer, weights: Buffer, p: GateMixShape): void;

  /**
   * Backward of gateMixForward given gMix [T, B, H] and the saved weights:
   * gExperts[e,b,h] = Σ_t weights[t,b,e] · gMix[t,b,h];
   * gW[t,b,e] = Σ_h gMix[t,b,h] · experts[e,b,h];  gLogits = weights ⊙ (gW − Σ_e weights ⊙ gW).
   */
  gateMixBackward?(weights: Buffer, experts: Buffer, gMix: Buffer, gLogits: Buffer, gExperts: Buffer, p: GateMixShape): void;

  /**
   * One fused Adam/AdamW update in place over n elements (torch semantics; elementwise ops otherwise):
   * g' = g + wd·θ (Adam, L2) | θ ← θ(1 − lr·wd) (AdamW, decoupled);
   * m ← β1 m + (1−β1) g';  v ← β2 v + (1−β2) g'²;
   * θ ← θ − lr · (m / (1−β1^step)) / (sqrt(v / (1−β2^step)) + eps).
   */
  adam?(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void;

  /**
   * Fused BatchNorm over the batch axis in training mode; a backend without it gets the same result
   * from elementwise kernels (ops.batchNorm1d). x is [groups, rows, channels]; gamma and
   * beta hold groups·channels values. Per group and channel, with every quantity rounded to f32 as
   * the elementwise form rounds it:
   * mean = (Σ_r x) / rows;  variance = (Σ_r (x − mean)²) / rows;  std = sqrt(variance + eps);
   * y = ((x − mean) / std) · gamma + beta. Writes y, mean, variance and std (groups·channels each).
   */
  batchNormForward?(
    x: Buffer,
    gamma: Buffer,
    beta: Buffer,
    y: Buffer,
    mean: Buffer,
    variance: Buffer,
    std: Buffer,
    p: BatchNormShape,
  ): void;

  /**
   * Backward of batchNormForward given gy and the saved mean and std, with x̂ = (x − mean) / std:
   * gBeta = Σ_r gy;  gGamma = Σ_r gy · x̂;  gx = gamma / std · (gy − gBeta / rows − x̂ · gGamma / rows).
   */
  batchNormBackward?(
    x: Buffer,
    gamma: Buffer,
    mean: Buffer,
    std: Buffer,
    gy: Buffer,
    gx: Buffer,
    gGamma: Buffer,
    gBeta: Buffer,
    p: BatchNormShape,
  ): void;

  /**
   * Fused BatchNorm in eval mode (inference, no gradient), per group and channel:
   * y = (x − mean) · (gamma / sqrt(variance + eps)) + beta, then max(y, 0) when `relu` is set, each
   * step rounded to f32 as the elementwise form rounds it (mean, variance, gamma and beta hold
   * groups·channels values).
   */
  batchNormEval?(
    x: Buffer,
    mean: Buffer,
    variance: Buffer,
    gamma: Buffer,
    beta: Buffer,
    y: Buffer,
    p: BatchNormShape & { relu: boolean },
  ): void;
}

/** Where gathered rows land in a wider output: row i starts at element offset + i·stride. */
export interface RowPlacement {
  offset: number;
  stride: number;
}

/** The shape of a batched matrix product (see Backend.matmul); strides are in elements. */
export interface MatmulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  aBatchStride: number;
  bBatchStride: number;
}

export interface BatchNormShape {
  groups: number;
  rows: number;
  channels: number;
  eps: number;
}

export interface GateMixShape {
  tasks: number;
  batch: number;
  experts: number;
  hidden: number;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  /** 1-based step count, for bias correction. */
  step: number;
}

/**
 * The counter-based uniform draw shared by every backend's dropout: a 32-bit integer hash
 * (lowbias32-style mixing) of seed and index, mapped to [0, 1) with 24 bits of resolution.
 * WGSL reproduces this exactly with u32 arithmetic.
 */
export function dropoutUniform(seed: number, i: number): number {
  let h = (Math.imul(i >>> 0, 0x9e3779b9) ^ (seed >>> 0)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return (h >>> 8) / 16777216;
}

/** What an OutOfMemoryError reports (sizes in bytes). */
export interface OutOfMemoryInfo {
  /** The backend that could not allocate: 'cpu', 'wasm' or 'webgpu'. */
  backend: string;
  /** Bytes asked for (what the failed buffer would have held). */
  requestedBytes: number;
  /** The limit that was hit, in bytes; null when the system or driver refused without saying one. */
  limitBytes: number | null;
  /** Which limit: 'memoryLimitBytes', 'maxBufferSize', 'maxStorageBufferBindingSize', 'wasm32 address space', 'host memory', 'device memory', … */
  limitName: string;
  /** Bytes the backend held when the request failed, where it keeps count. */
  inUseBytes?: number;
  /** The public op whose allocation failed, where it can be told (default: read off the call stack; null: unknown). */
  op?: string | null;
  /** Extra words for the message (what happened to the work around the failure). */
  detail?: string;
}

const fmtBytes = (n: number): string => {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]} (${n} bytes)`;
};

/**
 * The op that asked for memory, read off the call stack: the outermost frame in an op file of the
 * tensor layer (tensor/ops.ts, tensor/ops/*.ts, tensor/tensor.ts: the public op such as `zeros` or
 * `matmul`) below user code; tensor/engine.ts's `tidy` and `noGrad` wrap ops and are not ops. Only
 * computed when an allocation has failed. Undefined where the stack does not say (minified bundles).
 */
export function allocatingOp(stack: string | undefined = new Error().stack): string | undefined {
  if (!stack) return undefined;
  let op: string | undefined;
  for (const line of stack.split('\n')) {
    const m = /^\s*at (?:new )?([\w$.<>]+) \(.*[\\/]tensor[\\/](?:ops[\\/][\w-]+|ops|tensor)\.[jt]s:/.exec(line);
    if (m) op = m[1].slice(m[1].lastIndexOf('.') + 1); // 'Module.zeros' → 'zeros'
  }
  return op;
}

/**
 * A buffer could not be allocated: the request was over a limit (the backend's `memoryLimitBytes`,
 * WebGPU's maxBufferSize or maxStorageBufferBindingSize, wasm32's 4 GiB) or the system / driver
 * refused it. Thrown before anything is changed: the backend and every existing tensor stay usable.
 */
export class OutOfMemoryError extends Error {
  readonly backend: string;
  readonly requestedBytes: number;
  readonly limitBytes: number | null;
  readonly limitName: string;
  readonly inUseBytes: number | undefined;
  readonly op: string | undefined;

  constructor(info: OutOfMemoryInfo, options?: { cause?: unknown }) {
    const op = info.op === undefined ? allocatingOp() : (info.op ?? undefined);
    const limit = info.limitBytes === null ? info.limitName : `${info.limitName} = ${fmtBytes(info.limitBytes)}`;
    const held = info.inUseBytes === undefined ? '' : `, ${fmtBytes(info.inUseBytes)} already held`;
    super(
      `${info.backend} backend: out of memory${op ? ` in ${op}` : ''}: cannot allocate ${fmtBytes(info.requestedBytes)} ` +
        `(limit: ${limit}${held}). ${info.detail ?? 'Nothing was changed: the backend and existing tensors stay usable.'} ` +
        'Free tensors (dispose(), tidy()) or use smaller batches or shapes.',
      options,
    );
    this.name = 'OutOfMemoryError';
    this.backend = info.backend;
    this.requestedBytes = info.requestedBytes;
    this.limitBytes = info.limitBytes;
    this.limitName = info.limitName;
    this.inUseBytes = info.inUseBytes;
    this.op = op;
  }
}
