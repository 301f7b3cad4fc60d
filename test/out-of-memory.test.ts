// Out of memory is a clear error at the op that allocates, on every backend: an OutOfMemoryError
// naming the backend, the bytes asked for and the limit, thrown before anything changes, after which
// every earlier tensor (a model's parameters included) still reads back its values and new ops work.
// The limits hit here are each backend's `memoryLimitBytes` budget and the hard ones (wasm32's 4 GiB,
// WebGPU's maxBufferSize / maxStorageBufferBindingSize, the JavaScript engine's typed-array length),
// plus, on WebGPU, a buffer the driver refuses after the fact (simulated: an invalid createBuffer).
import { afterAll, describe, expect, it } from 'vitest';
import { type Backend, OutOfMemoryError } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import { MMoE } from '../src/models/index.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const LIMIT = 8 * 2 ** 20;
const ROWS = 16;

const cpuRef = new CpuBackend();
const backends: { name: string; backend: Backend | null; destroy?: () => void }[] = [];
{
  const cpu = new CpuBackend({ memoryLimitBytes: LIMIT });
  backends.push({ name: 'cpu', backend: cpu });
  const wasm = await createWasmBackend({ memoryLimitBytes: LIMIT });
  backends.push({ name: 'wasm', backend: wasm, destroy: () => wasm.destroy() });
  const gpu = await getWebGPUOrSkip({ memoryLimitBytes: LIMIT });
  backends.push({ name: 'webgpu', backend: gpu, destroy: () => gpu?.destroy() });
}

function smallModel(): MMoE {
  const features = [
    new SparseFeature({ name: 'user', vocabSize: 9, embedDim: 4 }),
    new SparseFeature({ name: 'item', vocabSize: 6, embedDim: 4 }),
    new DenseFeature('price'),
  ];
  return new MMoE({
    features,
    taskTypes: ['classification', 'classification'],
    nExpert: 3,
    expertParams: { dims: [8] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
}

function batch(backend: Backend): Record<string, wm.Tensor> {
  const r = new wm.Random(3);
  return {
    user: wm.fromArray(
      Int32Array.from({ length: ROWS }, () => r.int(9)),
      [ROWS],
      { backend },
    ),
    item: wm.fromArray(
      Int32Array.from({ length: ROWS }, () => r.int(6)),
      [ROWS],
      { backend },
    ),
    price: wm.fromArray(
      Float32Array.from({ length: ROWS }, () => r.normal()),
      [ROWS],
      { backend },
    ),
  };
}

/** Runs fn, expecting an OutOfMemoryError; returns it. */
function oom(fn: () => unknown): OutOfMemoryError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an OutOfMemoryError').toBeInstanceOf(OutOfMemoryError);
  return caught as OutOfMemoryError;
}

async function oomAsync(fn: () => Promise<unknown>): Promise<OutOfMemoryError> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an OutOfMemoryError').toBeInstanceOf(OutOfMemoryError);
  return caught as OutOfMemoryError;
}

/** Values of every tensor, read now. */
async function snapshot(tensors: Record<string, wm.Tensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = Array.from(await t.data());
  return out;
}

for (const { name, backend, destroy } of backends) {
  describe.skipIf(!backend)(`out of memory: ${name}`, () => {
    afterAll(() => {
      wm.setBackend(cpuRef);
      destroy?.();
    });

    it('a request beyond memoryLimitBytes throws OutOfMemoryError at the op; tensors and model stay usable', async () => {
      const b = backend!;
      wm.setBackend(b);
      wm.seed(7);
      const model = smallModel();
      const x = batch(b);
      // One training-mode forward and backward, so parameters, gradients and intermediates exist.
      const out = model.forward(x);
      const loss = wm.sum(out);
      loss.backward();
      const a = wm.tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const ids = wm.tensor([3, 1, 4], { dtype: 'i32' });
      const before = await snapshot({ ...model.stateDict(), a, ids, out });

      // 16 MiB of zeros against an 8 MiB budget.
      const n = 4 * 2 ** 20;
      const e1 = oom(() => wm.zeros([n]));
      expect(e1.name).toBe('OutOfMemoryError');
      expect(e1.backend).toBe(name);
      expect(e1.requestedBytes).toBeGreaterThanOrEqual(n * 4);
      expect(e1.limitBytes).toBe(LIMIT);
      expect(e1.limitName).toMatch(/memoryLimitBytes/);
      expect(e1.op).toBe('zeros');
      expect(e1.message).toContain(String(LIMIT));
      expect(e1.message).toContain(String(e1.requestedBytes));
      expect(e1.message).toMatch(/in zeros/);

      // A matmul whose output is too large: [2048, 1] · [1, 2048] = 16 MiB.
      const col = wm.ones([2048, 1]);
      const row = wm.ones([1, 2048]);
      const e2 = oom(() => wm.matmul(col, row));
      expect(e2.op).toBe('matmul');
      expect(e2.requestedBytes).toBeGreaterThanOrEqual(2048 * 2048 * 4);
      expect(e2.limitBytes).toBe(LIMIT);
      // Inside tidy and noGrad (where training runs) the op is still the one that allocated.
      expect(oom(() => wm.tidy(() => wm.zeros([n]))).op).toBe('zeros');
      expect(oom(() => wm.noGrad(() => wm.matmul(col, row))).op).toBe('matmul');

      // Everything from before reads back unchanged; the model's parameters can be saved.
      expect(await snapshot({ ...model.stateDict(), a, ids, out })).toEqual(before);
      // New small ops work, and so does another forward and backward.
      expect(await wm.add(a, 1).toArray()).toEqual([
        [2, 3, 4],
        [5, 6, 7],
      ]);
      expect(Array.from(await wm.matmul(col, wm.ones([1, 3])).data()).slice(0, 3)).toEqual([1, 1, 1]);
      model.zeroGrad();
      const loss2 = wm.sum(model.forward(x));
      loss2.backward();
      expect(await loss2.item()).toBeCloseTo(await loss.item(), 4);
      // Freeing memory makes room again: after the big temporary is gone the same request fits.
      const fits = wm.zeros([2 ** 20]); // 4 MiB
      expect((await fits.data()).length).toBe(2 ** 20);
      fits.dispose();
      expect(await snapshot({ a, ids })).toEqual({ a: before.a, ids: before.ids });
    });

    it('disposed tensors give their bytes back to the budget', async () => {
      const b = backend!;
      wm.setBackend(b);
      const six = 6 * 2 ** 18; // 6 MiB of f32
      const t1 = wm.ones([six]);
      expect(await wm.sum(t1).item()).toBe(six);
      oom(() => wm.ones([six])); // two would not fit
      t1.dispose();
      const t2 = wm.ones([six]); // the same size again: wasm reuses the block, WebGPU its pooled buffer
      expect(await wm.sum(t2).item()).toBe(six);
      t2.dispose();
      if (name !== 'wasm') {
        // A different size: the CPU counts live bytes; WebGPU drops its idle pooled buffers to make room.
        // (wasm's budget bounds the heap's high-water mark, and a 5 MiB block cannot come from a 6 MiB one.)
        const five = 5 * 2 ** 18;
        const t3 = wm.ones([five]);
        expect(await wm.sum(t3).item()).toBe(five);
        t3.dispose();
      }
    });
  });
}

describe('out of memory: the hard limits (no budget)', () => {
  afterAll(() => wm.setBackend(cpuRef));

  it('cpu: a typed array beyond what the engine allows is an OutOfMemoryError, not a RangeError', async () => {
    const cpu = new CpuBackend();
    wm.setBackend(cpu);
    const keep = wm.tensor([1, 2, 3]);
    const e = oom(() => wm.zeros([2 ** 34])); // 64 GiB of f32: beyond V8's typed-array length
    expect(e.backend).toBe('cpu');
    expect(e.requestedBytes).toBe(2 ** 36);
    expect(e.limitBytes).toBeNull();
    expect(e.limitName).toMatch(/host memory/);
    expect(e.cause).toBeInstanceOf(RangeError);
    expect(await keep.toArray()).toEqual([1, 2, 3]);
  });

  it("wasm: beyond wasm32's 4 GiB is an OutOfMemoryError; the memory is left as it was", async () => {
    const wasm = await createWasmBackend({ threads: 0 });
    try {
      wm.setBackend(wasm);
      const keep = wm.tensor([1, 2, 3]);
      const bytesBefore = wasm.memory.buffer.byteLength;
      const heapBefore = wasm.heapBytes;
      const e = oom(() => wm.zeros([2 ** 30 + 16])); // a little over 4 GiB
      expect(e.backend).toBe('wasm');
      expect(e.requestedBytes).toBeGreaterThan(2 ** 32);
      expect(e.limitName).toMatch(/wasm32/);
      expect(e.limitBytes).toBeGreaterThan(0);
      expect(e.op).toBe('zeros');
      expect(wasm.memory.buffer.byteLength).toBe(bytesBefore);
      expect(wasm.heapBytes).toBe(heapBefore);
      expect(await keep.toArray()).toEqual([1, 2, 3]);
      expect(await wm.add(keep, 1).toArray()).toEqual([2, 3, 4]);
    } finally {
      wasm.destroy();
    }
  });

  it('wasm: a memory.grow the host refuses is an OutOfMemoryError; the memory is left as it was', async () => {
    const wasm = await createWasmBackend({ threads: 0 });
    try {
      wm.setBackend(wasm);
      const keep = wm.tensor([1, 2, 3]);
      const grow = wasm.memory.grow.bind(wasm.memory);
      let calls = 0;
      (wasm.memory as { grow: (n: number) => number }).grow = () => {
        calls++;
        throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
      };
      const bytesBefore = wasm.memory.buffer.byteLength;
      const heapBefore = wasm.heapBytes;
      const e = oom(() => wm.zeros([16 * 2 ** 20]));
      expect(calls).toBeGreaterThan(0);
      expect(e.backend).toBe('wasm');
      expect(e.requestedBytes).toBeGreaterThanOrEqual(64 * 2 ** 20);
      expect(e.limitName).toMatch(/host memory/);
      expect(e.cause).toBeInstanceOf(RangeError);
      expect(wasm.memory.buffer.byteLength).toBe(bytesBefore);
      expect(wasm.heapBytes).toBe(heapBefore);
      (wasm.memory as { grow: (n: number) => number }).grow = grow;
      expect(await keep.toArray()).toEqual([1, 2, 3]);
      const big = wm.ones([16 * 2 ** 20]); // the same request once the host allows it
      expect(await wm.sum(big).item()).toBe(16 * 2 ** 20);
    } finally {
      wasm.destroy();
    }
  });
});

const gpuPlain = await getWebGPUOrSkip();
describe.skipIf(!gpuPlain)('out of memory: WebGPU device limits and driver failures', () => {
  afterAll(() => {
    wm.setBackend(cpuRef);
    gpuPlain?.destroy();
  });

  it("a buffer beyond the device's maxBufferSize / maxStorageBufferBindingSize is an OutOfMemoryError before the device is touched", async () => {
    const gpu = gpuPlain!;
    wm.setBackend(gpu);
    const keep = wm.tensor([1, 2, 3]);
    const limits = gpu.device.limits;
    const max = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
    const e = oom(() => wm.zeros([max / 4 + 1024]));
    expect(e.backend).toBe('webgpu');
    expect(e.requestedBytes).toBe(max + 4096);
    expect(e.limitBytes).toBe(max);
    expect(e.limitName).toMatch(/maxStorageBufferBindingSize|maxBufferSize/);
    expect(e.op).toBe('zeros');
    expect(await keep.toArray()).toEqual([1, 2, 3]);
    expect(await wm.add(keep, 1).toArray()).toEqual([2, 3, 4]);
  });

  it('a buffer the driver refuses is reported as OutOfMemoryError at the next read; the device is not poisoned', async () => {
    const gpu = gpuPlain!;
    wm.setBackend(gpu);
    wm.seed(9);
    const model = smallModel();
    const x = batch(gpu);
    const loss = wm.sum(model.forward(x));
    loss.backward();
    const a = wm.tensor([
      [1, 2],
      [3, 4],
    ]);
    const before = await snapshot({ ...model.stateDict(), a });

    // Simulate a driver that cannot back one buffer: its createBuffer yields an invalid buffer and
    // an error (as Dawn does for an allocation it cannot make), reported only asynchronously.
    const N = 3 * 2 ** 20 + 7; // a size no other buffer here has
    const device = gpu.device as GPUDevice & { createBuffer: GPUDevice['createBuffer'] };
    const createBuffer = device.createBuffer.bind(device);
    let refused = 0;
    device.createBuffer = (desc: GPUBufferDescriptor) => {
      if (Number(desc.size) >= N * 4 && Number(desc.size) <= N * 5) {
        // N·4 bytes rounded up to the pool's bucket
        refused++;
        return createBuffer({ ...desc, size: 2 ** 46 }); // invalid: beyond every device's limits
      }
      return createBuffer(desc);
    };
    let big: wm.Tensor;
    try {
      big = wm.full([N], 2); // returns normally: WebGPU reports the failure later
      wm.add(big, 1); // a kernel that uses the invalid buffer
    } finally {
      device.createBuffer = createBuffer;
    }
    expect(refused).toBe(2); // full's output and add's
    const e = await oomAsync(() => a.data());
    expect(e.backend).toBe('webgpu');
    expect(e.requestedBytes).toBe(N * 4);
    expect(e.limitName).toMatch(/device memory/);
    // The tensor without storage says so when used, and can be disposed.
    await oomAsync(() => big.data());
    oom(() => wm.add(big, 1));
    big.dispose();
    // Every other tensor, the parameters included, still reads back; new work runs.
    expect(await snapshot({ ...model.stateDict(), a })).toEqual(before);
    expect(await wm.mul(a, 2).toArray()).toEqual([
      [2, 4],
      [6, 8],
    ]);
    model.zeroGrad();
    const loss2 = wm.sum(model.forward(x));
    loss2.backward();
    expect(await loss2.item()).toBeCloseTo(await loss.item(), 4);
    await gpu.sync();
  });
});

const gpuSmallArena = await getWebGPUOrSkip({ paramSlots: 2 });
describe.skipIf(!gpuSmallArena)('out of memory: WebGPU driver failure across submits', () => {
  afterAll(() => {
    wm.setBackend(cpuRef);
    gpuSmallArena?.destroy();
  });

  it('work submitted with the refused buffer is rejected without poisoning the device; the error says so', async () => {
    const gpu = gpuSmallArena!;
    wm.setBackend(gpu);
    const a = wm.tensor([1, 2, 3, 4]);
    const b = wm.mul(a, 3);
    expect(await b.toArray()).toEqual([3, 6, 9, 12]);
    const N = 3 * 2 ** 20 + 11;
    const device = gpu.device as GPUDevice & { createBuffer: GPUDevice['createBuffer'] };
    const createBuffer = device.createBuffer.bind(device);
    device.createBuffer = (desc: GPUBufferDescriptor) =>
      createBuffer(Number(desc.size) >= N * 4 && Number(desc.size) <= N * 5 ? { ...desc, size: 2 ** 46 } : desc);
    let big: wm.Tensor;
    try {
      big = wm.full([N], 2);
      // With two params slots per submit, these kernels go out in several submits, some using the refused buffer.
      for (let i = 0; i < 4; i++) wm.add(big, i);
    } finally {
      device.createBuffer = createBuffer;
    }
    const e = await oomAsync(() => gpu.sync());
    expect(e.limitName).toMatch(/device memory/);
    expect(e.message).toMatch(/rejected by the device as a whole/);
    big.dispose();
    expect(await a.toArray()).toEqual([1, 2, 3, 4]);
    expect(await b.toArray()).toEqual([3, 6, 9, 12]);
    expect(await wm.add(b, a).toArray()).toEqual([4, 8, 12, 16]);
    await gpu.sync();
  });
});
