// Shared scalar helpers, prepended to the elementwise, binary, loss, reduce, softmax, gating and
// optimizer shaders. They reproduce the CPU reference (JavaScript Math in f64) closely in f32
// without overflow.
//
// NaN and Inf: WGSL leaves the builtins' behaviour on them to the implementation (SwiftShader's max,
// min and clamp drop a NaN, its log(NaN) and exp(NaN) are finite numbers, log(0) is -88), so every
// op whose result must be NaN or ±Inf as in IEEE arithmetic tests the bits and selects the answer.
// A select on a bit test costs no extra pass.

// Bit tests, immune to a compiler that assumes float comparisons never see a NaN.
fn is_nan_f32(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn is_inf_f32(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

/** Neither NaN nor ±Inf. */
fn is_finite_f32(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u;
}

// A quiet NaN and +Inf. Read from private variables because WGSL rejects NaN and Inf in constant
// expressions.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;

fn nan_f32() -> f32 {
  return bitcast<f32>(NAN_BITS);
}

fn inf_f32() -> f32 {
  return bitcast<f32>(INF_BITS);
}

// JavaScript's ToInt32 of an f32 (what storing into the reference's Int32Array does): NaN and ±Inf
// give 0 and values beyond the i32 range wrap modulo 2^32, where WGSL's i32(v) saturates (so 1/0
// stored to i32 would be 2147483520 instead of 0). Every step is exact in f32.
fn js_to_i32(v: f32) -> i32 {
  if (!is_finite_f32(v)) { return 0; }
  let t = trunc(v);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let m = t - 4294967296.0 * floor(t / 4294967296.0); // in [0, 2^32)
  return bitcast<i32>(u32(m));
}

// max and min that return a NaN operand (torch.maximum, Math.max); the builtins may drop it.
fn max_nan(a: f32, b: f32) -> f32 {
  return select(select(max(a, b), b, is_nan_f32(b)), a, is_nan_f32(a));
}

fn min_nan(a: f32, b: f32) -> f32 {
  return select(select(min(a, b), b, is_nan_f32(b)), a, is_nan_f32(a));
}

// clamp(NaN) = NaN, as torch.clamp.
fn clamp_nan(x: f32, lo: f32, hi: f32) -> f32 {
  return select(min(max(x, lo), hi), x, is_nan_f32(x));
}

// exp with IEEE special values: exp(NaN) = NaN, exp(-Inf) = 0, exp(+Inf) = +Inf.
fn exp_f32(x: f32) -> f32 {
  if (!is_finite_f32(x)) { return select(select(x, 0.0, x < 0.0), x, is_nan_f32(x)); }
  return exp(x);
}

// log with IEEE special values: log(±0) = -Inf, log(+Inf) = +Inf, log(x < 0) = log(NaN) = NaN.
fn log_f32(x: f32) -> f32 {
  if (x > 0.0 && is_finite_f32(x)) { return log(x); }
  if ((bitcast<u32>(x) & 0x7fffffffu) == 0u) { return -inf_f32(); }
  if (bitcast<u32>(x) == INF_BITS) { return x; }
  return nan_f32();
}

// sqrt(x < 0) = sqrt(NaN) = NaN; sqrt(-0) = -0.
fn sqrt_f32(x: f32) -> f32 {
  return select(sqrt(x), nan_f32(), x < 0.0 || is_nan_f32(x));
}

// log(1 + z) without losing the low bits of z when z is tiny (Goldberg's trick); log1p(-1) = -Inf.
fn log1p_f32(z: f32) -> f32 {
  let u = 1.0 + z;
  if (u == 1.0) { return z; }
  if (u == 0.0) { return -inf_f32(); }
  return log(u) * z / (u - 1.0);
}

// exp(z) - 1 without cancellation near 0 (Kahan's trick). Only called with z <= 0 here.
fn expm1_f32(z: f32) -> f32 {
  let u = exp_f32(z);
  if (u == 1.0) { return z; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  return um1 * z / log(u);
}

fn sigmoid_f32(x: f32) -> f32 {
  if (is_nan_f32(x)) { return x; }
  if (x >= 0.0) { return 1.0 / (1.0 + exp_f32(-x)); }
  let e = exp_f32(x);
  return e / (1.0 + e);
}

// tanh(|x|) = -expm1(-2|x|) / (expm1(-2|x|) + 2): exp only sees non-positive arguments.
fn tanh_f32(x: f32) -> f32 {
  let e = expm1_f32(-2.0 * abs(x));
  let t = -e / (e + 2.0);
  return select(select(t, -t, x < 0.0), x, is_nan_f32(x));
}

// sign(NaN) = 0, as torch.sign and the reference.
fn sign_f32(x: f32) -> f32 {
  return select(select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0), 0.0, is_nan_f32(x));
}

// Math.pow of the reference (IEEE / C pow, as torch.pow) in f32. WGSL's pow is undefined for a
// negative base and for NaN, zero and infinite operands, so those cases are decided here:
// x^0 = 1 and 1^y = 1 (even for NaN), any other NaN gives NaN, (±1)^±Inf = 1, |x|^±Inf is 0 or Inf,
// 0^y and Inf^y are 0 or Inf by the sign of y, a negative base needs an integral exponent (else
// NaN) and keeps its sign for an odd one (-0 and -Inf included).
fn js_pow(x: f32, y: f32) -> f32 {
  if ((bitcast<u32>(y) & 0x7fffffffu) == 0u || x == 1.0) { return 1.0; }
  if (is_nan_f32(x) || is_nan_f32(y)) { return nan_f32(); }
  let ax = abs(x);
  if (is_inf_f32(y)) {
    if (ax == 1.0) { return 1.0; }
    return select(0.0, inf_f32(), (ax > 1.0) == (y > 0.0));
  }
  let negative = (bitcast<u32>(x) & 0x80000000u) != 0u;
  let integral = floor(y) == y;
  let odd = integral && fract(y * 0.5) != 0.0;
  var r: f32;
  if (ax == 0.0 || is_inf_f32(ax)) {
    r = select(0.0, inf_f32(), (y < 0.0) == (ax == 0.0));
  } else {
    if (negative && !integral) { return nan_f32(); }
    r = pow(ax, y);
  }
  return select(r, -r, negative && odd);
}
