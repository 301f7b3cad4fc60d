// Every model computes the same thing on each fast backend as on the CPU reference: the same weights
// (state dict copied across) and the same batch give the same outputs, loss and parameter gradients in
// training mode, and the same eval-mode outputs with the running statistics that step left behind.
// wasm takes its fused paths here (BatchNorm forward/backward/eval, the stacked expert gradient) and,
// at batch 1030, splits the large kernels with its helper thread; WebGPU runs a small batch because
// SwiftShader (a CPU Vulkan) is slow.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { DenseFeature, type Feature, SparseFeature } from '../src/features.js';
import { AITM, ESMM, MMoE, type MultiTaskModel, OMoE, PLE, SharedBottom } from '../src/models/index.js';
import * as wm from '../src/tensor/index.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const cpu = new CpuBackend();
const backends: { name: string; backend: (Backend & { destroy(): void }) | null; batch: number }[] = [
  { name: 'wasm', backend: await createWasmBackend(), batch: 1030 },
  { name: 'WebGPU', backend: await getWebGPUOrSkip(), batch: 32 },
];

const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 9, embedDim: 4 }),
  new SparseFeature({ name: 'item', vocabSize: 6, embedDim: 4 }),
  new SparseFeature({ name: 'cate', vocabSize: 5, embedDim: 3 }),
  new DenseFeature('price'),
  new DenseFeature('age'),
];

const two: ['classification', 'classification'] = ['classification', 'classification'];
const models: Record<string, () => MultiTaskModel> = {
  SharedBottom: () =>
    new SharedBottom({
      features: features(),
      taskTypes: ['classification', 'regression'],
      bottomParams: { dims: [16] },
      towerParamsList: [{ dims: [8] }, { dims: [8] }],
    }),
  MMoE: () =>
    new MMoE({
      features: features(),
      taskTypes: two,
      nExpert: 4,
      expertParams: { dims: [16, 8] },
      towerParamsList: [{ dims: [8] }, { dims: [8] }],
    }),
  OMoE: () =>
    new OMoE({
      features: features(),
      taskTypes: two,
      nExpert: 4,
      expertParams: { dims: [16] },
      towerParamsList: [{ dims: [8] }, { dims: [8] }],
    }),
  PLE: () =>
    new PLE({
      features: features(),
      taskTypes: two,
      nLevel: 2,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [16] },
      towerParamsList: [{ dims: [8] }, { dims: [8] }],
    }),
  ESMM: () => {
    const f = features();
    return new ESMM({
      userFeatures: [f[0], f[4]],
      itemFeatures: [f[1], f[2], f[3]],
      cvrParams: { dims: [16, 8] },
      ctrParams: { dims: [16, 8] },
    });
  },
  AITM: () =>
    new AITM({
      features: features(),
      nTask: 3,
      bottomParams: { dims: [16, 8] },
      towerParamsList: [{ dims: [8] }, { dims: [8] }, { dims: [8] }],
    }),
};

/** Biases of a Linear followed by BatchNorm: the batch mean cancels them, so their gradient is 0 up to rounding. */
const PRE_BN_BIAS = /(linear\.bias|layers\.\d+\.bias)$/;

function hostBatch(fs: Feature[], seed: number, BATCH: number): Record<string, Float32Array | Int32Array> {
  const r = new wm.Random(seed);
  return Object.fromEntries(
    fs.map((f) => [
      f.name,
      f.kind === 'dense'
        ? Float32Array.from({ length: BATCH }, () => r.normal())
        : Int32Array.from({ length: BATCH }, () => r.int(f.vocabSize)),
    ]),
  );
}

const onBackend = (host: Record<string, Float32Array | Int32Array>, backend: Backend, rows: number) =>
  Object.fromEntries(Object.entries(host).map(([n, v]) => [n, wm.fromArray(v, [rows], { backend })]));

/**
 * One training-mode step (forward, backward) and an eval-mode forward. The loss is a fixed random
 * projection Σ out·w, so every output (probability or regression value) sends a gradient.
 */
async function run(
  model: MultiTaskModel,
  host: Record<string, Float32Array | Int32Array>,
  projection: Float32Array,
  backend: Backend,
  rows: number,
) {
  wm.setBackend(backend);
  const x = onBackend(host, backend, rows);
  const w = wm.fromArray(projection, [rows, model.nTask], { backend });
  const out = model.forward(x);
  const loss = wm.sum(wm.mul(out, w));
  loss.backward();
  const grads: Record<string, Float32Array> = {};
  for (const [name, p] of model.namedParameters()) grads[name] = (await p.grad!.data()) as Float32Array;
  const evalOut = model.predict(x);
  return {
    out: (await out.data()) as Float32Array,
    loss: await loss.item(),
    grads,
    evalOut: (await evalOut.data()) as Float32Array,
  };
}

/** Largest |a − b| relative to the largest |b| of the tensor (so tiny entries are judged by the tensor's scale). */
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

for (const { name: backendName, backend, batch: BATCH } of backends) {
  describe.skipIf(!backend)(`models: ${backendName} matches the CPU for the same weights`, () => {
    afterAll(() => {
      wm.setBackend(cpu);
      backend?.destroy();
    });

    for (const [name, make] of Object.entries(models)) {
      it(name, async () => {
        const other = backend!;
        wm.setBackend(cpu);
        wm.seed(5);
        const onCpu = make();
        wm.setBackend(other);
        const onOther = make();
        const state = onCpu.stateDict();
        onOther.loadStateDict(
          Object.fromEntries(Object.entries(state).map(([n, t]) => [n, wm.fromArray(t.dataSync(), t.shape, { backend: other })])),
        );

        const host = hostBatch(onCpu.features, 17, BATCH);
        const r = new wm.Random(18);
        const projection = Float32Array.from({ length: BATCH * onCpu.nTask }, () => r.normal());
        const want = await run(onCpu, host, projection, cpu, BATCH);
        const got = await run(onOther, host, projection, other, BATCH);

        expect(relativeError(got.out, want.out), 'training-mode outputs').toBeLessThan(1e-4);
        expect(Math.abs(got.loss - want.loss) / Math.abs(want.loss), 'loss').toBeLessThan(1e-4);
        const gradScale = Math.max(...Object.values(want.grads).map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
        for (const [p, g] of Object.entries(want.grads)) {
          if (PRE_BN_BIAS.test(p)) {
            for (const v of [...g, ...got.grads[p]]) expect(Math.abs(v), `gradient of ${p}`).toBeLessThan(1e-4 * gradScale);
          } else {
            expect(relativeError(got.grads[p], g), `gradient of ${p}`).toBeLessThan(1e-4);
          }
        }
        expect(relativeError(got.evalOut, want.evalOut), 'eval-mode outputs').toBeLessThan(1e-4);
        if (onCpu.lastGateWeights) {
          for (const [gate, w] of Object.entries(onCpu.lastGateWeights)) {
            expect(
              relativeError((await onOther.lastGateWeights![gate].data()) as Float32Array, w.dataSync() as Float32Array),
              `gate ${gate}`,
            ).toBeLessThan(1e-4);
          }
        }
        onOther.dispose();
        wm.setBackend(cpu);
      });
    }
  });
}
