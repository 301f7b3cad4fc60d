// Strided copy over up to 6 dims (padded at the front; the last `rank` entries are live):
// dst[dst_offset + Σ idx_d * dst_strides_d] = src[src_offset + Σ idx_d * src_strides_d].
// Words are moved as u32, so f32 (NaN payloads included) and i32 copy bit-exactly.
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (COPY).
{{LAYOUT}}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  var rem = i;
  var s = params.src_offset;
  var d = params.dst_offset;
  for (var k = 0u; k < params.rank; k++) {
    let dim = 5u - k;
    let size = params.shape[dim / 4u][dim % 4u];
    let coord = i32(rem % size);
    rem = rem / size;
    s += coord * params.src_strides[dim / 4u][dim % 4u];
    d += coord * params.dst_strides[dim / 4u][dim % 4u];
  }
  dst[d] = src[s];
}
