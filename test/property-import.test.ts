// Property-based tests of importTorchRechub: random mutations of a valid torch-rechub MMoE state dict
// (../shared/parity/MMOE) either load (only when unmutated) or throw TorchRechubError, and on error
// the model's state is byte-identical to what it was before.
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import * as wm from '../src/index.js';

const SEED = Number(process.env.PSEED ?? 20261202);
const TIMEOUT = 60_000;
const ROOT = new URL('../../shared/parity/', import.meta.url).pathname;
const HAVE_FIXTURES = existsSync(`${ROOT}MMOE/state_dict.safetensors`);
if (!HAVE_FIXTURES && process.env.CI === 'true') throw new Error(`torch-rechub fixtures not found at ${ROOT}MMOE; CI must run them`);

beforeAll(() => wm.setBackend(new CpuBackend()));

const config = (HAVE_FIXTURES ? JSON.parse(readFileSync(`${ROOT}MMOE/config.json`, 'utf8')) : null) as wm.TorchRechubModelSpec;
const fileBytes = HAVE_FIXTURES ? new Uint8Array(readFileSync(`${ROOT}MMOE/state_dict.safetensors`)) : new Uint8Array(0);
const state = HAVE_FIXTURES ? wm.decodeSafetensors(fileBytes).tensors : {};
const names = Object.keys(state);

/** Every byte of the model's state (parameters, buffers), in order. */
function snapshot(model: wm.MultiTaskModel): string {
  const parts: string[] = [];
  for (const [name, t] of Object.entries(model.stateDict())) {
    const d = t.dataSync();
    parts.push(name, Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64'));
  }
  return parts.join('|');
}

type Mutation =
  | {
      kind:
        | 'delete'
        | 'nan'
        | 'inf'
        | 'transposeShape'
        | 'extraDim'
        | 'growDim'
        | 'toI32'
        | 'dtypeLie'
        | 'shortData'
        | 'longData'
        | 'plainArray'
        | 'nullEntry'
        | 'noShape';
      at: number;
      i: number;
    }
  | { kind: 'extraKey'; key: string; value: unknown };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constantFrom(
      'delete',
      'nan',
      'inf',
      'transposeShape',
      'extraDim',
      'growDim',
      'toI32',
      'dtypeLie',
      'shortData',
      'longData',
      'plainArray',
      'nullEntry',
      'noShape',
    ) as fc.Arbitrary<'delete'>,
    at: fc.nat(),
    i: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('extraKey' as const),
    key: fc.constantFrom('gates.9.mlp.0.weight', 'experts.0.mlp.0.weight.extra', '__proto__', 'constructor', 'x'),
    value: fc.constantFrom<unknown>({ dtype: 'F32', shape: [1], data: new Float32Array(1) }, null, 5, {}),
  }),
);

/** Applies a mutation; returns false when it changed nothing (e.g. a transpose of a square or 1-D shape). */
function mutate(dict: Record<string, unknown>, m: Mutation): boolean {
  if (m.kind === 'extraKey') {
    Object.defineProperty(dict, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    return true;
  }
  const name = names[m.at % names.length];
  const t = dict[name] as wm.SafetensorsTensor;
  if (t === null || typeof t !== 'object' || !t.data) return false;
  const n = t.data.length;
  switch (m.kind) {
    case 'delete':
      delete dict[name];
      return true;
    case 'nan':
    case 'inf': {
      if (n === 0 || t.dtype !== 'F32') return false;
      const data = Float32Array.from(t.data);
      data[m.i % n] = m.kind === 'nan' ? Number.NaN : -Infinity;
      dict[name] = { ...t, data };
      return true;
    }
    case 'transposeShape':
      if (t.shape.length < 2 || t.shape[0] === t.shape[1]) return false;
      dict[name] = { ...t, shape: [t.shape[1], t.shape[0], ...t.shape.slice(2)] };
      return true;
    case 'extraDim':
      dict[name] = { ...t, shape: [...t.shape, 1] };
      return true;
    case 'growDim': {
      const shape = [...t.shape];
      if (shape.length === 0) return false;
      shape[m.i % shape.length] += 1;
      const size = shape.reduce((a, b) => a * b, 1);
      dict[name] = { ...t, shape, data: t.dtype === 'F32' ? new Float32Array(size) : new Int32Array(size) };
      return true;
    }
    case 'toI32':
      if (t.dtype !== 'F32') return false;
      dict[name] = { dtype: 'I32', shape: t.shape, data: Int32Array.from(t.data) };
      return true;
    case 'dtypeLie':
      dict[name] = { ...t, dtype: t.dtype === 'F32' ? 'I32' : 'F32' };
      return true;
    case 'shortData':
      if (n === 0) return false;
      dict[name] = { ...t, data: t.data.slice(0, n - 1 - (m.i % n)) };
      return true;
    case 'longData': {
      const data = new (t.data.constructor as Float32ArrayConstructor)(n + 1 + (m.i % 4));
      data.set(t.data);
      dict[name] = { ...t, data };
      return true;
    }
    case 'plainArray':
      dict[name] = { ...t, data: Array.from(t.data) };
      return true;
    case 'nullEntry':
      dict[name] = null;
      return true;
    case 'noShape':
      dict[name] = { dtype: t.dtype, data: t.data };
      return true;
  }
}

function run(model: wm.MultiTaskModel, dict: unknown): unknown {
  try {
    wm.importTorchRechub(model, dict as wm.TorchStateDict);
    return undefined;
  } catch (e) {
    return e;
  }
}

describe.skipIf(!HAVE_FIXTURES)('importTorchRechub properties', () => {
  it(
    'the unmutated state dict loads',
    () => {
      const model = wm.torchRechubModel(config);
      expect(run(model, { ...state })).toBeUndefined();
    },
    TIMEOUT,
  );

  // Mutations that are detected today: each gives TorchRechubError and leaves the model untouched.
  const detected = mutationArb.filter((m) => !['shortData', 'longData'].includes(m.kind) && !(m.kind === 'extraKey' && m.value === null));
  it(
    'a mutated state dict: TorchRechubError listing problems, and the model byte-identical afterwards',
    () => {
      const model = wm.torchRechubModel(config);
      const before = snapshot(model);
      fc.assert(
        fc.property(fc.array(detected, { minLength: 1, maxLength: 3 }), (mutations) => {
          const dict: Record<string, unknown> = { ...state };
          const changed = mutations.map((m) => mutate(dict, m)).some(Boolean);
          fc.pre(changed);
          const error = run(model, dict);
          expect(error).toBeInstanceOf(wm.TorchRechubError);
          expect((error as wm.TorchRechubError).problems.length).toBeGreaterThan(0);
          expect(snapshot(model)).toBe(before);
        }),
        { seed: SEED, numRuns: 40 },
      );
    },
    TIMEOUT,
  );

  it(
    'data whose length disagrees with its shape (shorter/longer), or an unexpected null entry, is a TorchRechubError with the model untouched',
    () => {
      const model = wm.torchRechubModel(config);
      const before = snapshot(model);
      const gap = fc.oneof(
        fc.record({ kind: fc.constantFrom('shortData', 'longData') as fc.Arbitrary<'shortData'>, at: fc.nat(), i: fc.nat() }),
        fc.record({
          kind: fc.constant('extraKey' as const),
          key: fc.constantFrom('x', 'gates.9.mlp.0.weight'),
          value: fc.constant<unknown>(null),
        }),
      );
      fc.assert(
        fc.property(gap, (m) => {
          const dict: Record<string, unknown> = { ...state };
          fc.pre(mutate(dict, m));
          const error = run(model, dict);
          expect(error).toBeInstanceOf(wm.TorchRechubError);
          expect(snapshot(model)).toBe(before);
        }),
        { seed: SEED, numRuns: 30 },
      );
    },
    TIMEOUT,
  );

  it(
    'corrupt safetensors bytes given to importTorchRechub are a TorchRechubError',
    () => {
      const model = wm.torchRechubModel(config);
      const before = snapshot(model);
      fc.assert(
        fc.property(fc.nat(fileBytes.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, value, truncate) => {
          const bytes = truncate ? fileBytes.slice(0, at) : Uint8Array.from(fileBytes);
          if (!truncate) bytes[at % 8] = value; // the header length
          fc.pre(truncate || bytes[at % 8] !== fileBytes[at % 8]);
          const error = run(model, bytes);
          expect(error).toBeInstanceOf(wm.TorchRechubError);
          expect(snapshot(model)).toBe(before);
        }),
        { seed: SEED, numRuns: 20 },
      );
    },
    TIMEOUT,
  );

  it(
    'corrupt safetensors bytes: an Error with a message and the model untouched',
    () => {
      const model = wm.torchRechubModel(config);
      let before = snapshot(model);
      fc.assert(
        fc.property(fc.nat(fileBytes.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), (at, value, truncate) => {
          const bytes = truncate ? fileBytes.slice(0, at) : Uint8Array.from(fileBytes);
          if (!truncate) bytes[at] = value;
          const error = run(model, bytes);
          if (error === undefined) {
            before = snapshot(model); // a flipped data byte is a different, valid float: it loads
            return;
          }
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message.length).toBeGreaterThan(0);
          expect(snapshot(model)).toBe(before);
        }),
        { seed: SEED, numRuns: 40 },
      );
    },
    TIMEOUT,
  );
});
