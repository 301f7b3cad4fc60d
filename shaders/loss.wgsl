// Pointwise losses used by the binary kernel (bce, bceLogits, squaredError). Needs math.wgsl.

const BCE_LOG_FLOOR: f32 = -100.0;

// log(x) floored at -100 as torch's BCELoss does. log(0) is -inf, but WGSL leaves it to the
// implementation (SwiftShader returns -88), so x == 0 is floored explicitly. select, not max: WGSL's
// max may drop a NaN, and a NaN prediction must give a NaN loss (a comparison with NaN is false).
fn floored_log(l: f32, x_is_zero: bool) -> f32 {
  return select(select(l, BCE_LOG_FLOOR, l < BCE_LOG_FLOOR), BCE_LOG_FLOOR, x_is_zero);
}

// BCE on a probability p with target y: -(y·max(log p, -100) + (1 - y)·max(log1p(-p), -100)).
// A NaN p gives NaN (checked on the bits: SwiftShader's log(NaN) is a finite number).
// A p outside [0, 1] (±Inf included) is NaN too, as log of a negative number is in the reference.
fn bce(p: f32, y: f32) -> f32 {
  if (is_nan_f32(p)) { return p; }
  if (p < 0.0 || p > 1.0) { return nan_f32(); }
  return -(y * floored_log(log(p), p == 0.0) + (1.0 - y) * floored_log(log1p_f32(-p), p == 1.0));
}

// Stable BCE on a logit x: max(x, 0) - x*y + log(1 + exp(-|x|)). A NaN x gives NaN (WGSL's max and
// exp may not pass it on); ±Inf follows IEEE arithmetic as in the reference (exp_f32(-Inf) = 0).
fn bce_logits(x: f32, y: f32) -> f32 {
  if (is_nan_f32(x)) { return x; }
  return max(x, 0.0) - x * y + log1p_f32(exp_f32(-abs(x)));
}

fn squared_error(a: f32, b: f32) -> f32 {
  let d = a - b;
  return d * d;
}
