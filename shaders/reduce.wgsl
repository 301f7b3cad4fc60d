// Reduction of x viewed as [outer, reduce, inner] into out [outer, inner].
// Template: {{X_TYPE}} / {{OUT_TYPE}} are f32 or i32; {{COMBINE}} folds v into acc (sum or max_nan,
// so that a NaN anywhere in the reduced axis makes the maximum NaN); {{STORE}} converts the f32 result
// to OUT_TYPE (f32, or js_to_i32 for i32). Needs math.wgsl.
// Three strategies, picked by the host from the shape:
//   reduce_simple     one thread per output, serial loop (many outputs, or a short reduce axis)
//   reduce_rows_tree  one workgroup per row when inner == 1 (256 lanes stride the row, then a tree)
//   reduce_cols_tree  16 columns x 16 lanes per workgroup when inner > 1 and outputs are few
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (REDUCE).
{{LAYOUT}}

fn combine(acc: f32, v: f32) -> f32 {
  return {{COMBINE}};
}

@compute @workgroup_size(256)
fn reduce_simple(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let o = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (o >= params.outer * params.inner) { return; }
  let i = o / params.inner;
  let j = o % params.inner;
  var acc = params.init;
  var idx = i * params.reduce * params.inner + j;
  for (var r = 0u; r < params.reduce; r++) {
    acc = combine(acc, f32(x[idx]));
    idx += params.inner;
  }
  out[o] = {{STORE}}(acc);
}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn reduce_rows_tree(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.outer) { return; } // uniform per workgroup
  let base = row * params.reduce;
  var acc = params.init;
  for (var r = lid; r < params.reduce; r += 256u) {
    acc = combine(acc, f32(x[base + r]));
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      partial[lid] = combine(partial[lid], partial[lid + stride]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[row] = {{STORE}}(partial[0]);
  }
}

@compute @workgroup_size(16, 16)
fn reduce_cols_tree(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_id) lid3: vec3<u32>) {
  let col_tiles = (params.inner + 15u) / 16u;
  let tile = wid.y * nwg.x + wid.x;
  if (tile >= params.outer * col_tiles) { return; } // uniform per workgroup
  let i = tile / col_tiles;
  let j = (tile % col_tiles) * 16u + lid3.x;
  let lane = lid3.y;
  var acc = params.init;
  if (j < params.inner) {
    for (var r = lane; r < params.reduce; r += 16u) {
      acc = combine(acc, f32(x[(i * params.reduce + r) * params.inner + j]));
    }
  }
  let slot = lane * 16u + lid3.x;
  partial[slot] = acc;
  workgroupBarrier();
  for (var stride = 8u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      partial[slot] = combine(partial[slot], partial[slot + stride * 16u]);
    }
    workgroupBarrier();
  }
  if (lane == 0u && j < params.inner) {
    out[i * params.inner + j] = {{STORE}}(partial[lid3.x]);
  }
}
