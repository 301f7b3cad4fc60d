// A step is checked before it is committed. A non-finite loss (a regression label of 3e38), BatchNorm
// statistics that would become non-finite (a dense value of 1e38: its batch variance overflows) or a
// non-finite gradient stops training with the parameters, BatchNorm's running
// statistics and batch counts, the optimizer's state, the balancing strategy's state and the random
// stream byte for byte as after the last good step; nonFinite: 'skip' drops the step and the run ends
// exactly as one without that batch; clipGradNorm scales the gradient as torch's clip_grad_norm_.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { DataLoader } from '../src/data/loader.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import * as wm from '../src/index.js';
import type { BalanceContext, BalanceStrategy, StepReport } from '../src/mtl/strategy.js';
import { NonFiniteGradientError, NonFiniteLossError, NonFiniteStatisticsError } from '../src/train/trainer.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
wm.setBackend(cpu);
// Every method on the CPU; on wasm and WebGPU (SwiftShader is slow) the methods whose state lives on the device.
const backends: { name: string; backend: Backend | null; methods: readonly Method[] }[] = [
  { name: 'cpu', backend: cpu, methods: ['fixed', 'gradnorm', 'metabalance', 'pcgrad', 'uwl'] },
  { name: 'wasm', backend: await createWasmBackend(), methods: ['fixed', 'gradnorm', 'metabalance'] },
  { name: 'webgpu', backend: await getWebGPUOrSkip(), methods: ['gradnorm', 'metabalance'] },
];
afterAll(() => {
  for (const b of backends) if (b.backend !== cpu) (b.backend as { destroy?: () => void } | null)?.destroy?.();
});
const BATCH = 16;
const features = () => [
  new SparseFeature({ name: 'user', vocabSize: 9, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 6, embedDim: 2 }),
  new DenseFeature('price'),
];
const makeModel = () => {
  wm.seed(5);
  return new wm.MMoE({
    features: features(),
    taskTypes: ['classification', 'regression'],
    nExpert: 3,
    expertParams: { dims: [6], dropout: 0.2 },
    towerParamsList: [{ dims: [4], dropout: 0.1 }, { dims: [4] }],
  });
};

/**
 * `batches` batches of BATCH rows (click: 0/1, spend: a regression target); batch `bad` (if any) has
 * price 1e38 (`'price'`) or a spend of 3e38 (`'label'`) in one row.
 */
function data(batches: number[], bad?: number, what: 'price' | 'label' = 'price'): wm.ColumnarDataset {
  const rows = batches.length * BATCH;
  const user = new Int32Array(rows);
  const item = new Int32Array(rows);
  const price = new Float32Array(rows);
  const y = new Float32Array(rows * 2);
  batches.forEach((b, k) => {
    const r = new wm.Random(100 + b);
    for (let i = 0; i < BATCH; i++) {
      const row = k * BATCH + i;
      user[row] = r.int(9);
      item[row] = r.int(6);
      price[row] = b === bad && i === 3 && what === 'price' ? 1e38 : r.normal();
      y[row * 2] = r.uniform() < 0.5 ? 1 : 0;
      y[row * 2 + 1] = b === bad && i === 5 && what === 'label' ? 3e38 : r.normal();
    }
  });
  return new wm.ColumnarDataset({ user, item, price }, y, ['click', 'spend']);
}

/** Every byte of what a step changes. */
async function snapshot(trainer: wm.MTLTrainer): Promise<unknown> {
  const bytes = async (t: wm.Tensor) => Array.from(new Uint8Array((await t.data()).slice().buffer));
  const model: Record<string, number[]> = {};
  for (const [n, t] of Object.entries(trainer.model.stateDict())) model[n] = await bytes(t);
  const counts = [...trainer.model.namedModules()].flatMap(([n, m]) =>
    'numBatchesTracked' in m ? [[n, (m as { numBatchesTracked: unknown }).numBatchesTracked]] : [],
  );
  const opt = trainer.optimizer.stateDict();
  const moments: Record<string, unknown> = {};
  for (const [i, s] of Object.entries(opt.state))
    moments[i] = { step: s.step, buffers: await Promise.all(Object.values(s.buffers).map((t) => bytes(t as wm.Tensor))) };
  return { model, counts, moments, strategy: await trainer.strategy.stateDict?.(), random: wm.globalRng().getState() };
}

/** Delegates to a real strategy and makes the gradient of the first shared tensor NaN at one step, once. */
class PoisonAt implements BalanceStrategy {
  readonly name: string;
  private fired = false;
  constructor(
    readonly inner: BalanceStrategy,
    readonly at: number,
  ) {
    this.name = inner.name;
  }
  get parameters() {
    return this.inner.parameters;
  }
  setup(info: { nTask: number; lr: number }) {
    this.inner.setup?.(info);
  }
  snapshot() {
    return this.inner.snapshot?.() ?? { restore() {}, release() {} };
  }
  backward(ctx: BalanceContext): StepReport {
    const report = this.inner.backward(ctx);
    if (ctx.step === this.at && !this.fired) {
      this.fired = true;
      const p = ctx.shared[0];
      p.grad?.dispose();
      p.grad = wm.keep(wm.full(p.shape, Number.NaN, { backend: p.backend }));
    }
    return report;
  }
  stateDict() {
    return this.inner.stateDict?.() ?? Promise.resolve({});
  }
  readWeights() {
    return this.inner.readWeights?.() ?? Promise.resolve([]);
  }
}

type Method = 'fixed' | 'gradnorm' | 'metabalance' | 'pcgrad' | 'uwl';
let device: Backend = cpu;
const trainerFor = (method: Method, opts: Partial<wm.MTLTrainerOptions> = {}, poisonAt = -1) => {
  const model = makeModel();
  const strategy = new PoisonAt(
    wm.createStrategy({ method } as wm.StrategySpec, { taskTypes: ['classification', 'regression'] }),
    poisonAt,
  );
  return new wm.MTLTrainer(model, {
    nEpoch: 1,
    device,
    progress: 'none',
    seed: 7,
    optimizer: { strategy },
    optimizerParams: { lr: 0.01 },
    ...opts,
  });
};
const fit = (trainer: wm.MTLTrainer, ds: wm.ColumnarDataset) => trainer.fit(new DataLoader(ds, { batchSize: BATCH }));

for (const { name, backend, methods } of backends) {
  describe.skipIf(!backend)(`a refused step changes nothing (${name})`, () => {
    beforeAll(() => {
      device = backend!;
      wm.setBackend(backend!);
    });
    afterAll(() => {
      device = cpu;
      wm.setBackend(cpu);
    });
    for (const method of methods) {
      it(`${method}: a non-finite loss at step 3 stops training with everything as after step 2`, async () => {
        const failed = trainerFor(method);
        await expect(fit(failed, data([0, 1, 2, 3, 4], 2, 'label'))).rejects.toThrow(NonFiniteLossError);
        const after = await snapshot(failed);
        const good = trainerFor(method);
        await fit(good, data([0, 1]));
        expect(after).toEqual(await snapshot(good));
      });

      it(`${method}: BatchNorm statistics that would overflow at step 3 stop training with everything as after step 2`, async () => {
        const failed = trainerFor(method);
        const error = await fit(failed, data([0, 1, 2, 3, 4], 2)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NonFiniteStatisticsError);
        expect((error as Error).message).toMatch(/BatchNorm running_var \[.*\] would become Infinity .*Scale or clip the dense features/);
        const after = await snapshot(failed);
        const good = trainerFor(method);
        await fit(good, data([0, 1]));
        expect(after).toEqual(await snapshot(good));
      });

      it(`${method}: a non-finite gradient at step 3 (finite losses) stops training with everything as after step 2, naming the tensor`, async () => {
        const failed = trainerFor(method, {}, 2);
        const error = await fit(failed, data([0, 1, 2, 3, 4])).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NonFiniteGradientError);
        expect((error as Error).message).toMatch(
          /the gradient of 'embedding\.embed\.user\.weight' is not finite \(NaN at flat index 0\) at epoch 1, step 2/,
        );
        expect((error as Error).message).toMatch(/lower learning rate|clipGradNorm/);
        const after = await snapshot(failed);
        const good = trainerFor(method);
        await fit(good, data([0, 1]));
        expect(after).toEqual(await snapshot(good));
      });

      it(`${method}: nonFinite 'skip' drops the bad steps; the run ends exactly as one without those batches`, async () => {
        // Batch 2 has a non-finite loss; the gradient of step 3 (batch 4: skipped steps do not count) is poisoned.
        const skipping = trainerFor(method, { nonFinite: 'skip' }, 3);
        const history = await fit(skipping, data([0, 1, 2, 3, 4, 5], 2, 'label'));
        expect(history.epochs[0].skippedSteps).toBe(2);
        const after = await snapshot(skipping);
        const without = trainerFor(method);
        await fit(without, data([0, 1, 3, 5]));
        expect(after).toEqual(await snapshot(without));
      });
    }
  });
}

describe('more of the step check', () => {
  it('with checkGradients: false the BatchNorm statistics are still checked (with the losses, in one read)', async () => {
    const failed = trainerFor('fixed', { checkGradients: false });
    await expect(fit(failed, data([0, 1, 2, 3], 2))).rejects.toThrow(NonFiniteStatisticsError);
    const after = await snapshot(failed);
    const good = trainerFor('fixed');
    await fit(good, data([0, 1]));
    expect(after).toEqual(await snapshot(good));
  });

  it('an optimizer update that fails (say, out of memory) commits nothing else of the step', async () => {
    const failing = trainerFor('gradnorm');
    const step = failing.optimizer.step.bind(failing.optimizer);
    let calls = 0;
    failing.optimizer.step = () => {
      if (++calls === 3) throw new Error('simulated failure in the update');
      step();
    };
    await expect(fit(failing, data([0, 1, 2, 3]))).rejects.toThrow(/simulated failure/);
    const after = await snapshot(failing);
    for (const p of failing.model.parameters()) expect(p.grad).toBeNull();
    const good = trainerFor('gradnorm');
    await fit(good, data([0, 1]));
    expect(after).toEqual(await snapshot(good));
  });

  it('a dropped step leaves no inspector report: the history holds one report per applied step', async () => {
    const trainer = trainerFor('fixed', { nonFinite: 'skip', inspectEvery: 1 });
    const history = await fit(trainer, data([0, 1, 2, 3], 1, 'label'));
    expect(history.epochs[0].skippedSteps).toBe(1);
    expect(history.gradients.map((r) => r.step)).toEqual([0, 1, 2]);
  });
});

describe('the messages', () => {
  it('the error for a non-finite loss says which task, which step, and what to try', async () => {
    const error = await fit(trainerFor('fixed'), data([0, 1, 2], 1, 'label')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect((error as Error).message).toMatch(
      /the loss of task 'spend' is not finite at epoch 1, step 1 .*Nothing of this step was applied.*clipGradNorm/,
    );
  });
});

describe('clipGradNorm', () => {
  it('one SGD step equals a hand step with the gradient scaled to the norm (torch clip_grad_norm_)', async () => {
    const ds = data([0]);
    const max = 0.05;
    const trainer = new wm.MTLTrainer(makeModel(), {
      nEpoch: 1,
      device: 'cpu',
      progress: 'none',
      seed: 7,
      optimizer: 'sgd',
      optimizerParams: { lr: 0.5 },
      clipGradNorm: max,
    });
    const twin = makeModel();
    await fit(trainer, ds);

    // By hand: the same forward (same seed for dropout), the mean loss, the global norm, the scaled step.
    wm.seed(7);
    twin.train();
    const x = {
      user: wm.fromArray(ds.columns.user as Int32Array, [BATCH]),
      item: wm.fromArray(ds.columns.item as Int32Array, [BATCH]),
      price: wm.fromArray(ds.columns.price as Float32Array, [BATCH]),
    };
    const y = wm.fromArray(ds.labels, [BATCH, 2]);
    const out = twin.forward(x);
    const col = (t: wm.Tensor, j: number) => wm.reshape(wm.slice(t, [0, j], [BATCH, 1]), [BATCH]);
    wm.backward(wm.mul(wm.add(wm.binaryCrossEntropy(col(out, 0), col(y, 0)), wm.mseLoss(col(out, 1), col(y, 1))), 0.5));
    const params = twin.parameters();
    const norm = Math.sqrt(params.reduce((s, p) => s + Array.from(p.grad!.dataSync()).reduce((a, g) => a + g * g, 0), 0));
    expect(norm).toBeGreaterThan(max * 2); // the clip does act
    const scale = max / (norm + 1e-6);
    const want = params.map((p) => Array.from(p.dataSync(), (v, i) => v - 0.5 * scale * p.grad!.dataSync()[i]));
    trainer.model.parameters().forEach((p, j) => {
      const got = p.dataSync();
      want[j].forEach((v, i) => expect(Math.abs(got[i] - v)).toBeLessThan(1e-6));
    });
  });

  it('refuses a clipGradNorm or nonFinite it cannot use', () => {
    expect(() => new wm.MTLTrainer(makeModel(), { clipGradNorm: 0 })).toThrow(/clipGradNorm must be a finite number > 0/);
    expect(() => new wm.MTLTrainer(makeModel(), { nonFinite: 'ignore' as never })).toThrow(/nonFinite must be 'stop' or 'skip'/);
  });
});
