// Pointwise losses used by the binary kernel (bce, bceLogits, squaredError). Needs math.wgsl.

const BCE_LOG_FLOOR: f32 = -100.0;

// A log floored at -100 as torch's BCELoss does (log_f32 and log1p_f32 give -Inf at 0 on every
// implementation; SwiftShader's own log(0) is -88).
fn floored_log(l: f32) -> f32 {
  return select(l, BCE_LOG_FLOOR, l < BCE_LOG_FLOOR);
}

// BCE on a probability p with target y: -(y·max(log p, -100) + (1 - y)·max(log1p(-p), -100)).
// A NaN p gives NaN (checked on the bits: SwiftShader's log(NaN) is a finite number).
// A p outside [0, 1] (±Inf included) is NaN too, as log of a negative number is in the reference.
fn bce(p: f32, y: f32) -> f32 {
  if (is_nan_f32(p)) { return p; }
  if (p < 0.0 || p > 1.0) { return nan_f32(); }
  return -(y * floored_log(log_f32(p)) + (1.0 - y) * floored_log(log1p_f32(-p)));
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
