// Broadcasting binary op and where over a contiguous output of up to 6 dims.
// Operands are read through strides (0 = broadcast). Dims are padded at the front, so only the
// last `rank` entries of shape/strides are live. Buffers are bound as raw u32 words:
// {{LOAD_A}} / {{LOAD_B}} turn a word into f32, {{STORE}} turns the f32 result back, {{EXPR}} is op(a, b).
// Needs math.wgsl and loss.wgsl.
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (BINARY).
{{LAYOUT}}

fn load_a(w: u32) -> f32 { return {{LOAD_A}}; }
fn load_b(w: u32) -> f32 { return {{LOAD_B}}; }
fn store_out(v: f32) -> u32 { return {{STORE}}; }

fn binary_op(a: f32, b: f32) -> f32 {
  return {{EXPR}};
}

// Element offsets of operands a, b and cond for the output's linear index i.
fn offsets(i: u32) -> vec3<i32> {
  var rem = i;
  var off = vec3<i32>(0, 0, 0);
  for (var k = 0u; k < params.rank; k++) {
    let d = 5u - k;
    let size = params.shape[d / 4u][d % 4u];
    let coord = i32(rem % size);
    rem = rem / size;
    off += coord * vec3<i32>(params.a_strides[d / 4u][d % 4u], params.b_strides[d / 4u][d % 4u],
                             params.c_strides[d / 4u][d % 4u]);
  }
  return off;
}

@compute @workgroup_size(256)
fn binary_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let off = offsets(i);
  out[i] = store_out(binary_op(load_a(a_in[off.x]), load_b(b_in[off.y])));
}

// out = cond != 0 ? a : b, copying raw words so both dtypes pass through bit-exactly.
@compute @workgroup_size(256)
fn where_main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= params.n) { return; }
  let off = offsets(i);
  var c = cond_in[off.z];
  if (params.cond_is_f32 != 0u) {
    c = c & 0x7fffffffu; // -0.0 counts as zero
  }
  out[i] = select(b_in[off.y], a_in[off.x], c != 0u);
}
