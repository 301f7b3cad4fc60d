// The WebGPU backend: every Backend primitive as a WGSL compute kernel (sources in /shaders).
//
// Execution model: kernels are recorded into one command encoder (sharing one compute pass until a
// copy or clear forces it to end) and nothing reaches the device until `read`, `sync`, or a full
// params arena forces a submit ("flush"). Each dispatch's uniform params live in their own slot of
// a host arena that is uploaded once per submit. `write` never reorders against recorded kernels:
// with an empty encoder it uses queue.writeBuffer, otherwise it records a staging copy into the
// encoder. Freed buffers go to a size-bucketed pool; a reused one is cleared before it is read
// (alloc returns zeros on every backend).
import {
  OutOfMemoryError,
  type AdamHyper,
  type Backend,
  type BackendStats,
  type BinaryOp,
  type Buffer,
  type DType,
  type GateMixShape,
  type ReduceOp,
  type RowPlacement,
  type TypedArray,
  type UnaryOp,
} from '../backend.js';
import { BufferPool, bucketBytes } from './buffer-pool.js';
import { acquireDevice, webgpuUnavailableReason } from './device.js';
import {
  binarySource,
  copySource,
  dropoutSource,
  fillSource,
  gatherSource,
  gatingSource,
  matmulSource,
  optimizerSource,
  reduceSource,
  softmaxSource,
  unarySource,
  whereSource,
} from './kernels.js';
import { PARAM_SLOT_BYTES, ParamArena, type ParamWriter } from './params.js';
import { collapseDims, offsetRange, padFront, type CollapsedShape } from './strided.js';

export { webgpuUnavailableReason };

/** Largest expert count the fused gating kernels hold in workgroup memory. */
export const MAX_GATE_EXPERTS = 256;

export interface WebGPUBackendOptions {
  powerPreference?: GPUPowerPreference;
  /** Testing knob: pretend the device allows fewer workgroups per dimension (exercises 2D grids and chunking). */
  maxWorkgroupsPerDimension?: number;
  /** Testing knob: params slots per submit (a full arena forces a flush). Default 4096. */
  paramSlots?: number;
  /**
   * Most bytes of GPU storage the backend may hold: live tensors plus the idle buffers its pool keeps
   * for reuse (the pool is emptied first when that makes room). A request beyond it throws
   * OutOfMemoryError before the device is touched. Default: no budget, only the device's limits.
   */
  memoryLimitBytes?: number;
}

/** Resolves to null when no WebGPU adapter is available; `webgpuUnavailableReason()` then says why. */
export async function createWebGPUBackend(opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend | null> {
  const acquired = await acquireDevice(opts.powerPreference);
  if (!acquired) return null;
  const backend = new WebGPUBackend(acquired.device, opts);
  const info = acquired.adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  backend.adapterInfo = { vendor: info?.vendor, architecture: info?.architecture, description: info?.description };
  backend.isFallbackAdapter = !!(info?.isFallbackAdapter ?? (acquired.adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return backend;
}

class WebGPUBuffer implements Buffer {
  freed = false;
  /** The device could not create this buffer (found after the fact): its tensor has no storage. */
  failed: string | null = null;

  constructor(
    readonly backend: WebGPUBackend,
    readonly size: number,
    readonly dtype: DType,
    readonly gpu: GPUBuffer,
    readonly capacity: number,
    /** Pooled storage that must read as zeros but still holds a previous tensor's data. */
    public needsClear: boolean,
  ) {}

  get bytes(): number {
    return this.size * 4;
  }
}

/** A kernel binding: a backend buffer (read, or written: `covers` = every element gets written) or a scratch buffer. */
type Operand = { buf: WebGPUBuffer; write?: boolean; covers?: boolean } | { scratch: GPUBuffer };

interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

type Grid = [number, number, number];

const WORKGROUP = 256;

// Nearest f32 neighbours, for turning an f64 threshold into an f32 one with the same comparison result.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
function stepF32(f: number, up: boolean): number {
  if (f === 0) return up ? Math.fround(2 ** -149) : -Math.fround(2 ** -149);
  f32Scratch[0] = f;
  if (f > 0 === up) u32Scratch[0]++;
  else u32Scratch[0]--;
  return f32Scratch[0];
}
/** Largest f32 <= p: for an f32 x, x > p ⇔ x > f32AtMost(p) and x <= p ⇔ x <= f32AtMost(p). */
function f32AtMost(p: number): number {
  const f = Math.fround(p);
  return f > p ? stepF32(f, false) : f;
}
/** Smallest f32 >= p: for an f32 x, x >= p ⇔ x >= f32AtLeast(p). */
function f32AtLeast(p: number): number {
  const f = Math.fround(p);
  return f < p ? stepF32(f, true) : f;
}

function f32Bits(value: number): number {
  f32Scratch[0] = value;
  return u32Scratch[0];
}

/**
 * CSR of row positions grouped by id, in the layout gather.wgsl's scatter_add_rows reads:
 * [distinct ids | run offsets (unique + 1) | positions]. Ids outside [0, vocab) are dropped.
 */
export function buildRowCsr(ids: Int32Array, vocab: number): { csr: Uint32Array; unique: number } | null {
  const n = ids.length;
  // Sorting id * n + position orders by id, then by position (the CPU's summation order); exact below 2^53.
  const keys = new Float64Array(n);
  let valid = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id >= 0 && id < vocab) keys[valid++] = id * n + i;
  }
  if (valid === 0) return null;
  const sorted = keys.subarray(0, valid).sort();
  let unique = 0;
  let prev = -1;
  for (let k = 0; k < valid; k++) {
    const id = Math.floor(sorted[k] / n);
    if (id !== prev) unique++;
    prev = id;
  }
  const csr = new Uint32Array(2 * unique + 1 + valid);
  const positions = 2 * unique + 1;
  let u = -1;
  prev = -1;
  for (let k = 0; k < valid; k++) {
    const id = Math.floor(sorted[k] / n);
    if (id !== prev) {
      csr[++u] = id;
      csr[unique + u] = k;
      prev = id;
    }
    csr[positions + k] = sorted[k] - id * n;
  }
  csr[2 * unique] = valid;
  return { csr, unique };
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly stats: BackendStats = { readbacks: 0, dispatches: 0, submits: 0 };
  /** What the adapter says of itself (vendor, architecture, description); empty when unknown. */
  adapterInfo: { vendor?: string; architecture?: string; description?: string } = {};
  /** True for a software adapter (SwiftShader): correct, but slower than the CPU backend. */
  isFallbackAdapter = false;

  private readonly pool: BufferPool;
  private readonly arena: ParamArena;
  /** WGSL text → entry point → pipeline. Sources are memoised strings, so the outer lookup hashes once. */
  private readonly pipelines = new Map<string, { module: GPUShaderModule; byEntry: Map<string, Kernel> }>();
  private readonly maxGroupsPerDim: number;
  private readonly maxBindingBytes: number;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly csrCache = new WeakMap<Int32Array, Map<number, ReturnType<typeof buildRowCsr>>>();
  /** While timeKernels runs: the query set every compute pass writes its begin and end times into. */
  private timing: { querySet: GPUQuerySet; next: number; capacity: number } | null = null;
  /** Staging and scratch buffers recorded in the open encoder; destroyed once it is submitted. */
  private afterSubmit: GPUBuffer[] = [];
  private deviceError: string | null = null;
  private destroyed = false;
  private readonly maxBufferBytes: number;
  /** The byte budget (memoryLimitBytes; Infinity: none). */
  readonly memoryLimitBytes: number;
  /** Capacity of the pool's buffers that are in use (tensors and kernel scratch). */
  private liveBytes = 0;
  /** Capacity of the idle buffers the pool keeps. */
  private pooledBytes = 0;
  /**
   * Driver-side allocation failures are only reported asynchronously (error scopes). While a newly
   * created buffer is unconfirmed (`unconfirmed` > 0) or known to have failed, the calls that could
   * raise errors because of it run inside validation error scopes, so an invalid buffer never turns
   * into a sticky uncaptured device error; `settle` (at read and sync) collects the outcome.
   */
  private unconfirmed = 0;
  private checks: Promise<void>[] = [];
  private readonly unconfirmedGpu = new Set<GPUBuffer>();
  /** The tensor buffer that holds each unconfirmed GPUBuffer now. */
  private readonly holders = new Map<GPUBuffer, WebGPUBuffer>();
  private failedAllocs: WebGPUBuffer[] = [];
  private scopedErrors: string[] = [];
  /** Bumped when a failed allocation is reported: scoped errors from before it were caused by it. */
  private epoch = 0;
  /** Guarded submits that the device rejected as a whole in this epoch. */
  private failedSubmits = 0;

  constructor(
    readonly device: GPUDevice,
    opts: WebGPUBackendOptions = {},
  ) {
    const limits = device.limits;
    this.maxGroupsPerDim = Math.min(limits.maxComputeWorkgroupsPerDimension, opts.maxWorkgroupsPerDimension ?? Infinity);
    this.maxBindingBytes = limits.maxStorageBufferBindingSize;
    this.maxBufferBytes = limits.maxBufferSize;
    const budget = opts.memoryLimitBytes ?? Infinity;
    if (!(budget >= 0)) throw new Error(`WebGPUBackend: memoryLimitBytes must be a number of bytes ≥ 0, got ${String(opts.memoryLimitBytes)}`);
    this.memoryLimitBytes = budget;
    // The pool only creates buffers; route that through the error-scoped creation.
    const creator = { createBuffer: (desc: GPUBufferDescriptor) => this.createPoolBuffer(desc) } as unknown as GPUDevice;
    this.pool = new BufferPool(creator, limits.maxBufferSize);
    this.arena = new ParamArena(device, opts.paramSlots ?? 4096);
    device.addEventListener('uncapturederror', (ev) => {
      const message = (ev as GPUUncapturedErrorEvent).error.message;
      this.deviceError ??= message;
      console.error(`WebGPUBackend: uncaptured device error: ${message}`);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.deviceError ??= `device lost (${info.reason}): ${info.message}`;
    });
  }

  // ---------------------------------------------------------------- memory

  alloc(size: number, dtype: DType): Buffer {
    this.checkAlive();
    if (this.failedAllocs.length !== 0) this.reportFailedAllocs();
    if (!Number.isInteger(size) || size < 0) throw new Error(`WebGPUBackend.alloc: bad size ${size}`);
    const bytes = size * 4;
    if (bytes > this.maxBindingBytes) throw this.outOfMemory(bytes, this.maxBindingBytes, "the device's maxStorageBufferBindingSize");
    if (Math.max(16, bytes) > this.maxBufferBytes) throw this.outOfMemory(bytes, this.maxBufferBytes, "the device's maxBufferSize");
    const { buffer, capacity, reused } = this.acquire(bytes);
    const b = new WebGPUBuffer(this, size, dtype, buffer, capacity, reused);
    if (this.unconfirmed !== 0 && this.unconfirmedGpu.has(buffer)) this.holders.set(buffer, b);
    return b;
  }

  /** Bytes of GPU storage held: live buffers plus the pool's idle ones (see memoryLimitBytes). */
  get memoryInUse(): number {
    return this.liveBytes + this.pooledBytes;
  }

  /**
   * A pool buffer, within the budget; the pool's idle buffers are dropped first if that makes room
   * (`trim`: not from inside a dispatch, whose params slot a flush would recycle).
   */
  private acquire(bytes: number, trim = true): { buffer: GPUBuffer; capacity: number; reused: boolean } {
    if (this.memoryLimitBytes !== Infinity) {
      let cap = bucketBytes(bytes);
      if (cap > this.maxBufferBytes) cap = Math.max(16, Math.ceil(bytes / 4) * 4);
      if (this.liveBytes + cap > this.memoryLimitBytes) throw this.outOfMemory(bytes, this.memoryLimitBytes, 'memoryLimitBytes');
      // A reused idle buffer is already counted in pooledBytes: only a new one can overrun the budget.
      if (trim && !this.pool.hasIdle(cap) && this.liveBytes + this.pooledBytes + cap > this.memoryLimitBytes) {
        // Idle buffers may still be used by recorded work: submit it before destroying them (Dawn frees them once done).
        this.flush();
        this.pool.destroyAll();
        this.pooledBytes = 0;
      }
    }
    const got = this.pool.acquire(bytes);
    if (got.reused) this.pooledBytes -= got.capacity;
    this.liveBytes += got.capacity;
    return got;
  }

  /**
   * The pool's createBuffer: inside out-of-memory and validation error scopes, so a driver that
   * cannot back the buffer reports it here (asynchronously) instead of as an uncaptured device error.
   * Only new buffers pay for this; pooled ones are reused as they are.
   */
  private createPoolBuffer(desc: GPUBufferDescriptor): GPUBuffer {
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let buffer: GPUBuffer | undefined;
    let thrown: unknown;
    try {
      buffer = device.createBuffer(desc);
    } catch (err) {
      thrown = err;
    }
    const validation = device.popErrorScope();
    const oom = device.popErrorScope();
    if (buffer === undefined) {
      void validation.catch(() => {});
      void oom.catch(() => {});
      if (thrown instanceof RangeError) throw this.outOfMemory(Number(desc.size), null, `device memory (createBuffer threw: ${thrown.message})`);
      throw thrown;
    }
    this.unconfirmed++;
    this.unconfirmedGpu.add(buffer);
    this.addCheck(
      Promise.all([oom, validation]).then(
        ([o, v]) => this.confirmed(buffer, Number(desc.size), o ?? v),
        (err: unknown) => this.confirmed(buffer, Number(desc.size), { message: String(err) } as GPUError),
      ),
    );
    return buffer;
  }

  /** Keeps the list of pending checks short when nothing awaits them for a while. */
  private addCheck(p: Promise<void>): void {
    this.checks.push(p);
    if (this.checks.length > 256) this.checks = [Promise.all(this.checks).then(() => {})];
  }

  /** Opens a validation error scope while some new buffer is unconfirmed or known to have failed. */
  private guard(): boolean {
    if (this.unconfirmed === 0 && this.failedAllocs.length === 0) return false;
    this.device.pushErrorScope('validation');
    return true;
  }

  private endGuard(submit = false): void {
    const epoch = this.epoch;
    this.addCheck(
      this.device.popErrorScope().then(
        (e) => {
          if (e && epoch === this.epoch) {
            this.scopedErrors.push(e.message);
            if (submit) this.failedSubmits++;
          }
        },
        () => {},
      ),
    );
  }

  /**
   * Waits for the outcome of every buffer creation and guarded call since the last settle (only
   * when there are any), then reports a failed allocation, or a genuine validation error as before.
   */
  private async settle(): Promise<void> {
    while (this.checks.length !== 0) {
      const checks = this.checks;
      this.checks = [];
      await Promise.all(checks);
    }
    if (this.failedAllocs.length !== 0) this.reportFailedAllocs();
    if (this.scopedErrors.length !== 0) {
      const message = this.scopedErrors[0];
      this.scopedErrors = [];
      this.failedSubmits = 0;
      this.deviceError ??= message;
      console.error(`WebGPUBackend: device error: ${message}`);
    }
  }

  /**
   * The driver refused buffers that ops have already been handed: drop the unsubmitted work that
   * used them (submitting it would fail as a whole), drop the pool's idle buffers (a failed one may
   * be among them), mark the failed tensors, and throw. Every other tensor keeps its storage.
   */
  private reportFailedAllocs(): never {
    const failed = this.failedAllocs;
    const failedSubmits = this.failedSubmits;
    this.failedAllocs = [];
    this.scopedErrors = [];
    this.failedSubmits = 0;
    this.epoch++;
    const discarded = this.encoder !== null;
    this.pass = null;
    this.encoder = null;
    this.arena.upload(this.device.queue); // resets the arena; the params written are never read
    for (const b of this.afterSubmit) b.destroy();
    this.afterSubmit = [];
    this.pool.destroyAll();
    this.pooledBytes = 0;
    const first = failed[0];
    const total = failed.reduce((n, b) => n + b.capacity, 0);
    throw this.outOfMemory(
      first.bytes,
      null,
      `device memory (the driver refused to create ${failed.length === 1 ? 'the buffer' : `${failed.length} buffers, ${total} bytes in all`}: ${first.failed})`,
      'The allocation was made by an op since the last read or sync (WebGPU reports it late)' +
        (discarded ? '; the work recorded since the last submit was discarded' : '') +
        (failedSubmits > 0 ? `; ${failedSubmits} earlier submit(s) that used the failed buffer were rejected by the device as a whole` : '') +
        (discarded || failedSubmits > 0 ? ': tensors that work would have written keep their earlier values, tensors it created hold unspecified values' : '') +
        '. A tensor without storage throws this error when used and can only be disposed; every other tensor and the backend stay usable.',
      null,
    );
  }

  /** The error for using a tensor whose buffer the driver refused. */
  private failedError(b: WebGPUBuffer): OutOfMemoryError {
    return this.outOfMemory(b.bytes, null, `device memory (the driver refused to create this tensor's buffer: ${b.failed})`, 'This tensor has no storage and can only be disposed; other tensors are unaffected.', null);
  }

  private confirmed(buffer: GPUBuffer, bytes: number, error: GPUError | null): void {
    this.unconfirmed--;
    this.unconfirmedGpu.delete(buffer);
    const holder = this.holders.get(buffer);
    this.holders.delete(buffer);
    if (!error) return;
    const w = holder && !holder.freed ? holder : new WebGPUBuffer(this, bytes / 4, 'f32', buffer, bytes, false);
    w.failed = error.message;
    this.failedAllocs.push(w);
  }

  private outOfMemory(bytes: number, limit: number | null, limitName: string, detail?: string, op?: null): OutOfMemoryError {
    return new OutOfMemoryError({ backend: 'webgpu', requestedBytes: bytes, limitBytes: limit, limitName, inUseBytes: this.liveBytes + this.pooledBytes, detail, op });
  }

  /** A pool buffer goes back (idle) or, when the pool is full, is destroyed once recorded work is submitted. */
  private releaseBuffer(buffer: GPUBuffer, capacity: number): void {
    this.liveBytes -= capacity;
    if (this.pool.release(buffer, capacity)) {
      this.pooledBytes += capacity;
      return;
    }
    if (this.encoder) this.afterSubmit.push(buffer);
    else buffer.destroy();
  }

  write(buf: Buffer, data: TypedArray): void {
    const b = this.own(buf);
    if (data.length !== b.size) throw new Error(`WebGPUBackend.write: ${data.length} values for a buffer of ${b.size}`);
    // Match the CPU's typed-array set: values convert to the buffer's dtype.
    const typed = b.dtype === 'f32' ? (data instanceof Float32Array ? data : Float32Array.from(data)) : data instanceof Int32Array ? data : Int32Array.from(data);
    b.needsClear = false;
    if (b.bytes === 0) return;
    if (!this.encoder) {
      // Nothing recorded yet, so the write cannot overtake a kernel that uses this buffer.
      const guarded = this.guard();
      try {
        this.device.queue.writeBuffer(b.gpu, 0, typed.buffer, typed.byteOffset, typed.byteLength);
      } finally {
        if (guarded) this.endGuard();
      }
      return;
    }
    // queue.writeBuffer would run before the unsubmitted encoder; copy from staging in encoder order instead.
    let staging: GPUBuffer;
    try {
      staging = this.device.createBuffer({ size: b.bytes, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    } catch (err) {
      // The mapping could not be allocated on the host: nothing was recorded, the tensor is unchanged.
      if (err instanceof RangeError) throw this.outOfMemory(b.bytes, null, `host memory for the upload's staging buffer (${err.message})`);
      throw err;
    }
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
    staging.unmap();
    this.encodeCopy(staging, b.gpu, b.bytes);
    this.afterSubmit.push(staging);
  }

  async read(buf: Buffer): Promise<TypedArray> {
    const b = this.own(buf);
    if (this.failedAllocs.length !== 0) this.reportFailedAllocs();
    this.stats.readbacks++;
    if (b.bytes === 0) return b.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    // The copy is recorded before anything is awaited: the caller may free the tensor right after
    // asking for its values (later users of the pooled buffer are recorded after this copy).
    this.clearIfNeeded(b);
    const staging = this.device.createBuffer({ size: b.bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.encodeCopy(b.gpu, staging, b.bytes);
    if (this.checks.length !== 0) {
      // Allocation failures are reported late: collect them before the copy is submitted.
      try {
        await this.settle();
        if (b.failed !== null) throw this.failedError(b);
      } catch (err) {
        staging.destroy();
        throw err;
      }
    }
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      this.raiseDeviceError();
      return b.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
    } finally {
      staging.destroy();
    }
  }

  free(buf: Buffer): void {
    if (buf instanceof WebGPUBuffer && buf.backend === this && buf.failed !== null && !buf.freed) {
      // Its storage never existed on the device: nothing goes back to the pool.
      buf.freed = true;
      this.liveBytes -= buf.capacity;
      buf.gpu.destroy();
      return;
    }
    const b = this.own(buf);
    b.freed = true;
    this.releaseBuffer(b.gpu, b.capacity);
  }

  async sync(): Promise<void> {
    this.checkAlive();
    if (this.checks.length !== 0 || this.failedAllocs.length !== 0) await this.settle();
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.raiseDeviceError();
  }

  /** Releases every GPU resource. The backend is unusable afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pass = null;
    this.encoder = null;
    for (const b of this.afterSubmit) b.destroy();
    this.afterSubmit = [];
    this.pool.destroyAll();
    this.arena.destroy();
    this.device.destroy();
  }

  // ---------------------------------------------------------------- kernels

  fill(out: Buffer, value: number, n: number): void {
    this.stats.dispatches++;
    const o = this.own(out);
    this.need(o, n, 'fill', 'out');
    const bits = o.dtype === 'f32' ? f32Bits(value) : (value | 0) >>> 0;
    this.fillWords(o, bits, n);
  }

  unary(op: UnaryOp, x: Buffer, out: Buffer, n: number, p0 = 0, p1 = 0): void {
    this.stats.dispatches++;
    const xb = this.own(x);
    const ob = this.own(out);
    this.need(xb, n, 'unary', 'x');
    this.need(ob, n, 'unary', 'out');
    if (n === 0) return;
    // The CPU compares f32 x against an f64 threshold; pick the f32 threshold that agrees on every f32 x.
    let q0 = p0;
    let q1 = p1;
    if (op === 'gtScalar') q0 = f32AtMost(p0);
    if (op === 'inRange') {
      q0 = f32AtLeast(p0);
      q1 = f32AtMost(p1);
    }
    this.dispatch(
      unarySource(op, xb.dtype, ob.dtype),
      'main',
      (w) => w.u32(n).f32(q0).f32(q1),
      [
        [1, { buf: xb }],
        [2, { buf: ob, write: true, covers: n >= ob.size }],
      ],
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  binary(op: BinaryOp, a: Buffer, b: Buffer, out: Buffer, shape: number[], aStrides: number[], bStrides: number[]): void {
    this.stats.dispatches++;
    const ab = this.own(a);
    const bb = this.own(b);
    const ob = this.own(out);
    const c = collapseDims(shape, [aStrides, bStrides]);
    this.need(ob, c.n, 'binary', 'out');
    if (c.n === 0) return;
    this.needStrided(ab, c, 0, 0, 'binary', 'a');
    this.needStrided(bb, c, 1, 0, 'binary', 'b');
    this.dispatch(
      binarySource(op, ab.dtype, bb.dtype, ob.dtype),
      'binary_main',
      (w) => this.stridedParams(w, c, 0, [c.strides[0], c.strides[1], []]),
      [
        [1, { buf: ab }],
        [2, { buf: bb }],
        [3, { buf: ob, write: true, covers: c.n >= ob.size }],
      ],
      this.grid(Math.ceil(c.n / WORKGROUP)),
    );
  }

  where(cond: Buffer, a: Buffer, b: Buffer, out: Buffer, shape: number[], condStrides: number[], aStrides: number[], bStrides: number[]): void {
    this.stats.dispatches++;
    const cb = this.own(cond);
    const ab = this.own(a);
    const bb = this.own(b);
    const ob = this.own(out);
    if (ab.dtype !== ob.dtype || bb.dtype !== ob.dtype) {
      throw new Error(`WebGPUBackend.where: a (${ab.dtype}), b (${bb.dtype}) and out (${ob.dtype}) must share a dtype`);
    }
    const c = collapseDims(shape, [aStrides, bStrides, condStrides]);
    this.need(ob, c.n, 'where', 'out');
    if (c.n === 0) return;
    this.needStrided(ab, c, 0, 0, 'where', 'a');
    this.needStrided(bb, c, 1, 0, 'where', 'b');
    this.needStrided(cb, c, 2, 0, 'where', 'cond');
    this.dispatch(
      whereSource(),
      'where_main',
      (w) => this.stridedParams(w, c, cb.dtype === 'f32' ? 1 : 0, c.strides),
      [
        [1, { buf: ab }],
        [2, { buf: bb }],
        [3, { buf: ob, write: true, covers: c.n >= ob.size }],
        [4, { buf: cb }],
      ],
      this.grid(Math.ceil(c.n / WORKGROUP)),
    );
  }

  reduce(op: ReduceOp, x: Buffer, out: Buffer, outer: number, reduce: number, inner: number): void {
    this.stats.dispatches++;
    const xb = this.own(x);
    const ob = this.own(out);
    const outputs = outer * inner;
    this.need(xb, outputs * reduce, 'reduce', 'x');
    this.need(ob, outputs, 'reduce', 'out');
    if (outputs === 0) return;
    // One serial thread per output is fine while there are many outputs or the axis is short;
    // otherwise a workgroup cooperates on each row (inner == 1) or on 16 adjacent columns.
    let entry: string;
    let groups: Grid;
    if (reduce >= 64 && inner === 1 && (reduce >= 1024 || outer < 8192)) {
      entry = 'reduce_rows_tree';
      groups = this.grid(outer);
    } else if (reduce >= 64 && inner > 1 && outputs < 16384) {
      entry = 'reduce_cols_tree';
      groups = this.grid(outer * Math.ceil(inner / 16));
    } else {
      entry = 'reduce_simple';
      groups = this.grid(Math.ceil(outputs / WORKGROUP));
    }
    this.dispatch(
      reduceSource(op, xb.dtype, ob.dtype),
      entry,
      (w) => w.u32(outer).u32(reduce).u32(inner).f32(op === 'sum' ? 0 : -Infinity),
      [
        [1, { buf: xb }],
        [2, { buf: ob, write: true, covers: outputs >= ob.size }],
      ],
      groups,
    );
  }

  matmul(
    a: Buffer,
    b: Buffer,
    out: Buffer,
    p: { batch: number; m: number; n: number; k: number; transA: boolean; transB: boolean; aBatchStride: number; bBatchStride: number },
  ): void {
    this.stats.dispatches++;
    const ab = this.own(a);
    const bb = this.own(b);
    const ob = this.own(out);
    this.needF32('matmul', ab, bb, ob);
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride } = p;
    this.need(ob, batch * m * n, 'matmul', 'out');
    if (batch * m * n === 0) return;
    this.need(ab, (batch - 1) * aBatchStride + m * k, 'matmul', 'a');
    this.need(bb, (batch - 1) * bBatchStride + k * n, 'matmul', 'b');
    const [aRow, aCol] = transA ? [1, m] : [k, 1];
    const [bRow, bCol] = transB ? [1, k] : [n, 1];
    // The largest per-thread block that still gives enough workgroups to occupy a big GPU.
    let block: 1 | 2 | 4 = 1;
    for (const t of [4, 2] as const) {
      if (Math.ceil(m / (16 * t)) * Math.ceil(n / (16 * t)) * batch >= 128) {
        block = t;
        break;
      }
    }
    const tile = 16 * block;
    const rowTiles = Math.ceil(m / tile);
    const colTiles = Math.ceil(n / tile);
    const source = matmulSource(block, transA, transB);
    const max = this.maxGroupsPerDim;
    for (let b0 = 0; b0 < batch; b0 += max) {
      for (let r0 = 0; r0 < rowTiles; r0 += max) {
        for (let c0 = 0; c0 < colTiles; c0 += max) {
          this.dispatch(
            source,
            'main',
            (w) =>
              w.u32(m).u32(n).u32(k).u32(b0).u32(aRow).u32(aCol).u32(bRow).u32(bCol).u32(aBatchStride).u32(bBatchStride).u32(r0).u32(c0),
            [
              [1, { buf: ab }],
              [2, { buf: bb }],
              [3, { buf: ob, write: true, covers: batch * m * n >= ob.size }],
            ],
            [Math.min(max, colTiles - c0), Math.min(max, rowTiles - r0), Math.min(max, batch - b0)],
          );
        }
      }
    }
  }

  copy(src: Buffer, dst: Buffer, shape: number[], srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[]): void {
    this.stats.dispatches++;
    const sb = this.own(src);
    const db = this.own(dst);
    if (sb.dtype !== db.dtype) throw new Error(`WebGPUBackend.copy: src is ${sb.dtype} but dst is ${db.dtype}`);
    const c = collapseDims(shape, [srcStrides, dstStrides]);
    if (c.n === 0) return;
    this.needStrided(sb, c, 0, srcOffset, 'copy', 'src');
    this.needStrided(db, c, 1, dstOffset, 'copy', 'dst');
    const contiguous = c.shape.length === 0 || (c.shape.length === 1 && c.strides[1][0] === 1);
    this.dispatch(
      copySource(),
      'main',
      (w) =>
        w
          .u32(c.n)
          .u32(c.shape.length)
          .i32(srcOffset)
          .i32(dstOffset)
          .vec4Array(padFront(c.shape, 1), 8, false)
          .vec4Array(padFront(c.strides[0], 0), 8, true)
          .vec4Array(padFront(c.strides[1], 0), 8, true),
      [
        [1, { buf: sb }],
        [2, { buf: db, write: true, covers: contiguous && dstOffset === 0 && c.n >= db.size }],
      ],
      this.grid(Math.ceil(c.n / WORKGROUP)),
    );
  }

  gatherRows(table: Buffer, ids: Buffer, idsHost: Int32Array, out: Buffer, dim: number, into: RowPlacement = { offset: 0, stride: dim }): void {
    this.stats.dispatches++;
    const tb = this.own(table);
    const ib = this.own(ids);
    const ob = this.own(out);
    if (tb.dtype !== ob.dtype) throw new Error(`WebGPUBackend.gatherRows: table is ${tb.dtype} but out is ${ob.dtype}`);
    const count = idsHost.length;
    if (count * dim === 0) return;
    this.need(ob, into.offset + (count - 1) * into.stride + dim, 'gatherRows', 'out');
    const covers = into.offset === 0 && into.stride === dim && count * dim >= ob.size;
    const vocab = Math.floor(tb.size / dim);
    // The device copy of the ids is used when it is i32; otherwise the host ids are uploaded.
    const idsOperand: Operand = ib.dtype === 'i32' && ib.size >= count ? { buf: ib } : { scratch: this.uploadScratch(idsHost) };
    this.dispatch(
      gatherSource(),
      'gather_rows',
      (w) => w.u32(count).u32(dim).u32(vocab).u32(into.offset).u32(into.stride),
      [
        [1, { buf: tb }],
        [2, idsOperand],
        [3, { buf: ob, write: true, covers }],
      ],
      this.grid(Math.ceil((count * dim) / WORKGROUP)),
    );
  }

  scatterAddRows(src: Buffer, _ids: Buffer, idsHost: Int32Array, out: Buffer, vocab: number, dim: number): void {
    this.stats.dispatches++;
    this.own(_ids);
    const sb = this.own(src);
    const ob = this.own(out);
    this.needF32('scatterAddRows', sb, ob);
    this.need(ob, vocab * dim, 'scatterAddRows', 'out');
    this.need(sb, idsHost.length * dim, 'scatterAddRows', 'src');
    if (vocab * dim === 0) return;
    this.fillWords(ob, 0, vocab * dim);
    const rows = this.rowCsr(idsHost, vocab);
    if (!rows) return;
    const { csr, unique } = rows;
    this.dispatch(
      gatherSource(),
      'scatter_add_rows',
      (w) => w.u32(unique).u32(dim).u32(vocab),
      [
        [5, { buf: sb }],
        [6, { scratch: this.uploadScratch(csr) }],
        [7, { buf: ob, write: true }],
      ],
      this.grid(Math.ceil((unique * dim) / WORKGROUP)),
      4,
    );
  }

  /** The CSR of a host ids array, built once per array and vocabulary (GradNorm-style strategies scatter the same ids T + 1 times a step). */
  private rowCsr(idsHost: Int32Array, vocab: number): ReturnType<typeof buildRowCsr> {
    let byVocab = this.csrCache.get(idsHost);
    if (!byVocab) this.csrCache.set(idsHost, (byVocab = new Map()));
    if (!byVocab.has(vocab)) byVocab.set(vocab, buildRowCsr(idsHost, vocab));
    return byVocab.get(vocab)!;
  }

  softmax(x: Buffer, out: Buffer, rows: number, cols: number, log: boolean): void {
    this.stats.dispatches++;
    const xb = this.own(x);
    const ob = this.own(out);
    this.needF32('softmax', xb, ob);
    this.need(xb, rows * cols, 'softmax', 'x');
    this.need(ob, rows * cols, 'softmax', 'out');
    if (rows * cols === 0) return;
    const wide = cols >= 128;
    this.dispatch(
      softmaxSource(),
      wide ? 'softmax_rows_wg' : 'softmax_rows',
      (w) => w.u32(rows).u32(cols).u32(log ? 1 : 0),
      [
        [1, { buf: xb }],
        [2, { buf: ob, write: true, covers: rows * cols >= ob.size }],
      ],
      wide ? this.grid(rows) : this.grid(Math.ceil(rows / 64)),
    );
  }

  dropoutMask(out: Buffer, n: number, p: number, seed: number): void {
    this.stats.dispatches++;
    const ob = this.own(out);
    this.needF32('dropoutMask', ob);
    this.need(ob, n, 'dropoutMask', 'out');
    if (n === 0) return;
    // u >= p  ⇔  (h >> 8) >= ceil(p · 2^24), since u = (h >> 8) / 2^24 exactly.
    const threshold = p > 0 ? Math.min(2 ** 24 + 1, Math.ceil(p * 2 ** 24)) : p <= 0 ? 0 : 2 ** 24 + 1;
    this.dispatch(
      dropoutSource(),
      'main',
      (w) => w.u32(n).u32(seed).u32(threshold).f32(1 / (1 - p)),
      [[1, { buf: ob, write: true, covers: n >= ob.size }]],
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  gateMixForward(logits: Buffer, experts: Buffer, mix: Buffer, weights: Buffer, p: GateMixShape): void {
    this.stats.dispatches++;
    const lb = this.own(logits);
    const eb = this.own(experts);
    const mb = this.own(mix);
    const wb = this.own(weights);
    this.needF32('gateMixForward', lb, eb, mb, wb);
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    this.checkGateShape(p, 'gateMixForward');
    this.need(lb, T * B * E, 'gateMixForward', 'logits');
    this.need(eb, E * B * H, 'gateMixForward', 'experts');
    this.need(mb, T * B * H, 'gateMixForward', 'mix');
    this.need(wb, T * B * E, 'gateMixForward', 'weights');
    const rows = T * B;
    if (rows === 0) return;
    if (E === 0) {
      this.fillWords(mb, 0, rows * H); // an empty mixture is zero
      return;
    }
    this.dispatch(
      gatingSource(),
      'gate_mix_forward',
      (w) => w.u32(T).u32(B).u32(E).u32(H),
      [
        [1, { buf: lb }],
        [2, { buf: eb }],
        [3, { buf: mb, write: true, covers: rows * H >= mb.size }],
        [4, { buf: wb, write: true, covers: rows * E >= wb.size }],
      ],
      this.grid(rows),
    );
  }

  gateMixBackward(weights: Buffer, experts: Buffer, gMix: Buffer, gLogits: Buffer, gExperts: Buffer, p: GateMixShape): void {
    this.stats.dispatches++;
    const wb = this.own(weights);
    const eb = this.own(experts);
    const gb = this.own(gMix);
    const glb = this.own(gLogits);
    const geb = this.own(gExperts);
    this.needF32('gateMixBackward', wb, eb, gb, glb, geb);
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    this.checkGateShape(p, 'gateMixBackward');
    this.need(wb, T * B * E, 'gateMixBackward', 'weights');
    this.need(eb, E * B * H, 'gateMixBackward', 'experts');
    this.need(gb, T * B * H, 'gateMixBackward', 'gMix');
    this.need(glb, T * B * E, 'gateMixBackward', 'gLogits');
    this.need(geb, E * B * H, 'gateMixBackward', 'gExperts');
    const rows = T * B;
    const groups = rows + Math.ceil((E * B * H) / 64);
    if (E === 0 || groups === 0) return;
    this.dispatch(
      gatingSource(),
      'gate_mix_backward',
      (w) => w.u32(T).u32(B).u32(E).u32(H),
      [
        [2, { buf: eb }],
        [5, { buf: wb }],
        [6, { buf: gb }],
        [7, { buf: glb, write: true, covers: rows * E >= glb.size }],
        [8, { buf: geb, write: true, covers: E * B * H >= geb.size }],
      ],
      this.grid(groups),
    );
  }

  adam(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void {
    this.stats.dispatches++;
    const pb = this.own(param);
    const gb = this.own(grad);
    const mb = this.own(m);
    const vb = this.own(v);
    this.needF32('adam', pb, gb, mb, vb);
    for (const [b, what] of [[pb, 'param'], [gb, 'grad'], [mb, 'm'], [vb, 'v']] as const) this.need(b, n, 'adam', what);
    if (n === 0) return;
    const c1 = 1 - Math.pow(h.beta1, h.step);
    const c2 = 1 - Math.pow(h.beta2, h.step);
    this.dispatch(
      optimizerSource(),
      'adam',
      (w) =>
        w
          .u32(n)
          .u32(h.decoupled ? 1 : 0)
          .f32(h.lr)
          .f32(h.beta1)
          .f32(h.beta2)
          .f32(1 - h.beta1)
          .f32(1 - h.beta2)
          .f32(h.eps)
          .f32(h.weightDecay)
          .f32(1 - h.lr * h.weightDecay)
          .f32(c1)
          .f32(c2),
      [
        [1, { buf: pb, write: true }],
        [2, { buf: gb }],
        [3, { buf: mb, write: true }],
        [4, { buf: vb, write: true }],
      ],
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  // ---------------------------------------------------------------- encoding

  /** out[0..n) = bits, as raw words; an internal helper, not counted as a launch. */
  private fillWords(out: WebGPUBuffer, bits: number, n: number): void {
    if (n === 0) return;
    this.dispatch(
      fillSource(),
      'main',
      (w) => w.u32(n).u32(bits),
      [[1, { buf: out, write: true, covers: n >= out.size }]],
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  private dispatch(
    source: string,
    entry: string,
    writeParams: (w: ParamWriter) => void,
    operands: Array<[number, Operand]>,
    groups: Grid,
    paramsBinding = 0,
  ): void {
    if (this.arena.full) this.flush();
    const { offset, writer } = this.arena.next();
    writeParams(writer);
    const kernel = this.kernel(source, entry);

    const entries: GPUBindGroupEntry[] = [
      { binding: paramsBinding, resource: { buffer: this.arena.buffer, offset, size: PARAM_SLOT_BYTES } },
    ];
    const writeBacks: Array<{ scratch: GPUBuffer; capacity: number; to: WebGPUBuffer }> = [];
    // Inputs first: an input that is still pending its zero-clear must be cleared before it is read,
    // even when the same buffer is also an output that the kernel overwrites completely.
    for (const [binding, op] of operands) {
      if ('scratch' in op) entries.push({ binding, resource: { buffer: op.scratch } });
      else if (!op.write) {
        this.clearIfNeeded(op.buf);
        entries.push({ binding, resource: { buffer: op.buf.gpu, size: Math.max(4, op.buf.bytes) } });
      }
    }
    for (const [binding, op] of operands) {
      if ('scratch' in op || !op.write) continue;
      const out = op.buf;
      if (op.covers) out.needsClear = false;
      else this.clearIfNeeded(out);
      let target = out.gpu;
      const aliases = operands.filter(([b, o]) => b !== binding && 'buf' in o && o.buf.gpu === out.gpu);
      if (aliases.length > 0) {
        if (aliases.some(([, o]) => 'buf' in o && o.write)) {
          throw new Error('WebGPUBackend: two outputs of one kernel are the same buffer');
        }
        // WebGPU forbids a writable binding that overlaps another binding of the same dispatch, so
        // the kernel writes a scratch copy that is copied back afterwards.
        const scratch = this.acquire(out.capacity, false);
        if (!op.covers) this.encodeCopy(out.gpu, scratch.buffer, out.bytes);
        target = scratch.buffer;
        writeBacks.push({ scratch: scratch.buffer, capacity: scratch.capacity, to: out });
      }
      entries.push({ binding, resource: { buffer: target, size: Math.max(4, out.bytes) } });
    }

    const guarded = this.guard();
    let bindGroup: GPUBindGroup;
    try {
      bindGroup = this.device.createBindGroup({ layout: kernel.layout, entries });
    } finally {
      if (guarded) this.endGuard();
    }
    const pass = this.computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);

    for (const wb of writeBacks) {
      this.encodeCopy(wb.scratch, wb.to.gpu, wb.to.bytes);
      // Later users of the pooled scratch are recorded after this copy, so it can go back now.
      this.releaseBuffer(wb.scratch, wb.capacity);
    }
  }

  /** Pipelines are cached by the final WGSL text and entry point. */
  private kernel(source: string, entry: string): Kernel {
    let cached = this.pipelines.get(source);
    if (!cached) {
      cached = { module: this.device.createShaderModule({ code: source, label: entry }), byEntry: new Map() };
      this.pipelines.set(source, cached);
    }
    const { module, byEntry } = cached;
    let k = byEntry.get(entry);
    if (!k) {
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: entry }, label: entry });
      k = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      byEntry.set(entry, k);
    }
    return k;
  }

  private ensureEncoder(): GPUCommandEncoder {
    this.checkAlive();
    return (this.encoder ??= this.device.createCommandEncoder({ label: 'webmtl' }));
  }

  private computePass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const t = this.timing;
    if (t && t.next + 2 > t.capacity) throw new Error(`timeKernels: more than ${t.capacity / 2} compute passes; time fewer kernels at once`);
    const timestampWrites = t ? { querySet: t.querySet, beginningOfPassWriteIndex: t.next, endOfPassWriteIndex: t.next + 1 } : undefined;
    if (t) t.next += 2;
    return (this.pass = this.ensureEncoder().beginComputePass(timestampWrites ? { timestampWrites } : undefined));
  }

  /**
   * GPU time, in milliseconds, of the kernels that `fn` records: every compute pass they use writes
   * timestamps at its start and end, and the pass durations are summed (copies and clears between
   * passes are not counted). Null when the device has no 'timestamp-query'. For benchmarks.
   */
  async timeKernels(fn: () => void): Promise<number | null> {
    if (!this.device.features.has('timestamp-query')) return null;
    this.flush();
    const capacity = 2 * 1024;
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: capacity });
    const timing = { querySet, next: 0, capacity };
    this.timing = timing;
    try {
      fn();
      this.endPass();
    } finally {
      this.timing = null;
    }
    if (timing.next === 0) {
      querySet.destroy();
      return 0;
    }
    return this.readPassTimes(querySet, timing.next);
  }

  /** Sum of (end − begin) over the first `count` / 2 passes' timestamps, in milliseconds. */
  private async readPassTimes(querySet: GPUQuerySet, count: number): Promise<number> {
    const bytes = count * 8;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.ensureEncoder();
    encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
      staging.unmap();
      let ns = 0n;
      for (let i = 0; i + 1 < stamps.length; i += 2) if (stamps[i + 1] > stamps[i]) ns += stamps[i + 1] - stamps[i];
      return Number(ns) / 1e6;
    } finally {
      staging.destroy();
      resolved.destroy();
      querySet.destroy();
    }
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private encodeCopy(from: GPUBuffer, to: GPUBuffer, bytes: number): void {
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(from, 0, to, 0, bytes);
  }

  private clearIfNeeded(b: WebGPUBuffer): void {
    if (!b.needsClear) return;
    b.needsClear = false;
    if (b.bytes === 0) return;
    this.endPass();
    this.ensureEncoder().clearBuffer(b.gpu, 0, b.bytes);
  }

  /** A read-only storage buffer holding `data`, alive until the next submit. No flush needed: it is new. */
  private uploadScratch(data: Int32Array | Uint32Array): GPUBuffer {
    const bytes = Math.max(16, data.byteLength);
    const buffer = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    this.afterSubmit.push(buffer);
    return buffer;
  }

  /** Submits everything recorded so far, params arena first. */
  private flush(): void {
    if (!this.encoder) return;
    this.endPass();
    this.arena.upload(this.device.queue);
    const guarded = this.guard();
    try {
      this.device.queue.submit([this.encoder.finish()]);
    } finally {
      if (guarded) this.endGuard(true);
    }
    this.encoder = null;
    this.stats.submits++;
    for (const b of this.afterSubmit) b.destroy(); // Dawn defers the free until the GPU is done with it
    this.afterSubmit = [];
  }

  /** Workgroup counts as (x, y, 1) with x, y within the per-dimension limit; shaders linearise y * nx + x. */
  private grid(groups: number): Grid {
    const max = this.maxGroupsPerDim;
    if (groups <= max) return [groups, 1, 1];
    const y = Math.ceil(groups / max);
    if (y > max) throw new Error(`WebGPUBackend: ${groups} workgroups exceed the device's dispatch limits`);
    return [Math.ceil(groups / y), y, 1];
  }

  private stridedParams(w: ParamWriter, c: CollapsedShape, flag: number, strides: number[][]): void {
    w.u32(c.n).u32(c.shape.length).u32(flag).u32(0).vec4Array(padFront(c.shape, 1), 8, false);
    for (let k = 0; k < 3; k++) {
      w.vec4Array(strides[k].length ? padFront(strides[k], 0) : [], 8, true);
    }
  }

  // ---------------------------------------------------------------- checks

  private own(buf: Buffer): WebGPUBuffer {
    if (!(buf instanceof WebGPUBuffer) || buf.backend !== this) {
      const owner = (buf as { backend?: { name?: string } } | undefined)?.backend?.name ?? 'unknown';
      throw new Error(`WebGPUBackend: got a buffer from another backend ('${owner}'); move it with read/write first`);
    }
    if (buf.freed) throw new Error('WebGPUBackend: buffer used after free');
    if (buf.failed !== null) throw this.failedError(buf);
    this.checkAlive();
    return buf;
  }

  private need(b: WebGPUBuffer, count: number, kernel: string, what: string): void {
    if (!(count >= 0) || count > b.size) throw new Error(`WebGPUBackend.${kernel}: ${what} needs ${count} elements, buffer has ${b.size}`);
  }

  private needStrided(b: WebGPUBuffer, c: CollapsedShape, operand: number, base: number, kernel: string, what: string): void {
    const [lo, hi] = offsetRange(c.shape, c.strides[operand]);
    if (base + lo < 0 || base + hi >= b.size) {
      throw new Error(`WebGPUBackend.${kernel}: ${what} reads/writes offsets ${base + lo}..${base + hi}, buffer has ${b.size}`);
    }
  }

  private needF32(kernel: string, ...bufs: WebGPUBuffer[]): void {
    if (bufs.some((b) => b.dtype !== 'f32')) throw new Error(`WebGPUBackend.${kernel}: f32 buffers only`);
  }

  private checkGateShape(p: GateMixShape, kernel: string): void {
    if (p.experts > MAX_GATE_EXPERTS) throw new Error(`WebGPUBackend.${kernel}: at most ${MAX_GATE_EXPERTS} experts, got ${p.experts}`);
  }

  private checkAlive(): void {
    if (this.destroyed) throw new Error('WebGPUBackend: used after destroy()');
  }

  private raiseDeviceError(): void {
    if (this.deviceError) throw new Error(`WebGPUBackend: ${this.deviceError}`);
  }
}
