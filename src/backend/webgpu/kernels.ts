// WGSL sources and their template instantiation. The WGSL lives in /shaders; this file only
// fills in the {{PLACEHOLDERS}} each template declares.
import binaryWgsl from '../../../shaders/binary.wgsl';
import copyWgsl from '../../../shaders/copy.wgsl';
import dropoutWgsl from '../../../shaders/dropout.wgsl';
import elementwiseWgsl from '../../../shaders/elementwise.wgsl';
import fillWgsl from '../../../shaders/fill.wgsl';
import gatherWgsl from '../../../shaders/gather.wgsl';
import gatingWgsl from '../../../shaders/gating.wgsl';
import lossWgsl from '../../../shaders/loss.wgsl';
import mathWgsl from '../../../shaders/math.wgsl';
import matmulWgsl from '../../../shaders/matmul.wgsl';
import optimizerWgsl from '../../../shaders/optimizer.wgsl';
import reduceWgsl from '../../../shaders/reduce.wgsl';
import softmaxWgsl from '../../../shaders/softmax.wgsl';
import type { BinaryOp, DType, ReduceOp, UnaryOp } from '../backend.js';

/** Replaces every {{NAME}} in `template`; a placeholder without a value is a programming error. */
export function instantiate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_0-9]+)\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`WebGPUBackend: no value for shader placeholder {{${name}}}`);
    return v;
  });
}

/**
 * f(x, p0, p1) per unary op; helpers come from math.wgsl. NaN and ±Inf give what the reference gives:
 * the helpers and the bit tests (is_nan_f32) decide them instead of WGSL's implementation-defined builtins.
 */
const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-x',
  exp: 'exp_f32(x)',
  log: 'log_f32(x)',
  sqrt: 'sqrt_f32(x)',
  abs: 'abs(x)',
  sign: 'sign_f32(x)',
  relu: 'select(x, 0.0, x <= 0.0 && !is_nan_f32(x))', // NaN passes through, as in torch
  sigmoid: 'sigmoid_f32(x)',
  tanh: 'tanh_f32(x)',
  square: 'x * x',
  reciprocal: '1.0 / x',
  affine: 'x * p0 + p1',
  powScalar: 'js_pow(x, p0)',
  clamp: 'clamp_nan(x, p0, p1)', // clamp(NaN) = NaN, as in torch
  leakyRelu: 'select(p0 * x, x, x > 0.0 || is_nan_f32(x))',
  gtScalar: 'select(0.0, 1.0, x > p0 && !is_nan_f32(x))',
  inRange: 'select(0.0, 1.0, x >= p0 && x <= p1 && !is_nan_f32(x))',
};

/** op(a, b) per binary op; helpers come from math.wgsl and loss.wgsl (NaN handling as in UNARY_EXPR). */
const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'js_pow(a, b)',
  max: 'max_nan(a, b)',
  min: 'min_nan(a, b)',
  gt: 'select(0.0, 1.0, a > b && !is_nan_f32(a) && !is_nan_f32(b))',
  eq: 'select(0.0, 1.0, a == b && !is_nan_f32(a) && !is_nan_f32(b))',
  bce: 'bce(a, b)',
  bceLogits: 'bce_logits(a, b)',
  squaredError: 'squared_error(a, b)',
};

const wgslType = (d: DType): string => (d === 'f32' ? 'f32' : 'i32');
const loadWord = (d: DType): string => (d === 'f32' ? 'bitcast<f32>(w)' : 'f32(bitcast<i32>(w))');
const storeWord = (d: DType): string => (d === 'f32' ? 'bitcast<u32>(v)' : 'bitcast<u32>(js_to_i32(v))');
/** f32 → the output type as the reference's typed-array store converts it (math.wgsl's js_to_i32 for i32). */
const storeConvert = (d: DType): string => (d === 'f32' ? 'f32' : 'js_to_i32');

// Instantiated sources are memoised so the per-dispatch cost is a Map lookup, not a regex pass.
const memo = new Map<string, string>();
function cached(key: string, build: () => string): string {
  let s = memo.get(key);
  if (s === undefined) memo.set(key, (s = build()));
  return s;
}

export const fillSource = (): string => fillWgsl;
export const copySource = (): string => copyWgsl;
export const gatherSource = (): string => gatherWgsl;
export const softmaxSource = (): string => cached('softmax', () => mathWgsl + '\n' + softmaxWgsl);
export const dropoutSource = (): string => dropoutWgsl;
export const gatingSource = (): string => cached('gating', () => mathWgsl + '\n' + gatingWgsl);
export const optimizerSource = (): string => cached('optimizer', () => mathWgsl + '\n' + optimizerWgsl);

export function unarySource(op: UnaryOp, x: DType, out: DType): string {
  return cached(`unary/${op}/${x}/${out}`, () =>
    mathWgsl + '\n' + instantiate(elementwiseWgsl, { X_TYPE: wgslType(x), OUT_TYPE: wgslType(out), STORE: storeConvert(out), EXPR: UNARY_EXPR[op] }),
  );
}

export function binarySource(op: BinaryOp, a: DType, b: DType, out: DType): string {
  return cached(`binary/${op}/${a}/${b}/${out}`, () =>
    [mathWgsl, lossWgsl, instantiate(binaryWgsl, { LOAD_A: loadWord(a), LOAD_B: loadWord(b), STORE: storeWord(out), EXPR: BINARY_EXPR[op] })].join('\n'),
  );
}

/** `where` moves raw words, so one instantiation serves every dtype. */
export function whereSource(): string {
  return binarySource('add', 'f32', 'f32', 'f32');
}

export function reduceSource(op: ReduceOp, x: DType, out: DType): string {
  return cached(`reduce/${op}/${x}/${out}`, () =>
    // max_nan: a NaN anywhere makes the maximum NaN (torch.amax), which WGSL's max does not promise.
    mathWgsl + '\n' + instantiate(reduceWgsl, { X_TYPE: wgslType(x), OUT_TYPE: wgslType(out), STORE: storeConvert(out), COMBINE: op === 'sum' ? 'acc + v' : 'max_nan(acc, v)' }),
  );
}

/** Per-thread block TM = TN (1, 2 or 4) and the operand layouts are compile-time constants. */
export function matmulSource(threadBlock: 1 | 2 | 4, transA: boolean, transB: boolean): string {
  return cached(`matmul/${threadBlock}/${transA}/${transB}`, () =>
    instantiate(matmulWgsl, { TM: String(threadBlock), TN: String(threadBlock), TRANS_A: String(transA), TRANS_B: String(transB) }),
  );
}
