// Inspecting a run must not change it: the gradient inspector's forward (MTLTrainer's inspectEvery)
// runs the model in train mode, so its Dropout layers draw mask seeds from the global random stream.
// A run with inspectEvery ends on the bit-identical parameters and buffers of the same run (same
// seeds) without it, and the inspector sees the very dropout masks of the step it inspects: its
// losses are that training step's losses.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { ColumnarDataset } from '../src/data/columns.js';
import { DataLoader } from '../src/data/loader.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import { MMoE } from '../src/models/mmoe.js';
import { inspectGradients } from '../src/mtl/inspector.js';
import { setBackend } from '../src/tensor/engine.js';
import * as wm from '../src/tensor/index.js';
import { globalRng, seed } from '../src/tensor/random.js';
import { MTLTrainer } from '../src/train/trainer.js';

setBackend(new CpuBackend());

const ROWS = 240;
function dataset(): ColumnarDataset {
  const r = new wm.Random(3);
  const user = Int32Array.from({ length: ROWS }, () => r.int(11));
  const item = Int32Array.from({ length: ROWS }, () => r.int(7));
  const price = Float32Array.from({ length: ROWS }, () => r.normal());
  const labels = new Float32Array(ROWS * 2);
  for (let i = 0; i < ROWS; i++) {
    const click = r.uniform() < 0.3 + 0.2 * Math.tanh(price[i]) ? 1 : 0;
    labels[2 * i] = click;
    labels[2 * i + 1] = click && r.uniform() < 0.4 ? 1 : 0;
  }
  return new ColumnarDataset({ user, item, price }, labels, ['click', 'purchase']);
}
const data = dataset();

/** Dropout in the experts and the towers: every train-mode forward draws four mask seeds from the global stream. */
function model(): MMoE {
  seed(4);
  return new MMoE({
    features: [
      new SparseFeature({ name: 'user', vocabSize: 11, embedDim: 3 }),
      new SparseFeature({ name: 'item', vocabSize: 7, embedDim: 3 }),
      new DenseFeature('price'),
    ],
    taskTypes: ['classification', 'classification'],
    taskNames: ['click', 'purchase'],
    nExpert: 3,
    expertParams: { dims: [8, 6], dropout: 0.3 },
    towerParamsList: [
      { dims: [4], dropout: 0.25 },
      { dims: [4], dropout: 0.25 },
    ],
  });
}

async function run(inspectEvery?: number) {
  const stepLosses: number[][] = [];
  const trainer = new MTLTrainer(model(), {
    nEpoch: 2,
    optimizerParams: { lr: 1e-2 },
    device: 'cpu',
    progress: 'none',
    seed: 9,
    inspectEvery,
    onProgress: (e) => stepLosses.push([e.stepLosses.click, e.stepLosses.purchase]),
  });
  const history = await trainer.fit(new DataLoader(data, { batchSize: 48, shuffle: true, seed: 2 }));
  // Bit patterns of every parameter and buffer (running statistics included), in stateDict order.
  const state = Object.entries(trainer.model.stateDict()).map(([name, t]) => {
    const v = t.dataSync();
    return [name, Array.from(new Uint32Array(v.buffer, v.byteOffset, v.length))] as const;
  });
  return { state, history, stepLosses, next: globalRng().nextUint32() };
}

describe('the gradient inspector does not change training (dropout > 0)', () => {
  it('a run with inspectEvery: 1 ends on the bit-identical state of the same run without inspection', async () => {
    const plain = await run();
    const inspected = await run(1);
    expect(inspected.history.gradients).toHaveLength(plain.stepLosses.length);
    expect(plain.stepLosses.length).toBe(10);
    expect(inspected.stepLosses).toEqual(plain.stepLosses);
    expect(inspected.state).toEqual(plain.state);
    // And the global stream is left where the uninspected run left it.
    expect(inspected.next).toBe(plain.next);

    // The inspector's forward used the same dropout masks as the step it inspected (the one that
    // follows it on the same batch with the same parameters): the same losses.
    inspected.history.gradients.forEach(({ step, report }) => {
      expect(report.tasks).toEqual(['click', 'purchase']);
      report.losses.forEach((l, k) => {
        const want = plain.stepLosses[step][k];
        expect(Math.abs(l - want), `step ${step} task ${k}: inspector ${l}, training ${want}`).toBeLessThanOrEqual(1e-6 * Math.abs(want));
      });
    });
  });

  it('inspectGradients alone leaves the global generator where it was, and a second call reports the same', async () => {
    const m = model();
    m.train();
    const loader = new DataLoader(data, { batchSize: 32 });
    const batch = [...loader][0];
    seed(17);
    const before = globalRng().getState();
    const first = await inspectGradients(m, batch);
    expect(globalRng().getState()).toEqual(before);
    const second = await inspectGradients(m, batch);
    expect(second).toEqual(first);
    // Dropout is on: another draw of the stream gives other masks, so other losses.
    globalRng().nextUint32();
    const shifted = await inspectGradients(m, batch);
    expect(shifted.losses).not.toEqual(first.losses);
  });
});
