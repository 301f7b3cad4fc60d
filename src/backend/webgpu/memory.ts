// WebGPU memory: the tensor buffers, the size-bucketed pool behind them, the byte budget and the
// device's limits, and the late-reported failures of buffer creation (OutOfMemoryError).
import { type Backend, type Buffer, type DType, OutOfMemoryError } from '../backend.js';
import { BufferPool, bucketBytes } from './buffer-pool.js';
import type { DeviceStatus } from './encoder.js';

export class WebGPUBuffer implements Buffer {
  freed = false;
  /** The device could not create this buffer (found after the fact): its tensor has no storage. */
  failed: string | null = null;

  constructor(
    readonly backend: Backend,
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

/** What memory needs from the command encoder. */
export interface MemoryHooks {
  /** Submits recorded work (before idle buffers it may use are destroyed). */
  flush(): void;
  /** Destroys a buffer once the recorded work that may use it is submitted. */
  retire(buffer: GPUBuffer): void;
}

export class GpuMemory {
  readonly maxBindingBytes: number;
  readonly maxBufferBytes: number;
  private readonly pool: BufferPool;
  /** Capacity of the pool's buffers that are in use (tensors and kernel scratch). */
  private liveBytes = 0;
  /** Capacity of the idle buffers the pool keeps. */
  private pooledBytes = 0;
  /**
   * Driver-side allocation failures are only reported asynchronously (error scopes). While a newly
   * created buffer is unconfirmed (`unconfirmed` > 0) or known to have failed, the calls that could
   * raise errors because of it run inside validation error scopes (DeviceStatus.guard), so an invalid
   * buffer never turns into a sticky uncaptured device error.
   */
  private unconfirmed = 0;
  private readonly unconfirmedGpu = new Set<GPUBuffer>();
  /** The tensor buffer that holds each unconfirmed GPUBuffer now. */
  private readonly holders = new Map<GPUBuffer, WebGPUBuffer>();
  private failedAllocs: WebGPUBuffer[] = [];

  constructor(
    private readonly owner: Backend,
    private readonly device: GPUDevice,
    private readonly status: DeviceStatus,
    /** The byte budget (memoryLimitBytes; Infinity: none). */
    readonly limitBytes: number,
    private readonly hooks: MemoryHooks,
  ) {
    this.maxBindingBytes = device.limits.maxStorageBufferBindingSize;
    this.maxBufferBytes = device.limits.maxBufferSize;
    // The pool only creates buffers; route that through the error-scoped creation.
    const creator = { createBuffer: (desc: GPUBufferDescriptor) => this.createPoolBuffer(desc) } as unknown as GPUDevice;
    this.pool = new BufferPool(creator, this.maxBufferBytes);
  }

  /** A zero-reading tensor buffer (a reused one is marked to be cleared before it is read). */
  alloc(size: number, dtype: DType): WebGPUBuffer {
    if (!Number.isInteger(size) || size < 0) throw new Error(`WebGPUBackend.alloc: bad size ${size}`);
    const bytes = size * 4;
    if (bytes > this.maxBindingBytes) throw this.outOfMemory(bytes, this.maxBindingBytes, "the device's maxStorageBufferBindingSize");
    if (Math.max(16, bytes) > this.maxBufferBytes) throw this.outOfMemory(bytes, this.maxBufferBytes, "the device's maxBufferSize");
    const { buffer, capacity, reused } = this.acquire(bytes);
    const b = new WebGPUBuffer(this.owner, size, dtype, buffer, capacity, reused);
    if (this.unconfirmed !== 0 && this.unconfirmedGpu.has(buffer)) this.holders.set(buffer, b);
    return b;
  }

  /** Bytes of GPU storage held: live buffers plus the pool's idle ones. */
  get inUse(): number {
    return this.liveBytes + this.pooledBytes;
  }

  /** Whether some new buffer is unconfirmed or known to have failed (calls that use it need error scopes). */
  get atRisk(): boolean {
    return this.unconfirmed !== 0 || this.failedAllocs.length !== 0;
  }

  get hasFailed(): boolean {
    return this.failedAllocs.length !== 0;
  }

  /** The buffers the driver refused since the last call; the caller reports them. */
  takeFailed(): WebGPUBuffer[] {
    const failed = this.failedAllocs;
    this.failedAllocs = [];
    return failed;
  }

  /**
   * A pool buffer, within the budget; the pool's idle buffers are dropped first if that makes room
   * (`trim`: not from inside a dispatch, whose params slot a flush would recycle).
   */
  acquire(bytes: number, trim = true): { buffer: GPUBuffer; capacity: number; reused: boolean } {
    if (this.limitBytes !== Infinity) {
      let cap = bucketBytes(bytes);
      if (cap > this.maxBufferBytes) cap = Math.max(16, Math.ceil(bytes / 4) * 4);
      if (this.liveBytes + cap > this.limitBytes) throw this.outOfMemory(bytes, this.limitBytes, 'memoryLimitBytes');
      // A reused idle buffer is already counted in pooledBytes: only a new one can overrun the budget.
      if (trim && !this.pool.hasIdle(cap) && this.liveBytes + this.pooledBytes + cap > this.limitBytes) {
        // Idle buffers may still be used by recorded work: submit it before destroying them (Dawn frees them once done).
        this.hooks.flush();
        this.dropIdle();
      }
    }
    const got = this.pool.acquire(bytes);
    if (got.reused) this.pooledBytes -= got.capacity;
    this.liveBytes += got.capacity;
    return got;
  }

  /** A pool buffer goes back (idle) or, when the pool is full, is destroyed once recorded work is submitted. */
  release(buffer: GPUBuffer, capacity: number): void {
    this.liveBytes -= capacity;
    if (this.pool.release(buffer, capacity)) {
      this.pooledBytes += capacity;
      return;
    }
    this.hooks.retire(buffer);
  }

  free(b: WebGPUBuffer): void {
    b.freed = true;
    if (b.failed !== null) {
      // Its storage never existed on the device: nothing goes back to the pool.
      this.liveBytes -= b.capacity;
      b.gpu.destroy();
      return;
    }
    this.release(b.gpu, b.capacity);
  }

  /** Destroys the pool's idle buffers. */
  dropIdle(): void {
    this.pool.destroyAll();
    this.pooledBytes = 0;
  }

  /** `buf` as this backend's live buffer, or the error for why it cannot be used. */
  own(buf: Buffer): WebGPUBuffer {
    if (!(buf instanceof WebGPUBuffer) || buf.backend !== this.owner) {
      const owner = (buf as { backend?: { name?: string } } | undefined)?.backend?.name ?? 'unknown';
      throw new Error(`WebGPUBackend: got a buffer from another backend ('${owner}'); move it with read/write first`);
    }
    if (buf.freed) throw new Error('WebGPUBackend: buffer used after free');
    if (buf.failed !== null) throw this.failedError(buf);
    this.status.checkAlive();
    return buf;
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
      if (thrown instanceof RangeError)
        throw this.outOfMemory(Number(desc.size), null, `device memory (createBuffer threw: ${thrown.message})`);
      throw thrown;
    }
    this.unconfirmed++;
    this.unconfirmedGpu.add(buffer);
    this.status.addCheck(
      Promise.all([oom, validation]).then(
        ([o, v]) => this.confirmed(buffer, Number(desc.size), o ?? v),
        (err: unknown) => this.confirmed(buffer, Number(desc.size), { message: String(err) } as GPUError),
      ),
    );
    return buffer;
  }

  private confirmed(buffer: GPUBuffer, bytes: number, error: GPUError | null): void {
    this.unconfirmed--;
    this.unconfirmedGpu.delete(buffer);
    const holder = this.holders.get(buffer);
    this.holders.delete(buffer);
    if (!error) return;
    const w = holder && !holder.freed ? holder : new WebGPUBuffer(this.owner, bytes / 4, 'f32', buffer, bytes, false);
    w.failed = error.message;
    this.failedAllocs.push(w);
  }

  /** The error for using a tensor whose buffer the driver refused. */
  failedError(b: WebGPUBuffer): OutOfMemoryError {
    return this.outOfMemory(
      b.bytes,
      null,
      `device memory (the driver refused to create this tensor's buffer: ${b.failed})`,
      'This tensor has no storage and can only be disposed; other tensors are unaffected.',
      null,
    );
  }

  outOfMemory(bytes: number, limit: number | null, limitName: string, detail?: string, op?: null): OutOfMemoryError {
    return new OutOfMemoryError({
      backend: 'webgpu',
      requestedBytes: bytes,
      limitBytes: limit,
      limitName,
      inUseBytes: this.liveBytes + this.pooledBytes,
      detail,
      op,
    });
  }
}
