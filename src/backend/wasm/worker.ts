// A helper thread for the wasm backend: a second instance of the kernels on the same shared memory.
//
// A large kernel call (matmul rows, Adam elements, gating rows, BatchNorm groups) is cut into chunks
// of a range [0, total); the range is the call's last two arguments. The main thread posts the call,
// wakes the helper and starts taking chunks itself; the helper takes chunks too, from the same atomic
// counter. So the split balances itself: when the helper is slow to wake (a busy machine), the main
// thread simply does more chunks, and it only ever waits for chunks the helper has already started.
//
// Control block (Int32 words at `ctrl`):
//   [0] job sequence number (main increments)   [2] export index   [3] argument count
//   [4] error flag   [5] total   [6] chunk size   [7] next chunk: (sequence & 0xffff) << 15 | index
//   [8] chunks finished   [9] argument index of a per-thread scratch pointer (-1: none)
//   [10] the helper's offset to add to that pointer (bytes)
// f64 arguments start at byte ctrl + 64. A helper that wakes up for a job already finished (or
// replaced) finds a counter with another sequence number and takes nothing.
import type { KernelExports } from './module.js';

export const WORKER_EXPORTS: (keyof KernelExports)[] = [
  'matmul',
  'adam',
  'gateMixForward',
  'gateMixBackward',
  'batchNormForward',
  'batchNormBackward',
  'batchNormEval',
  'unary',
  'binary',
];
const EXIT = -1;
const SEQ_BITS = 0xffff;
const INDEX_BITS = 15;

// Runs in the helper (Node worker_threads with eval, or a browser Worker from a blob URL). Plain JS.
const WORKER_SOURCE = `
'use strict';
function start(module, memory, ctrlByte, names, spinMs) {
  const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel aborted'); } } });
  const fns = names.map((n) => instance.exports[n]);
  let seen = 0;
  for (;;) {
    const ctrl = new Int32Array(memory.buffer, ctrlByte, 16);
    let s = Atomics.load(ctrl, 0);
    // Poll for the next job for spinMs after the last one (the kernels of a step come back to back,
    // and waking a sleeping thread costs more than a small kernel), then sleep.
    const until = performance.now() + spinMs;
    while (s === seen) {
      for (let i = 0; s === seen && i < 1000; i++) s = Atomics.load(ctrl, 0);
      if (performance.now() > until) break;
    }
    if (s === seen) {
      Atomics.wait(ctrl, 0, seen);
      continue;
    }
    seen = s;
    const fn = ctrl[2];
    if (fn < 0) return;
    const args = Array.from(new Float64Array(memory.buffer, ctrlByte + 64, ctrl[3]));
    const total = ctrl[5], chunk = ctrl[6], scratchArg = ctrl[9];
    if (scratchArg >= 0) args[scratchArg] += ctrl[10];
    const tag = (s & ${SEQ_BITS}) << ${INDEX_BITS};
    const last = args.length - 1;
    for (;;) {
      const c = Atomics.load(ctrl, 7);
      if ((c & ~${(1 << INDEX_BITS) - 1}) !== tag) break;
      const index = c & ${(1 << INDEX_BITS) - 1};
      const lo = index * chunk;
      if (lo >= total) break;
      if (Atomics.compareExchange(ctrl, 7, c, c + 1) !== c) continue;
      args[last - 1] = lo;
      args[last] = Math.min(total, lo + chunk);
      try {
        fns[fn].apply(null, args);
      } catch (e) {
        Atomics.store(ctrl, 4, 1);
      }
      Atomics.add(ctrl, 8, 1);
      Atomics.notify(ctrl, 8);
    }
  }
}
if (typeof require === 'function' && typeof self === 'undefined') {
  const { parentPort, workerData } = require('node:worker_threads');
  parentPort.postMessage('ready');
  start(workerData.module, workerData.memory, workerData.ctrl, workerData.names, workerData.spinMs);
} else {
  self.onmessage = (e) => {
    const d = e.data;
    self.postMessage('ready');
    start(d.module, d.memory, d.ctrl, d.names, d.spinMs);
  };
}
`;

interface WorkerHandle {
  terminate(): void;
}

const isNode = (): boolean =>
  typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as { window?: unknown }).window === 'undefined';

/** Can this thread block in Atomics.wait? (Node's main thread can; a browser page's cannot.) */
const canBlock = (): boolean => isNode();

/** The main thread's side of one helper thread. */
export class KernelWorker {
  private seq = 0;
  /** Chunks the helper took (for tests and diagnostics). */
  helperChunks = 0;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly ctrlByte: number,
    private readonly handle: WorkerHandle,
  ) {}

  /**
   * Starts a helper on `memory` (which must be shared); null when threads are unavailable here.
   * `spinMs`: how long the idle helper keeps polling for work before it sleeps.
   */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, ctrlByte: number, spinMs = 0.1): Promise<KernelWorker | null> {
    new Int32Array(memory.buffer, ctrlByte, 16).fill(0);
    const data = { module, memory, ctrl: ctrlByte, names: WORKER_EXPORTS, spinMs };
    try {
      if (isNode()) {
        const { Worker } = await import('node:worker_threads');
        const w = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
        await new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        });
        w.unref();
        return new KernelWorker(memory, ctrlByte, w);
      }
      if (typeof Worker === 'undefined' || typeof Blob === 'undefined' || typeof URL === 'undefined') return null;
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
      const w = new Worker(url);
      await new Promise<void>((resolve, reject) => {
        w.onmessage = () => resolve();
        w.onerror = (e) => reject(e instanceof ErrorEvent ? (e.error ?? new Error(e.message)) : new Error('worker failed'));
        w.postMessage(data);
      });
      URL.revokeObjectURL(url);
      return new KernelWorker(memory, ctrlByte, w);
    } catch {
      return null;
    }
  }

  private ctrl(): Int32Array {
    return new Int32Array(this.memory.buffer, this.ctrlByte, 16);
  }

  /**
   * Runs `run(lo, hi)` here and the helper's export `fn` over chunks of [0, total) (each chunk a
   * multiple of `chunk` long), the range going into the last two of `args`. `scratch`: the index of
   * an argument that is a per-thread scratch pointer, and the offset the helper adds to it.
   */
  parallel(
    fn: keyof KernelExports,
    args: number[],
    total: number,
    chunk: number,
    run: (lo: number, hi: number) => void,
    scratch?: { arg: number; offset: number },
  ): void {
    const index = WORKER_EXPORTS.indexOf(fn);
    if (index < 0) throw new Error(`wasm backend: ${fn} cannot run on the helper thread`);
    const nChunks = Math.ceil(total / chunk);
    if (nChunks >= 1 << INDEX_BITS) throw new Error('wasm backend: too many chunks');
    const ctrl = this.ctrl();
    new Float64Array(this.memory.buffer, this.ctrlByte + 64, args.length).set(args);
    this.seq = (this.seq + 1) | 0;
    const tag = (this.seq & SEQ_BITS) << INDEX_BITS;
    ctrl[2] = index;
    ctrl[3] = args.length;
    ctrl[4] = 0;
    ctrl[5] = total;
    ctrl[6] = chunk;
    ctrl[8] = 0;
    ctrl[9] = scratch ? scratch.arg : -1;
    ctrl[10] = scratch ? scratch.offset : 0;
    Atomics.store(ctrl, 7, tag);
    Atomics.store(ctrl, 0, this.seq);
    Atomics.notify(ctrl, 0, 1);
    // Take chunks here until none are left.
    let mine = 0;
    let failure: unknown = null;
    try {
      for (;;) {
        const c = Atomics.load(ctrl, 7);
        const lo = (c & ((1 << INDEX_BITS) - 1)) * chunk;
        if (lo >= total) break;
        if (Atomics.compareExchange(ctrl, 7, c, c + 1) !== c) continue;
        run(lo, Math.min(total, lo + chunk));
        mine++;
      }
    } catch (e) {
      failure = e;
    }
    // Close the counter (after a failure here it may still hold chunks) and count what was claimed.
    let claimed: number;
    for (;;) {
      const c = Atomics.load(ctrl, 7);
      claimed = Math.min(c & ((1 << INDEX_BITS) - 1), nChunks);
      if (Atomics.compareExchange(ctrl, 7, c, tag | ((1 << INDEX_BITS) - 1)) === c) break;
    }
    // Wait for the chunks the helper took: nothing may touch their memory while it writes.
    const want = claimed - mine - (failure === null ? 0 : 1);
    let spins = 0;
    let since = 0;
    for (;;) {
      const done = Atomics.load(ctrl, 8);
      if (done >= want) break;
      if (++spins < 4096) continue;
      if (canBlock()) Atomics.wait(ctrl, 8, done, 5);
      const now = performance.now();
      if (since === 0) since = now;
      else if (now - since > 60_000) throw new Error('wasm backend: the helper thread stopped answering');
    }
    this.helperChunks += Math.max(want, 0);
    if (failure !== null) throw failure;
    if (ctrl[4] !== 0) throw new Error('wasm backend: a kernel failed on the helper thread');
  }

  terminate(): void {
    const ctrl = this.ctrl();
    ctrl[2] = EXIT;
    this.seq = (this.seq + 1) | 0;
    Atomics.store(ctrl, 7, 0);
    Atomics.store(ctrl, 0, this.seq);
    Atomics.notify(ctrl, 0, 1);
    this.handle.terminate();
  }
}
