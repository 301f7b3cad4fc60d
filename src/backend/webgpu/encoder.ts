// Recording and submitting work: the command encoder (one compute pass shared by consecutive
// kernels until a copy or clear ends it), the params arena, pipelines, submits, kernel timing, and
// the device's error state (error scopes around calls that may touch a failed buffer).
//
// Nothing reaches the device until `flush` (at read, sync, or when the params arena is full). Each
// dispatch's uniform params live in their own arena slot, uploaded once per submit.
import type { BackendStats } from '../backend.js';
import type { Shader } from './kernels.js';
import type { Bindings, Fields, KernelLayout, ParamValues } from './layout.js';
import type { GpuMemory, WebGPUBuffer } from './memory.js';
import { PARAM_SLOT_BYTES, ParamArena } from './params.js';

/**
 * Whether the device is usable, and the errors it reported. Error scopes: driver-side allocation
 * failures are reported asynchronously, so while one may be pending (`atRisk`), calls that could fail
 * because of it run inside validation error scopes (`guard` … `endGuard`); `drain` (at read and sync)
 * awaits every pending outcome.
 */
export class DeviceStatus {
  /** A device error outside any scope, or the device loss; sticky. */
  deviceError: string | null = null;
  destroyed = false;
  private checks: Promise<void>[] = [];
  private scopedErrors: string[] = [];
  /** Bumped when a failed allocation is reported: scoped errors from before it were caused by it. */
  private epoch = 0;
  /** Guarded submits that the device rejected as a whole in this epoch. */
  private failedSubmits = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Whether some call may now fail because of a buffer the driver refused. */
    private readonly atRisk: () => boolean,
  ) {
    device.addEventListener('uncapturederror', (ev) => {
      const message = (ev as GPUUncapturedErrorEvent).error.message;
      this.deviceError ??= message;
      console.error(`WebGPUBackend: uncaptured device error: ${message}`);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.deviceError ??= `device lost (${info.reason}): ${info.message}`;
    });
  }

  checkAlive(): void {
    if (this.destroyed) throw new Error('WebGPUBackend: used after destroy()');
  }

  raiseDeviceError(): void {
    if (this.deviceError) throw new Error(`WebGPUBackend: ${this.deviceError}`);
  }

  get pending(): boolean {
    return this.checks.length !== 0;
  }

  /** Keeps the list of pending checks short when nothing awaits them for a while. */
  addCheck(p: Promise<void>): void {
    this.checks.push(p);
    if (this.checks.length > 256) this.checks = [Promise.all(this.checks).then(() => {})];
  }

  /** Opens a validation error scope while some new buffer is unconfirmed or known to have failed. */
  guard(): boolean {
    if (!this.atRisk()) return false;
    this.device.pushErrorScope('validation');
    return true;
  }

  endGuard(submit = false): void {
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

  /** Waits for the outcome of every buffer creation and guarded call so far. */
  async drain(): Promise<void> {
    while (this.checks.length !== 0) {
      const checks = this.checks;
      this.checks = [];
      await Promise.all(checks);
    }
  }

  /** A scoped error not explained by a failed allocation becomes the device error (as if uncaptured). */
  promoteScopedErrors(): void {
    if (this.scopedErrors.length === 0) return;
    const message = this.scopedErrors[0];
    this.scopedErrors = [];
    this.failedSubmits = 0;
    this.deviceError ??= message;
    console.error(`WebGPUBackend: device error: ${message}`);
  }

  /** A failed allocation is being reported: forget the errors it caused; returns the submits it made fail. */
  newEpoch(): number {
    const failedSubmits = this.failedSubmits;
    this.scopedErrors = [];
    this.failedSubmits = 0;
    this.epoch++;
    return failedSubmits;
  }
}

/** A kernel binding: a backend buffer (`covers`: the kernel writes every element of it) or a scratch buffer. */
export type Operand = { buf: WebGPUBuffer; covers?: boolean } | { scratch: GPUBuffer };

interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export type Grid = [number, number, number];

export class GpuEncoder {
  private readonly arena: ParamArena;
  /** WGSL text → entry point → pipeline. Sources are memoised strings, so the outer lookup hashes once. */
  private readonly pipelines = new Map<string, { module: GPUShaderModule; byEntry: Map<string, Kernel> }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** While timeKernels runs: the query set every compute pass writes its begin and end times into. */
  private timing: { querySet: GPUQuerySet; next: number; capacity: number } | null = null;
  /** Staging and scratch buffers recorded in the open encoder; destroyed once it is submitted. */
  private afterSubmit: GPUBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly status: DeviceStatus,
    private readonly memory: () => GpuMemory,
    private readonly stats: BackendStats,
    paramSlots: number,
  ) {
    this.arena = new ParamArena(device, paramSlots);
  }

  /** Whether work has been recorded since the last submit. */
  get recording(): boolean {
    return this.encoder !== null;
  }

  /**
   * Records one kernel: params into the next arena slot, buffers bound by name (`operands`, each
   * bound per the layout's access; a pending zero-clear of a pooled buffer is recorded first), then
   * the dispatch of `groups` workgroups.
   */
  dispatch<F extends Fields, B extends Bindings>(
    shader: Shader<KernelLayout<F, B>>,
    entry: string,
    params: ParamValues<F>,
    operands: { readonly [K in keyof B]?: Operand },
    groups: Grid,
  ): void {
    if (this.arena.full) this.flush();
    const layout = shader.layout;
    const offset = this.arena.next();
    layout.write(this.arena.view, offset, params);
    const kernel = this.kernel(shader.code, entry);

    const entries: GPUBindGroupEntry[] = [
      { binding: layout.paramsBinding, resource: { buffer: this.arena.buffer, offset, size: PARAM_SLOT_BYTES } },
    ];
    const bound = Object.entries(operands as Record<string, Operand | undefined>).map(([name, op]) => {
      const binding = layout.binding[name];
      if (binding === undefined || op === undefined) throw new Error(`WebGPUBackend: the kernel has no binding '${name}'`);
      return { binding, op, write: layout.bindings[name].access === 'read_write' };
    });
    const writeBacks: Array<{ scratch: GPUBuffer; capacity: number; to: WebGPUBuffer }> = [];
    // Inputs first: an input that is still pending its zero-clear must be cleared before it is read,
    // even when the same buffer is also an output that the kernel overwrites completely.
    for (const { binding, op, write } of bound) {
      if ('scratch' in op) entries.push({ binding, resource: { buffer: op.scratch } });
      else if (!write) {
        this.clearIfNeeded(op.buf);
        entries.push({ binding, resource: { buffer: op.buf.gpu, size: Math.max(4, op.buf.bytes) } });
      }
    }
    for (const { binding, op, write } of bound) {
      if ('scratch' in op || !write) continue;
      const out = op.buf;
      if (op.covers) out.needsClear = false;
      else this.clearIfNeeded(out);
      let target = out.gpu;
      const aliases = bound.filter((o) => o.binding !== binding && 'buf' in o.op && o.op.buf.gpu === out.gpu);
      if (aliases.length > 0) {
        if (aliases.some((o) => o.write)) throw new Error('WebGPUBackend: two outputs of one kernel are the same buffer');
        // WebGPU forbids a writable binding that overlaps another binding of the same dispatch, so
        // the kernel writes a scratch copy that is copied back afterwards.
        const scratch = this.memory().acquire(out.capacity, false);
        if (!op.covers) this.encodeCopy(out.gpu, scratch.buffer, out.bytes);
        target = scratch.buffer;
        writeBacks.push({ scratch: scratch.buffer, capacity: scratch.capacity, to: out });
      }
      entries.push({ binding, resource: { buffer: target, size: Math.max(4, out.bytes) } });
    }

    const guarded = this.status.guard();
    let bindGroup: GPUBindGroup;
    try {
      bindGroup = this.device.createBindGroup({ layout: kernel.layout, entries });
    } finally {
      if (guarded) this.status.endGuard();
    }
    const pass = this.computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);

    for (const wb of writeBacks) {
      this.encodeCopy(wb.scratch, wb.to.gpu, wb.to.bytes);
      // Later users of the pooled scratch are recorded after this copy, so it can go back now.
      this.memory().release(wb.scratch, wb.capacity);
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

  ensureEncoder(): GPUCommandEncoder {
    this.status.checkAlive();
    return (this.encoder ??= this.device.createCommandEncoder({ label: 'webmtl' }));
  }

  private computePass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const t = this.timing;
    if (t && t.next + 2 > t.capacity)
      throw new Error(`timeKernels: more than ${t.capacity / 2} compute passes; time fewer kernels at once`);
    const timestampWrites = t ? { querySet: t.querySet, beginningOfPassWriteIndex: t.next, endOfPassWriteIndex: t.next + 1 } : undefined;
    if (t) t.next += 2;
    return (this.pass = this.ensureEncoder().beginComputePass(timestampWrites ? { timestampWrites } : undefined));
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  encodeCopy(from: GPUBuffer, to: GPUBuffer, bytes: number): void {
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(from, 0, to, 0, bytes);
  }

  /** Records the zero-clear a reused pool buffer owes before anything reads it. */
  clearIfNeeded(b: WebGPUBuffer): void {
    if (!b.needsClear) return;
    b.needsClear = false;
    if (b.bytes === 0) return;
    this.endPass();
    this.ensureEncoder().clearBuffer(b.gpu, 0, b.bytes);
  }

  /** A read-only storage buffer holding `data`, alive until the next submit. No flush needed: it is new. */
  uploadScratch(data: Int32Array | Uint32Array): GPUBuffer {
    const bytes = Math.max(16, data.byteLength);
    const buffer = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    this.afterSubmit.push(buffer);
    return buffer;
  }

  /** Destroys `buffer` after the next submit (at once when nothing is recorded). */
  retire(buffer: GPUBuffer): void {
    if (this.encoder) this.afterSubmit.push(buffer);
    else buffer.destroy();
  }

  /** Destroys `buffer` after the next submit (a staging buffer that recorded work reads). */
  destroyAfterSubmit(buffer: GPUBuffer): void {
    this.afterSubmit.push(buffer);
  }

  /** Submits everything recorded so far, params arena first. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    this.arena.upload(this.device.queue);
    const guarded = this.status.guard();
    try {
      this.device.queue.submit([this.encoder.finish()]);
    } finally {
      if (guarded) this.status.endGuard(true);
    }
    this.encoder = null;
    this.stats.submits++;
    for (const b of this.afterSubmit) b.destroy(); // Dawn defers the free until the GPU is done with it
    this.afterSubmit = [];
  }

  /** Drops the unsubmitted work (it used a buffer the driver refused); returns whether there was any. */
  discard(): boolean {
    const discarded = this.encoder !== null;
    this.pass = null;
    this.encoder = null;
    this.arena.upload(this.device.queue); // resets the arena; the params written are never read
    for (const b of this.afterSubmit) b.destroy();
    this.afterSubmit = [];
    return discarded;
  }

  /**
   * GPU time, in milliseconds, of the kernels that `fn` records: every compute pass they use writes
   * timestamps at its start and end, and the pass durations are summed (copies and clears between
   * passes are not counted). Null when the device has no 'timestamp-query'.
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

  /** Forgets recorded work and frees the arena and pending scratch (the backend is being destroyed). */
  destroy(): void {
    this.pass = null;
    this.encoder = null;
    for (const b of this.afterSubmit) b.destroy();
    this.afterSubmit = [];
    this.arena.destroy();
  }
}
