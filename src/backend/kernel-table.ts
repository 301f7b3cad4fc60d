// Every elementwise op, declared once: its scalar parameters, what it computes, and its code on each
// backend. The rest is derived from here: the UnaryOp / BinaryOp / ReduceOp types (backend.ts), the
// CPU reference's per-op functions, the WGSL expressions spliced into shaders/elementwise.wgsl and
// shaders/binary.wgsl, and the wasm op codes, whose AssemblyScript side
// (src/backend/wasm/assembly/ops.generated.ts) scripts/build-wasm.mjs writes from this table.
// An op's code is its position in its table: append new ops, and rebuild the wasm
// (node scripts/build-wasm.mjs).
//
// Per backend:
// - cpu: the reference, in f64. Unary ops are factories (p0, p1) => (x) => …, called once per kernel
//   launch so the element loop calls one fixed function.
// - as: an AssemblyScript f64 expression in x, p0, p1 (unary) or a, b (binary); helpers come from
//   src/backend/wasm/assembly/scalar.ts. Hand-written SIMD paths in assembly/kernels.ts refer to
//   the generated constants (U_NEG, B_ADD, …) and must give the same results.
// - wgsl: a WGSL f32 expression in the same names; helpers come from shaders/math.wgsl and
//   shaders/loss.wgsl. NaN and ±Inf must come out as the reference's: the helpers and the bit tests
//   (is_nan_f32) decide them instead of WGSL's implementation-defined builtins.
import { BCE_LOG_FLOOR } from './backend.js';

export interface UnaryKernel {
  /** What the op computes, in terms of x, p0, p1. */
  doc: string;
  /** The meaning of the scalar parameters the op reads (absent: it reads none). */
  params?: { p0: string; p1?: string };
  cpu: (p0: number, p1: number) => (x: number) => number;
  as: string;
  wgsl: string;
  /**
   * The f32 parameters a WGSL kernel uses in place of (p0, p1) so that comparing an f32 x against them
   * agrees with the reference comparing against the f64 values (default: the values themselves).
   */
  f32Params?: (p0: number, p1: number) => [number, number];
}

export interface BinaryKernel {
  doc: string;
  cpu: (a: number, b: number) => number;
  as: string;
  wgsl: string;
}

export interface ReduceKernel {
  doc: string;
  /** The value of an empty reduction, and the first accumulator. */
  init: number;
  /** WGSL: folds v into acc. (The CPU and wasm reductions are written per op for speed.) */
  wgsl: string;
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/**
 * Math.pow with C's special cases, as torch.pow: 1^y = 1 and (-1)^±Inf = 1 (JavaScript gives NaN).
 * Every other case, NaN and infinities included, is Math.pow's (= C's).
 */
const pow = (x: number, y: number): number => (x === 1 || (x === -1 && (y === Infinity || y === -Infinity)) ? 1 : x ** y);

/** A log floored at BCE_LOG_FLOOR; NaN stays NaN (Math.max would keep it too, but say so). */
const floorLog = (l: number): number => (l < BCE_LOG_FLOOR ? BCE_LOG_FLOOR : l);

export const UNARY_KERNELS = {
  neg: { doc: '-x', cpu: () => (x) => -x, as: '-x', wgsl: '-x' },
  exp: { doc: 'e^x', cpu: () => Math.exp, as: 'Math.exp(x)', wgsl: 'exp_f32(x)' },
  log: { doc: 'natural log', cpu: () => Math.log, as: 'Math.log(x)', wgsl: 'log_f32(x)' },
  sqrt: { doc: 'square root', cpu: () => Math.sqrt, as: 'Math.sqrt(x)', wgsl: 'sqrt_f32(x)' },
  abs: { doc: '|x|', cpu: () => Math.abs, as: 'Math.abs(x)', wgsl: 'abs(x)' },
  sign: {
    doc: '1, -1 or 0 by the sign of x (sign(NaN) = 0)',
    cpu: () => (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
    as: 'x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0',
    wgsl: 'sign_f32(x)',
  },
  relu: {
    doc: 'max(x, 0); NaN passes through, as in torch',
    cpu: () => (x) => (x <= 0 ? 0 : x),
    as: 'x <= 0 ? 0.0 : x',
    wgsl: 'select(x, 0.0, x <= 0.0 && !is_nan_f32(x))',
  },
  sigmoid: { doc: '1 / (1 + e^-x), stable for both signs', cpu: () => sigmoid, as: 'sigmoid64(x)', wgsl: 'sigmoid_f32(x)' },
  tanh: { doc: 'hyperbolic tangent', cpu: () => Math.tanh, as: 'Math.tanh(x)', wgsl: 'tanh_f32(x)' },
  square: { doc: 'x * x', cpu: () => (x) => x * x, as: 'x * x', wgsl: 'x * x' },
  reciprocal: { doc: '1 / x', cpu: () => (x) => 1 / x, as: '1.0 / x', wgsl: '1.0 / x' },
  affine: {
    doc: 'x * p0 + p1',
    params: { p0: 'scale', p1: 'shift' },
    cpu: (p0, p1) => (x) => x * p0 + p1,
    as: 'x * p0 + p1',
    wgsl: 'x * p0 + p1',
  },
  powScalar: {
    doc: 'x ** p0 (C pow: 1^y = 1, (-1)^±Inf = 1)',
    params: { p0: 'exponent' },
    cpu: (p0) => (x) => pow(x, p0),
    as: 'pow64(x, p0)',
    wgsl: 'js_pow(x, p0)',
  },
  clamp: {
    doc: 'min(max(x, p0), p1); clamp(NaN) = NaN, as in torch',
    params: { p0: 'lower bound', p1: 'upper bound' },
    cpu: (p0, p1) => (x) => Math.min(Math.max(x, p0), p1),
    as: 'Math.min(Math.max(x, p0), p1)',
    wgsl: 'clamp_nan(x, p0, p1)',
  },
  leakyRelu: {
    doc: 'x > 0 ? x : p0 * x',
    params: { p0: 'negative slope' },
    cpu: (p0) => (x) => (x > 0 ? x : p0 * x),
    as: 'x > 0 ? x : p0 * x',
    wgsl: 'select(p0 * x, x, x > 0.0 || is_nan_f32(x))',
  },
  gtScalar: {
    doc: 'x > p0 ? 1 : 0',
    params: { p0: 'threshold' },
    cpu: (p0) => (x) => (x > p0 ? 1 : 0),
    as: 'x > p0 ? 1.0 : 0.0',
    wgsl: 'select(0.0, 1.0, x > p0 && !is_nan_f32(x))',
    f32Params: (p0, p1) => [f32AtMost(p0), p1],
  },
  inRange: {
    doc: 'p0 <= x <= p1 ? 1 : 0 (the pass-through mask of clamp)',
    params: { p0: 'lower bound', p1: 'upper bound' },
    cpu: (p0, p1) => (x) => (x >= p0 && x <= p1 ? 1 : 0),
    as: 'x >= p0 && x <= p1 ? 1.0 : 0.0',
    wgsl: 'select(0.0, 1.0, x >= p0 && x <= p1 && !is_nan_f32(x))',
    f32Params: (p0, p1) => [f32AtLeast(p0), f32AtMost(p1)],
  },
} satisfies Record<string, UnaryKernel>;

export const BINARY_KERNELS = {
  add: { doc: 'a + b', cpu: (a, b) => a + b, as: 'a + b', wgsl: 'a + b' },
  sub: { doc: 'a - b', cpu: (a, b) => a - b, as: 'a - b', wgsl: 'a - b' },
  mul: { doc: 'a * b', cpu: (a, b) => a * b, as: 'a * b', wgsl: 'a * b' },
  div: { doc: 'a / b', cpu: (a, b) => a / b, as: 'a / b', wgsl: 'a / b' },
  pow: { doc: 'a ** b (C pow, as powScalar)', cpu: pow, as: 'pow64(a, b)', wgsl: 'js_pow(a, b)' },
  max: { doc: 'the larger of a and b; NaN if either is', cpu: Math.max, as: 'Math.max(a, b)', wgsl: 'max_nan(a, b)' },
  min: { doc: 'the smaller of a and b; NaN if either is', cpu: Math.min, as: 'Math.min(a, b)', wgsl: 'min_nan(a, b)' },
  gt: {
    doc: '1 if a > b else 0',
    cpu: (a, b) => (a > b ? 1 : 0),
    as: 'a > b ? 1.0 : 0.0',
    wgsl: 'select(0.0, 1.0, a > b && !is_nan_f32(a) && !is_nan_f32(b))',
  },
  eq: {
    doc: '1 if a == b else 0',
    cpu: (a, b) => (a === b ? 1 : 0),
    as: 'a == b ? 1.0 : 0.0',
    wgsl: 'select(0.0, 1.0, a == b && !is_nan_f32(a) && !is_nan_f32(b))',
  },
  bce: {
    doc: "BCE on probabilities a, targets b, as torch's BCELoss: -(b·max(log a, -100) + (1 - b)·max(log1p(-a), -100))",
    cpu: (p, y) => -(y * floorLog(Math.log(p)) + (1 - y) * floorLog(Math.log1p(-p))),
    as: '-(b * floorLog(Math.log(a)) + (1.0 - b) * floorLog(Math.log1p(-a)))',
    wgsl: 'bce(a, b)',
  },
  bceLogits: {
    doc: 'stable BCE on logits a with targets b: max(a,0) - a*b + log(1 + exp(-|a|))',
    cpu: (x, y) => Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x))),
    as: 'Math.max(a, 0.0) - a * b + Math.log1p(Math.exp(-Math.abs(a)))',
    wgsl: 'bce_logits(a, b)',
  },
  squaredError: { doc: '(a - b)^2', cpu: (a, b) => (a - b) * (a - b), as: '(a - b) * (a - b)', wgsl: 'squared_error(a, b)' },
} satisfies Record<string, BinaryKernel>;

export const REDUCE_KERNELS = {
  sum: { doc: 'Σ x', init: 0, wgsl: 'acc + v' },
  // max_nan: a NaN anywhere makes the maximum NaN (torch.amax), which WGSL's max does not promise.
  max: { doc: 'max x; NaN if any x is', init: -Infinity, wgsl: 'max_nan(acc, v)' },
} satisfies Record<string, ReduceKernel>;

export type UnaryOp = keyof typeof UNARY_KERNELS;
export type BinaryOp = keyof typeof BINARY_KERNELS;
export type ReduceOp = keyof typeof REDUCE_KERNELS;

/** The ops in table order: an op's code is its index. */
export const UNARY_OPS = Object.keys(UNARY_KERNELS) as UnaryOp[];
export const BINARY_OPS = Object.keys(BINARY_KERNELS) as BinaryOp[];

/** op → code (its index in the table), for backends that pass ops as integers. */
export const UNARY_CODES = codes(UNARY_OPS);
export const BINARY_CODES = codes(BINARY_OPS);

function codes<Op extends string>(ops: readonly Op[]): Readonly<Record<Op, number>> {
  const byOp = Object.create(null) as Record<Op, number>; // no inherited keys: an unknown op is undefined
  ops.forEach((op, i) => (byOp[op] = i));
  return byOp;
}

// Nearest f32 neighbours, for turning an f64 threshold into an f32 one with the same comparison result.
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
function stepF32(f: number, up: boolean): number {
  if (f === 0) return up ? Math.fround(2 ** -149) : -Math.fround(2 ** -149);
  f32Scratch[0] = f;
  if (f > 0 === up) u32Scratch[0]++;
  else u32Scratch[0]--;
  return f32Scratch[0];
}
/** Largest f32 <= p: for an f32 x, x > p ⇔ x > f32AtMost(p) and x <= p ⇔ x <= f32AtMost(p). */
export function f32AtMost(p: number): number {
  const f = Math.fround(p);
  return f > p ? stepF32(f, false) : f;
}
/** Smallest f32 >= p: for an f32 x, x >= p ⇔ x >= f32AtLeast(p). */
export function f32AtLeast(p: number): number {
  const f = Math.fround(p);
  return f < p ? stepF32(f, true) : f;
}
