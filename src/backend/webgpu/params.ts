// Uniform parameters without per-dispatch writeBuffer: each dispatch's params go into its own
// 256-byte slot of a host-side arena, the dispatch binds its slot by offset, and the whole arena is
// uploaded once right before the command buffer is submitted. (A queue.writeBuffer issued per
// dispatch would run before the whole unsubmitted encoder and every dispatch would see the last value.)

/** Slot size: the largest minUniformBufferOffsetAlignment WebGPU allows. */
export const PARAM_SLOT_BYTES = 256;

/** Writes one params struct: 4-byte scalars in declaration order, vec4 arrays 16-byte aligned. */
export class ParamWriter {
  private pos = 0;

  constructor(
    private readonly view: DataView,
    private readonly base: number,
  ) {}

  u32(v: number): this {
    return this.put(() => this.view.setUint32(this.base + this.pos, v >>> 0, true));
  }
  i32(v: number): this {
    return this.put(() => this.view.setInt32(this.base + this.pos, v | 0, true));
  }
  f32(v: number): this {
    return this.put(() => this.view.setFloat32(this.base + this.pos, v, true));
  }

  /** An `array<vec4<u32|i32>, N>` member: aligns to 16 bytes and writes `slots` values (zero-padded). */
  vec4Array(values: readonly number[], slots: number, signed: boolean): this {
    while (this.pos % 16 !== 0) this.u32(0);
    for (let s = 0; s < slots; s++) {
      const v = s < values.length ? values[s] : 0;
      if (signed) this.i32(v);
      else this.u32(v);
    }
    return this;
  }

  private put(write: () => void): this {
    if (this.pos + 4 > PARAM_SLOT_BYTES) throw new Error('WebGPUBackend: params struct larger than a slot');
    write();
    this.pos += 4;
    return this;
  }
}

export class ParamArena {
  readonly buffer: GPUBuffer;
  private readonly host: ArrayBuffer;
  private readonly view: DataView;
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

  /** Claims the next slot; the caller must have flushed if `full`. */
  next(): { offset: number; writer: ParamWriter } {
    if (this.full) throw new Error('WebGPUBackend: params arena full');
    const offset = this.used++ * PARAM_SLOT_BYTES;
    return { offset, writer: new ParamWriter(this.view, offset) };
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
