// Pointwise losses used by the binary kernel (bce, bceLogits, squaredError). Needs math.wgsl.

const BCE_LOG_FLOOR: f32 = -100.0;

// A log floored at -100 as torch's BCELoss does. select, not max: WGSL's max may drop a NaN, and a
// NaN prediction must give a NaN loss (a comparison with NaN is false, so NaN is kept).
fn floor_log(l: f32) -> f32 {
  return select(l, BCE_LOG_FLOOR, l < BCE_LOG_FLOOR);
}

// BCE on a probability p with target y: -(y·max(log p, -100) + (1 - y)·max(log1p(-p), -100)).
fn bce(p: f32, y: f32) -> f32 {
  return -(y * floor_log(log(p)) + (1.0 - y) * floor_log(log1p_f32(-p)));
}

// Stable BCE on a logit x: max(x, 0) - x*y + log(1 + exp(-|x|)).
fn bce_logits(x: f32, y: f32) -> f32 {
  return max(x, 0.0) - x * y + log1p_f32(exp(-abs(x)));
}

fn squared_error(a: f32, b: f32) -> f32 {
  let d = a - b;
  return d * d;
}
