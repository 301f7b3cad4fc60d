// The kernels of the wasm backend, in AssemblyScript (compiled by scripts/build-wasm.mjs).
//
// Every pointer is a byte address in the one linear memory the JS side owns (imported as env.memory);
// sizes and strides are counted in elements. Nothing here allocates: the wrapper
// (src/backend/wasm/wasm-backend.ts) hands in outputs and, where a kernel needs it, scratch space.
// f32 data go through f32x4 SIMD where the result is the same as the reference backend's (which
// computes in f64 and rounds once: for + − × ÷ √ on f32 operands that is the correctly rounded f32
// result); ops whose f32 result would differ use f64x2 or scalar f64 arithmetic.
//
// dtype codes: 0 = f32, 1 = i32.

// Op codes (U_*, B_*) and the scalar form of every elementwise op (unaryScalar, binaryScalar) are
// generated from src/backend/kernel-table.ts; the SIMD fast paths below are written by hand.
import {
  B_ADD, B_DIV, B_EQ, B_GT, B_MAX, B_MIN, B_MUL, B_SUB, binaryScalar,
  U_ABS, U_AFFINE, U_CLAMP, U_GT_SCALAR, U_IN_RANGE, U_LEAKY_RELU, U_NEG, U_RECIPROCAL, U_RELU, U_SQRT, U_SQUARE, unaryScalar,
} from './ops.generated';

// ---------------------------------------------------------------- scalar helpers

/** JavaScript's ToInt32: what storing a number into an Int32Array does. */
function toInt32(x: f64): i32 {
  if (!isFinite(x)) return 0;
  const t = Math.trunc(x);
  if (t >= -2147483648.0 && t <= 2147483647.0) return <i32>t;
  const m = t - Math.floor(t / 4294967296.0) * 4294967296.0;
  return <i32>(<u32>m);
}

@inline function loadNum(p: usize, dtype: i32): f64 {
  return dtype == 0 ? <f64>load<f32>(p) : <f64>load<i32>(p);
}

@inline function storeNum(p: usize, dtype: i32, v: f64): void {
  if (dtype == 0) store<f32>(p, <f32>v);
  else store<i32>(p, toInt32(v));
}

// f32x4 <-> two f64x2
@inline function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}
@inline function join32(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}
/** Two f64x2 masks → one i32x4 mask. */
@inline function joinMask(lo: v128, hi: v128): v128 {
  return v128.shuffle<i32>(lo, hi, 0, 2, 4, 6);
}

// ---------------------------------------------------------------- fill

export function fill(out: usize, n: i32, dtype: i32, value: f64): void {
  let bits: i32 = dtype == 0 ? reinterpret<i32>(<f32>value) : toInt32(value);
  const v = i32x4.splat(bits);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), v);
  for (; i < n; i++) store<i32>(out + (<usize>i << 2), bits);
}

/** Zeroes `bytes` bytes (pooled buffers that must read as zeros). */
export function zero(ptr: usize, bytes: i32): void {
  memory.fill(ptr, 0, <usize>bytes);
}

// ---------------------------------------------------------------- unary

/** out[i] = op(x[i]) for i in [lo, hi). */
export function unary(op: i32, x: usize, xType: i32, out: usize, oType: i32, p0: f64, p1: f64, lo: i32, hi: i32): void {
  let i = lo;
  if (xType == 0 && oType == 0) i = lo + unaryF32(op, x + (<usize>lo << 2), out + (<usize>lo << 2), hi - lo, p0, p1);
  for (; i < hi; i++) {
    const off = <usize>i << 2;
    storeNum(out + off, oType, unaryScalar(op, loadNum(x + off, xType), p0, p1));
  }
}

/** The SIMD part of an f32 → f32 unary op; returns how many elements it did (the rest go scalar). */
function unaryF32(op: i32, x: usize, out: usize, n: i32, p0: f64, p1: f64): i32 {
  const n4 = n & ~3;
  let i = 0;
  switch (op) {
    case U_NEG: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.neg(v128.load(x + o))); } break;
    case U_ABS: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.abs(v128.load(x + o))); } break;
    case U_SQRT: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.sqrt(v128.load(x + o))); } break;
    case U_SQUARE: for (; i < n4; i += 4) { const o = <usize>i << 2; const v = v128.load(x + o); v128.store(out + o, f32x4.mul(v, v)); } break;
    case U_RECIPROCAL: {
      const one = f32x4.splat(1);
      for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.div(one, v128.load(x + o))); }
      break;
    }
    case U_RELU: {
      const z = f32x4.splat(0);
      for (; i < n4; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(x + o);
        v128.store(out + o, v128.bitselect(z, v, f32x4.le(v, z)));
      }
      break;
    }
    case U_AFFINE: {
      const s = f64x2.splat(p0), t = f64x2.splat(p1);
      for (; i < n4; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(x + o);
        v128.store(out + o, join32(f64x2.add(f64x2.mul(lo64(v), s), t), f64x2.add(f64x2.mul(hi64(v), s), t)));
      }
      break;
    }
    case U_GT_SCALAR: {
      const t = f64x2.splat(p0), one = f32x4.splat(1);
      for (; i < n4; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(x + o);
        v128.store(out + o, v128.and(joinMask(f64x2.gt(lo64(v), t), f64x2.gt(hi64(v), t)), one));
      }
      break;
    }
    case U_IN_RANGE: {
      const a = f64x2.splat(p0), b = f64x2.splat(p1), one = f32x4.splat(1);
      for (; i < n4; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(x + o);
        const l = lo64(v), h = hi64(v);
        const ml = v128.and(f64x2.ge(l, a), f64x2.le(l, b));
        const mh = v128.and(f64x2.ge(h, a), f64x2.le(h, b));
        v128.store(out + o, v128.and(joinMask(ml, mh), one));
      }
      break;
    }
    case U_CLAMP: {
      const a = f64x2.splat(p0), b = f64x2.splat(p1);
      for (; i < n4; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(x + o);
        v128.store(out + o, join32(f64x2.min(f64x2.max(lo64(v), a), b), f64x2.min(f64x2.max(hi64(v), a), b)));
      }
      break;
    }
    case U_LEAKY_RELU: {
      const s = f64x2.splat(p0), z = f64x2.splat(0);
      for (; i < n4; i += 4) {
        const o = <usize>i << 2;
        const v = v128.load(x + o);
        const l = lo64(v), h = hi64(v);
        const rl = v128.bitselect(l, f64x2.mul(l, s), f64x2.gt(l, z));
        const rh = v128.bitselect(h, f64x2.mul(h, s), f64x2.gt(h, z));
        v128.store(out + o, join32(rl, rh));
      }
      break;
    }
    default:
      return 0;
  }
  return n4;
}

// ---------------------------------------------------------------- strided iteration
// meta (i32 words): shape[rank], then each operand's strides[rank]; operand pointers are already
// offset. The outer axes (all but the last) are walked with counters kept in `ctr` (rank words).

// ---------------------------------------------------------------- binary

/** Rows [r0, r1) of a rank ≤ 3 f32 op whose rows are contiguous in a, b and out (n a multiple of 4). */
@inline function rowsLoop(op: i32, a: usize, a0: i32, a1: i32, b: usize, b0: i32, b1: i32, out: usize, d1: i32, n: i32, r0: i32, r1: i32): void {
  let i0 = r0 / d1, i1 = r0 - i0 * d1;
  const rowBytes = <usize>n << 2;
  let po = out + <usize>r0 * rowBytes;
  for (let r = r0; r < r1; r++) {
    const pa = a + (<usize>(i0 * a0 + i1 * a1) << 2);
    const pb = b + (<usize>(i0 * b0 + i1 * b1) << 2);
    for (let o: usize = 0; o < rowBytes; o += 16) v128.store(po + o, binV(op, v128.load(pa + o), v128.load(pb + o)));
    po += rowBytes;
    if (++i1 == d1) {
      i1 = 0;
      i0++;
    }
  }
}

/** rowsLoop with the op fixed per case, so each loop body is one SIMD instruction (no switch inside). */
function binaryRowsF32(op: i32, a: usize, a0: i32, a1: i32, b: usize, b0: i32, b1: i32, out: usize, d1: i32, n: i32, r0: i32, r1: i32): void {
  switch (op) {
    case B_ADD: rowsLoop(B_ADD, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_SUB: rowsLoop(B_SUB, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_MUL: rowsLoop(B_MUL, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_DIV: rowsLoop(B_DIV, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_MAX: rowsLoop(B_MAX, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_MIN: rowsLoop(B_MIN, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_GT: rowsLoop(B_GT, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
    case B_EQ: rowsLoop(B_EQ, a, a0, a1, b, b0, b1, out, d1, n, r0, r1); break;
  }
}

/** One output row of n elements; the operands advance by sa and sb elements per output element. */
@inline function binaryRow(op: i32, pa: usize, aType: i32, sa: i32, pb: usize, bType: i32, sb: i32, po: usize, oType: i32, n: i32, allF32: bool): void {
  let j = 0;
  if (allF32) j = binaryRowF32(op, pa, sa, pb, sb, po, n);
  for (; j < n; j++) {
    storeNum(po + (<usize>j << 2), oType, binaryScalar(op, loadNum(pa + ((<usize>(j * sa)) << 2), aType), loadNum(pb + ((<usize>(j * sb)) << 2), bType)));
  }
}

/**
 * out (contiguous) = op(a, b) over meta's shape with each operand's strides. [r0, r1): for rank 1 a
 * range of elements, for ranks 2 and 3 a range of rows (the flattened leading axes); ranks above 3
 * ignore it and do everything.
 */
export function binary(op: i32, a: usize, aType: i32, b: usize, bType: i32, out: usize, oType: i32, rank: i32, meta: usize, ctr: usize, r0: i32, r1: i32): void {
  if (rank == 0) {
    storeNum(out, oType, binaryScalar(op, loadNum(a, aType), loadNum(b, bType)));
    return;
  }
  const shp = meta, as = meta + (<usize>rank << 2), bs = meta + (<usize>rank << 3);
  const last = <usize>(rank - 1) << 2;
  const n = load<i32>(shp + last);
  const sa = load<i32>(as + last), sb = load<i32>(bs + last);
  const allF32 = aType == 0 && bType == 0 && oType == 0;
  if (rank == 1) {
    binaryRow(op, a + ((<usize>(r0 * sa)) << 2), aType, sa, b + ((<usize>(r0 * sb)) << 2), bType, sb, out + (<usize>r0 << 2), oType, r1 - r0, allF32);
    return;
  }
  if (rank <= 3) {
    const d1 = load<i32>(shp + last - 4);
    const a1 = load<i32>(as + last - 4), b1 = load<i32>(bs + last - 4);
    const a0 = rank == 3 ? load<i32>(as) : 0, b0 = rank == 3 ? load<i32>(bs) : 0;
    if (allF32 && sa == 1 && sb == 1 && (n & 3) == 0 && simdBinary(op)) {
      binaryRowsF32(op, a, a0, a1, b, b0, b1, out, d1, n, r0, r1);
      return;
    }
    // walk (i0, i1) from r0 without a division per row
    let i0 = r0 / d1, i1 = r0 - i0 * d1;
    for (let r = r0; r < r1; r++) {
      const pa = a + (<usize>(i0 * a0 + i1 * a1) << 2);
      const pb = b + (<usize>(i0 * b0 + i1 * b1) << 2);
      binaryRow(op, pa, aType, sa, pb, bType, sb, out + ((<usize>r * <usize>n) << 2), oType, n, allF32);
      if (++i1 == d1) {
        i1 = 0;
        i0++;
      }
    }
    return;
  }
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) {
    rows *= load<i32>(shp + (<usize>d << 2));
    store<i32>(ctr + (<usize>d << 2), 0);
  }
  let pa = a, pb = b, po = out;
  for (let r = 0; r < rows; r++) {
    binaryRow(op, pa, aType, sa, pb, bType, sb, po, oType, n, allF32);
    po += <usize>n << 2;
    // advance the outer counters
    for (let d = rank - 2; d >= 0; d--) {
      const cp = ctr + (<usize>d << 2);
      const c = load<i32>(cp) + 1;
      const dOff = <usize>d << 2;
      if (c < load<i32>(shp + dOff)) {
        store<i32>(cp, c);
        pa += <usize>load<i32>(as + dOff) << 2;
        pb += <usize>load<i32>(bs + dOff) << 2;
        break;
      }
      store<i32>(cp, 0);
      pa -= <usize>(load<i32>(as + dOff) * (c - 1)) << 2;
      pb -= <usize>(load<i32>(bs + dOff) * (c - 1)) << 2;
    }
  }
}

/** The binary ops with an f32x4 form (binV) that rounds as the reference does. */
@inline function simdBinary(op: i32): bool {
  return op == B_ADD || op == B_SUB || op == B_MUL || op == B_DIV || op == B_MAX || op == B_MIN || op == B_GT || op == B_EQ;
}

@inline function binV(op: i32, x: v128, y: v128): v128 {
  switch (op) {
    case B_ADD: return f32x4.add(x, y);
    case B_SUB: return f32x4.sub(x, y);
    case B_MUL: return f32x4.mul(x, y);
    case B_DIV: return f32x4.div(x, y);
    case B_MAX: return f32x4.max(x, y);
    case B_MIN: return f32x4.min(x, y);
    case B_GT: return v128.and(f32x4.gt(x, y), f32x4.splat(1));
    case B_EQ: return v128.and(f32x4.eq(x, y), f32x4.splat(1));
  }
  return x;
}

/** SIMD part of one row of an f32 binary op (inner strides 1/1, 1/0 or 0/1); returns elements done. */
function binaryRowF32(op: i32, a: usize, sa: i32, b: usize, sb: i32, out: usize, n: i32): i32 {
  if (!simdBinary(op)) return 0;
  const n4 = n & ~3;
  let i = 0;
  if (sa == 1 && sb == 1) {
    switch (op) {
      case B_ADD: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o))); } break;
      case B_SUB: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.sub(v128.load(a + o), v128.load(b + o))); } break;
      case B_MUL: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o))); } break;
      case B_DIV: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.div(v128.load(a + o), v128.load(b + o))); } break;
      default: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, binV(op, v128.load(a + o), v128.load(b + o))); }
    }
    return n4;
  }
  if (sa == 1 && sb == 0) {
    const y = v128.load32_splat(b);
    switch (op) {
      case B_ADD: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.add(v128.load(a + o), y)); } break;
      case B_MUL: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.mul(v128.load(a + o), y)); } break;
      default: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, binV(op, v128.load(a + o), y)); }
    }
    return n4;
  }
  if (sa == 0 && sb == 1) {
    const x = v128.load32_splat(a);
    switch (op) {
      case B_ADD: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.add(x, v128.load(b + o))); } break;
      case B_MUL: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.mul(x, v128.load(b + o))); } break;
      default: for (; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, binV(op, x, v128.load(b + o))); }
    }
    return n4;
  }
  return 0;
}

// ---------------------------------------------------------------- where

export function where(cond: usize, cType: i32, a: usize, b: usize, out: usize, rank: i32, meta: usize, ctr: usize): void {
  if (rank == 0) {
    const c = cType == 0 ? load<f32>(cond) != 0 : load<i32>(cond) != 0;
    store<i32>(out, c ? load<i32>(a) : load<i32>(b));
    return;
  }
  const r4 = <usize>rank << 2;
  const shp = meta, cs = meta + r4, as = meta + 2 * r4, bs = meta + 3 * r4;
  const last = <usize>(rank - 1) << 2;
  const n = load<i32>(shp + last);
  const sc = <usize>load<i32>(cs + last) << 2, sa = <usize>load<i32>(as + last) << 2, sb = <usize>load<i32>(bs + last) << 2;
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) {
    rows *= load<i32>(shp + (<usize>d << 2));
    store<i32>(ctr + (<usize>d << 2), 0);
  }
  let pc = cond, pa = a, pb = b, po = out;
  for (let r = 0; r < rows; r++) {
    let qc = pc, qa = pa, qb = pb;
    for (let j = 0; j < n; j++) {
      const c = cType == 0 ? load<f32>(qc) != 0 : load<i32>(qc) != 0;
      store<i32>(po, c ? load<i32>(qa) : load<i32>(qb));
      po += 4;
      qc += sc;
      qa += sa;
      qb += sb;
    }
    for (let d = rank - 2; d >= 0; d--) {
      const dOff = <usize>d << 2;
      const cp = ctr + dOff;
      const k = load<i32>(cp) + 1;
      if (k < load<i32>(shp + dOff)) {
        store<i32>(cp, k);
        pc += <usize>load<i32>(cs + dOff) << 2;
        pa += <usize>load<i32>(as + dOff) << 2;
        pb += <usize>load<i32>(bs + dOff) << 2;
        break;
      }
      store<i32>(cp, 0);
      pc -= <usize>(load<i32>(cs + dOff) * (k - 1)) << 2;
      pa -= <usize>(load<i32>(as + dOff) * (k - 1)) << 2;
      pb -= <usize>(load<i32>(bs + dOff) * (k - 1)) << 2;
    }
  }
}

// ---------------------------------------------------------------- copy (bit-exact, any dtype)

@inline function copyRow(ps: usize, pd: usize, n: i32, s1: i32, d1: i32): void {
  if (s1 == 1 && d1 == 1) {
    if (n >= 64) {
      memory.copy(pd, ps, <usize>n << 2);
      return;
    }
    let j = 0;
    for (; j + 4 <= n; j += 4) v128.store(pd + (<usize>j << 2), v128.load(ps + (<usize>j << 2)));
    for (; j < n; j++) store<i32>(pd + (<usize>j << 2), load<i32>(ps + (<usize>j << 2)));
  } else if (s1 == 0 && d1 == 1) {
    const v = load<i32>(ps);
    const vv = i32x4.splat(v);
    let j = 0;
    for (; j + 4 <= n; j += 4) v128.store(pd + (<usize>j << 2), vv);
    for (; j < n; j++) store<i32>(pd + (<usize>j << 2), v);
  } else {
    const sStep = <usize>s1 << 2, dStep = <usize>d1 << 2;
    let qs = ps, qd = pd;
    for (let j = 0; j < n; j++) {
      store<i32>(qd, load<i32>(qs));
      qs += sStep;
      qd += dStep;
    }
  }
}

export function copy(src: usize, dst: usize, rank: i32, meta: usize, ctr: usize): void {
  if (rank == 0) {
    store<i32>(dst, load<i32>(src));
    return;
  }
  const r4 = <usize>rank << 2;
  const shp = meta, ss = meta + r4, ds = meta + 2 * r4;
  const last = <usize>(rank - 1) << 2;
  const n = load<i32>(shp + last);
  const s1 = load<i32>(ss + last), d1 = load<i32>(ds + last);
  if (rank <= 2) {
    const rows = rank == 2 ? load<i32>(shp) : 1;
    const rs = rank == 2 ? <usize>load<i32>(ss) << 2 : 0, rd = rank == 2 ? <usize>load<i32>(ds) << 2 : 0;
    let ps = src, pd = dst;
    if (s1 == 1 && d1 == 1 && n == 4) {
      // rows of 4 (embeddings of width 4 into a concatenation, and back)
      for (let r = 0; r < rows; r++) {
        v128.store(pd, v128.load(ps));
        ps += rs;
        pd += rd;
      }
    } else if (n == 1) {
      for (let r = 0; r < rows; r++) {
        store<i32>(pd, load<i32>(ps));
        ps += rs;
        pd += rd;
      }
    } else {
      for (let r = 0; r < rows; r++) {
        copyRow(ps, pd, n, s1, d1);
        ps += rs;
        pd += rd;
      }
    }
    return;
  }
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) {
    rows *= load<i32>(shp + (<usize>d << 2));
    store<i32>(ctr + (<usize>d << 2), 0);
  }
  let ps = src, pd = dst;
  for (let r = 0; r < rows; r++) {
    copyRow(ps, pd, n, s1, d1);
    for (let d = rank - 2; d >= 0; d--) {
      const dOff = <usize>d << 2;
      const cp = ctr + dOff;
      const k = load<i32>(cp) + 1;
      if (k < load<i32>(shp + dOff)) {
        store<i32>(cp, k);
        ps += <usize>load<i32>(ss + dOff) << 2;
        pd += <usize>load<i32>(ds + dOff) << 2;
        break;
      }
      store<i32>(cp, 0);
      ps -= <usize>(load<i32>(ss + dOff) * (k - 1)) << 2;
      pd -= <usize>(load<i32>(ds + dOff) * (k - 1)) << 2;
    }
  }
}

// ---------------------------------------------------------------- reduce
// x viewed as [outer, reduce, inner] → out [outer, inner]. Sums accumulate in f64 (as the reference);
// `scratch` holds `inner` f64 accumulators when inner > 1.

export function reduceSum(x: usize, out: usize, outer: i32, red: i32, inner: i32, scratch: usize): void {
  if (inner == 1) {
    for (let i = 0; i < outer; i++) {
      const row = x + ((<usize>i * <usize>red) << 2);
      let acc0 = f64x2.splat(0), acc1 = f64x2.splat(0);
      let r = 0;
      for (; r + 4 <= red; r += 4) {
        const v = v128.load(row + (<usize>r << 2));
        acc0 = f64x2.add(acc0, lo64(v));
        acc1 = f64x2.add(acc1, hi64(v));
      }
      const acc = f64x2.add(acc0, acc1);
      let s = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
      for (; r < red; r++) s += <f64>load<f32>(row + (<usize>r << 2));
      store<f32>(out + (<usize>i << 2), <f32>s);
    }
    return;
  }
  const in4 = inner & ~3;
  for (let i = 0; i < outer; i++) {
    memory.fill(scratch, 0, <usize>inner << 3);
    const base = x + ((<usize>i * <usize>red * <usize>inner) << 2);
    for (let r = 0; r < red; r++) {
      const row = base + ((<usize>r * <usize>inner) << 2);
      let j = 0;
      for (; j < in4; j += 4) {
        const v = v128.load(row + (<usize>j << 2));
        const sp = scratch + (<usize>j << 3);
        v128.store(sp, f64x2.add(v128.load(sp), lo64(v)));
        v128.store(sp, f64x2.add(v128.load(sp, 16), hi64(v)), 16);
      }
      for (; j < inner; j++) {
        const sp = scratch + (<usize>j << 3);
        store<f64>(sp, load<f64>(sp) + <f64>load<f32>(row + (<usize>j << 2)));
      }
    }
    const o = out + ((<usize>i * <usize>inner) << 2);
    for (let j = 0; j < inner; j++) store<f32>(o + (<usize>j << 2), <f32>load<f64>(scratch + (<usize>j << 3)));
  }
}

export function reduceMax(x: usize, out: usize, outer: i32, red: i32, inner: i32): void {
  const in4 = inner & ~3;
  for (let i = 0; i < outer; i++) {
    const base = x + ((<usize>i * <usize>red * <usize>inner) << 2);
    const o = out + ((<usize>i * <usize>inner) << 2);
    if (inner == 1) {
      let m = f32x4.splat(-Infinity);
      let r = 0;
      for (; r + 4 <= red; r += 4) m = f32x4.max(m, v128.load(base + (<usize>r << 2)));
      let s = Mathf.max(Mathf.max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), Mathf.max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
      for (; r < red; r++) s = Mathf.max(s, load<f32>(base + (<usize>r << 2)));
      store<f32>(o, s);
      continue;
    }
    let j = 0;
    for (; j < in4; j += 4) {
      let m = f32x4.splat(-Infinity);
      for (let r = 0; r < red; r++) m = f32x4.max(m, v128.load(base + ((<usize>r * <usize>inner + <usize>j) << 2)));
      v128.store(o + (<usize>j << 2), m);
    }
    for (; j < inner; j++) {
      let s: f32 = -Infinity;
      for (let r = 0; r < red; r++) s = Mathf.max(s, load<f32>(base + ((<usize>r * <usize>inner + <usize>j) << 2)));
      store<f32>(o + (<usize>j << 2), s);
    }
  }
}

// ---------------------------------------------------------------- matmul
// C[t] (m×n, row stride ldc, batch stride m·ldc) = op(A)[t] · B[t] for the flattened rows [r0, r1)
// of batch × m. op(A) element (i, kk) of batch t sits at a + 4·(t·aBatch + i·ars + kk·acs), so a
// transposed A needs no copy; B must be k×n row-major with row stride ldb (the wrapper packs a
// transB operand, or one whose n is not a multiple of 4, with packB first). Register tiles of
// 4 rows × 8 columns (8 f32x4 accumulators). With a bias (a pointer, 0 for none), bias row t
// (at bias + 4·t·biasBatch) is added to every row of C[t] as the sums are stored.

export function matmul(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, ars: i32, acs: i32, aBatch: i32, ldb: i32, bBatch: i32, ldc: i32, bias: usize, biasBatch: i32, r0: i32, r1: i32): void {
  const ar4 = <usize>ars << 2, ac4 = <usize>acs << 2, lb4 = <usize>ldb << 2, lc4 = <usize>ldc << 2;
  let r = r0;
  while (r < r1) {
    const t = r / m;
    const i = r - t * m;
    let rows = m - i;
    if (rows > r1 - r) rows = r1 - r;
    if (rows > 4) rows = 4;
    const pa = a + ((<usize>t * <usize>aBatch) << 2) + <usize>i * ar4;
    const pb = b + ((<usize>t * <usize>bBatch) << 2);
    const pc = c + ((<usize>t * <usize>m * <usize>ldc) << 2) + <usize>i * lc4;
    // The bias row of this batch entry (0: none), added to each finished sum.
    const pz = bias == 0 ? 0 : bias + ((<usize>t * <usize>biasBatch) << 2);
    if (k == 0 && pz == 0) {
      memory.fill(pc, 0, <usize>rows * lc4);
    } else if (rows == 4) {
      let j = 0;
      for (; j + 8 <= n; j += 8) tile4x8(pa, ar4, ac4, pb + (<usize>j << 2), lb4, pc + (<usize>j << 2), lc4, k, at(pz, j));
      for (; j + 4 <= n; j += 4) tile4x4(pa, ar4, ac4, pb + (<usize>j << 2), lb4, pc + (<usize>j << 2), lc4, k, at(pz, j));
      for (; j < n; j++) {
        for (let q = 0; q < 4; q++) dot1(pa + <usize>q * ar4, ac4, pb + (<usize>j << 2), lb4, pc + <usize>q * lc4 + (<usize>j << 2), k, at(pz, j));
      }
    } else {
      for (let q = 0; q < rows; q++) {
        const ra = pa + <usize>q * ar4, rc = pc + <usize>q * lc4;
        let j = 0;
        for (; j + 8 <= n; j += 8) tile1x8(ra, ac4, pb + (<usize>j << 2), lb4, rc + (<usize>j << 2), k, at(pz, j));
        for (; j + 4 <= n; j += 4) tile1x4(ra, ac4, pb + (<usize>j << 2), lb4, rc + (<usize>j << 2), k, at(pz, j));
        for (; j < n; j++) dot1(ra, ac4, pb + (<usize>j << 2), lb4, rc + (<usize>j << 2), k, at(pz, j));
      }
    }
    r += rows;
  }
}

/** Column j of a bias row, or 0 when there is no bias. */
@inline function at(pz: usize, j: i32): usize {
  return pz == 0 ? 0 : pz + (<usize>j << 2);
}

/** Stores four finished sums, plus four lanes of the bias at pz + at when there is one (the reference's order: Σ, then + bias). */
@inline function put4(pc: usize, sums: v128, pz: usize, at: usize): void {
  v128.store(pc, pz == 0 ? sums : f32x4.add(sums, v128.load(pz + at)));
}

@inline function tile4x8(pa: usize, ar4: usize, ac4: usize, pb: usize, lb4: usize, pc: usize, lc4: usize, k: i32, pz: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const a1 = ar4, a2 = ar4 << 1, a3 = ar4 * 3;
  for (let kk = 0; kk < k; kk++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    const x0 = v128.load32_splat(pa);
    const x1 = v128.load32_splat(pa + a1);
    const x2 = v128.load32_splat(pa + a2);
    const x3 = v128.load32_splat(pa + a3);
    c00 = f32x4.add(c00, f32x4.mul(x0, b0));
    c01 = f32x4.add(c01, f32x4.mul(x0, b1));
    c10 = f32x4.add(c10, f32x4.mul(x1, b0));
    c11 = f32x4.add(c11, f32x4.mul(x1, b1));
    c20 = f32x4.add(c20, f32x4.mul(x2, b0));
    c21 = f32x4.add(c21, f32x4.mul(x2, b1));
    c30 = f32x4.add(c30, f32x4.mul(x3, b0));
    c31 = f32x4.add(c31, f32x4.mul(x3, b1));
    pa += ac4;
    pb += lb4;
  }
  put4(pc, c00, pz, 0);
  put4(pc + 16, c01, pz, 16);
  put4(pc + lc4, c10, pz, 0);
  put4(pc + lc4 + 16, c11, pz, 16);
  put4(pc + (lc4 << 1), c20, pz, 0);
  put4(pc + (lc4 << 1) + 16, c21, pz, 16);
  put4(pc + lc4 * 3, c30, pz, 0);
  put4(pc + lc4 * 3 + 16, c31, pz, 16);
}

@inline function tile4x4(pa: usize, ar4: usize, ac4: usize, pb: usize, lb4: usize, pc: usize, lc4: usize, k: i32, pz: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const a1 = ar4, a2 = ar4 << 1, a3 = ar4 * 3;
  for (let kk = 0; kk < k; kk++) {
    const b0 = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), b0));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(pa + a1), b0));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(pa + a2), b0));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(pa + a3), b0));
    pa += ac4;
    pb += lb4;
  }
  put4(pc, c0, pz, 0);
  put4(pc + lc4, c1, pz, 0);
  put4(pc + (lc4 << 1), c2, pz, 0);
  put4(pc + lc4 * 3, c3, pz, 0);
}

@inline function tile1x8(pa: usize, ac4: usize, pb: usize, lb4: usize, pc: usize, k: i32, pz: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  for (let kk = 0; kk < k; kk++) {
    const x = v128.load32_splat(pa);
    c0 = f32x4.add(c0, f32x4.mul(x, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(x, v128.load(pb, 16)));
    pa += ac4;
    pb += lb4;
  }
  put4(pc, c0, pz, 0);
  put4(pc + 16, c1, pz, 16);
}

@inline function tile1x4(pa: usize, ac4: usize, pb: usize, lb4: usize, pc: usize, k: i32, pz: usize): void {
  let c0 = f32x4.splat(0);
  for (let kk = 0; kk < k; kk++) {
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
    pa += ac4;
    pb += lb4;
  }
  put4(pc, c0, pz, 0);
}

@inline function dot1(pa: usize, ac4: usize, pb: usize, lb4: usize, pc: usize, k: i32, pz: usize): void {
  let s: f32 = 0;
  for (let kk = 0; kk < k; kk++) {
    s += load<f32>(pa) * load<f32>(pb);
    pa += ac4;
    pb += lb4;
  }
  store<f32>(pc, pz == 0 ? s : s + load<f32>(pz));
}

/**
 * B operand packing: dst[t] (k × n4, row-major) = op(B)[t] with element (kk, j) read from
 * src + 4·(t·srcBatch + kk·rs + j·cs) for j < n, and zero in the padding columns n ≤ j < n4.
 */
export function packB(src: usize, dst: usize, batch: i32, k: i32, n: i32, srcBatch: i32, rs: i32, cs: i32, n4: i32): void {
  for (let t = 0; t < batch; t++) {
    const s = src + ((<usize>t * <usize>srcBatch) << 2);
    const d = dst + ((<usize>t * <usize>k * <usize>n4) << 2);
    for (let kk = 0; kk < k; kk++) {
      const sr = s + ((<usize>kk * <usize>rs) << 2);
      const dr = d + ((<usize>kk * <usize>n4) << 2);
      if (cs == 1) {
        for (let j = 0; j < n; j++) store<i32>(dr + (<usize>j << 2), load<i32>(sr + (<usize>j << 2)));
      } else {
        for (let j = 0; j < n; j++) store<i32>(dr + (<usize>j << 2), load<i32>(sr + ((<usize>j * <usize>cs) << 2)));
      }
      for (let j = n; j < n4; j++) store<i32>(dr + (<usize>j << 2), 0);
    }
  }
}

// ---------------------------------------------------------------- gather / scatter-add

/** out row i (at out + 4·i·outStride) = table row ids[i], dim values each. */
export function gatherRows(table: usize, ids: usize, out: usize, count: i32, dim: i32, outStride: i32): void {
  const rowBytes = <usize>dim << 2;
  const outBytes = <usize>outStride << 2;
  if (dim == 4) {
    for (let i = 0; i < count; i++) {
      const id = <usize>load<i32>(ids + (<usize>i << 2));
      v128.store(out + <usize>i * outBytes, v128.load(table + (id << 4)));
    }
    return;
  }
  const d4 = dim & ~3;
  for (let i = 0; i < count; i++) {
    const id = <usize>load<i32>(ids + (<usize>i << 2));
    const s = table + id * rowBytes, d = out + <usize>i * outBytes;
    if (dim >= 64) {
      memory.copy(d, s, rowBytes);
      continue;
    }
    let j = 0;
    for (; j < d4; j += 4) v128.store(d + (<usize>j << 2), v128.load(s + (<usize>j << 2)));
    for (; j < dim; j++) store<i32>(d + (<usize>j << 2), load<i32>(s + (<usize>j << 2)));
  }
}

/** out [vocab, dim] = 0, then out[ids[i]] += src[i] in order of i (the reference's summation order). */
export function scatterAddRows(src: usize, ids: usize, out: usize, count: i32, vocab: i32, dim: i32): void {
  memory.fill(out, 0, (<usize>vocab * <usize>dim) << 2);
  const rowBytes = <usize>dim << 2;
  const d4 = dim & ~3;
  for (let i = 0; i < count; i++) {
    const id = <usize>load<i32>(ids + (<usize>i << 2));
    const s = src + <usize>i * rowBytes, o = out + id * rowBytes;
    let j = 0;
    for (; j < d4; j += 4) {
      const off = <usize>j << 2;
      v128.store(o + off, f32x4.add(v128.load(o + off), v128.load(s + off)));
    }
    for (; j < dim; j++) {
      const off = <usize>j << 2;
      store<f32>(o + off, load<f32>(o + off) + load<f32>(s + off));
    }
  }
}

// ---------------------------------------------------------------- softmax

export function softmax(x: usize, out: usize, rows: i32, cols: i32, log: i32): void {
  for (let r = 0; r < rows; r++) {
    const px = x + ((<usize>r * <usize>cols) << 2);
    const po = out + ((<usize>r * <usize>cols) << 2);
    let max: f64 = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, <f64>load<f32>(px + (<usize>c << 2)));
    let sum: f64 = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(<f64>load<f32>(px + (<usize>c << 2)) - max);
    if (log) {
      const ls = Math.log(sum);
      for (let c = 0; c < cols; c++) {
        const off = <usize>c << 2;
        store<f32>(po + off, <f32>(<f64>load<f32>(px + off) - max - ls));
      }
    } else {
      for (let c = 0; c < cols; c++) {
        const off = <usize>c << 2;
        store<f32>(po + off, <f32>(Math.exp(<f64>load<f32>(px + off) - max) / sum));
      }
    }
  }
}

// ---------------------------------------------------------------- dropout

/** out[i] = dropoutUniform(seed, i) >= p ? scale : 0, bit for bit as backend.ts's dropoutUniform. */
export function dropoutMask(out: usize, n: i32, p: f64, seed: u32, scale: f32): void {
  for (let i = 0; i < n; i++) {
    let h: u32 = (<u32>i * 0x9e3779b9) ^ seed;
    h ^= h >>> 16;
    h *= 0x7feb352d;
    h ^= h >>> 15;
    h *= 0x846ca68b;
    h ^= h >>> 16;
    const u = <f64>(h >>> 8) / 16777216.0;
    store<f32>(out + (<usize>i << 2), u >= p ? scale : 0);
  }
}

// ---------------------------------------------------------------- fused gating
// logits [T, B, E], experts [E, B, H] → weights [T, B, E] = softmax, mix [T, B, H] = Σ_e w·experts[e].
// Rows b in [b0, b1).

/** e^x for f32x4 (Cephes expf: range reduction by ln 2, degree-6 polynomial; ≈1 ulp). */
@inline function expv(x: v128): v128 {
  // Clamp with pmin/pmax (one instruction each; NaN stays NaN).
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.33654)), f32x4.splat(88.72284));
  // n = round(x / ln 2) by adding 1.5·2^23: the integer lands in the low mantissa bits of t.
  const magic = f32x4.splat(12582912.0);
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(1.44269504088896341)), magic);
  const n = f32x4.sub(t, magic);
  x = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  x = f32x4.sub(x, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(x, x)), x), f32x4.splat(1));
  // 2^n = (bits(t) − bits(1.5·2^23) + 127) << 23
  const pow2n = i32x4.shl(i32x4.add(i32x4.sub(t, magic), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2n);
}

/** weights[0..E) = softmax(logits[0..E)) for E a multiple of 4. */
/** max (sum) of the four lanes of v, in every lane. */
@inline function laneMax(v: v128): v128 {
  v = f32x4.pmax(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.pmax(v, v128.shuffle<f32>(v, v, 1, 0, 3, 2));
}

@inline function laneSum(v: v128): v128 {
  v = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.add(v, v128.shuffle<f32>(v, v, 1, 0, 3, 2));
}

function softmaxRow4(pl: usize, pw: usize, E: i32): void {
  let m = v128.load(pl);
  for (let e = 4; e < E; e += 4) m = f32x4.pmax(m, v128.load(pl + (<usize>e << 2)));
  const vm = laneMax(m);
  let acc = f32x4.splat(0);
  for (let e = 0; e < E; e += 4) {
    const v = expv(f32x4.sub(v128.load(pl + (<usize>e << 2)), vm));
    v128.store(pw + (<usize>e << 2), v);
    acc = f32x4.add(acc, v);
  }
  const inv = f32x4.div(f32x4.splat(1), laneSum(acc));
  for (let e = 0; e < E; e += 4) v128.store(pw + (<usize>e << 2), f32x4.mul(v128.load(pw + (<usize>e << 2)), inv));
}

export function gateMixForward(logits: usize, experts: usize, mix: usize, weights: usize, T: i32, B: i32, E: i32, H: i32, b0: i32, b1: i32): void {
  const h4 = H & ~3;
  const eStride = (<usize>B * <usize>H) << 2;
  for (let t = 0; t < T; t++) {
    for (let b = b0; b < b1; b++) {
      const row = (<usize>t * <usize>B + <usize>b);
      const pl = logits + ((row * <usize>E) << 2);
      const pw = weights + ((row * <usize>E) << 2);
      if ((E & 3) == 0) {
        softmaxRow4(pl, pw, E);
      } else {
        let max: f32 = -Infinity;
        for (let e = 0; e < E; e++) max = Mathf.max(max, load<f32>(pl + (<usize>e << 2)));
        let sum: f32 = 0;
        for (let e = 0; e < E; e++) {
          const v = Mathf.exp(load<f32>(pl + (<usize>e << 2)) - max);
          store<f32>(pw + (<usize>e << 2), v);
          sum += v;
        }
        const inv: f32 = 1.0 / sum;
        for (let e = 0; e < E; e++) store<f32>(pw + (<usize>e << 2), load<f32>(pw + (<usize>e << 2)) * inv);
      }
      const pm = mix + ((row * <usize>H) << 2);
      const px = experts + ((<usize>b * <usize>H) << 2);
      let h = 0;
      // 16 columns at a time: four accumulators, one gate weight splat per expert.
      for (; h + 16 <= H; h += 16) {
        const off = <usize>h << 2;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let pe = px + off;
        for (let e = 0; e < E; e++) {
          const w = v128.load32_splat(pw + (<usize>e << 2));
          a0 = f32x4.add(a0, f32x4.mul(w, v128.load(pe)));
          a1 = f32x4.add(a1, f32x4.mul(w, v128.load(pe, 16)));
          a2 = f32x4.add(a2, f32x4.mul(w, v128.load(pe, 32)));
          a3 = f32x4.add(a3, f32x4.mul(w, v128.load(pe, 48)));
          pe += eStride;
        }
        v128.store(pm + off, a0);
        v128.store(pm + off, a1, 16);
        v128.store(pm + off, a2, 32);
        v128.store(pm + off, a3, 48);
      }
      for (; h < h4; h += 4) {
        const off = <usize>h << 2;
        let acc = f32x4.splat(0);
        let pe = px + off;
        for (let e = 0; e < E; e++) {
          acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(pw + (<usize>e << 2)), v128.load(pe)));
          pe += eStride;
        }
        v128.store(pm + off, acc);
      }
      for (; h < H; h++) {
        const off = <usize>h << 2;
        let acc: f32 = 0;
        for (let e = 0; e < E; e++) acc += load<f32>(pw + (<usize>e << 2)) * load<f32>(px + <usize>e * eStride + off);
        store<f32>(pm + off, acc);
      }
    }
  }
}

export function gateMixBackward(weights: usize, experts: usize, gMix: usize, gLogits: usize, gExperts: usize, T: i32, B: i32, E: i32, H: i32, b0: i32, b1: i32): void {
  const h4 = H & ~3;
  const eStride = (<usize>B * <usize>H) << 2;
  const tStrideW = (<usize>B * <usize>E) << 2;
  const tStrideG = (<usize>B * <usize>H) << 2;
  for (let b = b0; b < b1; b++) {
    const pw = weights + ((<usize>b * <usize>E) << 2);
    const pg = gMix + ((<usize>b * <usize>H) << 2);
    const px = experts + ((<usize>b * <usize>H) << 2);
    const pgx = gExperts + ((<usize>b * <usize>H) << 2);
    // gExperts[e, b, :] = Σ_t w[t, b, e] · gMix[t, b, :]
    for (let e = 0; e < E; e++) {
      const we = pw + (<usize>e << 2);
      const ox = <usize>e * eStride;
      let h = 0;
      for (; h < h4; h += 4) {
        const off = <usize>h << 2;
        let acc = f32x4.splat(0);
        for (let t = 0; t < T; t++) acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(we + <usize>t * tStrideW), v128.load(pg + <usize>t * tStrideG + off)));
        v128.store(pgx + ox + off, acc);
      }
      for (; h < H; h++) {
        const off = <usize>h << 2;
        let acc: f32 = 0;
        for (let t = 0; t < T; t++) acc += load<f32>(we + <usize>t * tStrideW) * load<f32>(pg + <usize>t * tStrideG + off);
        store<f32>(pgx + ox + off, acc);
      }
    }
    // gW[t, b, e] = gMix[t, b, :] · experts[e, b, :];  gLogits = w ⊙ (gW − Σ_e w ⊙ gW)
    for (let t = 0; t < T; t++) {
      const gt = pg + <usize>t * tStrideG;
      const wt = pw + <usize>t * tStrideW;
      const lt = gLogits + ((<usize>t * <usize>B + <usize>b) * <usize>E << 2);
      let dot: f32 = 0;
      for (let e = 0; e < E; e++) {
        const xe = px + <usize>e * eStride;
        let acc = f32x4.splat(0);
        let h = 0;
        for (; h < h4; h += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(gt + (<usize>h << 2)), v128.load(xe + (<usize>h << 2))));
        let s: f32 = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
        for (; h < H; h++) s += load<f32>(gt + (<usize>h << 2)) * load<f32>(xe + (<usize>h << 2));
        store<f32>(lt + (<usize>e << 2), s);
        dot += load<f32>(wt + (<usize>e << 2)) * s;
      }
      for (let e = 0; e < E; e++) {
        const off = <usize>e << 2;
        store<f32>(lt + off, load<f32>(wt + off) * (load<f32>(lt + off) - dot));
      }
    }
  }
}

// ---------------------------------------------------------------- adam

/** Elements [lo, hi) of one Adam/AdamW step (see Backend.adam); lo is a multiple of 4 or the tail. */
export function adam(p: usize, g: usize, m: usize, v: usize, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, decoupled: i32, c1: f32, c2: f32, lo: i32, hi: i32): void {
  const ob1: f32 = 1 - b1, ob2: f32 = 1 - b2, shrink: f32 = 1 - lr * wd;
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vob1 = f32x4.splat(ob1), vob2 = f32x4.splat(ob2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vshrink = f32x4.splat(shrink);
  const r1: f32 = 1 / c1, r2: f32 = 1 / c2;
  const vr1 = f32x4.splat(r1), vr2 = f32x4.splat(r2);
  let i = lo;
  for (; i + 4 <= hi; i += 4) {
    const o = <usize>i << 2;
    let th = v128.load(p + o);
    let gr = v128.load(g + o);
    if (decoupled) th = f32x4.mul(th, vshrink);
    else gr = f32x4.add(gr, f32x4.mul(vwd, th));
    const mm = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vob1, gr));
    const vv = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(f32x4.mul(vob2, gr), gr));
    v128.store(m + o, mm);
    v128.store(v + o, vv);
    const upd = f32x4.div(f32x4.mul(vlr, f32x4.mul(mm, vr1)), f32x4.add(f32x4.sqrt(f32x4.mul(vv, vr2)), veps));
    v128.store(p + o, f32x4.sub(th, upd));
  }
  for (; i < hi; i++) {
    const o = <usize>i << 2;
    let th = load<f32>(p + o);
    let gr = load<f32>(g + o);
    if (decoupled) th *= shrink;
    else gr += wd * th;
    const mm = b1 * load<f32>(m + o) + ob1 * gr;
    const vv = b2 * load<f32>(v + o) + ob2 * gr * gr;
    store<f32>(m + o, mm);
    store<f32>(v + o, vv);
    store<f32>(p + o, th - (lr * (mm * r1)) / (Mathf.sqrt(vv * r2) + eps));
  }
}

// ---------------------------------------------------------------- fused BatchNorm (training)
// x [G, N, C] → y, and per group and channel mean, variance (biased) and std = sqrt(variance + eps).
// Each quantity is rounded to f32 where the elementwise form (ops.batchNorm1d on the reference
// backend) rounds it: sums in f64, then f32(f32(sum) · (1/N)); centred values and their squares in
// f32. `scratch` holds C f64 accumulators (the backward: 2·C f64, then 3·C f32 coefficients).

/** acc[c] += f64(x[r, c]) over rows r (SIMD over channels). */
function sumRows(x: usize, N: i32, C: i32, acc: usize): void {
  const c4 = C & ~3;
  for (let r = 0; r < N; r++) {
    const row = x + ((<usize>r * <usize>C) << 2);
    let c = 0;
    for (; c < c4; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      const sp = acc + (<usize>c << 3);
      v128.store(sp, f64x2.add(v128.load(sp), lo64(v)));
      v128.store(sp, f64x2.add(v128.load(sp, 16), hi64(v)), 16);
    }
    for (; c < C; c++) {
      const sp = acc + (<usize>c << 3);
      store<f64>(sp, load<f64>(sp) + <f64>load<f32>(row + (<usize>c << 2)));
    }
  }
}

export function batchNormForward(x: usize, gamma: usize, beta: usize, y: usize, mean: usize, vari: usize, std: usize, G: i32, N: i32, C: i32, eps: f64, scratch: usize, g0: i32, g1: i32): void {
  const invN: f64 = 1.0 / <f64>N;
  const c4 = C & ~3;
  const groupBytes = (<usize>N * <usize>C) << 2;
  for (let g = g0; g < g1; g++) {
    const xg = x + <usize>g * groupBytes, yg = y + <usize>g * groupBytes;
    const st = (<usize>g * <usize>C) << 2;
    const pm = mean + st, pv = vari + st, ps = std + st, pg = gamma + st, pb = beta + st;
    // mean
    memory.fill(scratch, 0, <usize>C << 3);
    sumRows(xg, N, C, scratch);
    for (let c = 0; c < C; c++) {
      const s = <f32>load<f64>(scratch + (<usize>c << 3));
      store<f32>(pm + (<usize>c << 2), <f32>(<f64>s * invN));
    }
    // variance: Σ (x − mean)² with the difference and the square rounded to f32
    memory.fill(scratch, 0, <usize>C << 3);
    for (let r = 0; r < N; r++) {
      const row = xg + ((<usize>r * <usize>C) << 2);
      let c = 0;
      for (; c < c4; c += 4) {
        const o = <usize>c << 2;
        const d = f32x4.sub(v128.load(row + o), v128.load(pm + o));
        const sq = f32x4.mul(d, d);
        const sp = scratch + (<usize>c << 3);
        v128.store(sp, f64x2.add(v128.load(sp), lo64(sq)));
        v128.store(sp, f64x2.add(v128.load(sp, 16), hi64(sq)), 16);
      }
      for (; c < C; c++) {
        const o = <usize>c << 2;
        const d: f32 = load<f32>(row + o) - load<f32>(pm + o);
        const sp = scratch + (<usize>c << 3);
        store<f64>(sp, load<f64>(sp) + <f64>(d * d));
      }
    }
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      const s = <f32>load<f64>(scratch + (<usize>c << 3));
      const v = <f32>(<f64>s * invN);
      store<f32>(pv + o, v);
      store<f32>(ps + o, Mathf.sqrt(<f32>(<f64>v + eps)));
    }
    // y = ((x − mean) / std) · gamma + beta
    for (let r = 0; r < N; r++) {
      const o = (<usize>r * <usize>C) << 2;
      const row = xg + o, out = yg + o;
      let c = 0;
      for (; c < c4; c += 4) {
        const q = <usize>c << 2;
        const xh = f32x4.div(f32x4.sub(v128.load(row + q), v128.load(pm + q)), v128.load(ps + q));
        v128.store(out + q, f32x4.add(f32x4.mul(xh, v128.load(pg + q)), v128.load(pb + q)));
      }
      for (; c < C; c++) {
        const q = <usize>c << 2;
        const xh: f32 = (load<f32>(row + q) - load<f32>(pm + q)) / load<f32>(ps + q);
        store<f32>(out + q, xh * load<f32>(pg + q) + load<f32>(pb + q));
      }
    }
  }
}

export function batchNormBackward(x: usize, gamma: usize, mean: usize, std: usize, gy: usize, gx: usize, gGamma: usize, gBeta: usize, G: i32, N: i32, C: i32, scratch: usize, g0: i32, g1: i32): void {
  const invN: f64 = 1.0 / <f64>N;
  const c4 = C & ~3;
  const groupBytes = (<usize>N * <usize>C) << 2;
  const sb = scratch, sg = scratch + (<usize>C << 3);
  const pk = scratch + (<usize>C << 4), pmb = pk + (<usize>C << 2), pmg = pmb + (<usize>C << 2);
  for (let g = g0; g < g1; g++) {
    const xg = x + <usize>g * groupBytes, gyg = gy + <usize>g * groupBytes, gxg = gx + <usize>g * groupBytes;
    const st = (<usize>g * <usize>C) << 2;
    const pm = mean + st, ps = std + st, pg = gamma + st;
    // Σ gy and Σ gy · x̂
    memory.fill(scratch, 0, <usize>C << 4);
    for (let r = 0; r < N; r++) {
      const o = (<usize>r * <usize>C) << 2;
      const row = xg + o, grow = gyg + o;
      let c = 0;
      for (; c < c4; c += 4) {
        const q = <usize>c << 2;
        const xh = f32x4.div(f32x4.sub(v128.load(row + q), v128.load(pm + q)), v128.load(ps + q));
        const gv = v128.load(grow + q);
        const p = f32x4.mul(gv, xh);
        const b8 = sb + (<usize>c << 3), g8 = sg + (<usize>c << 3);
        v128.store(b8, f64x2.add(v128.load(b8), lo64(gv)));
        v128.store(b8, f64x2.add(v128.load(b8, 16), hi64(gv)), 16);
        v128.store(g8, f64x2.add(v128.load(g8), lo64(p)));
        v128.store(g8, f64x2.add(v128.load(g8, 16), hi64(p)), 16);
      }
      for (; c < C; c++) {
        const q = <usize>c << 2;
        const xh: f32 = (load<f32>(row + q) - load<f32>(pm + q)) / load<f32>(ps + q);
        const gv = load<f32>(grow + q);
        store<f64>(sb + (<usize>c << 3), load<f64>(sb + (<usize>c << 3)) + <f64>gv);
        store<f64>(sg + (<usize>c << 3), load<f64>(sg + (<usize>c << 3)) + <f64>(gv * xh));
      }
    }
    for (let c = 0; c < C; c++) {
      const q = <usize>c << 2;
      store<f32>(gBeta + st + q, <f32>load<f64>(sb + (<usize>c << 3)));
      store<f32>(gGamma + st + q, <f32>load<f64>(sg + (<usize>c << 3)));
      // per-channel coefficients (f32, after the accumulators): k = gamma / std, mb = Σgy / N, mg = Σgy·x̂ / N
      const k: f32 = load<f32>(pg + q) / load<f32>(ps + q);
      store<f32>(pk + q, k);
      store<f32>(pmb + q, <f32>(load<f64>(sb + (<usize>c << 3)) * invN));
      store<f32>(pmg + q, <f32>(load<f64>(sg + (<usize>c << 3)) * invN));
    }
    for (let r = 0; r < N; r++) {
      const o = (<usize>r * <usize>C) << 2;
      const row = xg + o, grow = gyg + o, out = gxg + o;
      let c = 0;
      for (; c < c4; c += 4) {
        const q = <usize>c << 2;
        const xh = f32x4.div(f32x4.sub(v128.load(row + q), v128.load(pm + q)), v128.load(ps + q));
        const t = f32x4.sub(f32x4.sub(v128.load(grow + q), v128.load(pmb + q)), f32x4.mul(xh, v128.load(pmg + q)));
        v128.store(out + q, f32x4.mul(v128.load(pk + q), t));
      }
      for (; c < C; c++) {
        const q = <usize>c << 2;
        const xh: f32 = (load<f32>(row + q) - load<f32>(pm + q)) / load<f32>(ps + q);
        store<f32>(out + q, load<f32>(pk + q) * (load<f32>(grow + q) - load<f32>(pmb + q) - xh * load<f32>(pmg + q)));
      }
    }
  }
}

/**
 * Eval-mode BatchNorm over groups [g0, g1): y = (x − mean) · γ/√(var + ε) + β per group and channel,
 * then max(y, 0) when relu is set. scratch: C floats of this thread's own.
 */
export function batchNormEval(x: usize, mean: usize, vari: usize, gamma: usize, beta: usize, y: usize, G: i32, N: i32, C: i32, eps: f64, relu: i32, scratch: usize, g0: i32, g1: i32): void {
  const c4 = C & ~3;
  const groupBytes = (<usize>N * <usize>C) << 2;
  const zero = f32x4.splat(0);
  for (let g = g0; g < g1; g++) {
    const st = (<usize>g * <usize>C) << 2;
    const pm = mean + st, pb = beta + st;
    // scale = γ / √(var + ε), rounded as the reference's elementwise ops round it.
    for (let c = 0; c < C; c++) {
      const q = <usize>c << 2;
      store<f32>(scratch + q, load<f32>(gamma + st + q) / Mathf.sqrt(<f32>(<f64>load<f32>(vari + st + q) + eps)));
    }
    const xg = x + <usize>g * groupBytes, yg = y + <usize>g * groupBytes;
    const rowBytes = <usize>C << 2;
    // Four channels at a time down all rows, their statistics held in registers.
    for (let c = 0; c < c4; c += 4) {
      const q = <usize>c << 2;
      const vm = v128.load(pm + q), vs = v128.load(scratch + q), vb = v128.load(pb + q);
      let px = xg + q, py = yg + q;
      for (let r = 0; r < N; r++) {
        let v = f32x4.add(f32x4.mul(f32x4.sub(v128.load(px), vm), vs), vb);
        if (relu) v = v128.bitselect(zero, v, f32x4.le(v, zero));
        v128.store(py, v);
        px += rowBytes;
        py += rowBytes;
      }
    }
    for (let c = c4; c < C; c++) {
      const q = <usize>c << 2;
      const m = load<f32>(pm + q), sc = load<f32>(scratch + q), bt = load<f32>(pb + q);
      for (let r = 0; r < N; r++) {
        const o = <usize>r * rowBytes + q;
        let v = (load<f32>(xg + o) - m) * sc + bt;
        if (relu && v <= 0) v = 0;
        store<f32>(yg + o, v);
      }
    }
  }
}
