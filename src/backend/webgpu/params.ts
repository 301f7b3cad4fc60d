// Uniform parameters without per-dispatch writeBuffer: each dispatch's params go into its own
// 256-byte slot of a host-side arena, the dispatch binds its slot by offset, and the whole arena is
// uploaded once right before the command buffer is submitted. (A queue.writeBuffer issued per
// dispatch would run before the whole unsubmitted encoder and every dispatch would see the last value.)

/** Slot size: the largest minUniformBufferOffsetAlignment WebGPU allows. */
export const PARAM_SLOT_BYTES = 256;

export class ParamArena {
  readonly buffer: GPUBuffer;
  private readonly host: ArrayBuffer;
  /** The host copy of the slots; a kernel's layout writes its params here (see layout.ts). */
  readonly view: DataView;
  private used = 0;

  constructor(
    device: GPUDevice,
    readonly slots: number,
  ) {
    this.buffer = device.createBuffer({
      size: slots * PARAM_SLOT_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'webmtl-params',
    });
    this.host = new ArrayBuffer(slots * PARAM_SLOT_BYTES);
    this.view = new DataView(this.host);
  }

  get full(): boolean {
    return this.used === this.slots;
  }

  /** Claims the next slot and returns its byte offset; the caller must have flushed if `full`. */
  next(): number {
    if (this.full) throw new Error('WebGPUBackend: params arena full');
    return this.used++ * PARAM_SLOT_BYTES;
  }

  /** Queues the used slots for upload (ahead of the submit that reads them) and starts over. */
  upload(queue: GPUQueue): void {
    if (this.used === 0) return;
    queue.writeBuffer(this.buffer, 0, this.host, 0, this.used * PARAM_SLOT_BYTES);
    this.used = 0;
  }

  destroy(): void {
    this.buffer.destroy();
  }
}
