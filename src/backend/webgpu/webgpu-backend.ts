// The WebGPU backend: every Backend primitive as a WGSL compute kernel (sources in /shaders).
// This class is the public face; the work is split by job:
// - memory.ts: tensor buffers, the size-bucketed pool (freed buffers are reused; a reused one is
//   cleared before it is read, as alloc returns zeros on every backend), the budget, allocation failures;
// - encoder.ts: the command encoder, params arena, pipelines, submits, timing and error scopes;
// - dispatch.ts: the kernels (operand checks, entry points, grids, params by name).
// Kernels are recorded, not run: nothing reaches the device until `read`, `sync`, or a full params
// arena forces a submit. `write` never reorders against recorded kernels: with an empty encoder it
// uses queue.writeBuffer, otherwise it records a staging copy into the encoder.
import type {
  AdamHyper,
  Backend,
  BackendStats,
  BinaryOp,
  Buffer,
  DType,
  GateMixShape,
  MatmulShape,
  ReduceOp,
  RowPlacement,
  TypedArray,
  UnaryOp,
} from '../backend.js';
import { acquireDevice, webgpuUnavailableReason } from './device.js';
import { KernelDispatcher } from './dispatch.js';
import { DeviceStatus, GpuEncoder } from './encoder.js';
import { GpuMemory, WebGPUBuffer } from './memory.js';

export { buildRowCsr, MAX_GATE_EXPERTS } from './dispatch.js';
export { webgpuUnavailableReason };

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

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly stats: BackendStats = { readbacks: 0, dispatches: 0, submits: 0 };
  /** What the adapter says of itself (vendor, architecture, description); empty when unknown. */
  adapterInfo: { vendor?: string; architecture?: string; description?: string } = {};
  /** True for a software adapter (SwiftShader): correct, but slower than the CPU backend. */
  isFallbackAdapter = false;
  /** The byte budget (memoryLimitBytes; Infinity: none). */
  readonly memoryLimitBytes: number;

  private readonly status: DeviceStatus;
  private readonly memory: GpuMemory;
  private readonly encoder: GpuEncoder;
  private readonly kernels: KernelDispatcher;

  constructor(
    readonly device: GPUDevice,
    opts: WebGPUBackendOptions = {},
  ) {
    const budget = opts.memoryLimitBytes ?? Infinity;
    if (!(budget >= 0))
      throw new Error(`WebGPUBackend: memoryLimitBytes must be a number of bytes ≥ 0, got ${String(opts.memoryLimitBytes)}`);
    this.memoryLimitBytes = budget;
    this.status = new DeviceStatus(device, () => this.memory.atRisk);
    this.memory = new GpuMemory(this, device, this.status, budget, {
      flush: () => this.encoder.flush(),
      retire: (buffer) => this.encoder.retire(buffer),
    });
    this.encoder = new GpuEncoder(device, this.status, () => this.memory, this.stats, opts.paramSlots ?? 4096);
    const maxGroupsPerDim = Math.min(device.limits.maxComputeWorkgroupsPerDimension, opts.maxWorkgroupsPerDimension ?? Infinity);
    this.kernels = new KernelDispatcher(this.memory, this.encoder, maxGroupsPerDim, () => this.stats.dispatches++);
  }

  // ---------------------------------------------------------------- memory

  alloc(size: number, dtype: DType): Buffer {
    this.status.checkAlive();
    if (this.memory.hasFailed) this.reportFailedAllocs();
    return this.memory.alloc(size, dtype);
  }

  /** Bytes of GPU storage held: live buffers plus the pool's idle ones (see memoryLimitBytes). */
  get memoryInUse(): number {
    return this.memory.inUse;
  }

  write(buf: Buffer, data: TypedArray): void {
    const b = this.memory.own(buf);
    if (data.length !== b.size) throw new Error(`WebGPUBackend.write: ${data.length} values for a buffer of ${b.size}`);
    // Match the CPU's typed-array set: values convert to the buffer's dtype.
    const typed =
      b.dtype === 'f32'
        ? data instanceof Float32Array
          ? data
          : Float32Array.from(data)
        : data instanceof Int32Array
          ? data
          : Int32Array.from(data);
    b.needsClear = false;
    if (b.bytes === 0) return;
    if (!this.encoder.recording) {
      // Nothing recorded yet, so the write cannot overtake a kernel that uses this buffer.
      const guarded = this.status.guard();
      try {
        this.device.queue.writeBuffer(b.gpu, 0, typed.buffer, typed.byteOffset, typed.byteLength);
      } finally {
        if (guarded) this.status.endGuard();
      }
      return;
    }
    // queue.writeBuffer would run before the unsubmitted encoder; copy from staging in encoder order instead.
    let staging: GPUBuffer;
    try {
      staging = this.device.createBuffer({ size: b.bytes, usage: GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    } catch (err) {
      // The mapping could not be allocated on the host: nothing was recorded, the tensor is unchanged.
      if (err instanceof RangeError)
        throw this.memory.outOfMemory(b.bytes, null, `host memory for the upload's staging buffer (${err.message})`);
      throw err;
    }
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
    staging.unmap();
    this.encoder.encodeCopy(staging, b.gpu, b.bytes);
    this.encoder.destroyAfterSubmit(staging);
  }

  async read(buf: Buffer): Promise<TypedArray> {
    const b = this.memory.own(buf);
    if (this.memory.hasFailed) this.reportFailedAllocs();
    this.stats.readbacks++;
    if (b.bytes === 0) return b.dtype === 'f32' ? new Float32Array(0) : new Int32Array(0);
    // The copy is recorded before anything is awaited: the caller may free the tensor right after
    // asking for its values (later users of the pooled buffer are recorded after this copy).
    this.encoder.clearIfNeeded(b);
    const staging = this.device.createBuffer({ size: b.bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.encoder.encodeCopy(b.gpu, staging, b.bytes);
    if (this.status.pending) {
      // Allocation failures are reported late: collect them before the copy is submitted.
      try {
        await this.settle();
        if (b.failed !== null) throw this.memory.failedError(b);
      } catch (err) {
        staging.destroy();
        throw err;
      }
    }
    this.encoder.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      this.status.raiseDeviceError();
      return b.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
    } finally {
      staging.destroy();
    }
  }

  free(buf: Buffer): void {
    // A buffer the driver refused can still be freed (its tensor can only be disposed).
    const refused = buf instanceof WebGPUBuffer && buf.backend === this && buf.failed !== null && !buf.freed;
    this.memory.free(refused ? buf : this.memory.own(buf));
  }

  async sync(): Promise<void> {
    this.status.checkAlive();
    if (this.status.pending || this.memory.hasFailed) await this.settle();
    this.encoder.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.status.raiseDeviceError();
  }

  /** Releases every GPU resource. The backend is unusable afterwards. */
  destroy(): void {
    if (this.status.destroyed) return;
    this.status.destroyed = true;
    this.encoder.destroy();
    this.memory.dropIdle();
    this.device.destroy();
  }

  /**
   * GPU time, in milliseconds, of the kernels that `fn` records: every compute pass they use writes
   * timestamps at its start and end, and the pass durations are summed (copies and clears between
   * passes are not counted). Null when the device has no 'timestamp-query'. For benchmarks.
   */
  timeKernels(fn: () => void): Promise<number | null> {
    return this.encoder.timeKernels(fn);
  }

  /**
   * Waits for the outcome of every buffer creation and guarded call since the last settle, then
   * reports a failed allocation, or a genuine validation error as before.
   */
  private async settle(): Promise<void> {
    await this.status.drain();
    if (this.memory.hasFailed) this.reportFailedAllocs();
    this.status.promoteScopedErrors();
  }

  /**
   * The driver refused buffers that ops have already been handed: drop the unsubmitted work that
   * used them (submitting it would fail as a whole), drop the pool's idle buffers (a failed one may
   * be among them), mark the failed tensors, and throw. Every other tensor keeps its storage.
   */
  private reportFailedAllocs(): never {
    const failed = this.memory.takeFailed();
    const failedSubmits = this.status.newEpoch();
    const discarded = this.encoder.discard();
    this.memory.dropIdle();
    const first = failed[0];
    const total = failed.reduce((n, b) => n + b.capacity, 0);
    throw this.memory.outOfMemory(
      first.bytes,
      null,
      `device memory (the driver refused to create ${failed.length === 1 ? 'the buffer' : `${failed.length} buffers, ${total} bytes in all`}: ${first.failed})`,
      'The allocation was made by an op since the last read or sync (WebGPU reports it late)' +
        (discarded ? '; the work recorded since the last submit was discarded' : '') +
        (failedSubmits > 0
          ? `; ${failedSubmits} earlier submit(s) that used the failed buffer were rejected by the device as a whole`
          : '') +
        (discarded || failedSubmits > 0
          ? ': tensors that work would have written keep their earlier values, tensors it created hold unspecified values'
          : '') +
        '. A tensor without storage throws this error when used and can only be disposed; every other tensor and the backend stay usable.',
      null,
    );
  }

  // ---------------------------------------------------------------- kernels (dispatch.ts)

  fill(out: Buffer, value: number, n: number): void {
    this.kernels.fill(out, value, n);
  }
  unary(op: UnaryOp, x: Buffer, out: Buffer, n: number, p0 = 0, p1 = 0): void {
    this.kernels.unary(op, x, out, n, p0, p1);
  }
  binary(op: BinaryOp, a: Buffer, b: Buffer, out: Buffer, shape: number[], aStrides: number[], bStrides: number[]): void {
    this.kernels.binary(op, a, b, out, shape, aStrides, bStrides);
  }
  where(
    cond: Buffer,
    a: Buffer,
    b: Buffer,
    out: Buffer,
    shape: number[],
    condStrides: number[],
    aStrides: number[],
    bStrides: number[],
  ): void {
    this.kernels.where(cond, a, b, out, shape, condStrides, aStrides, bStrides);
  }
  reduce(op: ReduceOp, x: Buffer, out: Buffer, outer: number, reduce: number, inner: number): void {
    this.kernels.reduce(op, x, out, outer, reduce, inner);
  }
  matmul(a: Buffer, b: Buffer, out: Buffer, p: MatmulShape): void {
    this.kernels.matmul(a, b, out, p);
  }
  copy(src: Buffer, dst: Buffer, shape: number[], srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[]): void {
    this.kernels.copy(src, dst, shape, srcOffset, srcStrides, dstOffset, dstStrides);
  }
  gatherRows(table: Buffer, ids: Buffer, idsHost: Int32Array, out: Buffer, dim: number, into?: RowPlacement): void {
    this.kernels.gatherRows(table, ids, idsHost, out, dim, into);
  }
  scatterAddRows(src: Buffer, ids: Buffer, idsHost: Int32Array, out: Buffer, vocab: number, dim: number): void {
    this.kernels.scatterAddRows(src, ids, idsHost, out, vocab, dim);
  }
  softmax(x: Buffer, out: Buffer, rows: number, cols: number, log: boolean): void {
    this.kernels.softmax(x, out, rows, cols, log);
  }
  dropoutMask(out: Buffer, n: number, p: number, seed: number): void {
    this.kernels.dropoutMask(out, n, p, seed);
  }
  gateMixForward(logits: Buffer, experts: Buffer, mix: Buffer, weights: Buffer, p: GateMixShape): void {
    this.kernels.gateMixForward(logits, experts, mix, weights, p);
  }
  gateMixBackward(weights: Buffer, experts: Buffer, gMix: Buffer, gLogits: Buffer, gExperts: Buffer, p: GateMixShape): void {
    this.kernels.gateMixBackward(weights, experts, gMix, gLogits, gExperts, p);
  }
  adam(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void {
    this.kernels.adam(param, grad, m, v, n, h);
  }
}
