// Shared scalar helpers, prepended to the elementwise, binary and loss shaders.
// They reproduce the CPU reference (JavaScript Math in f64) closely in f32 without overflow.

// log(1 + z) without losing the low bits of z when z is tiny (Goldberg's trick).
fn log1p_f32(z: f32) -> f32 {
  let u = 1.0 + z;
  if (u == 1.0) { return z; }
  return log(u) * z / (u - 1.0);
}

// exp(z) - 1 without cancellation near 0 (Kahan's trick). Only called with z <= 0 here.
fn expm1_f32(z: f32) -> f32 {
  let u = exp(z);
  if (u == 1.0) { return z; }
  let um1 = u - 1.0;
  if (um1 == -1.0) { return -1.0; }
  return um1 * z / log(u);
}

fn sigmoid_f32(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}

// tanh(|x|) = -expm1(-2|x|) / (expm1(-2|x|) + 2): exp only sees non-positive arguments.
fn tanh_f32(x: f32) -> f32 {
  let e = expm1_f32(-2.0 * abs(x));
  let t = -e / (e + 2.0);
  return select(t, -t, x < 0.0);
}

fn sign_f32(x: f32) -> f32 {
  return select(select(0.0, -1.0, x < 0.0), 1.0, x > 0.0);
}

// A quiet NaN. Read from a private variable because WGSL rejects NaN in constant expressions.
var<private> NAN_BITS: u32 = 0x7fc00000u;

// JavaScript's Math.pow for the finite cases: WGSL's pow is undefined for a negative base,
// so negative bases with an integral exponent are handled here and give NaN otherwise.
fn js_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  let ax = abs(x);
  var r: f32;
  if (ax == 0.0) {
    r = select(0.0, 1.0 / ax, y < 0.0);
  } else {
    r = pow(ax, y);
  }
  if (x < 0.0) {
    if (floor(y) != y) { return bitcast<f32>(NAN_BITS); }
    let odd = fract(y * 0.5) != 0.0;
    return select(r, -r, odd);
  }
  return r;
}
