// The reference backend: plain TypeScript over typed arrays. Every WebGPU kernel is tested against
// this file, so it favours obviously-correct loops over speed.
import {
  type AdamHyper,
  type Backend,
  type BackendStats,
  type BinaryOp,
  type Buffer,
  type DType,
  dropoutUniform,
  type GateMixShape,
  OutOfMemoryError,
  type ReduceOp,
  type RowPlacement,
  type TypedArray,
  type UnaryOp,
} from '../backend.js';
import { BINARY_KERNELS, UNARY_KERNELS } from '../kernel-table.js';

class CpuBuffer implements Buffer {
  /** Counted against memoryLimitBytes and not yet freed (only tracked when a limit is set). */
  counted = false;
  constructor(
    readonly backend: CpuBackend,
    readonly data: TypedArray,
    readonly dtype: DType,
  ) {}
  get size(): number {
    return this.data.length;
  }
}

const data = (b: Buffer): TypedArray => (b as CpuBuffer).data;

/**
 * Walks `shape` one row (last axis) at a time: fn(outStart, starts, n) with each operand's offset of
 * the row's first element; within a row operand s advances by strides[s][rank - 1].
 */
function forEachRow(shape: number[], strides: number[][], fn: (outStart: number, starts: number[], n: number) => void): void {
  const rank = shape.length;
  if (rank === 0) {
    fn(
      0,
      strides.map(() => 0),
      1,
    );
    return;
  }
  const n = shape[rank - 1];
  const rows = shape.slice(0, -1).reduce((a, c) => a * c, 1);
  if (n === 0) return;
  const idx = new Array<number>(rank - 1).fill(0);
  const offs = strides.map(() => 0);
  for (let r = 0; r < rows; r++) {
    fn(r * n, offs, n);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (let s = 0; s < strides.length; s++) offs[s] += strides[s][d];
      if (idx[d] < shape[d]) break;
      for (let s = 0; s < strides.length; s++) offs[s] -= strides[s][d] * shape[d];
      idx[d] = 0;
    }
  }
}

const lastStride = (strides: number[]): number => strides[strides.length - 1] ?? 0;

export interface CpuBackendOptions {
  /**
   * Most bytes of tensor memory held at once (buffers allocated and not yet freed); a request beyond
   * it throws OutOfMemoryError. Default: no limit but the JavaScript engine's.
   */
  memoryLimitBytes?: number;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly stats: BackendStats = { readbacks: 0, dispatches: 0, submits: 0 };
  /** The byte budget (Infinity: none). */
  readonly memoryLimitBytes: number;
  /** Bytes of live buffers, counted only when memoryLimitBytes is set. */
  private heldBytes = 0;

  constructor(opts: CpuBackendOptions = {}) {
    const limit = opts.memoryLimitBytes ?? Infinity;
    if (!(limit >= 0)) throw new Error(`CpuBackend: memoryLimitBytes must be a number of bytes ≥ 0, got ${String(opts.memoryLimitBytes)}`);
    this.memoryLimitBytes = limit;
  }

  alloc(size: number, dtype: DType): Buffer {
    const limited = this.memoryLimitBytes !== Infinity;
    if (limited && this.heldBytes + size * 4 > this.memoryLimitBytes) {
      throw new OutOfMemoryError({
        backend: 'cpu',
        requestedBytes: size * 4,
        limitBytes: this.memoryLimitBytes,
        limitName: 'memoryLimitBytes',
        inUseBytes: this.heldBytes,
      });
    }
    let buf: CpuBuffer;
    try {
      buf = new CpuBuffer(this, dtype === 'f32' ? new Float32Array(size) : new Int32Array(size), dtype);
    } catch (err) {
      // "Array buffer allocation failed" (the host is out of memory) or "Invalid typed array length" (beyond the engine's maximum).
      if (!(err instanceof RangeError) || !(Number.isInteger(size) && size >= 0)) throw err;
      throw new OutOfMemoryError(
        {
          backend: 'cpu',
          requestedBytes: size * 4,
          limitBytes: null,
          limitName: `host memory (the JavaScript engine refused: ${err.message})`,
          inUseBytes: limited ? this.heldBytes : undefined,
        },
        { cause: err },
      );
    }
    if (limited) {
      buf.counted = true;
      this.heldBytes += size * 4;
    }
    return buf;
  }
  /** Bytes of tensor memory held now (counted only when memoryLimitBytes is set; else 0). */
  get memoryInUse(): number {
    return this.heldBytes;
  }
  write(buf: Buffer, src: TypedArray): void {
    data(buf).set(src);
  }
  async read(buf: Buffer): Promise<TypedArray> {
    return this.readSync(buf);
  }
  readSync(buf: Buffer): TypedArray {
    this.stats.readbacks++;
    return data(buf).slice();
  }
  free(buf: Buffer): void {
    // Garbage-collected; only the budget's count changes.
    const b = buf as CpuBuffer;
    if (b.counted && b.backend === this) {
      b.counted = false;
      this.heldBytes -= b.data.length * 4;
    }
  }
  async sync(): Promise<void> {}

  private launch(): void {
    this.stats.dispatches++;
  }

  fill(out: Buffer, value: number, n: number): void {
    this.launch();
    data(out).fill(value, 0, n);
  }

  unary(op: UnaryOp, x: Buffer, out: Buffer, n: number, p0 = 0, p1 = 0): void {
    this.launch();
    const f = UNARY_KERNELS[op].cpu(p0, p1);
    const xs = data(x);
    const o = data(out);
    for (let i = 0; i < n; i++) o[i] = f(xs[i]);
  }

  binary(op: BinaryOp, a: Buffer, b: Buffer, out: Buffer, shape: number[], aStrides: number[], bStrides: number[]): void {
    this.launch();
    const f = BINARY_KERNELS[op].cpu;
    const as = data(a);
    const bs = data(b);
    const o = data(out);
    const [da, db] = [lastStride(aStrides), lastStride(bStrides)];
    forEachRow(shape, [aStrides, bStrides], (at, [ia, ib], n) => {
      for (let j = 0; j < n; j++) o[at + j] = f(as[ia + j * da], bs[ib + j * db]);
    });
  }

  where(cond: Buffer, a: Buffer, b: Buffer, out: Buffer, shape: number[], cs: number[], as: number[], bs: number[]): void {
    this.launch();
    const c = data(cond);
    const av = data(a);
    const bv = data(b);
    const o = data(out);
    const [dc, da, db] = [lastStride(cs), lastStride(as), lastStride(bs)];
    forEachRow(shape, [cs, as, bs], (at, [ic, ia, ib], n) => {
      for (let j = 0; j < n; j++) o[at + j] = c[ic + j * dc] !== 0 ? av[ia + j * da] : bv[ib + j * db];
    });
  }

  reduce(op: ReduceOp, x: Buffer, out: Buffer, outer: number, reduce: number, inner: number): void {
    this.launch();
    const xs = data(x);
    const o = data(out);
    const sum = op === 'sum';
    for (let i = 0; i < outer; i++) {
      for (let j = 0; j < inner; j++) {
        let acc = sum ? 0 : -Infinity;
        for (let r = 0; r < reduce; r++) {
          const v = xs[(i * reduce + r) * inner + j];
          acc = sum ? acc + v : Math.max(acc, v);
        }
        o[i * inner + j] = acc;
      }
    }
  }

  matmul(
    a: Buffer,
    b: Buffer,
    out: Buffer,
    p: { batch: number; m: number; n: number; k: number; transA: boolean; transB: boolean; aBatchStride: number; bBatchStride: number },
  ): void {
    this.launch();
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride } = p;
    const A = data(a);
    const B = data(b);
    const C = data(out);
    // Element (i, kk) of op(A) and (kk, j) of op(B) as flat-index strides.
    const [aRow, aCol] = transA ? [1, m] : [k, 1];
    const [bRow, bCol] = transB ? [1, k] : [n, 1];
    const row = new Float64Array(n);
    for (let t = 0; t < batch; t++) {
      const aOff = t * aBatchStride;
      const bOff = t * bBatchStride;
      const cOff = t * m * n;
      if (transB && !transA) {
        // Rows of A and rows of B are both contiguous: plain dot products.
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let acc = 0;
            const ai = aOff + i * k;
            const bj = bOff + j * k;
            for (let kk = 0; kk < k; kk++) acc += A[ai + kk] * B[bj + kk];
            C[cOff + i * n + j] = acc;
          }
        }
        continue;
      }
      for (let i = 0; i < m; i++) {
        row.fill(0);
        for (let kk = 0; kk < k; kk++) {
          const av = A[aOff + i * aRow + kk * aCol];
          const bBase = bOff + kk * bRow;
          for (let j = 0; j < n; j++) row[j] += av * B[bBase + j * bCol];
        }
        for (let j = 0; j < n; j++) C[cOff + i * n + j] = row[j];
      }
    }
  }

  copy(src: Buffer, dst: Buffer, shape: number[], srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[]): void {
    this.launch();
    const s = data(src);
    const d = data(dst);
    const [ds, dd] = [lastStride(srcStrides), lastStride(dstStrides)];
    forEachRow(shape, [srcStrides, dstStrides], (_at, [is, id], n) => {
      for (let j = 0; j < n; j++) d[dstOffset + id + j * dd] = s[srcOffset + is + j * ds];
    });
  }

  gatherRows(
    table: Buffer,
    _ids: Buffer,
    idsHost: Int32Array,
    out: Buffer,
    dim: number,
    into: RowPlacement = { offset: 0, stride: dim },
  ): void {
    this.launch();
    const t = data(table);
    const o = data(out);
    for (let i = 0; i < idsHost.length; i++) {
      const row = idsHost[i] * dim;
      const at = into.offset + i * into.stride;
      for (let d = 0; d < dim; d++) o[at + d] = t[row + d];
    }
  }

  scatterAddRows(src: Buffer, _ids: Buffer, idsHost: Int32Array, out: Buffer, vocab: number, dim: number): void {
    this.launch();
    const s = data(src);
    const o = data(out);
    o.fill(0, 0, vocab * dim);
    for (let i = 0; i < idsHost.length; i++) {
      const row = idsHost[i] * dim;
      for (let d = 0; d < dim; d++) o[row + d] += s[i * dim + d];
    }
  }

  softmax(x: Buffer, out: Buffer, rows: number, cols: number, log: boolean): void {
    this.launch();
    const xs = data(x);
    const o = data(out);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) max = Math.max(max, xs[base + c]);
      let sum = 0;
      for (let c = 0; c < cols; c++) sum += Math.exp(xs[base + c] - max);
      const logSum = Math.log(sum);
      for (let c = 0; c < cols; c++) {
        o[base + c] = log ? xs[base + c] - max - logSum : Math.exp(xs[base + c] - max) / sum;
      }
    }
  }

  dropoutMask(out: Buffer, n: number, p: number, seed: number): void {
    this.launch();
    const o = data(out);
    const scale = 1 / (1 - p);
    for (let i = 0; i < n; i++) o[i] = dropoutUniform(seed, i) >= p ? scale : 0;
  }

  gateMixForward(logits: Buffer, experts: Buffer, mix: Buffer, weights: Buffer, p: GateMixShape): void {
    this.softmax(logits, weights, p.tasks * p.batch, p.experts, false);
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    const w = data(weights);
    const x = data(experts);
    const o = data(mix);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          let acc = 0;
          for (let e = 0; e < E; e++) acc += w[(t * B + b) * E + e] * x[(e * B + b) * H + h];
          o[(t * B + b) * H + h] = acc;
        }
      }
    }
  }

  gateMixBackward(weights: Buffer, experts: Buffer, gMix: Buffer, gLogits: Buffer, gExperts: Buffer, p: GateMixShape): void {
    this.launch();
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    const w = data(weights);
    const x = data(experts);
    const g = data(gMix);
    const gl = data(gLogits);
    const gx = data(gExperts);
    for (let e = 0; e < E; e++) {
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          let acc = 0;
          for (let t = 0; t < T; t++) acc += w[(t * B + b) * E + e] * g[(t * B + b) * H + h];
          gx[(e * B + b) * H + h] = acc;
        }
      }
    }
    const gw = new Float64Array(E);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const row = (t * B + b) * E;
        let dot = 0;
        for (let e = 0; e < E; e++) {
          let acc = 0;
          for (let h = 0; h < H; h++) acc += g[(t * B + b) * H + h] * x[(e * B + b) * H + h];
          gw[e] = acc;
          dot += w[row + e] * acc;
        }
        for (let e = 0; e < E; e++) gl[row + e] = w[row + e] * (gw[e] - dot);
      }
    }
  }

  adam(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void {
    this.launch();
    const th = data(param);
    const gs = data(grad);
    const ms = data(m);
    const vs = data(v);
    const c1 = 1 - h.beta1 ** h.step;
    const c2 = 1 - h.beta2 ** h.step;
    for (let i = 0; i < n; i++) {
      let g = gs[i];
      if (h.decoupled) th[i] *= 1 - h.lr * h.weightDecay;
      else g += h.weightDecay * th[i];
      ms[i] = h.beta1 * ms[i] + (1 - h.beta1) * g;
      vs[i] = h.beta2 * vs[i] + (1 - h.beta2) * g * g;
      th[i] -= (h.lr * (ms[i] / c1)) / (Math.sqrt(vs[i] / c2) + h.eps);
    }
  }
}
