// Pointwise losses used by the binary kernel (bce, bceLogits, squaredError). Needs math.wgsl.

const BCE_EPS: f32 = 1e-7;

// BCE on a probability p with target y; p is clamped to [eps, 1 - eps] (in f32, so the upper
// bound rounds to 1 - 2^-23, while the CPU clamps in f64).
fn bce(p: f32, y: f32) -> f32 {
  let q = clamp(p, BCE_EPS, 1.0 - BCE_EPS);
  return -(y * log(q) + (1.0 - y) * log(1.0 - q));
}

// Stable BCE on a logit x: max(x, 0) - x*y + log(1 + exp(-|x|)).
fn bce_logits(x: f32, y: f32) -> f32 {
  return max(x, 0.0) - x * y + log1p_f32(exp(-abs(x)));
}

fn squared_error(a: f32, b: f32) -> f32 {
  let d = a - b;
  return d * d;
}
