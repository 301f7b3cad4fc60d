// Dropout scale mask: out[i] = u(seed, i) >= p ? scale : 0, where u is backend.ts's dropoutUniform.
// u = (h >> 8) / 2^24, so u >= p exactly when (h >> 8) >= ceil(p * 2^24): the host passes that
// integer threshold and the comparison stays in u32 (no f32 rounding of p).
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (DROPOUT).
{{LAYOUT}}

// u32 multiplication wraps like Math.imul.
fn dropout_hash(seed: u32, i: u32) -> u32 {
  var h = (i * 0x9e3779b9u) ^ seed;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let keep = (dropout_hash(params.seed, i) >> 8u) >= params.threshold;
  out[i] = select(0.0, params.scale, keep);
}
