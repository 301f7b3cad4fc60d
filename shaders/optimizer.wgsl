// One Adam / AdamW step in place (torch semantics). Bias corrections c1 = 1 - beta1^step and
// c2 = 1 - beta2^step are computed on the host in f64. Needs math.wgsl: sqrt_f32 keeps a NaN second
// moment NaN (WGSL's sqrt need not), so a NaN or Inf gradient reaches the parameter as in the reference.
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (ADAM).
{{LAYOUT}}

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  var theta = param[i];
  var g = grad[i];
  if (params.decoupled != 0u) {
    theta *= params.decay_factor;
  } else {
    g += params.weight_decay * theta;
  }
  let m_new = params.beta1 * m[i] + params.one_minus_beta1 * g;
  let v_new = params.beta2 * v[i] + params.one_minus_beta2 * g * g;
  m[i] = m_new;
  v[i] = v_new;
  param[i] = theta - (params.lr * (m_new / params.c1)) / (sqrt_f32(v_new / params.c2) + params.eps);
}
