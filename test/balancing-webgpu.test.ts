// Balancing on WebGPU computes what it computes on the CPU: for the same small MMoE (same weights) and
// batch, the per-task gradients on the shared parameters, the balanced .grad of every parameter after
// two steps of each strategy, the strategies' device-held weights, and the inspector's report agree.
// Tensors that feed a BatchNorm are compared more loosely: BatchNorm's backward subtracts batch means,
// so float32 rounding is amplified there (their biases' true gradient is 0: only rounding remains).
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { aliCcpSchema } from '../src/data/datasets.js';
import { DataLoader } from '../src/data/loader.js';
import { generateAliCcpSplits } from '../src/data/synthetic-ali-ccp.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { MMoE } from '../src/models/index.js';
import { createModel } from '../src/models/registry.js';
import {
  type BalanceStrategy,
  CAGrad,
  GradNorm,
  inspectGradients,
  MetaBalance,
  modelBalanceContext,
  PCGrad,
  UWL,
} from '../src/mtl/index.js';
import * as wm from '../src/tensor/index.js';
import { MTLTrainer } from '../src/train/trainer.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const gpu = await getWebGPUOrSkip();
const cpu = new CpuBackend();
const ROWS = 32;

const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 7, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 5, embedDim: 2 }),
  new DenseFeature('price'),
];

function hostBatch(seed: number) {
  const r = new wm.Random(seed);
  return {
    user: Int32Array.from({ length: ROWS }, () => r.int(7)),
    item: Int32Array.from({ length: ROWS }, () => r.int(5)),
    price: Float32Array.from({ length: ROWS }, () => r.normal()),
    y: Float32Array.from({ length: ROWS * 2 }, () => (r.uniform() < 0.4 ? 1 : 0)),
  };
}

async function makeModel(backend: Backend): Promise<MMoE> {
  wm.setBackend(cpu);
  wm.seed(12);
  const model = new MMoE({
    features: features(),
    taskTypes: ['classification', 'regression'],
    nExpert: 3,
    expertParams: { dims: [6] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
  await model.to(backend);
  wm.setBackend(backend);
  return model;
}

function onDevice(host: ReturnType<typeof hostBatch>, backend: Backend) {
  const x = {
    user: wm.fromArray(host.user, [ROWS], { backend }),
    item: wm.fromArray(host.item, [ROWS], { backend }),
    price: wm.fromArray(host.price, [ROWS], { backend }),
  };
  return { x, y: wm.fromArray(host.y, [ROWS, 2], { backend }) };
}

/** Two steps of `strategy` (no optimizer update): per-task gradients and every parameter's .grad of the last. */
async function run(backend: Backend, make: (backend: Backend) => BalanceStrategy) {
  const model = await makeModel(backend);
  const strategy = make(backend);
  strategy.setup?.({ nTask: 2, lr: 0.05 });
  let taskGrads: Float32Array[][] = [];
  for (const seed of [1, 2]) {
    model.zeroGrad();
    taskGrads = await wm.tidyAsync(async () => {
      const { x, y } = onDevice(hostBatch(seed), backend);
      const out = model.forward(x);
      const col = (t: wm.Tensor, k: number) => wm.reshape(wm.slice(t, [0, k], [ROWS, 1]), [ROWS]);
      const losses = [wm.binaryCrossEntropy(col(out, 0), col(y, 0)), wm.mseLoss(col(out, 1), col(y, 1))];
      const lossValues = Array.from(await wm.concat(losses.map((l) => wm.reshape(l, [1]))).data());
      const ctx = modelBalanceContext(model, losses, lossValues, { step: seed - 1 });
      strategy.backward(ctx);
      return Promise.all(ctx.taskGradients().map((g) => Promise.all(g.map(async (t) => (await t.data()) as Float32Array))));
    });
  }
  const grads = await Promise.all(model.parameters().map(async (p) => (await p.grad!.data()) as Float32Array));
  const names = model.namedParameters().map(([n]) => n);
  const sharedNames = model.parameterGroups().shared.map(([n]) => n);
  const weights = 'readWeights' in strategy ? await (strategy as { readWeights(): Promise<number[]> }).readWeights() : [];
  model.dispose();
  return { taskGrads, grads, weights, names, sharedNames };
}

const PRE_BN = /(linear|layers\.\d+)\.(weight|bias)$/;

/** Per-tensor relative error, looser for tensors feeding a BatchNorm; biases there against the whole gradient's scale. */
function expectMatch(got: Float32Array, want: Float32Array, name: string, scale: number) {
  if (!PRE_BN.test(name)) return expect(relError(got, want), name).toBeLessThan(1e-4);
  if (name.endsWith('.weight')) return expect(relError(got, want), name).toBeLessThan(1e-3);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), name).toBeLessThan(1e-4 * scale);
}

const maxAbs = (xs: Float32Array[]) => Math.max(...xs.map((x) => Math.max(...Array.from(x, Math.abs))));

/** max |a − b| over max |b|: entries are judged at the scale of their tensor. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

describe.skipIf(!gpu)('balancing on WebGPU matches the CPU', () => {
  afterAll(() => {
    wm.setBackend(cpu);
    gpu?.destroy();
  });

  const strategies: Record<string, (backend: Backend) => BalanceStrategy> = {
    uwl: (backend) => new UWL({ taskTypes: ['classification', 'regression'], backend }),
    gradnorm: () => new GradNorm({ alpha: 1.5 }),
    metabalance: () => new MetaBalance({ relaxFactor: 0.7, beta: 0.9, targetTask: 1 }),
    pcgrad: () => new PCGrad({ seed: 3 }),
    cagrad: () => new CAGrad({ c: 0.4 }),
  };

  for (const [name, make] of Object.entries(strategies)) {
    it(name, async () => {
      const a = await run(cpu, make);
      const b = await run(gpu!, make);
      a.taskGrads.forEach((task, k) =>
        task.forEach((g, p) => expectMatch(b.taskGrads[k][p], g, `task ${k}: ${a.sharedNames[p]}`, maxAbs(task))),
      );
      a.grads.forEach((g, p) => expectMatch(b.grads[p], g, a.names[p], maxAbs(a.grads)));
      expect(b.weights.length).toBe(a.weights.length);
      expect(relError(b.weights, a.weights)).toBeLessThan(1e-4);
    });
  }

  it('inspector', async () => {
    const reports = [];
    for (const backend of [cpu, gpu!]) {
      const model = await makeModel(backend);
      reports.push(await inspectGradients(model, onDevice(hostBatch(4), backend)));
      model.dispose();
    }
    const [a, b] = reports;
    expect(b.groups.map((g) => g.name)).toEqual(a.groups.map((g) => g.name));
    a.groups.forEach((g, i) => {
      expect(relError(b.groups[i].norms, g.norms)).toBeLessThan(1e-4);
      g.cosine.forEach((row, k) => row.forEach((c, l) => expect(b.groups[i].cosine[k][l]!).toBeCloseTo(c!, 4)));
    });
    a.experts[0].share.forEach((row, k) => expect(relError(b.experts[0].share[k], row)).toBeLessThan(1e-4));
    expect(relError(b.gates.task0, a.gates.task0)).toBeLessThan(1e-4);
  });
});

const gpuForTrainer = await getWebGPUOrSkip();

describe.skipIf(!gpuForTrainer)('a balanced training step on WebGPU reads back only its losses and its check', () => {
  afterAll(() => gpuForTrainer?.destroy());
  it.each(['uwl', 'gradnorm', 'metabalance', 'pcgrad', 'cagrad'] as const)(
    '%s: two readbacks per step (the losses; the gradient norm and statistics check), plus the epoch-end weights',
    async (method) => {
      const gpu = gpuForTrainer!;
      wm.setBackend(gpu);
      wm.seed(3);
      const data = generateAliCcpSplits({ train: 128, val: 16, test: 16, seed: 2, vocabScale: 0.01 });
      const model = createModel('mmoe', { ...data, itemColumns: aliCcpSchema.itemColumns });
      const trainer = new MTLTrainer(model, { nEpoch: 1, device: gpu, progress: 'none', adaptiveParams: { method } as never });
      const before = gpu.stats.readbacks;
      const history = await trainer.fit(new DataLoader(data.train, { batchSize: 32 }));
      const steps = 4;
      expect(gpu.stats.readbacks - before).toBeLessThanOrEqual(2 * steps + 1);
      // With the check off, only the losses are read.
      const unchecked = new MTLTrainer(model, {
        nEpoch: 1,
        device: gpu,
        progress: 'none',
        adaptiveParams: { method } as never,
        checkGradients: false,
      });
      const start = gpu.stats.readbacks;
      await unchecked.fit(new DataLoader(data.train, { batchSize: 32 }));
      expect(gpu.stats.readbacks - start).toBeLessThanOrEqual(steps + 1);
      expect(Object.values(history.epochs[0].taskWeights).every(Number.isFinite)).toBe(true);
    },
  );
});
