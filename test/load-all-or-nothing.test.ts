// Loading is all-or-nothing: a checkpoint (or a state dict) with any problem is refused with an error
// that names the problem, and the model's parameters and buffers, the optimizer's state, the
// scheduler's and the strategy's are byte for byte what they were. Each case below corrupts one
// thing in an otherwise good checkpoint (the file is decoded, changed and re-encoded).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';
import { UWL } from '../src/mtl/index.js';
import { BatchNorm1d, Linear, Module } from '../src/nn/index.js';
import { Adagrad, Adam, CosineAnnealingLR, type Optimizer, SGD, StepLR } from '../src/optim/index.js';
import type { LRScheduler } from '../src/optim/scheduler.js';
import * as wm from '../src/tensor/index.js';

class Tiny extends Module {
  readonly fc: Linear;
  readonly bn: BatchNorm1d;
  constructor() {
    super();
    this.fc = this.child('fc', new Linear(3, 4));
    this.bn = this.child('bn', new BatchNorm1d(4));
  }
  forward(x: wm.Tensor): wm.Tensor {
    return this.bn.forward(this.fc.forward(x));
  }
}

function trainStep(m: Tiny, opt: Optimizer, scale = 1): void {
  wm.tidy(() => {
    opt.zeroGrad();
    const x = wm.tensor([
      [1, 2, 3],
      [0, -1, 2],
      [4, 0, 1],
    ]);
    wm.mul(wm.sum(wm.square(m.forward(x))), scale).backward();
    opt.step();
  });
}

interface Run {
  model: Tiny;
  opt: Optimizer;
  sched: LRScheduler;
  strategy: UWL;
}

/** A model, its Adam, a StepLR and a UWL, all with non-trivial state (seeded). */
function run(seed: number, steps: number): Run {
  wm.seed(seed);
  const model = new Tiny();
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const sched = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
  const strategy = new UWL({ nTask: 2 });
  for (let i = 0; i < steps; i++) trainStep(model, opt, seed);
  for (let i = 0; i < steps - 1; i++) sched.step();
  wm.noGrad(() => strategy.logVariances.forEach((s, i) => wm.assign(s, wm.tensor([0.1 * (i + seed)]))));
  return { model, opt, sched, strategy };
}

const hex = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Every byte of state a load could change, as one comparable record. */
async function fingerprint(r: Run): Promise<unknown> {
  const model: Record<string, string> = {};
  for (const [name, t] of Object.entries(r.model.stateDict())) model[name] = `${t.dtype} [${t.shape}] ${hex(await t.data())}`;
  const sd = r.opt.stateDict();
  const state: Record<string, unknown> = {};
  for (const [i, s] of Object.entries(sd.state)) {
    const buffers: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.buffers)) buffers[k] = hex(v instanceof Float32Array ? v : await v.data());
    state[i] = { step: s.step, buffers };
  }
  const lrBytes = hex(Float64Array.from(r.opt.paramGroups.flatMap((g) => [g.lr, g.weightDecay])));
  const sched = { lastEpoch: r.sched.lastEpoch, baseLrs: hex(Float64Array.from(r.sched.baseLrs)) };
  const strategy = await Promise.all(r.strategy.logVariances.map(async (t) => hex(await t.data())));
  return { model, optimizer: { type: sd.type, groups: sd.groups.map((g) => g.numParams), lrBytes, state }, sched, strategy };
}

let dir: string;
let good: string;
let goodBytes: Uint8Array;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webmtl-all-or-nothing-'));
  good = join(dir, 'good.safetensors');
  const src = run(1, 3);
  await saveCheckpoint(good, src.model, {
    metadata: { epoch: '2', step: '3' },
    optimizer: src.opt,
    scheduler: src.sched,
    strategy: src.strategy,
  });
  goodBytes = await readFile(good);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Tensors = Record<string, SafetensorsTensor>;
type Meta = Record<string, string>;

/**
 * The good checkpoint with `change` applied to its tensors and metadata. Names in `rename` are
 * swapped in the header text afterwards (same length, so the offsets hold): the encoder cannot
 * write a name such as `__proto__` itself.
 */
async function corrupted(change: (t: Tensors, m: Meta) => void, rename: Record<string, string> = {}): Promise<string> {
  const d = decodeSafetensors(goodBytes);
  const tensors: Tensors = { ...d.tensors };
  const meta: Meta = { ...d.metadata };
  change(tensors, meta);
  let bytes = encodeSafetensors(tensors, meta);
  if (Object.keys(rename).length) {
    const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    let text = new TextDecoder().decode(bytes.subarray(8, 8 + len));
    for (const [from, to] of Object.entries(rename)) {
      expect(to.length).toBe(from.length);
      expect(text.includes(`"${from}"`)).toBe(true);
      text = text.replace(`"${from}"`, `"${to}"`);
    }
    bytes = bytes.slice();
    bytes.set(new TextEncoder().encode(text), 8);
  }
  const file = join(dir, `bad-${n++}.safetensors`);
  await writeFile(file, bytes);
  return file;
}

const mapJson = (m: Meta, key: string, f: (v: Record<string, unknown>) => void): void => {
  const v = JSON.parse(m[key]);
  f(v);
  m[key] = JSON.stringify(v);
};

/** Loads `file` into a trained target (model, Adam, StepLR, UWL) and checks it fails with `message` and changes nothing. */
async function refused(file: string, message: RegExp, opts: { countFields?: string[] } = {}): Promise<void> {
  const target = run(7, 2);
  const before = await fingerprint(target);
  const load = loadCheckpoint(file, target.model, { optimizer: target.opt, scheduler: target.sched, strategy: target.strategy, ...opts });
  await expect(load).rejects.toThrow(message);
  expect(await fingerprint(target)).toEqual(before);
}

describe('a checkpoint with any problem is refused and changes nothing', () => {
  it('the good checkpoint loads (control)', async () => {
    const target = run(7, 2);
    const before = await fingerprint(target);
    const info = await loadCheckpoint(good, target.model, {
      optimizer: target.opt,
      scheduler: target.sched,
      strategy: target.strategy,
      countFields: ['epoch', 'step'],
    });
    expect(info.metadata).toEqual({ epoch: '2', step: '3' });
    expect(await fingerprint(target)).not.toEqual(before);
    expect(await fingerprint(target)).toEqual(await fingerprint(run(1, 3)));
  });

  // -- optimizer moments ------------------------------------------------------------------------
  it('a missing Adam moment', async () => {
    const file = await corrupted((t) => delete t['__optimizer__.0.exp_avg_sq']);
    await refused(file, /parameter #0 \('fc\.weight'.*\): missing 'exp_avg_sq'/);
  });

  it('a missing Adam moment of another parameter', async () => {
    // The issue's case: with exp_avg_sq zero, the next step divides by eps.
    const file = await corrupted((t) => delete t['__optimizer__.1.exp_avg_sq']);
    await refused(file, /missing 'exp_avg_sq'/);
  });

  it('an extra moment (a state this optimizer does not keep)', async () => {
    const file = await corrupted((t) => (t['__optimizer__.0.momentum_buffer'] = { ...t['__optimizer__.0.exp_avg'] }));
    await refused(file, /parameter #0.*'momentum_buffer'.*Adam keeps exp_avg, exp_avg_sq/);
  });

  it('moments for a parameter without a step count', async () => {
    const file = await corrupted((_t, m) => mapJson(m, 'webmtl.optimizer', (h) => delete (h.steps as Record<string, number>)['2']));
    await refused(file, /parameter #2.*no step count/);
  });

  it('a moment with the right number of values but the wrong shape', async () => {
    const file = await corrupted((t) => (t['__optimizer__.0.exp_avg'] = { ...t['__optimizer__.0.exp_avg'], shape: [4, 3] }));
    await refused(file, /parameter #0 'exp_avg'.*\[4, 3\].*\[3, 4\]/);
  });

  it('a moment with the wrong number of values', async () => {
    const file = await corrupted((t) => (t['__optimizer__.1.exp_avg'] = { dtype: 'F32', shape: [5], data: new Float32Array(5) }));
    await refused(file, /parameter #1 'exp_avg'.*\[5\].*\[4\]/);
  });

  it('a moment stored as I32', async () => {
    const file = await corrupted((t) => (t['__optimizer__.0.exp_avg'] = { dtype: 'I32', shape: [3, 4], data: new Int32Array(12) }));
    await refused(file, /'__optimizer__\.0\.exp_avg'.*I32.*F32/);
  });

  // -- step counts ------------------------------------------------------------------------------
  for (const [what, step] of [
    ['negative', -1],
    ['fractional', 1.5],
    ['null (NaN in JSON)', null],
    ['a string', '3'],
  ] as const) {
    it(`an optimizer step count that is ${what}`, async () => {
      const file = await corrupted((_t, m) => mapJson(m, 'webmtl.optimizer', (h) => ((h.steps as Record<string, unknown>)['0'] = step)));
      await refused(file, /parameter #0.*step .* is not a non-negative integer/);
    });
  }

  // -- scheduler --------------------------------------------------------------------------------
  it('a scheduler state of another type', async () => {
    const file = await corrupted((_t, m) => mapJson(m, 'webmtl.scheduler', (s) => (s.type = 'CosineAnnealingLR')));
    await refused(file, /saved by CosineAnnealingLR, this is StepLR/);
  });

  it('a scheduler whose base lrs are not positive (used to throw after the weights were replaced)', async () => {
    const file = await corrupted((_t, m) => mapJson(m, 'webmtl.scheduler', (s) => (s.baseLrs = [-0.01])));
    await refused(file, /base lrs?.*-0\.01/);
  });

  for (const [what, v] of [
    ['negative', -2],
    ['fractional', 0.5],
    ['null (NaN in JSON)', null],
    ['a string', '2'],
  ] as const) {
    it(`a scheduler lastEpoch that is ${what}`, async () => {
      const file = await corrupted((_t, m) => mapJson(m, 'webmtl.scheduler', (s) => (s.lastEpoch = v)));
      await refused(file, /lastEpoch must be an integer ≥ 0/);
    });
  }

  it('a scheduler state that is not an object', async () => {
    await refused(await corrupted((_t, m) => (m['webmtl.scheduler'] = 'null')), /scheduler state/);
    await refused(await corrupted((_t, m) => (m['webmtl.scheduler'] = '{"lastEpoch": 1')), /scheduler state header is not valid JSON/);
  });

  // -- epoch and step in the metadata -------------------------------------------------------------
  for (const [what, v] of [
    ['negative', '-1'],
    ['fractional', '1.5'],
    ['NaN', 'NaN'],
    ['empty', ''],
    ['hexadecimal', '0x10'],
    ['too large', '1e300'],
  ] as const) {
    it(`an epoch that is ${what}`, async () => {
      const file = await corrupted((_t, m) => (m.epoch = v));
      await refused(file, /'epoch' .* is not a count/, { countFields: ['epoch', 'step'] });
    });
  }
  it('a step that is negative', async () => {
    const file = await corrupted((_t, m) => (m.step = '-3'));
    await refused(file, /'step' '-3' is not a count/, { countFields: ['epoch', 'step'] });
  });

  // -- names that are Object.prototype's ---------------------------------------------------------
  it('a model tensor named __proto__', async () => {
    const file = await corrupted((t) => (t._x_proto_ = { dtype: 'F32', shape: [1], data: Float32Array.of(1) }), { _x_proto_: '__proto__' });
    await refused(file, /'__proto__'/);
  });

  for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
    it(`a model tensor named ${name}`, async () => {
      const file = await corrupted((t) => (t[name] = { dtype: 'F32', shape: [1], data: Float32Array.of(1) }));
      await refused(file, new RegExp(`unexpected '${name}'`));
    });
  }

  it('an optimizer moment named __proto__', async () => {
    const file = await corrupted((t) => (t['__optimizer__.0._x_proto_'] = { ...t['__optimizer__.0.exp_avg'] }), {
      '__optimizer__.0._x_proto_': '__optimizer__.0.__proto__',
    });
    await refused(file, /__proto__/);
  });

  it('optimizer step counts keyed __proto__ or constructor', async () => {
    await refused(
      await corrupted((_t, m) => (m['webmtl.optimizer'] = m['webmtl.optimizer'].replace('"steps":{', '"steps":{"__proto__":1,'))),
      /'__proto__'.*not a parameter index/,
    );
    await refused(
      await corrupted((_t, m) =>
        mapJson(m, 'webmtl.optimizer', (h) => {
          // biome-ignore lint/complexity/useLiteralKeys: an own key named constructor, not the prototype's
          (h.steps as Record<string, unknown>)['constructor'] = 1;
        }),
      ),
      /'constructor'.*not a parameter index/,
    );
  });

  it('a strategy state with a __proto__ key is read as a plain (unknown) field', async () => {
    const file = await corrupted(
      (_t, m) => (m['webmtl.strategy'] = m['webmtl.strategy'].replace('"state":{', '"state":{"__proto__":{"logVariances":[1,2]},')),
    );
    // UWL ignores unknown fields, so the load goes through, and nothing reached Object.prototype.
    const target = run(7, 2);
    await loadCheckpoint(file, target.model, { optimizer: target.opt, scheduler: target.sched, strategy: target.strategy });
    expect(({} as Record<string, unknown>).logVariances).toBeUndefined();
  });

  it('user metadata keys __proto__ and constructor round-trip as plain keys', async () => {
    const file = join(dir, 'proto-meta.safetensors');
    const metadata = JSON.parse('{"__proto__":"a","constructor":"b","epoch":"1"}') as Record<string, string>;
    const src = run(1, 1);
    await saveCheckpoint(file, src.model, { metadata });
    const seen: Record<string, string>[] = [];
    const info = await loadCheckpoint(file, run(2, 1).model, { checkMetadata: (m) => void seen.push(m) });
    expect(Object.getOwnPropertyDescriptor(info.metadata, '__proto__')?.value).toBe('a'); // an own key, not the prototype
    expect(Object.getPrototypeOf(info.metadata)).toBe(Object.prototype);
    expect(info.metadata.constructor).toBe('b');
    expect(Object.hasOwn(seen[0], '__proto__')).toBe(true);
  });

  // -- dtypes and shapes of the model ------------------------------------------------------------
  it('a model tensor stored as I32', async () => {
    const file = await corrupted((t) => (t['fc.weight'] = { dtype: 'I32', shape: [3, 4], data: new Int32Array(12) }));
    await refused(file, /'fc\.weight'.*f32.*I32/);
  });

  it('a model tensor with the wrong shape, a missing one and an extra one: all named at once', async () => {
    const file = await corrupted((t) => {
      t['fc.bias'] = { dtype: 'F32', shape: [5], data: new Float32Array(5) };
      delete t['bn.running_var'];
      t['fc.extra'] = { dtype: 'F32', shape: [1], data: new Float32Array(1) };
    });
    const target = run(7, 2);
    const before = await fingerprint(target);
    const error = await loadCheckpoint(file, target.model, { optimizer: target.opt }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/'fc\.bias': expected \[4\], got \[5\]/);
    expect(error?.message).toMatch(/missing 'bn\.running_var'/);
    expect(error?.message).toMatch(/unexpected 'fc\.extra'/);
    expect(await fingerprint(target)).toEqual(before);
  });

  // -- strategy ---------------------------------------------------------------------------------
  it('a malformed strategy state', async () => {
    await refused(
      await corrupted((_t, m) => mapJson(m, 'webmtl.strategy', (s) => ((s.state as Record<string, unknown>).logVariances = [1, 2, 3]))),
      /UWL state: logVariances must be a list of 2/,
    );
    await refused(
      await corrupted((_t, m) => (m['webmtl.strategy'] = '{"name":"uwl","state":[1,2]}')),
      /strategy state header is not \{ name, state \}/,
    );
    await refused(
      await corrupted((_t, m) => (m['webmtl.strategy'] = '{"name":"dwa","state":null}')),
      /balancing method 'dwa' but this trainer uses 'uwl'/,
    );
  });

  it('several problems in different parts are all listed in one error', async () => {
    const file = await corrupted((t, m) => {
      delete t['__optimizer__.0.exp_avg'];
      mapJson(m, 'webmtl.scheduler', (s) => (s.lastEpoch = -1));
      mapJson(m, 'webmtl.strategy', (s) => ((s.state as Record<string, unknown>).logVariances = 'x'));
    });
    const target = run(7, 2);
    const error = await loadCheckpoint(file, target.model, {
      optimizer: target.opt,
      scheduler: target.sched,
      strategy: target.strategy,
    }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/nothing was changed/);
    expect(error?.message).toMatch(/missing 'exp_avg'/);
    expect(error?.message).toMatch(/lastEpoch/);
    expect(error?.message).toMatch(/logVariances/);
  });
});

describe('state dicts: validated first, prototype names handled, nothing changed on error', () => {
  it('Module.loadStateDict refuses __proto__, constructor and toString entries and changes nothing', async () => {
    const r = run(3, 1);
    const before = await fingerprint(r);
    const state: Record<string, wm.Tensor> = { ...r.model.stateDict() };
    Object.defineProperty(state, '__proto__', { value: wm.tensor([1]), enumerable: true, configurable: true, writable: true });
    expect(() => r.model.loadStateDict(state)).toThrow(/unexpected '__proto__'/);
    expect(() => r.model.loadStateDict({ ...r.model.stateDict(), toString: wm.tensor([1]) } as Record<string, wm.Tensor>)).toThrow(
      /unexpected 'toString'/,
    );
    expect(() => r.model.loadStateDict({ ...r.model.stateDict(), constructor: wm.tensor([1]) } as Record<string, wm.Tensor>)).toThrow(
      /unexpected 'constructor'/,
    );
    // A state without the entry does not find Object.prototype's under its name.
    const missing: Record<string, wm.Tensor> = { ...r.model.stateDict() };
    delete missing['fc.weight'];
    expect(() => r.model.loadStateDict(missing)).toThrow(/missing 'fc\.weight'/);
    expect(() => r.model.loadStateDict({ ...r.model.stateDict(), 'fc.bias': [1, 2, 3, 4] as unknown as wm.Tensor })).toThrow(
      /'fc\.bias'.*not a Tensor/,
    );
    expect(await fingerprint(r)).toEqual(before);
  });

  it('Optimizer.loadStateDict refuses missing, extra and misshapen moments, bad steps and prototype names', async () => {
    const r = run(3, 2);
    const before = await fingerprint(r);
    const sd = () => {
      const s = run(5, 2).opt.stateDict();
      return {
        ...s,
        state: Object.fromEntries(Object.entries(s.state).map(([i, v]) => [i, { step: v.step, buffers: { ...v.buffers } }])),
      } as ReturnType<Optimizer['stateDict']>;
    };
    const missing = sd();
    delete missing.state[0].buffers.exp_avg_sq;
    expect(() => r.opt.loadStateDict(missing)).toThrow(/parameter #0.*missing 'exp_avg_sq'/);
    const extra = sd();
    extra.state[1].buffers.sum = new Float32Array(4);
    expect(() => r.opt.loadStateDict(extra)).toThrow(/parameter #1.*'sum'/);
    const steps = sd();
    steps.state[0].step = Number.NaN;
    expect(() => r.opt.loadStateDict(steps)).toThrow(/step NaN is not a non-negative integer/);
    const proto = sd();
    Object.defineProperty(proto.state, '__proto__', {
      value: { step: 1, buffers: {} },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    expect(() => r.opt.loadStateDict(proto)).toThrow(/'__proto__'.*not a parameter index/);
    const protoBuffer = sd();
    Object.defineProperty(protoBuffer.state[0].buffers, '__proto__', {
      value: new Float32Array(12),
      enumerable: true,
      configurable: true,
      writable: true,
    });
    expect(() => r.opt.loadStateDict(protoBuffer)).toThrow(/'__proto__'/);
    expect(await fingerprint(r)).toEqual(before);
  });

  it('SGD with momentum needs its momentum buffer; SGD without refuses one; Adagrad needs its sum', () => {
    const p = () => wm.tensor([1, 2], { requiresGrad: true });
    expect(() =>
      new SGD([p()], { momentum: 0.9 }).loadStateDict({
        type: 'SGD',
        groups: [{ lr: 0.1, weightDecay: 0, numParams: 1 }],
        state: { 0: { step: 3, buffers: {} } },
      }),
    ).toThrow(/missing 'momentum_buffer'/);
    expect(() =>
      new SGD([p()]).loadStateDict({
        type: 'SGD',
        groups: [{ lr: 0.1, weightDecay: 0, numParams: 1 }],
        state: { 0: { step: 3, buffers: { momentum_buffer: new Float32Array(2) } } },
      }),
    ).toThrow(/'momentum_buffer'.*momentum 0/);
    new SGD([p()]).loadStateDict({
      type: 'SGD',
      groups: [{ lr: 0.1, weightDecay: 0, numParams: 1 }],
      state: { 0: { step: 3, buffers: {} } },
    });
    expect(() =>
      new Adagrad([p()]).loadStateDict({
        type: 'Adagrad',
        groups: [{ lr: 0.1, weightDecay: 0, numParams: 1 }],
        state: { 0: { step: 3, buffers: {} } },
      }),
    ).toThrow(/missing 'sum'/);
  });

  it('LRScheduler.loadStateDict checks type and fields before changing anything', () => {
    const opt = new SGD([wm.tensor([1], { requiresGrad: true })], { lr: 0.1 });
    const step = new StepLR(opt, { stepSize: 1 });
    const cos = new CosineAnnealingLR(new SGD([wm.tensor([1], { requiresGrad: true })], { lr: 0.1 }), { tMax: 3 });
    expect(() => step.loadStateDict(cos.stateDict())).toThrow(/saved by CosineAnnealingLR, this is StepLR/);
    expect(() => step.loadStateDict({ lastEpoch: 1, baseLrs: [Number.NaN] })).toThrow(/base lr/);
    expect(() => step.loadStateDict({ lastEpoch: 1.5, baseLrs: [0.1] })).toThrow(/lastEpoch must be an integer ≥ 0/);
    expect(step.lastEpoch).toBe(0);
    expect(step.baseLrs).toEqual([0.1]);
    expect(opt.paramGroups[0].lr).toBe(0.1);
    // A state saved before the type was recorded still loads.
    step.loadStateDict({ lastEpoch: 2, baseLrs: [0.2] });
    expect(step.lastEpoch).toBe(2);
  });
});

describe('MTLTrainer.resume is all-or-nothing', () => {
  it('a bad scheduler state or step count is refused before the weights or the optimizer state change', async () => {
    const { CpuBackend } = await import('../src/backend/cpu/cpu-backend.js');
    const { aliCcpSchema } = await import('../src/data/datasets.js');
    const { DataLoader } = await import('../src/data/loader.js');
    const { DenseFeature } = await import('../src/features.js');
    const { MMoE } = await import('../src/models/mmoe.js');
    const { generateAliCcpSplits } = await import('../src/data/synthetic-ali-ccp.js');
    const { sparseFeatures } = await import('../src/models/registry.js');
    const { setBackend } = await import('../src/tensor/engine.js');
    const { MTLTrainer } = await import('../src/train/trainer.js');
    setBackend(new CpuBackend());
    const data = generateAliCcpSplits({ train: 300, val: 10, test: 10, seed: 5, vocabScale: 0.05 });
    const schema = { ...data, itemColumns: aliCcpSchema.itemColumns };
    const make = (s: number, modelPath?: string) => {
      wm.seed(s);
      const features = [...sparseFeatures(schema, 4), ...schema.denseColumns.map((d) => new DenseFeature(d))];
      const model = new MMoE({
        features,
        taskTypes: ['classification', 'classification'],
        nExpert: 2,
        expertParams: { dims: [8] },
        towerParamsList: [{ dims: [4] }, { dims: [4] }],
      });
      return new MTLTrainer(model, {
        nEpoch: 1,
        adaptiveParams: { method: 'uwl' },
        optimizerParams: { lr: 3e-3 },
        scheduler: { type: 'step', stepSize: 1, gamma: 0.5 },
        device: 'cpu',
        progress: 'none',
        seed: s,
        modelPath,
      });
    };
    const loader = () => new DataLoader(data.train, { batchSize: 64, shuffle: true, seed: 2 });
    const ckptDir = await mkdtemp(join(dir, 'trainer-'));
    await make(1, ckptDir).fit(loader());
    const saved = await readFile(join(ckptDir, 'last.safetensors'));

    const target = make(2);
    await target.fit(loader()); // non-trivial optimizer state to keep
    const state = async () => ({
      params: await Promise.all(Object.entries(target.model.stateDict()).map(async ([n, t]) => `${n} ${hex(await t.data())}`)),
      opt: await Promise.all(
        Object.entries(target.optimizer.stateDict().state).map(
          async ([i, s]) =>
            `${i} ${s.step} ${await Promise.all(Object.entries(s.buffers).map(async ([k, v]) => `${k} ${hex(v instanceof Float32Array ? v : await v.data())}`))}`,
        ),
      ),
      lrs: hex(Float64Array.from(target.optimizer.paramGroups.map((g) => g.lr))),
      sched: JSON.stringify(target.scheduler?.stateDict()),
      strategy: JSON.stringify(await target.strategy.stateDict?.()),
    });
    const before = await state();

    const variants: [string, (m: Meta) => void, RegExp][] = [
      [
        'scheduler base lr',
        (m) => mapJson(m, 'webmtl.scheduler', (s) => (s.baseLrs = (s.baseLrs as number[]).map((x, i) => (i === 0 ? 0 : x)))),
        /base lrs/,
      ],
      [
        'scheduler type',
        (m) => mapJson(m, 'webmtl.scheduler', (s) => (s.type = 'CosineAnnealingLR')),
        /saved by CosineAnnealingLR, this is StepLR/,
      ],
      ['negative step', (m) => (m.step = '-5'), /step'? '-5' is not a count/],
      ['fractional epoch', (m) => (m.epoch = '0.5'), /epoch'? '0\.5' is not a count/],
      ['random state', (m) => (m.random = '{"words":[1,2,3]}'), /random generator state is malformed/],
    ];
    for (const [what, change, message] of variants) {
      const d = decodeSafetensors(saved);
      const meta = { ...d.metadata };
      change(meta);
      const file = join(ckptDir, `bad-${what.replace(/ /g, '-')}.safetensors`);
      await writeFile(file, encodeSafetensors(d.tensors, meta));
      await expect(target.resume(file), what).rejects.toThrow(message);
      expect(await state(), what).toEqual(before);
    }
  });
});
