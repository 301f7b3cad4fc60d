// Parity with torch-rechub on the fixtures in ../shared/parity (made with torch-rechub 0.8.0 on PyTorch
// 1.13): each model is built from torch-rechub's constructor arguments (config.json), its state dict
// imported, and every array of expected.safetensors reproduced on cpu, wasm and WebGPU — eval and
// train-mode outputs, the training loss, every parameter's gradient, BatchNorm's running statistics
// after one training forward, the eval output with those statistics, and every parameter after 1 and
// after 3 Adam steps (lr 1e-3, L2 weight decay 1e-4). Tolerances and the `unstable.*` masks are the
// fixture README's: |a − b| ≤ atol + rtol·|b| on unflagged elements; flagged Adam elements are bounded
// by |a − b| ≤ 2·lr·t + atol (Adam's step there is lr·sign(rounding noise)).
//
// Where we differ from torch-rechub on purpose:
// - AITM: the paper's behavioural-expectation calibrator is ours by default (α = 0.6); torch-rechub's
//   AITM has none, so torchRechubModel builds it with calibratorWeight 0 and the loss here is
//   torch-rechub's.
// - num_batches_tracked: a plain counter in our BatchNorm (our momentum is always fixed, so nothing
//   reads it); it is imported and exported with the state dict, not kept in checkpoints.
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import * as wm from '../src/index.js';
import { HAVE_PARITY_FIXTURES, PARITY_MODELS, type ParityFixture, readParityFixture } from './helpers/parity.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

const MODELS = PARITY_MODELS;
const LR = 1e-3;
const WEIGHT_DECAY = 1e-4;
const OUTPUTS = { rtol: 1e-5, atol: 1e-6 };
const STEPS = { rtol: 1e-4, atol: 1e-6 };

/** The expected keys each test compared, so that none is left out. */
const compared = new Map<ParityFixture, Set<string>>();

/** Elements of `ours` outside the tolerance of `want`, skipping the fixture's unstable ones. */
function mismatches(
  key: string,
  ours: ArrayLike<number>,
  f: ParityFixture,
  tol: { rtol: number; atol: number },
  flaggedBound?: number,
): string[] {
  compared.get(f)?.add(key);
  const want = f.expected[key]?.data;
  if (!want) return [`${key}: not in the fixture`];
  if (ours.length !== want.length) return [`${key}: ${ours.length} values, the fixture has ${want.length}`];
  const mask = f.expected[`unstable.${key}`]?.data;
  const out: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(ours[i] - want[i]);
    const flagged = mask?.[i] === 1;
    if (flagged ? flaggedBound !== undefined && !(d <= flaggedBound) : !(d <= tol.atol + tol.rtol * Math.abs(want[i]))) {
      out.push(`${key}[${i}]: ${ours[i]} vs ${want[i]}${flagged ? ' (flagged)' : ''}`);
    }
  }
  return out;
}

function features(model: wm.MultiTaskModel, f: ParityFixture, backend: Backend): wm.FeatureBatch {
  return Object.fromEntries(
    model.features.map((feat) => [feat.name, wm.fromArray(f.batch[feat.name].data, f.batch[feat.name].shape, { backend })]),
  );
}

/** The trainer's default loss for this model: Σ_i w_i · BCE(output of trained task i, its label). */
function trainingLoss(model: wm.MultiTaskModel, out: wm.Tensor, labels: wm.Tensor): wm.Tensor {
  const plan = model.taskPlan(labels.shape[1]);
  const weights = model.defaultTaskWeights();
  const rows = out.shape[0];
  const column = (t: wm.Tensor, j: number) => wm.reshape(wm.slice(t, [0, j], [rows, 1]), [rows]);
  const terms = plan.train.map((t, i) => wm.mul(wm.binaryCrossEntropy(column(out, t.output), column(labels, t.label)), weights[i]));
  return terms.reduce((a, b) => wm.add(a, b));
}

const cpu = new CpuBackend();
const backends: { name: string; backend: Backend | null }[] = [
  { name: 'cpu', backend: cpu },
  { name: 'wasm', backend: await createWasmBackend() },
  { name: 'webgpu', backend: await getWebGPUOrSkip() },
];
afterAll(() => {
  for (const b of backends) (b.backend as { destroy?: () => void } | null)?.destroy?.();
});

describe.skipIf(!HAVE_PARITY_FIXTURES)('torch-rechub parity fixtures', () => {
  it("differs on purpose: AITM has the paper's calibrator (α = 0.6) by default, torch-rechub's AITM none, so a model built from its arguments has α = 0", () => {
    const f = readParityFixture('AITM');
    expect((wm.torchRechubModel(f.config) as wm.AITM).calibratorWeight).toBe(0);
    const { features } = wm.torchRechubModel(f.config);
    expect(
      new wm.AITM({ features, nTask: 2, bottomParams: { dims: [4] }, towerParamsList: [{ dims: [2] }, { dims: [2] }] }).calibratorWeight,
    ).toBe(0.6);
  });

  it('differs on purpose: num_batches_tracked is an in-memory counter (momentum is fixed, nothing reads it), exported and imported but not in checkpoints', () => {
    const f = readParityFixture('SharedBottom');
    const model = wm.torchRechubModel(f.config);
    wm.importTorchRechub(model, {
      ...f.state,
      'bottom_mlp.mlp.1.num_batches_tracked': { dtype: 'I32', shape: [], data: Int32Array.of(42) },
    });
    expect(Object.keys(model.stateDict()).some((k) => k.includes('num_batches'))).toBe(false);
  });

  for (const dir of MODELS) {
    const f = HAVE_PARITY_FIXTURES ? readParityFixture(dir) : (null as unknown as ParityFixture);

    it(`${dir}: export after import gives back the state dict (names, order, shapes, values)`, async () => {
      const model = wm.torchRechubModel(f.config);
      expect(model.torchRechubClass).toBe(f.config.class);
      expect(model.numParameters()).toBe((f.config as unknown as { n_parameters: number }).n_parameters);
      wm.importTorchRechub(model, f.state);
      const exported = await wm.exportTorchRechub(model);
      expect(Object.keys(exported)).toEqual(Object.keys(f.state));
      for (const [name, t] of Object.entries(f.state)) {
        expect(exported[name].shape, name).toEqual(t.shape);
        expect(exported[name].dtype, name).toBe(t.dtype);
        expect(Array.from(exported[name].data), name).toEqual(Array.from(t.data));
      }
      // Through bytes too, as a user saving for Python would.
      const again = wm.torchRechubModel(f.config);
      wm.importTorchRechub(again, await wm.exportTorchRechubSafetensors(model));
      expect(Array.from((await wm.exportTorchRechub(again))[Object.keys(f.state)[0]].data)).toEqual(
        Array.from(Object.values(f.state)[0].data),
      );
    });

    for (const { name, backend } of backends) {
      it.skipIf(!backend)(
        `${dir} on ${name}: outputs, loss, gradients, BatchNorm statistics and 1 and 3 Adam steps match torch-rechub`,
        async () => {
          const b = backend!;
          const previous = wm.getBackend();
          wm.setBackend(b);
          const model = wm.torchRechubModel(f.config);
          compared.set(f, new Set());
          try {
            wm.importTorchRechub(model, f.state);
            const x = features(model, f, b);
            const labels = wm.fromArray(f.batch.labels.data, f.batch.labels.shape, { backend: b });
            const problems: string[] = [];

            problems.push(...mismatches('eval.output', await model.predict(x).data(), f, OUTPUTS));

            model.train();
            const out = model.forward(x);
            const loss = trainingLoss(model, out, labels);
            problems.push(...mismatches('train.output', await out.data(), f, OUTPUTS));
            problems.push(...mismatches('train.loss', await loss.data(), f, OUTPUTS));
            wm.backward(loss);
            const grads = await wm.exportTorchRechub(model, { gradients: true });
            for (const key of Object.keys(grads)) problems.push(...mismatches(`grad.${key}`, grads[key].data, f, STEPS));
            const state = await wm.exportTorchRechub(model);
            for (const key of Object.keys(f.expected).filter((k) => k.startsWith('bn.'))) {
              problems.push(...mismatches(key, state[key.slice(3)].data, f, STEPS));
            }
            for (const key of Object.keys(state).filter((k) => k.endsWith('num_batches_tracked'))) expect(state[key].data[0], key).toBe(1);
            problems.push(...mismatches('eval1.output', await model.predict(x).data(), f, OUTPUTS));

            const adam = new wm.Adam(model.parameters(), { lr: LR, weightDecay: WEIGHT_DECAY });
            adam.step();
            const params = (t: number) =>
              exportParams(model).then((p) =>
                Object.entries(p).flatMap(([k, v]) => mismatches(`adam${t}.${k}`, v, f, STEPS, 2 * LR * t + STEPS.atol)),
              );
            problems.push(...(await params(1)));
            for (let step = 2; step <= 3; step++) {
              adam.zeroGrad();
              wm.tidy(() => wm.backward(trainingLoss(model, model.forward(x), labels)));
              adam.step();
            }
            problems.push(...(await params(3)));
            expect(problems.slice(0, 20), `${problems.length} mismatches`).toEqual([]);
            // Every array of expected.safetensors was compared (the masks are not arrays to reproduce).
            const left = Object.keys(f.expected).filter((k) => !k.startsWith('unstable.') && !compared.get(f)!.has(k));
            expect(left, 'expected arrays never compared').toEqual([]);
          } finally {
            model.dispose();
            wm.setBackend(previous);
          }
        },
      );
    }
  }
});

/** Parameters (not buffers) in torch-rechub's names and layouts. */
async function exportParams(model: wm.MultiTaskModel): Promise<Record<string, Float32Array>> {
  const grads = await wm.exportTorchRechub(model, { gradients: true }); // the names of the parameters
  const all = await wm.exportTorchRechub(model);
  return Object.fromEntries(Object.keys(grads).map((k) => [k, all[k].data as Float32Array]));
}
