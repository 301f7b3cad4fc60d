// The kernel table (src/backend/kernel-table.ts) and what is generated from it: the AssemblyScript op
// codes and scalar switch, the WGSL params/bindings declarations; and every op of the table on every
// backend against the CPU reference, so a new table entry is checked on wasm and WebGPU without a
// hand-written case.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { constantName, GENERATED_OPS, renderAssemblyOps } from '../scripts/kernel-ops.mjs';
import { allocatingOp, type Backend, type BinaryOp, type UnaryOp } from '../src/backend/backend.js';
import * as table from '../src/backend/kernel-table.js';
import { BINARY_CODES, BINARY_KERNELS, BINARY_OPS, UNARY_CODES, UNARY_KERNELS, UNARY_OPS } from '../src/backend/kernel-table.js';
import { createWasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { layout, read, readWrite } from '../src/backend/webgpu/layout.js';
import { expectClose, onBoth, uniform } from './helpers/kernel-checks.js';
import { getWebGPUOrSkip } from './helpers/webgpu.js';

describe('the kernel table', () => {
  it('numbers ops by table order', () => {
    UNARY_OPS.forEach((op, i) => expect(UNARY_CODES[op]).toBe(i));
    BINARY_OPS.forEach((op, i) => expect(BINARY_CODES[op]).toBe(i));
    expect(UNARY_CODES['toString' as UnaryOp]).toBeUndefined();
  });

  it('gives every op code for each backend', () => {
    for (const [op, k] of [...Object.entries(UNARY_KERNELS), ...Object.entries(BINARY_KERNELS)]) {
      expect(typeof k.cpu, op).toBe('function');
      expect(k.as.trim(), op).not.toBe('');
      expect(k.wgsl.trim(), op).not.toBe('');
      expect(k.doc.trim(), op).not.toBe('');
    }
  });

  it('matches the committed AssemblyScript ops (regenerate: node scripts/build-wasm.mjs)', () => {
    expect(readFileSync(GENERATED_OPS, 'utf8')).toBe(renderAssemblyOps(table));
  });

  it('generates one constant per op, numbered as UNARY_CODES / BINARY_CODES', () => {
    const text = renderAssemblyOps(table);
    for (const op of UNARY_OPS) expect(text).toContain(`export const U_${constantName(op)} = ${UNARY_CODES[op]};`);
    for (const op of BINARY_OPS) expect(text).toContain(`export const B_${constantName(op)} = ${BINARY_CODES[op]};`);
    expect(constantName('leakyRelu')).toBe('LEAKY_RELU');
  });
});

describe('WGSL layouts', () => {
  const l = layout({
    params: { n: 'u32', scale: 'f32', shift: 'i32', shape: 'array<vec4<u32>, 2>', strides: 'array<vec4<i32>, 1>' },
    bindings: { x: read('array<f32>'), out: readWrite('array<f32>') },
  });

  it('declares the struct, the uniform and the storage bindings in order', () => {
    expect(l.wgsl).toBe(
      [
        'struct Params {',
        '  n: u32,',
        '  scale: f32,',
        '  shift: i32,',
        '  shape: array<vec4<u32>, 2>,',
        '  strides: array<vec4<i32>, 1>,',
        '}',
        '',
        '@group(0) @binding(0) var<uniform> params: Params;',
        '@group(0) @binding(1) var<storage, read> x: array<f32>;',
        '@group(0) @binding(2) var<storage, read_write> out: array<f32>;',
      ].join('\n'),
    );
    expect(l.binding).toEqual({ x: 1, out: 2 });
  });

  it('writes fields by name at their WGSL offsets (vec4 arrays 16-byte aligned, zero-padded)', () => {
    const view = new DataView(new ArrayBuffer(512));
    l.write(view, 256, { n: 7, scale: 0.5, shift: -3, shape: [1, 2, 3, 4, 5], strides: [-1] });
    expect(view.getUint32(256, true)).toBe(7);
    expect(view.getFloat32(260, true)).toBe(0.5);
    expect(view.getInt32(264, true)).toBe(-3);
    expect(view.getUint32(268, true)).toBe(0); // padding before the first vec4
    expect(Array.from({ length: 8 }, (_, i) => view.getUint32(272 + 4 * i, true))).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
    expect(Array.from({ length: 4 }, (_, i) => view.getInt32(304 + 4 * i, true))).toEqual([-1, 0, 0, 0]);
  });

  it('refuses a missing field and a struct larger than a params slot', () => {
    const view = new DataView(new ArrayBuffer(256));
    expect(() => l.write(view, 0, { n: 1, scale: 1, shape: [], strides: [] } as never)).toThrow(/shift/);
    expect(() => layout({ params: { big: 'array<vec4<u32>, 17>' }, bindings: {} })).toThrow(/larger than a params slot/);
  });
});

describe('allocatingOp', () => {
  it('names the outermost frame under any tensor/ directory', () => {
    const stack = [
      'Error',
      '    at WebGPUBackend.alloc (/repo/src/backend/webgpu/webgpu-backend.ts:80:5)',
      '    at alloc (/repo/src/tensor/ops/creation.ts:12:3)',
      '    at Module.zeros (/repo/src/tensor/ops/creation.ts:40:9)',
      '    at Object.matmul (C:\\repo\\src\\tensor\\ops\\linear-algebra.ts:9:1)',
      '    at userCode (/repo/examples/run.ts:1:1)',
    ].join('\n');
    expect(allocatingOp(stack)).toBe('matmul');
    expect(allocatingOp('Error\n    at Tensor.add (/repo/dist/tensor/tensor.js:1:1)')).toBe('add');
    expect(allocatingOp('Error\n    at run (/repo/src/backend/cpu/cpu-backend.ts:1:1)')).toBeUndefined();
  });
});

// ------------------------------------------------------------------ every op on every backend

const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, 2];
/** Awkward-length inputs: values in [-3, 3], in [0, 1] (probabilities), and the special values. */
function inputs(seed: number): Float32Array {
  return Float32Array.from([...uniform(300, -3, 3, seed), ...uniform(100, 0, 1, seed + 1), ...SPECIALS]);
}
const PARAMS: Partial<Record<UnaryOp, [number, number]>> = {
  affine: [1.5, -0.3],
  powScalar: [2.5, 0],
  clamp: [-0.5, 0.3],
  leakyRelu: [0.01, 0],
  gtScalar: [0.1, 0],
  inRange: [-0.3, 0.7],
};

async function checkEveryOp(backend: Backend, rtol: number, atol: number): Promise<void> {
  const x = inputs(1);
  for (const op of UNARY_OPS) {
    const [p0, p1] = PARAMS[op] ?? [0, 0];
    const { want, got } = await onBoth(backend, [x], [{ size: x.length }], (b, [xb], [o]) => b.unary(op, xb, o, x.length, p0, p1));
    expectClose(got[0], want[0], rtol, atol, `unary ${op}`);
  }
  // Every pairing of the special values, then random pairs.
  const a = Float32Array.from([...SPECIALS.flatMap((s) => SPECIALS.map(() => s)), ...inputs(2)]);
  const b = Float32Array.from([...SPECIALS.flatMap(() => SPECIALS), ...inputs(3)]);
  for (const op of BINARY_OPS as BinaryOp[]) {
    const n = a.length;
    const { want, got } = await onBoth(backend, [a, b], [{ size: n }], (k, [ab, bb], [o]) => k.binary(op, ab, bb, o, [n], [1], [1]));
    expectClose(got[0], want[0], rtol, atol, `binary ${op}`);
  }
}

describe('every table op on wasm matches the CPU reference', async () => {
  const wasm = await createWasmBackend({ threads: 0 });
  afterAll(() => wasm.destroy());
  it('unary and binary', async () => checkEveryOp(wasm, 1e-6, 1e-7));
});

const gpu = await getWebGPUOrSkip();
describe.skipIf(!gpu)('every table op on WebGPU matches the CPU reference', () => {
  afterAll(() => gpu?.destroy());
  it('unary and binary', async () => checkEveryOp(gpu!, 1e-5, 1e-6));
});
