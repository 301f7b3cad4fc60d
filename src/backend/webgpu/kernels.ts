// WGSL sources, their template instantiation, and each kernel's params and bindings. The WGSL lives
// in /shaders; this file declares every kernel's uniform struct and storage bindings by name
// (layout.ts turns them into WGSL at the shader's {{LAYOUT}} placeholder) and fills in the other
// {{PLACEHOLDERS}} each template declares. Unary and binary expressions come from ../kernel-table.ts.
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
import { BINARY_KERNELS, REDUCE_KERNELS, UNARY_KERNELS } from '../kernel-table.js';
import { type KernelLayout, layout, read, readWrite } from './layout.js';

/** Replaces every {{NAME}} in `template`; a placeholder without a value is a programming error. */
export function instantiate(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_0-9]+)\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`WebGPUBackend: no value for shader placeholder {{${name}}}`);
    return v;
  });
}

/** `template` with the layout's WGSL declarations at {{LAYOUT}} (or `placeholder`); other placeholders stay. */
function declare(template: string, layout: KernelLayout, placeholder = 'LAYOUT'): string {
  const at = `{{${placeholder}}}`;
  if (!template.includes(at)) throw new Error(`WebGPUBackend: shader template has no ${at}`);
  return template.replace(at, () => layout.wgsl);
}

// ---------------------------------------------------------------- layouts

export const FILL = layout({ params: { n: 'u32', bits: 'u32' }, bindings: { out: readWrite('array<u32>') } });

export const UNARY = layout({
  params: { n: 'u32', p0: 'f32', p1: 'f32' },
  bindings: { x_in: read('array<{{X_TYPE}}>'), out: readWrite('array<{{OUT_TYPE}}>') },
});

/**
 * binary_main reads a_in and b_in; where_main also cond_in. Shape and strides hold up to SHADER_RANK
 * (6) dims, right-aligned, in two vec4s each (strided.ts).
 */
export const BINARY = layout({
  params: {
    n: 'u32',
    rank: 'u32',
    cond_is_f32: 'u32',
    shape: 'array<vec4<u32>, 2>',
    a_strides: 'array<vec4<i32>, 2>',
    b_strides: 'array<vec4<i32>, 2>',
    c_strides: 'array<vec4<i32>, 2>',
  },
  bindings: { a_in: read('array<u32>'), b_in: read('array<u32>'), out: readWrite('array<u32>'), cond_in: read('array<u32>') },
});

export const REDUCE = layout({
  params: { outer: 'u32', reduce: 'u32', inner: 'u32', init: 'f32' },
  bindings: { x: read('array<{{X_TYPE}}>'), out: readWrite('array<{{OUT_TYPE}}>') },
});

/** Element (i, kk) of op(A) is a[a_off + i*a_row + kk*a_col]; (kk, j) of op(B) is b[b_off + kk*b_row + j*b_col]. */
export const MATMUL = layout({
  params: {
    m: 'u32',
    n: 'u32',
    k: 'u32',
    batch_base: 'u32',
    a_row: 'u32',
    a_col: 'u32',
    b_row: 'u32',
    b_col: 'u32',
    a_batch_stride: 'u32',
    b_batch_stride: 'u32',
    row_tile_base: 'u32',
    col_tile_base: 'u32',
  },
  bindings: { a: read('array<f32>'), b: read('array<f32>'), out: readWrite('array<f32>') },
});

export const COPY = layout({
  params: {
    n: 'u32',
    rank: 'u32',
    src_offset: 'i32',
    dst_offset: 'i32',
    shape: 'array<vec4<u32>, 2>',
    src_strides: 'array<vec4<i32>, 2>',
    dst_strides: 'array<vec4<i32>, 2>',
  },
  bindings: { src: read('array<u32>'), dst: readWrite('array<u32>') },
});

/** count ids, rows of dim words from a table of vocab rows; row i lands at gathered[out_offset + i * out_stride]. */
export const GATHER = layout({
  struct: 'GatherParams',
  uniform: 'gather_params',
  params: { count: 'u32', dim: 'u32', vocab: 'u32', out_offset: 'u32', out_stride: 'u32' },
  bindings: { table: read('array<u32>'), ids: read('array<i32>'), gathered: readWrite('array<u32>') },
});

/** csr: [distinct ids | run offsets | row positions] (see gather.wgsl); summed is [vocab, dim]. */
export const SCATTER = layout({
  struct: 'ScatterParams',
  uniform: 'scatter_params',
  firstBinding: 4,
  params: { unique: 'u32', dim: 'u32', vocab: 'u32' },
  bindings: { src: read('array<f32>'), csr: read('array<u32>'), summed: readWrite('array<f32>') },
});

export const SOFTMAX = layout({
  params: { rows: 'u32', cols: 'u32', log_out: 'u32' },
  bindings: { x: read('array<f32>'), out: readWrite('array<f32>') },
});

/** out[i] = scale where (hash >> 8) >= threshold, else 0. */
export const DROPOUT = layout({
  params: { n: 'u32', seed: 'u32', threshold: 'u32', scale: 'f32' },
  bindings: { out: readWrite('array<f32>') },
});

/** gate_mix_forward writes mix and weights_out; gate_mix_backward reads weights, g_mix and writes the gradients. */
export const GATING = layout({
  params: { tasks: 'u32', batch: 'u32', experts: 'u32', hidden: 'u32' },
  bindings: {
    logits: read('array<f32>'),
    experts: read('array<f32>'),
    mix: readWrite('array<f32>'),
    weights_out: readWrite('array<f32>'),
    weights: read('array<f32>'),
    g_mix: read('array<f32>'),
    g_logits: readWrite('array<f32>'),
    g_experts: readWrite('array<f32>'),
  },
});

/** c1, c2: the bias corrections 1 - beta^step; decay_factor = 1 - lr * weight_decay. */
export const ADAM = layout({
  params: {
    n: 'u32',
    decoupled: 'u32',
    lr: 'f32',
    beta1: 'f32',
    beta2: 'f32',
    one_minus_beta1: 'f32',
    one_minus_beta2: 'f32',
    eps: 'f32',
    weight_decay: 'f32',
    decay_factor: 'f32',
    c1: 'f32',
    c2: 'f32',
  },
  bindings: { param: readWrite('array<f32>'), grad: read('array<f32>'), m: readWrite('array<f32>'), v: readWrite('array<f32>') },
});

// ---------------------------------------------------------------- sources

const wgslType = (d: DType): string => (d === 'f32' ? 'f32' : 'i32');
const loadWord = (d: DType): string => (d === 'f32' ? 'bitcast<f32>(w)' : 'f32(bitcast<i32>(w))');
const storeWord = (d: DType): string => (d === 'f32' ? 'bitcast<u32>(v)' : 'bitcast<u32>(js_to_i32(v))');
/** f32 → the output type as the reference's typed-array store converts it (math.wgsl's js_to_i32 for i32). */
const storeConvert = (d: DType): string => (d === 'f32' ? 'f32' : 'js_to_i32');

/** A WGSL module and the layout of the entry points a dispatch calls in it. */
export interface Shader<L extends KernelLayout = KernelLayout> {
  code: string;
  layout: L;
}

// Instantiated shaders are memoised so the per-dispatch cost is a Map lookup, not a regex pass.
const memo = new Map<string, Shader>();
function cached<L extends KernelLayout>(key: string, layout: L, build: () => string): Shader<L> {
  let s = memo.get(key);
  if (s === undefined) memo.set(key, (s = { code: build(), layout }));
  return s as Shader<L>;
}
const withMath = (code: string): string => `${mathWgsl}\n${code}`;

export const fillShader = (): Shader<typeof FILL> => cached('fill', FILL, () => declare(fillWgsl, FILL));
export const copyShader = (): Shader<typeof COPY> => cached('copy', COPY, () => declare(copyWgsl, COPY));
export const softmaxShader = (): Shader<typeof SOFTMAX> => cached('softmax', SOFTMAX, () => withMath(declare(softmaxWgsl, SOFTMAX)));
export const dropoutShader = (): Shader<typeof DROPOUT> => cached('dropout', DROPOUT, () => declare(dropoutWgsl, DROPOUT));
export const gatingShader = (): Shader<typeof GATING> => cached('gating', GATING, () => withMath(declare(gatingWgsl, GATING)));
export const adamShader = (): Shader<typeof ADAM> => cached('adam', ADAM, () => withMath(declare(optimizerWgsl, ADAM)));

// gather.wgsl holds both row kernels, each with its own layout; the two shaders share one module.
const gatherCode = (): string => declare(declare(gatherWgsl, GATHER, 'GATHER_LAYOUT'), SCATTER, 'SCATTER_LAYOUT');
export const gatherShader = (): Shader<typeof GATHER> => cached('gather', GATHER, gatherCode);
export const scatterShader = (): Shader<typeof SCATTER> => cached('scatter', SCATTER, gatherCode);

export function unaryShader(op: UnaryOp, x: DType, out: DType): Shader<typeof UNARY> {
  return cached(`unary/${op}/${x}/${out}`, UNARY, () =>
    withMath(
      instantiate(declare(elementwiseWgsl, UNARY), {
        X_TYPE: wgslType(x),
        OUT_TYPE: wgslType(out),
        STORE: storeConvert(out),
        EXPR: UNARY_KERNELS[op].wgsl,
      }),
    ),
  );
}

export function binaryShader(op: BinaryOp, a: DType, b: DType, out: DType): Shader<typeof BINARY> {
  return cached(`binary/${op}/${a}/${b}/${out}`, BINARY, () =>
    [
      mathWgsl,
      lossWgsl,
      instantiate(declare(binaryWgsl, BINARY), {
        LOAD_A: loadWord(a),
        LOAD_B: loadWord(b),
        STORE: storeWord(out),
        EXPR: BINARY_KERNELS[op].wgsl,
      }),
    ].join('\n'),
  );
}

/** `where` moves raw words, so one instantiation serves every dtype. */
export function whereShader(): Shader<typeof BINARY> {
  return binaryShader('add', 'f32', 'f32', 'f32');
}

export function reduceShader(op: ReduceOp, x: DType, out: DType): Shader<typeof REDUCE> {
  return cached(`reduce/${op}/${x}/${out}`, REDUCE, () =>
    withMath(
      instantiate(declare(reduceWgsl, REDUCE), {
        X_TYPE: wgslType(x),
        OUT_TYPE: wgslType(out),
        STORE: storeConvert(out),
        COMBINE: REDUCE_KERNELS[op].wgsl,
      }),
    ),
  );
}

/** Per-thread block TM = TN (1, 2 or 4) and the operand layouts are compile-time constants. */
export function matmulShader(threadBlock: 1 | 2 | 4, transA: boolean, transB: boolean): Shader<typeof MATMUL> {
  return cached(`matmul/${threadBlock}/${transA}/${transB}`, MATMUL, () =>
    instantiate(declare(matmulWgsl, MATMUL), {
      TM: String(threadBlock),
      TN: String(threadBlock),
      TRANS_A: String(transA),
      TRANS_B: String(transB),
    }),
  );
}
