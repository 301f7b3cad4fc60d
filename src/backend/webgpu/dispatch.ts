// Kernel dispatch: each Backend kernel of the WebGPU backend as checks on its operands, the choice
// of entry point and workgroup grid, and a dispatch of the kernel's WGSL (kernels.ts) with its params
// and buffers by name. Recording and submitting is encoder.ts's job, buffers are memory.ts's.
import type { AdamHyper, BinaryOp, Buffer, GateMixShape, MatmulShape, ReduceOp, RowPlacement, UnaryOp } from '../backend.js';
import { REDUCE_KERNELS, UNARY_KERNELS, type UnaryKernel } from '../kernel-table.js';
import type { GpuEncoder, Grid, Operand } from './encoder.js';
import {
  adamShader,
  type BINARY,
  binaryShader,
  copyShader,
  dropoutShader,
  fillShader,
  gatherShader,
  gatingShader,
  matmulShader,
  reduceShader,
  scatterShader,
  softmaxShader,
  unaryShader,
  whereShader,
} from './kernels.js';
import type { ParamsOf } from './layout.js';
import type { GpuMemory, WebGPUBuffer } from './memory.js';
import { type CollapsedShape, collapseDims, offsetRange, padFront } from './strided.js';

/** Largest expert count the fused gating kernels hold in workgroup memory. */
export const MAX_GATE_EXPERTS = 256;

const WORKGROUP = 256;

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
function f32Bits(value: number): number {
  f32Scratch[0] = value;
  return u32Scratch[0];
}

type BinaryParams = ParamsOf<typeof BINARY>;

/** binary.wgsl's params for a collapsed strided walk over a, b and, for where, cond (strides[2]). */
function stridedParams(c: CollapsedShape, condIsF32: number): BinaryParams {
  return {
    n: c.n,
    rank: c.shape.length,
    cond_is_f32: condIsF32,
    shape: padFront(c.shape, 1),
    a_strides: padFront(c.strides[0], 0),
    b_strides: padFront(c.strides[1], 0),
    c_strides: c.strides.length > 2 ? padFront(c.strides[2], 0) : [],
  };
}

/**
 * CSR of row positions grouped by id, in the layout gather.wgsl's scatter_add_rows reads:
 * [distinct ids | run offsets (unique + 1) | positions]. Ids outside [0, vocab) are dropped.
 */
export function buildRowCsr(ids: Int32Array, vocab: number): { csr: Uint32Array; unique: number } | null {
  const n = ids.length;
  // Sorting id * n + position orders by id, then by position (the CPU's summation order); exact below 2^53.
  const keys = new Float64Array(n);
  let valid = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id >= 0 && id < vocab) keys[valid++] = id * n + i;
  }
  if (valid === 0) return null;
  const sorted = keys.subarray(0, valid).sort();
  let unique = 0;
  let prev = -1;
  for (let k = 0; k < valid; k++) {
    const id = Math.floor(sorted[k] / n);
    if (id !== prev) unique++;
    prev = id;
  }
  const csr = new Uint32Array(2 * unique + 1 + valid);
  const positions = 2 * unique + 1;
  let u = -1;
  prev = -1;
  for (let k = 0; k < valid; k++) {
    const id = Math.floor(sorted[k] / n);
    if (id !== prev) {
      csr[++u] = id;
      csr[unique + u] = k;
      prev = id;
    }
    csr[positions + k] = sorted[k] - id * n;
  }
  csr[2 * unique] = valid;
  return { csr, unique };
}

export class KernelDispatcher {
  private readonly csrCache = new WeakMap<Int32Array, Map<number, ReturnType<typeof buildRowCsr>>>();

  constructor(
    private readonly memory: GpuMemory,
    private readonly encoder: GpuEncoder,
    /** Workgroups per grid dimension (the device's limit, or less for tests). */
    private readonly maxGroupsPerDim: number,
    /** Counts a kernel launch (the backend's stats.dispatches). */
    private readonly launched: () => void,
  ) {}

  fill(out: Buffer, value: number, n: number): void {
    this.launched();
    const o = this.memory.own(out);
    this.need(o, n, 'fill', 'out');
    const bits = o.dtype === 'f32' ? f32Bits(value) : (value | 0) >>> 0;
    this.fillWords(o, bits, n);
  }

  unary(op: UnaryOp, x: Buffer, out: Buffer, n: number, p0 = 0, p1 = 0): void {
    this.launched();
    const xb = this.memory.own(x);
    const ob = this.memory.own(out);
    this.need(xb, n, 'unary', 'x');
    this.need(ob, n, 'unary', 'out');
    if (n === 0) return;
    // The CPU compares f32 x against an f64 threshold; the table gives the f32 one that agrees on every f32 x.
    const kernel: UnaryKernel = UNARY_KERNELS[op];
    const [q0, q1] = kernel.f32Params?.(p0, p1) ?? [p0, p1];
    this.encoder.dispatch(
      unaryShader(op, xb.dtype, ob.dtype),
      'main',
      { n, p0: q0, p1: q1 },
      { x_in: { buf: xb }, out: { buf: ob, covers: n >= ob.size } },
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  binary(op: BinaryOp, a: Buffer, b: Buffer, out: Buffer, shape: number[], aStrides: number[], bStrides: number[]): void {
    this.launched();
    const ab = this.memory.own(a);
    const bb = this.memory.own(b);
    const ob = this.memory.own(out);
    const c = collapseDims(shape, [aStrides, bStrides]);
    this.need(ob, c.n, 'binary', 'out');
    if (c.n === 0) return;
    this.needStrided(ab, c, 0, 0, 'binary', 'a');
    this.needStrided(bb, c, 1, 0, 'binary', 'b');
    this.encoder.dispatch(
      binaryShader(op, ab.dtype, bb.dtype, ob.dtype),
      'binary_main',
      stridedParams(c, 0),
      { a_in: { buf: ab }, b_in: { buf: bb }, out: { buf: ob, covers: c.n >= ob.size } },
      this.grid(Math.ceil(c.n / WORKGROUP)),
    );
  }

  where(
    cond: Buffer,
    a: Buffer,
    b: Buffer,
    out: Buffer,
    shape: number[],
    condStrides: number[],
    aStrides: number[],
    bStrides: number[],
  ): void {
    this.launched();
    const cb = this.memory.own(cond);
    const ab = this.memory.own(a);
    const bb = this.memory.own(b);
    const ob = this.memory.own(out);
    if (ab.dtype !== ob.dtype || bb.dtype !== ob.dtype) {
      throw new Error(`WebGPUBackend.where: a (${ab.dtype}), b (${bb.dtype}) and out (${ob.dtype}) must share a dtype`);
    }
    const c = collapseDims(shape, [aStrides, bStrides, condStrides]);
    this.need(ob, c.n, 'where', 'out');
    if (c.n === 0) return;
    this.needStrided(ab, c, 0, 0, 'where', 'a');
    this.needStrided(bb, c, 1, 0, 'where', 'b');
    this.needStrided(cb, c, 2, 0, 'where', 'cond');
    this.encoder.dispatch(
      whereShader(),
      'where_main',
      stridedParams(c, cb.dtype === 'f32' ? 1 : 0),
      { a_in: { buf: ab }, b_in: { buf: bb }, out: { buf: ob, covers: c.n >= ob.size }, cond_in: { buf: cb } },
      this.grid(Math.ceil(c.n / WORKGROUP)),
    );
  }

  reduce(op: ReduceOp, x: Buffer, out: Buffer, outer: number, reduce: number, inner: number): void {
    this.launched();
    const xb = this.memory.own(x);
    const ob = this.memory.own(out);
    const outputs = outer * inner;
    this.need(xb, outputs * reduce, 'reduce', 'x');
    this.need(ob, outputs, 'reduce', 'out');
    if (outputs === 0) return;
    // One serial thread per output is fine while there are many outputs or the axis is short;
    // otherwise a workgroup cooperates on each row (inner == 1) or on 16 adjacent columns.
    let entry: string;
    let groups: Grid;
    if (reduce >= 64 && inner === 1 && (reduce >= 1024 || outer < 8192)) {
      entry = 'reduce_rows_tree';
      groups = this.grid(outer);
    } else if (reduce >= 64 && inner > 1 && outputs < 16384) {
      entry = 'reduce_cols_tree';
      groups = this.grid(outer * Math.ceil(inner / 16));
    } else {
      entry = 'reduce_simple';
      groups = this.grid(Math.ceil(outputs / WORKGROUP));
    }
    this.encoder.dispatch(
      reduceShader(op, xb.dtype, ob.dtype),
      entry,
      { outer, reduce, inner, init: REDUCE_KERNELS[op].init },
      { x: { buf: xb }, out: { buf: ob, covers: outputs >= ob.size } },
      groups,
    );
  }

  matmul(a: Buffer, b: Buffer, out: Buffer, p: MatmulShape): void {
    this.launched();
    const ab = this.memory.own(a);
    const bb = this.memory.own(b);
    const ob = this.memory.own(out);
    this.needF32('matmul', ab, bb, ob);
    const { batch, m, n, k, transA, transB, aBatchStride, bBatchStride } = p;
    this.need(ob, batch * m * n, 'matmul', 'out');
    if (batch * m * n === 0) return;
    this.need(ab, (batch - 1) * aBatchStride + m * k, 'matmul', 'a');
    this.need(bb, (batch - 1) * bBatchStride + k * n, 'matmul', 'b');
    const [aRow, aCol] = transA ? [1, m] : [k, 1];
    const [bRow, bCol] = transB ? [1, k] : [n, 1];
    // The largest per-thread block that still gives enough workgroups to occupy a big GPU.
    let block: 1 | 2 | 4 = 1;
    for (const t of [4, 2] as const) {
      if (Math.ceil(m / (16 * t)) * Math.ceil(n / (16 * t)) * batch >= 128) {
        block = t;
        break;
      }
    }
    const tile = 16 * block;
    const rowTiles = Math.ceil(m / tile);
    const colTiles = Math.ceil(n / tile);
    const shader = matmulShader(block, transA, transB);
    const max = this.maxGroupsPerDim;
    for (let b0 = 0; b0 < batch; b0 += max) {
      for (let r0 = 0; r0 < rowTiles; r0 += max) {
        for (let c0 = 0; c0 < colTiles; c0 += max) {
          this.encoder.dispatch(
            shader,
            'main',
            {
              m,
              n,
              k,
              batch_base: b0,
              a_row: aRow,
              a_col: aCol,
              b_row: bRow,
              b_col: bCol,
              a_batch_stride: aBatchStride,
              b_batch_stride: bBatchStride,
              row_tile_base: r0,
              col_tile_base: c0,
            },
            { a: { buf: ab }, b: { buf: bb }, out: { buf: ob, covers: batch * m * n >= ob.size } },
            [Math.min(max, colTiles - c0), Math.min(max, rowTiles - r0), Math.min(max, batch - b0)],
          );
        }
      }
    }
  }

  copy(src: Buffer, dst: Buffer, shape: number[], srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[]): void {
    this.launched();
    const sb = this.memory.own(src);
    const db = this.memory.own(dst);
    if (sb.dtype !== db.dtype) throw new Error(`WebGPUBackend.copy: src is ${sb.dtype} but dst is ${db.dtype}`);
    const c = collapseDims(shape, [srcStrides, dstStrides]);
    if (c.n === 0) return;
    this.needStrided(sb, c, 0, srcOffset, 'copy', 'src');
    this.needStrided(db, c, 1, dstOffset, 'copy', 'dst');
    const contiguous = c.shape.length === 0 || (c.shape.length === 1 && c.strides[1][0] === 1);
    this.encoder.dispatch(
      copyShader(),
      'main',
      {
        n: c.n,
        rank: c.shape.length,
        src_offset: srcOffset,
        dst_offset: dstOffset,
        shape: padFront(c.shape, 1),
        src_strides: padFront(c.strides[0], 0),
        dst_strides: padFront(c.strides[1], 0),
      },
      { src: { buf: sb }, dst: { buf: db, covers: contiguous && dstOffset === 0 && c.n >= db.size } },
      this.grid(Math.ceil(c.n / WORKGROUP)),
    );
  }

  gatherRows(
    table: Buffer,
    ids: Buffer,
    idsHost: Int32Array,
    out: Buffer,
    dim: number,
    into: RowPlacement = { offset: 0, stride: dim },
  ): void {
    this.launched();
    const tb = this.memory.own(table);
    const ib = this.memory.own(ids);
    const ob = this.memory.own(out);
    if (tb.dtype !== ob.dtype) throw new Error(`WebGPUBackend.gatherRows: table is ${tb.dtype} but out is ${ob.dtype}`);
    const count = idsHost.length;
    if (count * dim === 0) return;
    this.need(ob, into.offset + (count - 1) * into.stride + dim, 'gatherRows', 'out');
    const covers = into.offset === 0 && into.stride === dim && count * dim >= ob.size;
    const vocab = Math.floor(tb.size / dim);
    // The device copy of the ids is used when it is i32; otherwise the host ids are uploaded.
    const idsOperand: Operand = ib.dtype === 'i32' && ib.size >= count ? { buf: ib } : { scratch: this.encoder.uploadScratch(idsHost) };
    this.encoder.dispatch(
      gatherShader(),
      'gather_rows',
      { count, dim, vocab, out_offset: into.offset, out_stride: into.stride },
      { table: { buf: tb }, ids: idsOperand, gathered: { buf: ob, covers } },
      this.grid(Math.ceil((count * dim) / WORKGROUP)),
    );
  }

  scatterAddRows(src: Buffer, _ids: Buffer, idsHost: Int32Array, out: Buffer, vocab: number, dim: number): void {
    this.launched();
    this.memory.own(_ids);
    const sb = this.memory.own(src);
    const ob = this.memory.own(out);
    this.needF32('scatterAddRows', sb, ob);
    this.need(ob, vocab * dim, 'scatterAddRows', 'out');
    this.need(sb, idsHost.length * dim, 'scatterAddRows', 'src');
    if (vocab * dim === 0) return;
    this.fillWords(ob, 0, vocab * dim);
    const rows = this.rowCsr(idsHost, vocab);
    if (!rows) return;
    const { csr, unique } = rows;
    this.encoder.dispatch(
      scatterShader(),
      'scatter_add_rows',
      { unique, dim, vocab },
      { src: { buf: sb }, csr: { scratch: this.encoder.uploadScratch(csr) }, summed: { buf: ob } },
      this.grid(Math.ceil((unique * dim) / WORKGROUP)),
    );
  }

  /** The CSR of a host ids array, built once per array and vocabulary (GradNorm-style strategies scatter the same ids T + 1 times a step). */
  private rowCsr(idsHost: Int32Array, vocab: number): ReturnType<typeof buildRowCsr> {
    let byVocab = this.csrCache.get(idsHost);
    if (!byVocab) this.csrCache.set(idsHost, (byVocab = new Map()));
    if (!byVocab.has(vocab)) byVocab.set(vocab, buildRowCsr(idsHost, vocab));
    return byVocab.get(vocab)!;
  }

  softmax(x: Buffer, out: Buffer, rows: number, cols: number, log: boolean): void {
    this.launched();
    const xb = this.memory.own(x);
    const ob = this.memory.own(out);
    this.needF32('softmax', xb, ob);
    this.need(xb, rows * cols, 'softmax', 'x');
    this.need(ob, rows * cols, 'softmax', 'out');
    if (rows * cols === 0) return;
    const wide = cols >= 128;
    this.encoder.dispatch(
      softmaxShader(),
      wide ? 'softmax_rows_wg' : 'softmax_rows',
      { rows, cols, log_out: log ? 1 : 0 },
      { x: { buf: xb }, out: { buf: ob, covers: rows * cols >= ob.size } },
      wide ? this.grid(rows) : this.grid(Math.ceil(rows / 64)),
    );
  }

  dropoutMask(out: Buffer, n: number, p: number, seed: number): void {
    this.launched();
    const ob = this.memory.own(out);
    this.needF32('dropoutMask', ob);
    this.need(ob, n, 'dropoutMask', 'out');
    if (n === 0) return;
    // u >= p  ⇔  (h >> 8) >= ceil(p · 2^24), since u = (h >> 8) / 2^24 exactly.
    const threshold = p > 0 ? Math.min(2 ** 24 + 1, Math.ceil(p * 2 ** 24)) : p <= 0 ? 0 : 2 ** 24 + 1;
    this.encoder.dispatch(
      dropoutShader(),
      'main',
      { n, seed, threshold, scale: 1 / (1 - p) },
      { out: { buf: ob, covers: n >= ob.size } },
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  gateMixForward(logits: Buffer, experts: Buffer, mix: Buffer, weights: Buffer, p: GateMixShape): void {
    this.launched();
    const lb = this.memory.own(logits);
    const eb = this.memory.own(experts);
    const mb = this.memory.own(mix);
    const wb = this.memory.own(weights);
    this.needF32('gateMixForward', lb, eb, mb, wb);
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    this.checkGateShape(p, 'gateMixForward');
    this.need(lb, T * B * E, 'gateMixForward', 'logits');
    this.need(eb, E * B * H, 'gateMixForward', 'experts');
    this.need(mb, T * B * H, 'gateMixForward', 'mix');
    this.need(wb, T * B * E, 'gateMixForward', 'weights');
    const rows = T * B;
    if (rows === 0) return;
    if (E === 0) {
      this.fillWords(mb, 0, rows * H); // an empty mixture is zero
      return;
    }
    this.encoder.dispatch(
      gatingShader(),
      'gate_mix_forward',
      { tasks: T, batch: B, experts: E, hidden: H },
      {
        logits: { buf: lb },
        experts: { buf: eb },
        mix: { buf: mb, covers: rows * H >= mb.size },
        weights_out: { buf: wb, covers: rows * E >= wb.size },
      },
      this.grid(rows),
    );
  }

  gateMixBackward(weights: Buffer, experts: Buffer, gMix: Buffer, gLogits: Buffer, gExperts: Buffer, p: GateMixShape): void {
    this.launched();
    const wb = this.memory.own(weights);
    const eb = this.memory.own(experts);
    const gb = this.memory.own(gMix);
    const glb = this.memory.own(gLogits);
    const geb = this.memory.own(gExperts);
    this.needF32('gateMixBackward', wb, eb, gb, glb, geb);
    const { tasks: T, batch: B, experts: E, hidden: H } = p;
    this.checkGateShape(p, 'gateMixBackward');
    this.need(wb, T * B * E, 'gateMixBackward', 'weights');
    this.need(eb, E * B * H, 'gateMixBackward', 'experts');
    this.need(gb, T * B * H, 'gateMixBackward', 'gMix');
    this.need(glb, T * B * E, 'gateMixBackward', 'gLogits');
    this.need(geb, E * B * H, 'gateMixBackward', 'gExperts');
    const rows = T * B;
    const groups = rows + Math.ceil((E * B * H) / 64);
    if (E === 0 || groups === 0) return;
    this.encoder.dispatch(
      gatingShader(),
      'gate_mix_backward',
      { tasks: T, batch: B, experts: E, hidden: H },
      {
        experts: { buf: eb },
        weights: { buf: wb },
        g_mix: { buf: gb },
        g_logits: { buf: glb, covers: rows * E >= glb.size },
        g_experts: { buf: geb, covers: E * B * H >= geb.size },
      },
      this.grid(groups),
    );
  }

  adam(param: Buffer, grad: Buffer, m: Buffer, v: Buffer, n: number, h: AdamHyper): void {
    this.launched();
    const pb = this.memory.own(param);
    const gb = this.memory.own(grad);
    const mb = this.memory.own(m);
    const vb = this.memory.own(v);
    this.needF32('adam', pb, gb, mb, vb);
    for (const [b, what] of [
      [pb, 'param'],
      [gb, 'grad'],
      [mb, 'm'],
      [vb, 'v'],
    ] as const)
      this.need(b, n, 'adam', what);
    if (n === 0) return;
    const c1 = 1 - h.beta1 ** h.step;
    const c2 = 1 - h.beta2 ** h.step;
    this.encoder.dispatch(
      adamShader(),
      'adam',
      {
        n,
        decoupled: h.decoupled ? 1 : 0,
        lr: h.lr,
        beta1: h.beta1,
        beta2: h.beta2,
        one_minus_beta1: 1 - h.beta1,
        one_minus_beta2: 1 - h.beta2,
        eps: h.eps,
        weight_decay: h.weightDecay,
        decay_factor: 1 - h.lr * h.weightDecay,
        c1,
        c2,
      },
      { param: { buf: pb }, grad: { buf: gb }, m: { buf: mb }, v: { buf: vb } },
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  /** out[0..n) = bits, as raw words; an internal helper, not counted as a launch. */
  private fillWords(out: WebGPUBuffer, bits: number, n: number): void {
    if (n === 0) return;
    this.encoder.dispatch(
      fillShader(),
      'main',
      { n, bits },
      { out: { buf: out, covers: n >= out.size } },
      this.grid(Math.ceil(n / WORKGROUP)),
    );
  }

  /** Workgroup counts as (x, y, 1) with x, y within the per-dimension limit; shaders linearise y * nx + x. */
  private grid(groups: number): Grid {
    const max = this.maxGroupsPerDim;
    if (groups <= max) return [groups, 1, 1];
    const y = Math.ceil(groups / max);
    if (y > max) throw new Error(`WebGPUBackend: ${groups} workgroups exceed the device's dispatch limits`);
    return [Math.ceil(groups / y), y, 1];
  }

  private need(b: WebGPUBuffer, count: number, kernel: string, what: string): void {
    if (!(count >= 0) || count > b.size) throw new Error(`WebGPUBackend.${kernel}: ${what} needs ${count} elements, buffer has ${b.size}`);
  }

  private needStrided(b: WebGPUBuffer, c: CollapsedShape, operand: number, base: number, kernel: string, what: string): void {
    const [lo, hi] = offsetRange(c.shape, c.strides[operand]);
    if (base + lo < 0 || base + hi >= b.size) {
      throw new Error(`WebGPUBackend.${kernel}: ${what} reads/writes offsets ${base + lo}..${base + hi}, buffer has ${b.size}`);
    }
  }

  private needF32(kernel: string, ...bufs: WebGPUBuffer[]): void {
    if (bufs.some((b) => b.dtype !== 'f32')) throw new Error(`WebGPUBackend.${kernel}: f32 buffers only`);
  }

  private checkGateShape(p: GateMixShape, kernel: string): void {
    if (p.experts > MAX_GATE_EXPERTS) throw new Error(`WebGPUBackend.${kernel}: at most ${MAX_GATE_EXPERTS} experts, got ${p.experts}`);
  }
}
