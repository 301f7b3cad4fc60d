// The wasm backend: tensors live in one WebAssembly linear memory and the kernels are AssemblyScript
// compiled to WebAssembly with 128-bit SIMD (assembly/kernels.ts). The CPU backend stays the readable
// reference; this one is the fast path on machines without a usable GPU.
//
// - Memory: one linear memory, shared when SharedArrayBuffer is available. Buffers are byte offsets;
//   `alloc` takes a block from a free list of its size class or bumps the top, growing the memory
//   when needed. Typed-array views are re-created whenever the memory has grown (growth replaces
//   memory.buffer). Freed blocks go back to their free list; the memory never shrinks.
// - Zero-fill: a recycled block still holds its last tensor. It is marked dirty and zeroed only when
//   something reads it before a kernel has overwritten all of it (most outputs are written in full,
//   so most recycled blocks are never cleared).
// - Threads: with shared memory and `threads: 1` (the default where there is more than one core),
//   one helper thread runs a second instance of the kernels on the same memory; large matmuls, Adam
//   updates, BatchNorm, gating and elementwise kernels are cut into chunks that both threads take
//   from an atomic counter (see worker.ts).
// - Everything runs synchronously: kernels finish before the call returns, so `readSync` works.
import {
  type AdamHyper,
  type Backend,
  type BackendStats,
  type BatchNormShape,
  type BinaryOp,
  type Buffer,
  type DType,
  type GateMixShape,
  type MatmulShape,
  OutOfMemoryError,
  type ReduceOp,
  type RowPlacement,
  type TypedArray,
  type UnaryOp,
} from '../backend.js';
import { BINARY_CODES, UNARY_CODES } from '../kernel-table.js';
import { WASM_STATIC_LIMIT } from './kernels-wasm.js';
import { createMemory, instantiate, type KernelExports, kernelModule, MAX_PAGES, sharedMemoryAvailable } from './module.js';
import { coalesce, contiguous } from './strided.js';
import { KernelWorker } from './worker.js';

const DTYPE: Record<DType, number> = { f32: 0, i32: 1 };

// Memory map (bytes): [0, WASM_STATIC_LIMIT) the module's constants; then the main thread's
// parameter block (shapes and strides of strided kernels, loop counters), the helper thread's
// control block, and the heap from HEAP_START.
const META = WASM_STATIC_LIMIT;
const CTR = META + 1024;
const WORKER_CTRL = META + 4096;
const HEAP_START = 65536;
const PAGE = 65536;

/** Work below these sizes is not worth waking the helper thread for. */
const SPLIT_MATMUL_FLOPS = 400_000;
const SPLIT_ELEMENTS = 65_536;

const workerReaper = typeof FinalizationRegistry === 'undefined' ? null : new FinalizationRegistry<KernelWorker>((w) => w.terminate());

class WasmBuffer implements Buffer {
  freed = false;
  constructor(
    readonly backend: WasmBackend,
    readonly size: number,
    readonly dtype: DType,
    /** Byte address in the linear memory. */
    readonly ptr: number,
    /** Bytes reserved (the size class). */
    readonly capacity: number,
    /** Recycled memory that must read as zeros but still holds an old tensor. */
    public dirty: boolean,
  ) {}
}

const fmtMiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Rounds a request up to its size class: 64-byte steps up to 64 KiB, then eighths of a power of two. */
function sizeClass(bytes: number): number {
  const b = Math.max(64, Math.ceil(bytes / 64) * 64);
  if (b <= 65536) return b;
  const step = 2 ** (Math.floor(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export interface WasmBackendOptions {
  /**
   * Helper threads for large kernels: 0 or 1. Default: 1 where shared memory and workers are
   * available and the machine has more than one core, else 0.
   */
  threads?: number;
  /**
   * How long (ms) the idle helper keeps polling for the next kernel before it sleeps; default 0.1.
   * A step's kernels come back to back, and waking a sleeping thread costs more than a small kernel;
   * polling much longer takes the core from V8's background compiler while the JIT warms up.
   */
  helperSpinMs?: number;
  /**
   * Most bytes the tensor heap may span (the high-water mark of the linear memory's heap: the memory
   * never shrinks, so this bounds what the backend takes from the host). A request that would need
   * more throws OutOfMemoryError; blocks recycled from the free lists are always served. Default: the
   * wasm32 maximum (4 GiB of linear memory).
   */
  memoryLimitBytes?: number;
}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly stats: BackendStats = { readbacks: 0, dispatches: 0, submits: 0 };
  /** Kernel calls that were split with the helper thread. */
  splitCalls = 0;

  private top = HEAP_START;
  private readonly freeLists = new Map<number, number[]>();
  private viewBuffer: ArrayBufferLike | null = null;
  private f32View = new Float32Array(0);
  private i32View = new Int32Array(0);
  private destroyed = false;
  /** The heap budget in bytes (memoryLimitBytes; Infinity: only wasm32's 4 GiB). */
  readonly memoryLimitBytes: number;

  constructor(
    private readonly k: KernelExports,
    readonly memory: WebAssembly.Memory,
    private worker: KernelWorker | null,
    opts: { memoryLimitBytes?: number } = {},
  ) {
    const limit = opts.memoryLimitBytes ?? Infinity;
    if (!(limit >= 0))
      throw new Error(`wasm backend: memoryLimitBytes must be a number of bytes ≥ 0, got ${String(opts.memoryLimitBytes)}`);
    this.memoryLimitBytes = limit;
    // The helper thread holds the memory; stop it when this backend is garbage-collected undestroyed.
    if (worker) workerReaper?.register(this, worker, this);
  }

  /** Whether large kernels are split with a helper thread. */
  get threaded(): boolean {
    return this.worker !== null;
  }

  /** Bytes of linear memory in use (high-water mark of the heap). */
  get heapBytes(): number {
    return this.top - HEAP_START;
  }

  /** Stops the helper thread. The backend keeps working on one thread. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    workerReaper?.unregister(this);
    this.worker?.terminate();
    this.worker = null;
  }

  // ---------------------------------------------------------------- memory

  private views(): void {
    const buf = this.memory.buffer;
    if (buf !== this.viewBuffer) {
      this.viewBuffer = buf;
      this.f32View = new Float32Array(buf);
      this.i32View = new Int32Array(buf);
    }
  }

  /** A block of a size class: recycled from its free list (holds old data) or fresh from the top (zero). */
  private reserve(cap: number): { ptr: number; fresh: boolean } {
    const list = this.freeLists.get(cap);
    if (list && list.length > 0) return { ptr: list.pop()!, fresh: false };
    if (this.top + cap - HEAP_START > this.memoryLimitBytes) {
      this.reclaimTop();
      if (this.top + cap - HEAP_START > this.memoryLimitBytes)
        throw this.outOfMemory(cap, this.memoryLimitBytes, 'memoryLimitBytes (the wasm heap)');
    }
    const ptr = this.top;
    const end = ptr + cap;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = have / PAGE;
      const need = Math.ceil((end - have) / PAGE);
      if (need > MAX_PAGES - pages)
        throw this.outOfMemory(cap, MAX_PAGES * PAGE - HEAP_START, 'wasm32 address space (4 GiB of linear memory)');
      // Grow by a quarter at least (fewer, larger steps); when the host refuses that, try exactly what is needed.
      const grow = Math.min(Math.max(need, Math.ceil(pages / 4)), MAX_PAGES - pages);
      try {
        this.memory.grow(grow);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        try {
          if (grow === need) throw err;
          this.memory.grow(need);
        } catch (err2) {
          if (!(err2 instanceof RangeError)) throw err2;
          // memory.grow failed as a whole: the memory and every live block are as they were. Free
          // blocks at the top of the heap may still make room without growing.
          const top = this.top;
          this.reclaimTop();
          if (this.top !== top) return this.reserve(cap);
          throw this.outOfMemory(cap, null, `host memory (WebAssembly.Memory.grow to ${fmtMiB(end)} refused: ${err2.message})`, err2);
        }
      }
    }
    this.top = end;
    return { ptr, fresh: true };
  }

  /**
   * Lowers the heap top past free blocks that end at it (the free lists never merge blocks, so a
   * block of another size class could not be reused otherwise). Only on the way to an out-of-memory
   * error; the reclaimed bytes are zeroed, as memory above the top must be.
   */
  private reclaimTop(): void {
    const byEnd = new Map<number, { cap: number; list: number[]; index: number }>();
    for (const [cap, list] of this.freeLists) list.forEach((ptr, index) => byEnd.set(ptr + cap, { cap, list, index }));
    const oldTop = this.top;
    const taken: Array<{ list: number[]; index: number }> = [];
    for (let block = byEnd.get(this.top); block; block = byEnd.get(this.top)) {
      taken.push(block);
      this.top -= block.cap;
    }
    if (this.top === oldTop) return;
    // Remove the reclaimed blocks from their lists (highest index first, so the others stay valid).
    taken.sort((a, b) => b.index - a.index);
    for (const { list, index } of taken) list.splice(index, 1);
    this.k.zero(this.top, oldTop - this.top);
  }

  private outOfMemory(bytes: number, limit: number | null, limitName: string, cause?: unknown): OutOfMemoryError {
    return new OutOfMemoryError(
      { backend: 'wasm', requestedBytes: bytes, limitBytes: limit, limitName, inUseBytes: this.top - HEAP_START },
      cause === undefined ? undefined : { cause },
    );
  }

  private release(ptr: number, capacity: number): void {
    let list = this.freeLists.get(capacity);
    if (!list) this.freeLists.set(capacity, (list = []));
    list.push(ptr);
  }

  alloc(size: number, dtype: DType): Buffer {
    if (!Number.isInteger(size) || size < 0) throw new Error(`wasm backend: cannot allocate ${size} elements`);
    const cap = sizeClass(Math.max(size, 1) * 4);
    const { ptr, fresh } = this.reserve(cap);
    return new WasmBuffer(this, size, dtype, ptr, cap, !fresh);
  }

  free(buf: Buffer): void {
    const b = this.own(buf, true);
    if (b.freed) return;
    b.freed = true;
    this.release(b.ptr, b.capacity);
  }

  private own(buf: Buffer, allowFreed = false): WasmBuffer {
    if (!(buf instanceof WasmBuffer) || buf.backend !== this) {
      throw new Error(
        `wasm backend: got a buffer from another backend (${buf.backend?.name ?? 'unknown'}); move tensors to one backend first`,
      );
    }
    if (buf.freed && !allowFreed) throw new Error('wasm backend: buffer used after free');
    return buf;
  }

  /** An input: a dirty buffer is zeroed before it is read. */
  private input(buf: Buffer): WasmBuffer {
    const b = this.own(buf);
    if (b.dirty) {
      this.k.zero(b.ptr, b.size * 4);
      b.dirty = false;
    }
    return b;
  }

  /** An output; `covers`: the kernel writes every element, so old contents need no clearing. */
  private output(buf: Buffer, covers: boolean): WasmBuffer {
    const b = this.own(buf);
    if (covers) b.dirty = false;
    else if (b.dirty) {
      this.k.zero(b.ptr, b.size * 4);
      b.dirty = false;
    }
    return b;
  }

  /** Temporary block for a kernel's scratch; release with `done`. */
  private scratch(bytes: number): { ptr: number; cap: number } {
    const cap = sizeClass(bytes);
    return { ptr: this.reserve(cap).ptr, cap };
  }

  private done(s: { ptr: number; cap: number }): void {
    this.release(s.ptr, s.cap);
  }

  private meta(words: number[]): void {
    this.views();
    this.i32View.set(words, META >> 2);
  }

  write(buf: Buffer, data: TypedArray): void {
    const b = this.own(buf);
    if (data.length !== b.size) throw new Error(`wasm backend: write of ${data.length} values into a buffer of ${b.size}`);
    this.views();
    if (b.dtype === 'i32' && data instanceof Int32Array) this.i32View.set(data, b.ptr >> 2);
    else if (b.dtype === 'f32' && data instanceof Float32Array) this.f32View.set(data, b.ptr >> 2);
    else if (b.dtype === 'i32') this.i32View.set(Int32Array.from(data), b.ptr >> 2);
    else this.f32View.set(Float32Array.from(data), b.ptr >> 2);
    b.dirty = false;
  }

  async read(buf: Buffer): Promise<TypedArray> {
    return this.readSync(buf);
  }

  readSync(buf: Buffer): TypedArray {
    const b = this.own(buf);
    this.stats.readbacks++;
    if (b.dirty) return b.dtype === 'f32' ? new Float32Array(b.size) : new Int32Array(b.size);
    this.views();
    const start = b.ptr >> 2;
    return b.dtype === 'f32' ? this.f32View.slice(start, start + b.size) : this.i32View.slice(start, start + b.size);
  }

  /** A zero-copy view of a buffer's values, valid until the next allocation or kernel (tests, debugging). */
  view(buf: Buffer): TypedArray {
    const b = this.input(buf);
    this.views();
    const start = b.ptr >> 2;
    return b.dtype === 'f32' ? this.f32View.subarray(start, start + b.size) : this.i32View.subarray(start, start + b.size);
  }

  async sync(): Promise<void> {}

  // ---------------------------------------------------------------- threads

  /**
   * Calls export `fn` with `args`, whose last two entries are a range [lo, hi) of [0, total): all
   * here for small work, else in chunks of `chunk` shared with the helper thread. `scratch`: an
   * argument that points at per-thread scratch space, and how far the helper's copy lies from it.
   */
  private split(
    fn: keyof KernelExports,
    total: number,
    chunk: number,
    big: boolean,
    args: number[],
    scratch?: { arg: number; offset: number },
  ): void {
    const f = this.k[fn] as (...a: number[]) => void;
    const last = args.length - 1;
    const w = this.worker;
    if (!w || !big || total <= chunk) {
      args[last - 1] = 0;
      args[last] = total;
      f(...args);
      return;
    }
    this.splitCalls++;
    w.parallel(
      fn,
      args,
      total,
      chunk,
      (lo, hi) => {
        args[last - 1] = lo;
        args[last] = hi;
        f(...args);
      },
      scratch,
    );
  }

  /**
   * A chunk length for `total` items in multiples of `align`: about 16 chunks, so that the thread
   * that finishes first waits at most a sixteenth of the call for the other.
   */
  private static chunkOf(total: number, align: number): number {
    return Math.max(align, Math.ceil(total / 16 / align) * align);
  }

  // ---------------------------------------------------------------- kernels

  fill(out: Buffer, value: number, n: number): void {
    this.stats.dispatches++;
    const o = this.output(out, n >= out.size);
    if (n > 0) this.k.fill(o.ptr, n, DTYPE[o.dtype], value);
  }

  unary(op: UnaryOp, x: Buffer, out: Buffer, n: number, p0 = 0, p1 = 0): void {
    this.stats.dispatches++;
    const xb = this.input(x);
    const ob = this.output(out, n >= out.size);
    if (n <= 0) return;
    const code = UNARY_CODES[op];
    if (code === undefined) throw new Error(`wasm backend: unknown unary op '${op}'`);
    const simd = xb.dtype === 'f32' && ob.dtype === 'f32';
    this.split('unary', n, WasmBackend.chunkOf(n, 64), simd && n >= SPLIT_ELEMENTS, [
      code,
      xb.ptr,
      DTYPE[xb.dtype],
      ob.ptr,
      DTYPE[ob.dtype],
      p0,
      p1,
      0,
      0,
    ]);
  }

  binary(op: BinaryOp, a: Buffer, b: Buffer, out: Buffer, shape: number[], aStrides: number[], bStrides: number[]): void {
    this.stats.dispatches++;
    const ab = this.input(a);
    const bb = this.input(b);
    const c = coalesce(shape, [aStrides, bStrides, contiguous(shape)]);
    const ob = this.output(out, c.size >= out.size);
    if (c.size === 0) return;
    const code = BINARY_CODES[op];
    if (code === undefined) throw new Error(`wasm backend: unknown binary op '${op}'`);
    this.meta([...c.shape, ...c.strides[0], ...c.strides[1]]);
    const rank = c.shape.length;
    // Ranks 1–3 take a range (elements for rank 1, rows otherwise) and can be split.
    const total = rank === 1 ? c.size : rank <= 3 ? c.size / c.shape[rank - 1] : 1;
    const f32 = ab.dtype === 'f32' && bb.dtype === 'f32' && ob.dtype === 'f32';
    this.split('binary', total, WasmBackend.chunkOf(total, rank === 1 ? 64 : 1), f32 && rank <= 3 && c.size >= SPLIT_ELEMENTS, [
      code,
      ab.ptr,
      DTYPE[ab.dtype],
      bb.ptr,
      DTYPE[bb.dtype],
      ob.ptr,
      DTYPE[ob.dtype],
      rank,
      META,
      CTR,
      0,
      0,
    ]);
  }

  where(cond: Buffer, a: Buffer, b: Buffer, out: Buffer, shape: number[], cs: number[], as: number[], bs: number[]): void {
    this.stats.dispatches++;
    const cb = this.input(cond);
    const ab = this.input(a);
    const bb = this.input(b);
    const c = coalesce(shape, [cs, as, bs, contiguous(shape)]);
    const ob = this.output(out, c.size >= out.size);
    if (c.size === 0) return;
    this.meta([...c.shape, ...c.strides[0], ...c.strides[1], ...c.strides[2]]);
    this.k.where(cb.ptr, DTYPE[cb.dtype], ab.ptr, bb.ptr, ob.ptr, c.shape.length, META, CTR);
  }

  reduce(op: ReduceOp, x: Buffer, out: Buffer, outer: number, reduce: number, inner: number): void {
    this.stats.dispatches++;
    const xb = this.input(x);
    const ob = this.output(out, outer * inner >= out.size);
    if (outer * inner === 0) return;
    if (op === 'max') {
      this.k.reduceMax(xb.ptr, ob.ptr, outer, reduce, inner);
      return;
    }
    if (inner === 1) {
      this.k.reduceSum(xb.ptr, ob.ptr, outer, reduce, 1, 0);
      return;
    }
    const s = this.scratch(inner * 8);
    try {
      this.k.reduceSum(xb.ptr, ob.ptr, outer, reduce, inner, s.ptr);
    } finally {
      this.done(s);
    }
  }

  matmul(a: Buffer, b: Buffer, out: Buffer, p: MatmulShape): void {
    this.product(a, b, null, out, p, 0);
  }

  matmulBias(a: Buffer, b: Buffer, bias: Buffer, out: Buffer, p: MatmulShape & { biasBatchStride: number }): void {
    this.product(a, b, bias, out, p, p.biasBatchStride);
  }

  private product(a: Buffer, b: Buffer, bias: Buffer | null, out: Buffer, p: MatmulShape, biasBatchStride: number): void {
    this.stats.dispatches++;
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride } = p;
    const ab = this.input(a);
    const bb = this.input(b);
    const zb = bias ? this.input(bias) : null;
    const total = batch * m * n;
    const ob = this.output(out, total >= out.size);
    if (total === 0) return;
    const temps: { ptr: number; cap: number }[] = [];
    try {
      // B must be k×n4 row-major with n4 a multiple of 4 (SIMD columns): pack a transposed operand or
      // one with n % 4 ≠ 0 (zero padding columns; the product is then computed n4 wide and copied out).
      // Under 4 columns there is no SIMD tile to feed: the kernel's scalar dot products read B as it is.
      const n4 = n < 4 ? n : (n + 3) & ~3;
      let bPtr = bb.ptr;
      let bBatch = bBatchStride;
      if ((transB || n4 !== n) && k > 0) {
        const copies = bBatchStride === 0 ? 1 : batch;
        const t = this.scratch(copies * k * n4 * 4);
        temps.push(t);
        this.k.packB(bb.ptr, t.ptr, copies, k, n, bBatchStride, transB ? 1 : n, transB ? k : 1, n4);
        bPtr = t.ptr;
        bBatch = bBatchStride === 0 ? 0 : k * n4;
      }
      const ldb = bPtr === bb.ptr ? n : n4;
      // The bias rows, padded to n4 columns like B.
      let zPtr = zb ? zb.ptr : 0;
      let zBatch = biasBatchStride;
      if (zb && n4 !== n) {
        const copies = biasBatchStride === 0 ? 1 : batch;
        const t = this.scratch(copies * n4 * 4);
        temps.push(t);
        this.k.packB(zb.ptr, t.ptr, copies, 1, n, biasBatchStride, n, 1, n4);
        zPtr = t.ptr;
        zBatch = biasBatchStride === 0 ? 0 : n4;
      }
      // Padded columns, or an output that overlaps an operand: compute aside, then copy over.
      const overlaps = (x: WasmBuffer | null) => x !== null && ob.ptr < x.ptr + x.capacity && x.ptr < ob.ptr + ob.capacity;
      const aside = n4 !== n || overlaps(ab) || overlaps(bb) || overlaps(zb);
      let cPtr = ob.ptr;
      if (aside) {
        const t = this.scratch(batch * m * n4 * 4);
        temps.push(t);
        cPtr = t.ptr;
      }
      const ldc = aside ? n4 : n;
      const [ars, acs] = transA ? [1, m] : [k, 1];
      const rows = batch * m;
      this.split('matmul', rows, WasmBackend.chunkOf(rows, 4), 2 * rows * n4 * k >= SPLIT_MATMUL_FLOPS, [
        ab.ptr,
        bPtr,
        cPtr,
        m,
        ldc === n4 ? n4 : n,
        k,
        ars,
        acs,
        aBatchStride,
        ldb,
        bBatch,
        ldc,
        zPtr,
        zBatch,
        0,
        0,
      ]);
      if (aside) {
        this.meta([rows, n, ldc, 1, n, 1]);
        this.k.copy(cPtr, ob.ptr, 2, META, CTR);
      }
    } finally {
      for (const t of temps) this.done(t);
    }
  }

  copy(src: Buffer, dst: Buffer, shape: number[], srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[]): void {
    this.stats.dispatches++;
    const sb = this.input(src);
    const c = coalesce(shape, [srcStrides, dstStrides]);
    const covers = c.size >= dst.size && dstOffset === 0 && c.shape.length === 1 && c.strides[1][0] === 1;
    const db = this.output(dst, covers);
    if (c.size === 0) return;
    this.meta([...c.shape, ...c.strides[0], ...c.strides[1]]);
    this.k.copy(sb.ptr + srcOffset * 4, db.ptr + dstOffset * 4, c.shape.length, META, CTR);
  }

  /** A pointer to `count` i32 ids: the device buffer when it holds them as i32, else an upload. */
  private idsPointer(ids: Buffer, idsHost: Int32Array): { ptr: number; temp: { ptr: number; cap: number } | null } {
    const b = this.input(ids);
    if (b.dtype === 'i32' && b.size >= idsHost.length) return { ptr: b.ptr, temp: null };
    const t = this.scratch(idsHost.length * 4);
    this.views();
    this.i32View.set(idsHost, t.ptr >> 2);
    return { ptr: t.ptr, temp: t };
  }

  gatherRows(
    table: Buffer,
    ids: Buffer,
    idsHost: Int32Array,
    out: Buffer,
    dim: number,
    into: RowPlacement = { offset: 0, stride: dim },
  ): void {
    this.stats.dispatches++;
    const tb = this.input(table);
    const count = idsHost.length;
    if (count * dim === 0) return;
    const end = into.offset + (count - 1) * into.stride + dim;
    if (into.offset < 0 || into.stride < dim || end > out.size) {
      throw new Error(
        `wasm backend: gatherRows of ${count} rows of ${dim} at offset ${into.offset}, stride ${into.stride} does not fit an output of ${out.size} values`,
      );
    }
    const ob = this.output(out, into.offset === 0 && into.stride === dim && count * dim >= out.size);
    const id = this.idsPointer(ids, idsHost);
    try {
      this.k.gatherRows(tb.ptr, id.ptr, ob.ptr + into.offset * 4, count, dim, into.stride);
    } finally {
      if (id.temp) this.done(id.temp);
    }
  }

  scatterAddRows(src: Buffer, ids: Buffer, idsHost: Int32Array, out: Buffer, vocab: number, dim: number): void {
    this.stats.dispatches++;
    const sb = this.input(src);
    const ob = this.output(out, vocab * dim >= out.size);
    if (vocab * dim === 0) return;
    const id = this.idsPointer(ids, idsHost);
    try {
      this.k.scatterAddRows(sb.ptr, id.ptr, ob.ptr, idsHost.length, vocab, dim);
    } finally {
      if (id.temp) this.done(id.temp);
    }
  }

  softmax(x: Buffer, out: Buffer, rows: number, cols: number, log: boolean): void {
    this.stats.dispatches++;
    const xb = this.input(x);
    const ob = this.output(out, rows * cols >= out.size);
    if (rows * cols === 0) return;
    this.k.softmax(xb.ptr, ob.ptr, rows, cols, log ? 1 : 0);
  }

  dropoutMask(out: Buffer, n: number, p: number, seed: number): void {
    this.stats.dispatches++;
    const ob = this.output(out, n >= out.size);
    if (n <= 0) return;
    this.k.dropoutMask(ob.ptr, n, p, seed >>> 0, 1 / (1 - p));
  }

  gateMixForward(logits: Buffer, experts: Buffer, mix: Buffer, weights: Buffer, p: GateMixShape): void {
    this.stats.dispatches++;
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    const lb = this.input(logits);
    const xb = this.input(experts);
    const mb = this.output(mix, T * B * H >= mix.size);
    const wb = this.output(weights, T * B * E >= weights.size);
    if (T * B === 0) return;
    this.split('gateMixForward', B, WasmBackend.chunkOf(B, 16), T * B * E * H >= SPLIT_ELEMENTS, [
      lb.ptr,
      xb.ptr,
      mb.ptr,
      wb.ptr,
      T,
      B,
      E,
      H,
      0,
      0,
    ]);
  }

  gateMixBackward(weights: Buffer, experts: Buffer, gMix: Buffer, gLogits: Buffer, gExperts: Buffer, p: GateMixShape): void {
    this.stats.dispatches++;
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    const wb = this.input(weights);
    const xb = this.input(experts);
    const gb = this.input(gMix);
    const lb = this.output(gLogits, T * B * E >= gLogits.size);
    const eb = this.output(gExperts, E * B * H >= gExperts.size);
    if (B === 0) return;
    this.split('gateMixBackward', B, WasmBackend.chunkOf(B, 16), T * B * E * H >= SPLIT_ELEMENTS, [
      wb.ptr,
      xb.ptr,
      gb.ptr,
      lb.ptr,
      eb.ptr,
      T,
      B,
      E,
      H,
      0,
      0,
    ]);
  }

  adam(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void {
    this.stats.dispatches++;
    const pb = this.input(param);
    const gb = this.input(grad);
    const mb = this.input(m);
    const vb = this.input(v);
    if (n <= 0) return;
    const c1 = 1 - h.beta1 ** h.step;
    const c2 = 1 - h.beta2 ** h.step;
    const dec = h.decoupled ? 1 : 0;
    this.split('adam', n, WasmBackend.chunkOf(n, 64), n >= SPLIT_ELEMENTS, [
      pb.ptr,
      gb.ptr,
      mb.ptr,
      vb.ptr,
      h.lr,
      h.beta1,
      h.beta2,
      h.eps,
      h.weightDecay,
      dec,
      c1,
      c2,
      0,
      0,
    ]);
  }

  batchNormForward(
    x: Buffer,
    gamma: Buffer,
    beta: Buffer,
    y: Buffer,
    mean: Buffer,
    variance: Buffer,
    std: Buffer,
    p: BatchNormShape,
  ): void {
    this.stats.dispatches++;
    const { groups: G, rows: N, channels: C, eps } = p;
    const xb = this.input(x);
    const gb = this.input(gamma);
    const bb = this.input(beta);
    const yb = this.output(y, G * N * C >= y.size);
    const mb = this.output(mean, G * C >= mean.size);
    const vb = this.output(variance, G * C >= variance.size);
    const sb = this.output(std, G * C >= std.size);
    if (G * C === 0) return;
    const s = this.scratch(2 * C * 8);
    try {
      this.split(
        'batchNormForward',
        G,
        1,
        G * N * C >= SPLIT_ELEMENTS,
        [xb.ptr, gb.ptr, bb.ptr, yb.ptr, mb.ptr, vb.ptr, sb.ptr, G, N, C, eps, s.ptr, 0, 0],
        { arg: 11, offset: C * 8 },
      );
    } finally {
      this.done(s);
    }
  }

  batchNormBackward(
    x: Buffer,
    gamma: Buffer,
    mean: Buffer,
    std: Buffer,
    gy: Buffer,
    gx: Buffer,
    gGamma: Buffer,
    gBeta: Buffer,
    p: BatchNormShape,
  ): void {
    this.stats.dispatches++;
    const { groups: G, rows: N, channels: C } = p;
    const xb = this.input(x);
    const gb = this.input(gamma);
    const mb = this.input(mean);
    const sb = this.input(std);
    const yb = this.input(gy);
    const xo = this.output(gx, G * N * C >= gx.size);
    const go = this.output(gGamma, G * C >= gGamma.size);
    const bo = this.output(gBeta, G * C >= gBeta.size);
    if (G * C === 0) return;
    const per = C * 28; // 2·C f64 accumulators + 3·C f32 coefficients
    const s = this.scratch(2 * per);
    try {
      this.split(
        'batchNormBackward',
        G,
        1,
        G * N * C >= SPLIT_ELEMENTS,
        [xb.ptr, gb.ptr, mb.ptr, sb.ptr, yb.ptr, xo.ptr, go.ptr, bo.ptr, G, N, C, s.ptr, 0, 0],
        { arg: 11, offset: per },
      );
    } finally {
      this.done(s);
    }
  }

  batchNormEval(
    x: Buffer,
    mean: Buffer,
    variance: Buffer,
    gamma: Buffer,
    beta: Buffer,
    y: Buffer,
    p: BatchNormShape & { relu: boolean },
  ): void {
    this.stats.dispatches++;
    const { groups: G, rows: N, channels: C, eps } = p;
    const xb = this.input(x);
    const mb = this.input(mean);
    const vb = this.input(variance);
    const gb = this.input(gamma);
    const bb = this.input(beta);
    const yb = this.output(y, G * N * C >= y.size);
    if (G * N * C === 0) return;
    const s = this.scratch(2 * C * 4);
    try {
      this.split(
        'batchNormEval',
        G,
        1,
        G * N * C >= SPLIT_ELEMENTS,
        [xb.ptr, mb.ptr, vb.ptr, gb.ptr, bb.ptr, yb.ptr, G, N, C, eps, p.relu ? 1 : 0, s.ptr, 0, 0],
        { arg: 11, offset: C * 4 },
      );
    } finally {
      this.done(s);
    }
  }
}

async function coreCount(): Promise<number> {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  if (nav?.hardwareConcurrency) return nav.hardwareConcurrency;
  if (typeof process !== 'undefined' && process.versions?.node) {
    try {
      const os = await import('node:os');
      return os.availableParallelism?.() ?? os.cpus().length;
    } catch {
      return 1;
    }
  }
  return 1;
}

/**
 * Creates the wasm backend: compiles the embedded kernels (cached), creates the memory and, when
 * threads are available and wanted, starts the helper thread.
 */
export async function createWasmBackend(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
  const limit = opts.memoryLimitBytes;
  if (limit !== undefined && !(limit >= 0))
    throw new Error(`createWasmBackend: memoryLimitBytes must be a number of bytes ≥ 0, got ${String(limit)}`);
  const cores = await coreCount();
  const shared = sharedMemoryAvailable();
  const threads = Math.min(1, Math.max(0, Math.floor(opts.threads ?? (cores > 1 ? 1 : 0))));
  const useShared = shared && threads > 0;
  const module = await kernelModule(useShared);
  const memory = createMemory(useShared, 32);
  const exports = await instantiate(module, memory);
  const spinMs = opts.helperSpinMs ?? 0.1;
  if (!(Number.isFinite(spinMs) && spinMs >= 0))
    throw new Error(`createWasmBackend: helperSpinMs must be a number of milliseconds ≥ 0, got ${String(opts.helperSpinMs)}`);
  const worker = useShared ? await KernelWorker.start(module, memory, WORKER_CTRL, spinMs) : null;
  return new WasmBackend(exports, memory, worker, { memoryLimitBytes: opts.memoryLimitBytes });
}
