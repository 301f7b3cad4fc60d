// importTorchRechub is strict and all-or-nothing; torchRechubModel refuses what it does not know; int64
// buffers (torch's num_batches_tracked) load; AITM's calibrator is the paper's term and the trainer adds it.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { DataLoader } from '../src/data/loader.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import * as wm from '../src/index.js';

wm.setBackend(new CpuBackend());
const ROOT = new URL('../../shared/parity/', import.meta.url).pathname;
const HAVE_FIXTURES = existsSync(ROOT);
if (!HAVE_FIXTURES && process.env.CI === 'true') throw new Error(`torch-rechub fixtures not found at ${ROOT}; CI must run them`);
const config = (HAVE_FIXTURES ? JSON.parse(readFileSync(`${ROOT}MMOE/config.json`, 'utf8')) : null) as wm.TorchRechubModelSpec;
const state = HAVE_FIXTURES ? wm.decodeSafetensors(readFileSync(`${ROOT}MMOE/state_dict.safetensors`)).tensors : {};
const values = (m: wm.MultiTaskModel) => Object.values(m.stateDict()).map((t) => Array.from(t.dataSync()));

describe.skipIf(!HAVE_FIXTURES)('importTorchRechub', () => {
  it('lists every missing, unexpected, mis-shaped, mistyped and non-finite tensor, and changes nothing', () => {
    const model = wm.torchRechubModel(config);
    const before = values(model);
    const bad: wm.TorchStateDict = { ...state };
    delete bad['gates.1.mlp.0.bias'];
    bad['gates.9.mlp.0.weight'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    bad['experts.2.mlp.0.weight'] = { dtype: 'F32', shape: [100, 16], data: new Float32Array(1600) };
    const nan = new Float32Array(state['towers.0.mlp.4.weight'].data);
    nan[3] = Number.NaN;
    bad['towers.0.mlp.4.weight'] = { ...state['towers.0.mlp.4.weight'], data: nan };
    bad['towers.1.mlp.0.bias'] = { dtype: 'I32', shape: [8], data: new Int32Array(8) };
    let error: unknown;
    try {
      wm.importTorchRechub(model, bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(wm.TorchRechubError);
    const problems = (error as wm.TorchRechubError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        "missing 'gates.1.mlp.0.bias' [4]",
        "unexpected 'gates.9.mlp.0.weight' [1]",
        "'experts.2.mlp.0.weight': torch-rechub's shape is [100, 16], this model's [16, 100]",
        "'towers.0.mlp.4.weight' has 1 non-finite value(s), the first at flat index 3 (NaN)",
        "'towers.1.mlp.0.bias' is I32; expected F32 (float32)",
      ]),
    );
    expect(problems).toHaveLength(5);
    expect((error as Error).message).toMatch(/nothing was loaded/);
    expect(values(model)).toEqual(before);
  });

  it('places a torch Linear weight [out, in] into ours [in, out], and expert e into slot e of the stack', () => {
    const model = wm.torchRechubModel(config) as wm.MMoE;
    wm.importTorchRechub(model, state);
    const torchW = state['experts.2.mlp.0.weight'].data; // [16, 100]
    const ours = model.experts.layers[0].weight.dataSync(); // [4, 100, 16]
    for (const [o, i] of [
      [0, 0],
      [5, 17],
      [15, 99],
    ])
      expect(ours[2 * 1600 + i * 16 + o]).toBe(torchW[o * 100 + i]);
    expect(Array.from(model.gates[1].bn.runningVar.dataSync())).toEqual(Array.from(state['gates.1.mlp.1.running_var'].data));
  });

  it('reads int64 buffers (torch saves num_batches_tracked as int64) from safetensors bytes', async () => {
    const model = wm.torchRechubModel(config);
    wm.importTorchRechub(model, state);
    const dict = await wm.exportTorchRechub(model);
    dict['gates.0.mlp.1.num_batches_tracked'] = { dtype: 'I32', shape: [], data: Int32Array.of(7) };
    const bytes = wm.encodeSafetensors(dict);
    // Rewrite that one I32 scalar as I64 the way torch would: 8 bytes, header updated.
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))));
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const [name, meta] of Object.entries(json) as [string, { dtype: string; data_offsets: [number, number] }][]) {
      if (name === '__metadata__') continue;
      let data = bytes.subarray(dataStart + meta.data_offsets[0], dataStart + meta.data_offsets[1]);
      if (name.endsWith('num_batches_tracked')) {
        const wide = new Uint8Array(8);
        new DataView(wide.buffer).setBigInt64(0, BigInt(new DataView(data.buffer, data.byteOffset, 4).getInt32(0, true)), true);
        data = wide;
        meta.dtype = 'I64';
      }
      meta.data_offsets = [offset, offset + data.length];
      offset += data.length;
      chunks.push(data);
    }
    let header = new TextEncoder().encode(JSON.stringify(json));
    header = Uint8Array.from([...header, ...Array((8 - (header.length % 8)) % 8).fill(0x20)]);
    const out = new Uint8Array(8 + header.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
    out.set(header, 8);
    let at = 8 + header.length;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    const again = wm.torchRechubModel(config) as wm.MMoE;
    wm.importTorchRechub(again, out);
    expect(again.gates[0].bn.numBatchesTracked).toBe(7);
    expect(values(again)).toEqual(values(model));
  });
});

describe.skipIf(!HAVE_FIXTURES)('torchRechubModel', () => {
  it('refuses unknown classes and arguments, and feature names it was not given', async () => {
    expect(() => wm.torchRechubModel({ ...config, class: 'OMOE' })).toThrow(
      /unknown torch-rechub class 'OMOE'; known: MMOE, PLE, SharedBottom, ESMM, AITM \(OMoE has no torch-rechub class\)/,
    );
    expect(() => wm.torchRechubModel({ ...config, class: 'toString' })).toThrow(wm.TorchRechubError);
    expect(() =>
      wm.torchRechubModel({ ...config, features: [{ ...config.features[0], embedding_dim: 8 }, ...config.features.slice(1)] } as never),
    ).toThrow(/feature '101': unknown option 'embedding_dim'/);
    await expect(wm.exportTorchRechub(wm.torchRechubModel(config), { gradient: true } as never)).rejects.toThrow(
      /exportTorchRechub: unknown option 'gradient' \(did you mean 'gradients'\?\)/,
    );
    expect(() => wm.torchRechubModel({ ...config, constructor_args: { ...config.constructor_args, n_experts: 4 } })).toThrow(
      /MMOE has no argument 'n_experts'/,
    );
    expect(() => wm.torchRechubModel({ ...config, features: config.features.slice(1) })).toThrow(
      /names feature '101', which 'features' does not declare/,
    );
  });

  it('OMoE has no torch-rechub counterpart: export says so', async () => {
    const omoe = new wm.OMoE({
      features: [new SparseFeature({ name: 'a', vocabSize: 3, embedDim: 2 })],
      numTasks: 2,
      nExpert: 2,
      expertParams: { dims: [3] },
      towerParamsList: [{ dims: [2] }, { dims: [2] }],
    });
    await expect(wm.exportTorchRechub(omoe)).rejects.toThrow(/OMoE has no torch-rechub counterpart/);
  });
});

describe("AITM's behavioural-expectation calibrator (Xi et al. 2021)", () => {
  const features = () => [new SparseFeature({ name: 'a', vocabSize: 5, embedDim: 3 }), new DenseFeature('d')];
  const aitm = (opts: Partial<wm.AITMOptions> = {}) =>
    new wm.AITM({
      features: features(),
      nTask: 3,
      bottomParams: { dims: [4] },
      towerParamsList: [{ dims: [3] }, { dims: [3] }, { dims: [3] }],
      ...opts,
    });

  it('is α · mean over rows of Σ_t max(ŷ_t − ŷ_{t−1}, 0), α = 0.6 by default, off with calibratorWeight 0', async () => {
    const out = wm.fromArray(Float32Array.of(0.5, 0.7, 0.2, /**/ 0.9, 0.3, 0.4, /**/ 0.1, 0.2, 0.6), [3, 3]);
    // Row 0: 0.2 + 0 ; row 1: 0 + 0.1 ; row 2: 0.1 + 0.4 → mean 0.8 / 3.
    const model = aitm();
    expect(model.calibratorWeight).toBe(wm.AITM_CALIBRATOR_WEIGHT);
    expect(wm.AITM_CALIBRATOR_WEIGHT).toBe(0.6);
    expect((await model.auxiliaryLoss(out)!.data())[0]).toBeCloseTo((0.6 * 0.8) / 3, 6);
    expect((await aitm({ calibratorWeight: 2.5 }).auxiliaryLoss(out)!.data())[0]).toBeCloseTo((2.5 * 0.8) / 3, 6);
    expect(aitm({ calibratorWeight: 0 }).auxiliaryLoss(out)).toBeNull();
    expect(() => aitm({ calibratorWeight: -1 })).toThrow(/calibratorWeight must be a finite number ≥ 0/);
    expect(() => aitm({ taskTypes: ['classification', 'regression', 'classification'], calibratorWeight: 0.6 })).toThrow(
      /every task must be a classification task/,
    );
    expect(aitm({ taskTypes: ['classification', 'regression', 'classification'] }).calibratorWeight).toBe(0);
  });

  it('MTLTrainer adds its gradient: one SGD step equals a hand step on mean BCE + calibrator', async () => {
    const rows = 12;
    const r = new wm.Random(4);
    const x = { a: Int32Array.from({ length: rows }, () => r.int(5)), d: Float32Array.from({ length: rows }, () => r.normal()) };
    const y = Float32Array.from({ length: rows * 3 }, () => (r.uniform() < 0.5 ? 1 : 0));
    wm.seed(9);
    const model = aitm({ calibratorWeight: 3 });
    const start = model.stateDict();
    const initial = Object.fromEntries(Object.entries(start).map(([n, t]) => [n, wm.fromArray(t.dataSync().slice(), t.shape)]));
    const trainer = new wm.MTLTrainer(model, {
      nEpoch: 1,
      optimizer: 'sgd',
      optimizerParams: { lr: 0.5 },
      device: 'cpu',
      progress: 'none',
    });
    await trainer.fit(new DataLoader(new wm.ColumnarDataset(x, y, ['task0', 'task1', 'task2']), { batchSize: rows }));

    // The same step by hand, from the same initial values.
    wm.seed(9);
    const twin = aitm({ calibratorWeight: 3 });
    twin.loadStateDict(initial);
    twin.train();
    const batch = { a: wm.fromArray(x.a, [rows]), d: wm.fromArray(x.d, [rows]) };
    const labels = wm.fromArray(y, [rows, 3]);
    const out = twin.forward(batch);
    const col = (t: wm.Tensor, j: number) => wm.reshape(wm.slice(t, [0, j], [rows, 1]), [rows]);
    const bce = [0, 1, 2].map((j) => wm.binaryCrossEntropy(col(out, j), col(labels, j)));
    const loss = wm.add(
      wm.mul(
        bce.reduce((a, b) => wm.add(a, b)),
        1 / 3,
      ),
      twin.auxiliaryLoss(out)!,
    );
    wm.backward(loss);
    new wm.SGD(twin.parameters(), { lr: 0.5 }).step();
    const want = Object.fromEntries(twin.namedParameters().map(([n, p]) => [n, Array.from(p.dataSync())]));
    for (const [n, p] of model.namedParameters()) {
      const got = p.dataSync();
      want[n].forEach((v, i) => expect(Math.abs(got[i] - v), `${n}[${i}]`).toBeLessThan(1e-6));
    }
    // And the calibrator term moved something: without it the step differs.
    expect(twin.auxiliaryLoss(out)).not.toBeNull();
  });
});
