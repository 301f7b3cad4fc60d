// Property-based tests of the safetensors codec: random tensors round-trip exactly; corrupt files and
// random headers give either a consistent result or an Error with a message (never a TypeError or
// RangeError escaping from typed-array construction, never a hang).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DecodedSafetensors, decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from '../src/io/safetensors.js';

const SEED = Number(process.env.PSEED ?? 20261202);
const TIMEOUT = 20_000;

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
const tensorArb: fc.Arbitrary<SafetensorsTensor> = fc
  .tuple(fc.constantFrom<'F32' | 'I32'>('F32', 'I32'), shapeArb)
  .chain(([dtype, shape]): fc.Arbitrary<SafetensorsTensor> => {
    const n = shape.reduce((a, b) => a * b, 1);
    return dtype === 'F32'
      ? fc.float32Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }))
      : fc.int32Array({ minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }));
  });
const nameArb = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
  fc.constantFrom('w', 'layer.0.weight', 'constructor', 'toString', '__proto__', 'hasOwnProperty'),
);
const tensorsArb = fc
  .uniqueArray(fc.tuple(nameArb, tensorArb), { selector: ([n]) => n, maxLength: 5 })
  .map((entries) => fromEntries(entries.filter(([n]) => n !== '__metadata__')));
const metadataArb = fc.option(
  fc
    .uniqueArray(fc.tuple(fc.string({ maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 10 })), {
      selector: ([k]) => k,
      maxLength: 3,
    })
    .map((e) => fromEntries(e)),
  { nil: undefined },
);

/** Object.fromEntries keeps "__proto__" as an own key (an object literal would not). */
function fromEntries<T>(entries: [string, T][]): Record<string, T> {
  return Object.fromEntries(entries) as Record<string, T>;
}

function bitsOf(t: SafetensorsTensor): number[] {
  return Array.from(new Int32Array(t.data.buffer, t.data.byteOffset, t.data.length)); // NaN payloads and -0 compared exactly
}

function expectConsistent(d: DecodedSafetensors): void {
  for (const [name, t] of Object.entries(d.tensors)) {
    expect(['F32', 'I32'], name).toContain(t.dtype);
    expect(t.data).toBeInstanceOf(t.dtype === 'F32' ? Float32Array : Int32Array);
    expect(t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)).toBe(true);
    expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
  }
  for (const v of Object.values(d.metadata)) expect(typeof v).toBe('string');
}

function decodeOutcome(bytes: Uint8Array): { value?: DecodedSafetensors; error?: unknown } {
  try {
    return { value: decodeSafetensors(bytes, 'prop.safetensors') };
  } catch (error) {
    return { error };
  }
}

function expectGoodError(error: unknown): void {
  expect(error).toBeInstanceOf(Error);
  // A plain Error made by the codec: a TypeError/RangeError would come from typed-array or DataView internals.
  expect((error as Error).constructor).toBe(Error);
  expect((error as Error).message.length).toBeGreaterThan(0);
}

/** A file with a header we write ourselves (JSON text), padded as the format says, followed by `data`. */
function fileWith(headerText: string, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors properties', () => {
  it(
    'encode → decode is the identity (F32/I32, any shape incl. empty and scalar, metadata, odd names)',
    () => {
      fc.assert(
        fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
          const bytes = encodeSafetensors(tensors, metadata);
          expect(bytes.length % 1).toBe(0);
          const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          expect((8 + headerLength) % 8).toBe(0);
          const back = decodeSafetensors(bytes);
          expect(Object.keys(back.tensors)).toEqual(Object.keys(tensors));
          for (const name of Object.keys(tensors)) {
            const t = tensors[name];
            const u = back.tensors[name];
            expect(Object.hasOwn(back.tensors, name)).toBe(true);
            expect(u.dtype).toBe(t.dtype);
            expect(u.shape).toEqual(t.shape);
            expect(bitsOf(u)).toEqual(bitsOf(t));
          }
          expect(back.metadata).toEqual(metadata && Object.keys(metadata).length ? metadata : {});
          // Unaligned input (a view into a bigger buffer) decodes the same.
          const shifted = new Uint8Array(bytes.length + 3);
          shifted.set(bytes, 3);
          expect(Object.keys(decodeSafetensors(shifted.subarray(3)).tensors)).toEqual(Object.keys(tensors));
        }),
        { seed: SEED, numRuns: 200 },
      );
    },
    TIMEOUT,
  );

  it(
    'truncated or byte-flipped files: a consistent result or an Error with a message',
    () => {
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('flipLength' as const), at: fc.nat(7), value: fc.integer({ min: 0, max: 255 }) }),
        fc.record({
          kind: fc.constant('flipHeader' as const),
          at: fc.nat(),
          value: fc.constantFrom(...'{}[]",:0123456789-.eE \u00ff'.split('').map((c) => c.charCodeAt(0))),
        }),
        fc.record({ kind: fc.constant('append' as const), at: fc.nat(16), value: fc.integer({ min: 0, max: 255 }) }),
      );
      fc.assert(
        fc.property(tensorsArb, metadataArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (tensors, metadata, mutations) => {
          let bytes = encodeSafetensors(tensors, metadata);
          const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          for (const m of mutations) {
            if (m.kind === 'truncate') bytes = bytes.slice(0, m.at % (bytes.length + 1));
            else if (m.kind === 'append') bytes = Uint8Array.from([...bytes, ...new Array(m.at).fill(m.value)]);
            else if (bytes.length > 0) {
              const at = m.kind === 'flipLength' ? m.at : m.kind === 'flipHeader' ? 8 + (m.at % Math.max(1, headerLength)) : m.at;
              if (at < bytes.length) bytes[at] = m.value;
            }
          }
          const { value, error } = decodeOutcome(bytes);
          if (error !== undefined) expectGoodError(error);
          else expectConsistent(value!);
        }),
        { seed: SEED, numRuns: 400 },
      );
    },
    TIMEOUT,
  );

  it(
    'random JSON headers (bad dtypes, shapes, offsets, overlaps, gaps, __proto__/__metadata__ keys): a consistent result or an Error',
    () => {
      const dim = fc.oneof(
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom<unknown>(-1, 1.5, 2 ** 53, 2 ** 31, 1e300, '2', null, true, [], {}),
      );
      const offset = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom<unknown>(-4, 0.5, 2 ** 53, 2 ** 64, '8', null));
      const entry = fc.oneof(
        {
          weight: 8,
          arbitrary: fc.record(
            {
              dtype: fc.constantFrom<unknown>('F32', 'I32', 'I64', 'F16', 'BF16', 'F64', 'U8', 'BOOL', 'f32', '', 7, null),
              shape: fc.oneof(fc.array(dim, { maxLength: 3 }), fc.constantFrom<unknown>(null, 3, 'x', {})),
              data_offsets: fc.oneof(fc.tuple(offset, offset), fc.array(offset, { maxLength: 3 }), fc.constantFrom<unknown>(null, {}, 'x')),
            },
            { requiredKeys: [] },
          ),
        },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 1, 'x', [], [1, 2], true) },
      );
      const key = fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor', '__metadata__', '', 'toString');
      const header = fc.oneof(
        { weight: 6, arbitrary: fc.dictionary(key, entry, { maxKeys: 4 }).map((h) => JSON.stringify(h)) },
        // __proto__ written as a JSON key (JSON.parse makes it an own property)
        { weight: 2, arbitrary: fc.tuple(entry, entry).map(([p, q]) => `{"__proto__":${JSON.stringify(p)},"a":${JSON.stringify(q)}}`) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '[]',
            'null',
            '1',
            '"x"',
            '{',
            '{"__metadata__":{"k":1}}',
            '{"__metadata__":[]}',
            '{"__metadata__":{"__proto__":"x"}}',
            '',
          ),
        },
      );
      fc.assert(
        fc.property(header, fc.uint8Array({ maxLength: 64 }), fc.nat(7), (text, data, pad) => {
          const { value, error } = decodeOutcome(fileWith(text + ' '.repeat(pad), data));
          if (error !== undefined) {
            expectGoodError(error);
            return;
          }
          expectConsistent(value!);
          // What decodes must be what the header says: every tensor key of the header is in the result.
          const parsed = JSON.parse(text) as Record<string, unknown>;
          const names = Object.keys(parsed).filter((k) => k !== '__metadata__');
          expect(Object.keys(value!.tensors).sort()).toEqual(names.sort());
          for (const n of names) expect(Object.hasOwn(value!.tensors, n)).toBe(true);
          if (parsed.__metadata__) expect(Object.keys(value!.metadata).sort()).toEqual(Object.keys(parsed.__metadata__ as object).sort());
          // and the tensors tile the data exactly
          const bytesOf = (n: string) => value!.tensors[n].data.length * ((parsed[n] as { dtype: string }).dtype === 'I64' ? 8 : 4);
          expect(names.reduce((sum, n) => sum + bytesOf(n), 0)).toBe(data.length);
        }),
        { seed: SEED, numRuns: 600 },
      );
    },
    TIMEOUT,
  );

  it(
    'encode refuses malformed inputs with an Error (not a TypeError from inside)',
    () => {
      const bad = fc.constantFrom<unknown>(
        null,
        42,
        { w: null },
        { w: { dtype: 'F32', shape: null, data: new Float32Array(1) } },
        { w: { dtype: 'F32', shape: [2], data: new Float32Array(1) } },
        { w: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } },
        { w: { dtype: 'F32', shape: [1.5], data: new Float32Array(1) } },
        { w: { dtype: 'F32', shape: ['1'], data: new Float32Array(1) } },
        { w: { dtype: 'F64', shape: [1], data: new Float64Array(1) } },
        { w: { dtype: 'I32', shape: [1], data: new Float32Array(1) } },
        { w: { dtype: 'F32', shape: [1], data: [1] } },
        { w: { dtype: 'F32', shape: [1], data: null } },
        { __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } },
        { '': { dtype: 'F32', shape: [1], data: new Float32Array(1) } },
      );
      const meta = fc.constantFrom<unknown>(undefined, {}, { k: 'v' }, { k: 1 }, null, 'x', { k: null });
      const badMeta = fc.constantFrom<unknown>({ k: 1 }, 'x', ['v'], 5, { k: null }, new Map([['k', 'v']]));
      const cases = fc.oneof(
        fc.tuple(bad, meta),
        fc.tuple(
          tensorsArb.filter((t) => Object.keys(t).length > 0),
          badMeta,
        ),
      );
      fc.assert(
        fc.property(cases, ([tensors, metadata]) => {
          let error: unknown;
          try {
            encodeSafetensors(tensors as never, metadata as never);
          } catch (e) {
            error = e;
          }
          expectGoodError(error);
        }),
        { seed: SEED, numRuns: 60 },
      );
    },
    TIMEOUT,
  );
});
