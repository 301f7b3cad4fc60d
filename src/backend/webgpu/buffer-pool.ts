// Size-bucketed pool of storage buffers. `free` hands a buffer back here and `alloc` takes one
// out again, so a training loop stops creating GPUBuffers after its first step.

export const STORAGE_USAGE = (): GPUBufferUsageFlags => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * Bucket capacity for a request: powers of two up to 4 KiB, then quarter steps between powers of
 * two (at most 25% slack). Never below 16 bytes (WebGPU buffers must not be empty).
 */
export function bucketBytes(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 4) * 4);
  if (b <= 4096) return 2 ** Math.ceil(Math.log2(b));
  const step = 2 ** (Math.floor(Math.log2(b)) - 2);
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly idle = new Map<number, GPUBuffer[]>();
  private idleBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferBytes: number,
    /** Beyond this many idle bytes, released buffers are destroyed instead of kept. */
    private readonly maxIdleBytes = 512 * 1024 * 1024,
  ) {}

  acquire(bytes: number): { buffer: GPUBuffer; capacity: number; reused: boolean } {
    let capacity = bucketBytes(bytes);
    if (capacity > this.maxBufferBytes) capacity = Math.max(16, Math.ceil(bytes / 4) * 4);
    if (capacity > this.maxBufferBytes) {
      throw new Error(`WebGPUBackend: a ${bytes}-byte buffer exceeds the device's maxBufferSize (${this.maxBufferBytes})`);
    }
    const list = this.idle.get(capacity);
    const pooled = list?.pop();
    if (pooled) {
      this.idleBytes -= capacity;
      return { buffer: pooled, capacity, reused: true };
    }
    const buffer = this.device.createBuffer({ size: capacity, usage: STORAGE_USAGE(), label: `webmtl-${capacity}` });
    return { buffer, capacity, reused: false };
  }

  /** Whether an idle buffer of this capacity is waiting (acquiring it then adds no memory). */
  hasIdle(capacity: number): boolean {
    return (this.idle.get(capacity)?.length ?? 0) > 0;
  }

  /** Keeps the buffer for reuse; returns false when the pool is full and the caller should destroy it. */
  release(buffer: GPUBuffer, capacity: number): boolean {
    if (this.idleBytes + capacity > this.maxIdleBytes) return false;
    let list = this.idle.get(capacity);
    if (!list) this.idle.set(capacity, (list = []));
    list.push(buffer);
    this.idleBytes += capacity;
    return true;
  }

  destroyAll(): void {
    for (const list of this.idle.values()) for (const b of list) b.destroy();
    this.idle.clear();
    this.idleBytes = 0;
  }
}
