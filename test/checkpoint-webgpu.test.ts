// Checkpoints move between backends: saved from WebGPU, loaded on the CPU and back on WebGPU.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { BatchNorm1d, Linear, Module } from '../src/nn/index.js';
import { Adam } from '../src/optim/index.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const gpu = await getWebGPUOrSkip();
const cpu = new CpuBackend();

class Tiny extends Module {
  readonly fc = this.child('fc', new Linear(3, 4));
  readonly bn = this.child('bn', new BatchNorm1d(4));
  forward(x: wm.Tensor): wm.Tensor {
    return this.bn.forward(this.fc.forward(x));
  }
}

function on<T>(backend: Backend, fn: () => T): T {
  const before = wm.getBackend();
  wm.setBackend(backend);
  try {
    return fn();
  } finally {
    wm.setBackend(before);
  }
}

function trainStep(backend: Backend, m: Tiny, opt: Adam): void {
  on(backend, () =>
    wm.tidy(() => {
      opt.zeroGrad();
      const x = wm.tensor([
        [1, 2, 3],
        [0, -1, 2],
        [4, 0, 1],
      ]);
      // A fixed projection (not Σ y², whose gradient for BatchNorm's bias is ~0, i.e. rounding noise).
      const w = wm.tensor([
        [1, -2, 0.5, 3],
        [0.2, 1, -1, 0],
        [-0.7, 0.3, 2, 1],
      ]);
      wm.sum(wm.mul(m.forward(x), w)).backward();
      opt.step();
    }),
  );
}

async function snapshot(m: Module): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(m.stateDict())) out[name] = Array.from(await t.data());
  return out;
}

describe.skipIf(!gpu)('checkpoints across backends', () => {
  afterAll(() => gpu?.destroy());

  it('WebGPU → file → CPU and WebGPU, optimizer state included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'webmtl-ckpt-gpu-'));
    try {
      const file = join(dir, 'gpu.safetensors');
      const m = on(gpu!, () => new Tiny());
      const opt = new Adam(m.parameters(), { lr: 0.01 });
      trainStep(gpu!, m, opt);
      await saveCheckpoint(file, m, { optimizer: opt });

      const c = on(cpu, () => new Tiny());
      const cOpt = new Adam(c.parameters(), { lr: 0.01 });
      await loadCheckpoint(file, c, { optimizer: cOpt });
      expect(await snapshot(c)).toEqual(await snapshot(m));

      const g = on(gpu!, () => new Tiny());
      const gOpt = new Adam(g.parameters(), { lr: 0.01 });
      await loadCheckpoint(file, g, { optimizer: gOpt });
      expect(g.parameters()[0].backend).toBe(gpu);
      expect(await snapshot(g)).toEqual(await snapshot(m));

      trainStep(gpu!, m, opt);
      trainStep(gpu!, g, gOpt);
      trainStep(cpu, c, cOpt);
      const want = await snapshot(m);
      expect(await snapshot(g)).toEqual(want);
      const fromCpu = await snapshot(c);
      // fc.bias is skipped: BatchNorm cancels it, so its gradient is rounding noise that Adam scales to ±lr.
      for (const [name, values] of Object.entries(want))
        if (name !== 'fc.bias') values.forEach((v, i) => expect(Math.abs(fromCpu[name][i] - v), name).toBeLessThan(1e-5));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
