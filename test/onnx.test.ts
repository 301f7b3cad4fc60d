// exportOnnx: every model (and the variants whose graphs differ: BatchNorm statistics, sequence
// poolings with padding, shared tables, regression tasks, sigmoid gates, PLE levels, every activation)
// exported, run in onnxruntime-node at batch 1 and 37 and compared with model.predict on the CPU
// backend; the files pass onnx's checker with shape inference (python3-onnx); bad models and options
// are OnnxExportErrors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { DenseFeature, type Feature, SequenceFeature, SparseFeature } from '../src/features.js';
import { exportOnnx, OnnxExportError } from '../src/io/onnx/index.js';
import { AITM, ESMM, MMoE, type MultiTaskModel, OMoE, PLE, SharedBottom } from '../src/models/index.js';
import { createModel } from '../src/models/registry.js';
import * as wm from '../src/tensor/index.js';

wm.setBackend(new CpuBackend());

/** The python with onnx (Debian: apt-get install python3-onnx); WEBMTL_PYTHON points elsewhere. */
const PYTHON = process.env.WEBMTL_PYTHON ?? '/usr/bin/python3';

// ---- models -----------------------------------------------------------------------------------------

/** Sparse ids, a shared table, every sequence pooling (with and without padding ids) and dense values. */
const features = (): Feature[] => [
  new SparseFeature({ name: 'user', vocabSize: 11, embedDim: 3 }),
  new SparseFeature({ name: 'item', vocabSize: 7, embedDim: 3 }),
  new SequenceFeature({ name: 'history', vocabSize: 7, embedDim: 3, sharedWith: 'item', pooling: 'mean', paddingIdx: 0 }),
  new SequenceFeature({ name: 'clicks', vocabSize: 5, embedDim: 2, pooling: 'sum', paddingIdx: 0 }),
  new SequenceFeature({ name: 'tags', vocabSize: 6, embedDim: 2, pooling: 'concat', maxLen: 4 }),
  new SequenceFeature({ name: 'queries', vocabSize: 9, embedDim: 2, pooling: 'mean' }),
  new DenseFeature('price'),
  new DenseFeature('age'),
];
const SEQ_LEN = 4;

const two = ['classification', 'classification'] as const;
const MODELS: Record<string, () => MultiTaskModel> = {
  'SharedBottom (prelu bottom, dice / leakyrelu towers, regression task)': () =>
    new SharedBottom({
      features: features(),
      taskTypes: ['classification', 'regression'],
      bottomParams: { dims: [8, 6], activation: 'prelu', dropout: 0.2 },
      towerParamsList: [
        { dims: [5], activation: 'dice' },
        { dims: [4], activation: 'leakyrelu' },
      ],
    }),
  'MMoE (softmax gates, dice experts, tanh towers)': () =>
    new MMoE({
      features: features(),
      taskTypes: [...two],
      nExpert: 3,
      expertParams: { dims: [6, 5], activation: 'dice', dropout: 0.1 },
      towerParamsList: [
        { dims: [4], activation: 'tanh' },
        { dims: [3], activation: 'tanh' },
      ],
    }),
  'MMoE (sigmoid gates, prelu experts, sigmoid towers, three tasks)': () =>
    new MMoE({
      features: features(),
      taskTypes: ['classification', 'regression', 'classification'],
      nExpert: 4,
      expertParams: { dims: [5], activation: 'prelu' },
      towerParamsList: [{ dims: [4], activation: 'sigmoid' }, { dims: [3], activation: 'sigmoid' }, { dims: [] }],
      gateActivation: 'sigmoid',
    }),
  'OMoE (leakyrelu experts, softmax towers)': () =>
    new OMoE({
      features: features(),
      taskTypes: [...two],
      nExpert: 3,
      expertParams: { dims: [5], activation: 'leakyrelu' },
      towerParamsList: [
        { dims: [4], activation: 'softmax' },
        { dims: [4], activation: 'linear' },
      ],
    }),
  'OMoE (sigmoid gate)': () =>
    new OMoE({ features: features(), taskTypes: [...two], nExpert: 2, expertParams: { dims: [4] }, gateActivation: 'sigmoid' }),
  'PLE (2 levels)': () =>
    new PLE({
      features: features(),
      taskTypes: ['classification', 'regression'],
      nLevel: 2,
      nExpertSpecific: 2,
      nExpertShared: 1,
      expertParams: { dims: [5, 4] },
    }),
  'PLE (3 levels, 3 tasks, no shared experts, tanh)': () =>
    new PLE({
      features: features(),
      taskTypes: ['classification', 'classification', 'classification'],
      nLevel: 3,
      nExpertSpecific: 2,
      nExpertShared: 0,
      expertParams: { dims: [4], activation: 'tanh' },
    }),
  'PLE (CGC, one level)': () =>
    new PLE({ features: features(), taskTypes: [...two], nExpertSpecific: 1, nExpertShared: 2, expertParams: { dims: [4] } }),
  'ESMM (user and item groups, dense in both)': () => {
    const [user, item, history, clicks, tags, queries, price, age] = features();
    return new ESMM({
      userFeatures: [user, price, clicks, queries],
      itemFeatures: [age, item, history, tags],
      cvrParams: { dims: [6, 4] },
      ctrParams: { dims: [5], activation: 'sigmoid' },
    });
  },
  'AITM (three tasks)': () =>
    new AITM({
      features: features(),
      nTask: 3,
      bottomParams: { dims: [6, 5] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }, { dims: [3] }],
    }),
  'AITM (regression task, two tasks)': () =>
    new AITM({ features: features(), taskTypes: ['classification', 'regression'], bottomParams: { dims: [4] }, calibratorWeight: 0 }),
};

/** The CLI presets (createModel), on a small Ali-CCP-like schema with a sequence column. */
const SCHEMA = {
  vocabSizes: { user: 20, item: 15, cate: 6, hist: 15 },
  sparseColumns: ['user', 'item', 'cate'],
  denseColumns: ['price'],
  itemColumns: ['item', 'cate'],
  sequenceColumns: ['hist'],
  labelColumns: ['click', 'purchase'],
};
for (const name of ['sharedbottom', 'mmoe', 'omoe', 'ple', 'esmm', 'aitm'])
  MODELS[`createModel('${name}')`] = () => createModel(name, SCHEMA);

// ---- weights, statistics and batches --------------------------------------------------------------

/**
 * Every parameter and buffer drawn at random, so that the comparison sees every value: embeddings and
 * weights in [-1, 1) (matrices scaled by 2.5/√fan-in, so that deep models keep their signal), BatchNorm
 * scales in [0.5, 1.5), running means in [-0.5, 0.5) and variances in [0.3, 2.3), slopes and Dice's
 * α in [-1, 1).
 */
function randomize(model: MultiTaskModel, seed: number): void {
  const r = new wm.Random(seed);
  const state: Record<string, wm.Tensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    const fanIn = /embed\./.test(name) || t.rank < 2 ? 1 : t.shape[t.rank - 2];
    const draw = /running_var$/.test(name)
      ? () => 0.3 + 2 * r.uniform()
      : /running_mean$/.test(name)
        ? () => r.uniform() - 0.5
        : /bn\.weight$/.test(name)
          ? () => 0.5 + r.uniform()
          : () => (2 * r.uniform() - 1) * (fanIn > 1 ? 2.5 / Math.sqrt(fanIn) : 1);
    state[name] = wm.fromArray(Float32Array.from({ length: t.size }, draw), t.shape);
  }
  model.loadStateDict(state);
}

/** Valid ids over each vocabulary (sequences with padding ids, some rows all padding), dense values ~ N(0, 1). */
function batch(model: MultiTaskModel, n: number, seed: number): { webmtl: Record<string, wm.Tensor>; ort: Record<string, ort.Tensor> } {
  const r = new wm.Random(seed);
  const webmtl: Record<string, wm.Tensor> = {};
  const feeds: Record<string, ort.Tensor> = {};
  for (const f of model.features) {
    if (f.kind === 'dense') {
      const v = Float32Array.from({ length: n }, () => r.normal());
      webmtl[f.name] = wm.fromArray(v, [n]);
      feeds[f.name] = new ort.Tensor('float32', v, [n]);
      continue;
    }
    const len = f.kind === 'sequence' ? (f.maxLen ?? SEQ_LEN) : 1;
    const ids = Int32Array.from({ length: n * len }, (_, i) => {
      const row = Math.floor(i / len);
      if (f.kind === 'sequence' && f.paddingIdx !== undefined && row % 5 === 3) return f.paddingIdx; // a row of padding only
      return r.uniform() < 0.3 ? 0 : r.int(f.vocabSize);
    });
    const shape = f.kind === 'sequence' ? [n, len] : [n];
    webmtl[f.name] = wm.fromArray(ids, shape);
    feeds[f.name] = new ort.Tensor(
      'int64',
      BigInt64Array.from(ids, (v) => BigInt(v)),
      shape,
    );
  }
  return { webmtl, ort: feeds };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

// ---- the ONNX checker (python3-onnx) -------------------------------------------------------------

const hasOnnx = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
const requireChecker = process.env.WEBMTL_REQUIRE_ONNX_CHECKER === '1';

/**
 * onnx.checker.check_model(full_check=True) (shape inference included) on each file, and what the
 * file says: producer, IR version, opset, metadata, inputs and outputs with their shapes.
 */
const CHECK_SCRIPT = `
import json, sys, onnx
out = {}
for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    shape = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    out[path] = {
        'producer': m.producer_name, 'ir': m.ir_version, 'opset': [o.version for o in m.opset_import if o.domain == ''],
        'metadata': {p.key: p.value for p in m.metadata_props},
        'inputs': {v.name: [v.type.tensor_type.elem_type, shape(v)] for v in m.graph.input},
        'outputs': {v.name: [v.type.tensor_type.elem_type, shape(v)] for v in m.graph.output},
        'ops': sorted({n.op_type for n in m.graph.node}),
    }
print(json.dumps(out))
`;

interface CheckedFile {
  producer: string;
  ir: number;
  opset: number[];
  metadata: Record<string, string>;
  inputs: Record<string, [number, (string | number)[]]>;
  outputs: Record<string, [number, (string | number)[]]>;
  ops: string[];
}

// ---- the tests ------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'webmtl-onnx-'));
const exported = new Map<string, { file: string; model: MultiTaskModel }>();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exportOnnx matches model.predict in onnxruntime', () => {
  Object.entries(MODELS).forEach(([name, build], k) => {
    it(name, async () => {
      const model = build();
      randomize(model, 100 + k);
      const bytes = await exportOnnx(model);
      const file = join(dir, `model${k}.onnx`);
      writeFileSync(file, bytes);
      exported.set(name, { file, model });
      const session = await ort.InferenceSession.create(bytes);
      expect(session.outputNames).toEqual(['scores']);
      expect([...session.inputNames].sort()).toEqual(model.features.map((f) => f.name).sort());
      for (const n of [1, 37]) {
        const x = batch(model, n, 7 * k + n);
        const ref = model.predict(x.webmtl);
        expect(ref.shape).toEqual([n, model.nTask]);
        const got = (await session.run(x.ort)).scores;
        expect(got.dims).toEqual([n, model.nTask]);
        const want = ref.dataSync() as Float32Array;
        expect(maxAbsDiff(got.data as Float32Array, want)).toBeLessThan(1e-5);
        // A weak comparison would pass on near-constant outputs: every column must vary over the batch.
        if (n > 1)
          for (let t = 0; t < model.nTask; t++) {
            const col = Array.from({ length: n }, (_, i) => want[i * model.nTask + t]);
            expect(Math.max(...col) - Math.min(...col), `${name}: output ${t} barely varies`).toBeGreaterThan(1e-3);
          }
      }
      await session.release();
    });
  });

  it('BatchNorm running statistics from training-mode forwards, exported from a model left in training mode', async () => {
    const model = new MMoE({
      features: features(),
      taskTypes: [...two],
      nExpert: 3,
      expertParams: { dims: [6] },
      towerParamsList: [{ dims: [4] }, { dims: [4] }],
    });
    randomize(model, 5);
    model.train();
    for (let step = 0; step < 4; step++) wm.noGrad(() => model.forward(batch(model, 16, 50 + step).webmtl));
    const means = model.experts.layers[0].bn.runningMean.dataSync() as Float32Array;
    expect(means.some((v) => Math.abs(v) > 0.01)).toBe(true);
    const bytes = await exportOnnx(model);
    expect(model.training).toBe(true);
    const session = await ort.InferenceSession.create(bytes);
    const x = batch(model, 37, 3);
    const got = (await session.run(x.ort)).scores.data as Float32Array;
    expect(maxAbsDiff(got, model.predict(x.webmtl).dataSync())).toBeLessThan(1e-5);
  });

  it('a model on the wasm backend exports the same bytes (weights read back asynchronously)', async () => {
    const model = MODELS['PLE (2 levels)']();
    randomize(model, 11);
    const onCpu = await exportOnnx(model);
    await model.to(await createWasmBackend());
    expect(model.backend?.name).toBe('wasm');
    expect(await exportOnnx(model)).toEqual(onCpu);
  });

  it('options: output name, batch dimension, opset 13', async () => {
    const model = MODELS['OMoE (sigmoid gate)']();
    randomize(model, 9);
    const bytes = await exportOnnx(model, { outputName: 'probs', batchDim: 'N', opset: 13, metadata: { owner: 'ranking' } });
    const session = await ort.InferenceSession.create(bytes);
    expect(session.outputNames).toEqual(['probs']);
    const x = batch(model, 3, 1);
    expect(maxAbsDiff((await session.run(x.ort)).probs.data as Float32Array, model.predict(x.webmtl).dataSync())).toBeLessThan(1e-5);
    if (hasOnnx) {
      const file = join(dir, 'options.onnx');
      writeFileSync(file, bytes);
      const info = runChecker([file])[file];
      expect(info.opset).toEqual([13]);
      expect(info.outputs).toEqual({ probs: [1, ['N', 2]] });
      expect(info.metadata.owner).toBe('ranking');
    }
  });
});

function runChecker(files: string[]): Record<string, CheckedFile> {
  const r = spawnSync(PYTHON, ['-c', CHECK_SCRIPT, ...files], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`onnx.checker failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('the ONNX checker (python3-onnx, full_check with shape inference)', () => {
  beforeAll(() => {
    if (!hasOnnx && requireChecker)
      throw new Error(`WEBMTL_REQUIRE_ONNX_CHECKER=1 but ${PYTHON} cannot import onnx; apt-get install python3-onnx`);
  });

  it.skipIf(!hasOnnx && !requireChecker)('accepts every exported model, and the files say what they hold', () => {
    expect(exported.size).toBe(Object.keys(MODELS).length);
    const infos = runChecker([...exported.values()].map((e) => e.file));
    for (const [name, { file, model }] of exported) {
      const info = infos[file];
      expect(info.producer, name).toBe('webmtl');
      expect(info.ir).toBe(8);
      expect(info.opset).toEqual([17]);
      expect(JSON.parse(info.metadata['webmtl.tasks'])).toEqual(model.taskNames.map((n, i) => ({ name: n, type: model.taskTypes[i] })));
      expect(info.metadata['webmtl.model']).toBe(model.constructor.name);
      expect(info.outputs).toEqual({ scores: [1, ['batch', model.nTask]] });
      for (const f of model.features) {
        const want =
          f.kind === 'dense' ? [1, ['batch']] : f.kind === 'sparse' ? [7, ['batch']] : [7, ['batch', f.maxLen ?? `${f.name}_len`]];
        expect(info.inputs[f.name], `${name}: input ${f.name}`).toEqual(want);
      }
      expect(info.ops).not.toContain('Dropout');
      expect(info.ops).not.toContain('BatchNormalization');
    }
  });
});

describe('what exportOnnx refuses', () => {
  const model = () => MODELS['OMoE (sigmoid gate)']();
  const refuses = async (run: () => Promise<unknown>, message: RegExp) => {
    const error = await run().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OnnxExportError);
    expect((error as Error).name).toBe('OnnxExportError');
    expect((error as Error).message).toMatch(message);
  };

  it('unknown options, with the near miss', async () => {
    await refuses(() => exportOnnx(model(), { outputname: 'x' } as never), /unknown option 'outputname' \(did you mean 'outputName'\?\)/);
  });
  it('opsets outside 13..17', async () => {
    await refuses(() => exportOnnx(model(), { opset: 18 }), /opset must be a whole number from 13 to 17/);
    await refuses(() => exportOnnx(model(), { opset: 12 }), /opset must be/);
  });
  it('an output named like a feature, empty names, reserved or non-string metadata', async () => {
    await refuses(() => exportOnnx(model(), { outputName: 'price' }), /output name 'price' is also a feature's name/);
    await refuses(() => exportOnnx(model(), { batchDim: '' }), /batchDim must be a non-empty string/);
    await refuses(() => exportOnnx(model(), { metadata: { 'webmtl.tasks': '[]' } }), /reserved/);
    await refuses(() => exportOnnx(model(), { metadata: { n: 3 as unknown as string } }), /must be a string/);
  });
  it('what is not one of the six models (a subclass may compute something else)', async () => {
    await refuses(() => exportOnnx({} as MultiTaskModel), /expected a multi-task model/);
    class Tweaked extends MMoE {}
    const tweaked = new Tweaked({ features: features(), taskTypes: [...two], nExpert: 2, expertParams: { dims: [3] } });
    await refuses(() => exportOnnx(tweaked), /no ONNX graph for Tweaked; exportOnnx writes SharedBottom, MMoE, OMoE, PLE, ESMM, AITM/);
  });
});
