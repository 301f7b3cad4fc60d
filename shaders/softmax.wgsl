// Row-wise softmax / logSoftmax of x viewed as [rows, cols], stable (the row max is subtracted).
// Needs math.wgsl. As in the reference, a row whose max is not finite (a NaN anywhere, a +Inf, or
// all -Inf: exp(Inf - Inf) is NaN) is NaN throughout; max_nan keeps a NaN that WGSL's max may drop,
// and the row max is tested on its bits instead of trusting exp/log of NaN. A -Inf entry of a finite
// row gets weight 0 (exp_f32(-Inf) = 0; log: -Inf).
//   softmax_rows     one thread per row (short rows)
//   softmax_rows_wg  one 256-lane workgroup per row with tree reductions (long rows)
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (SOFTMAX).
{{LAYOUT}}

fn finish(v: f32, row_max: f32, sum: f32) -> f32 {
  if (!is_finite_f32(row_max)) { return nan_f32(); }
  if (params.log_out != 0u) {
    return v - row_max - log(sum);
  }
  return exp_f32(v - row_max) / sum;
}

@compute @workgroup_size(64)
fn softmax_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  var row_max = x[base];
  for (var c = 1u; c < params.cols; c++) { row_max = max_nan(row_max, x[base + c]); }
  var sum = 0.0;
  for (var c = 0u; c < params.cols; c++) { sum += exp_f32(x[base + c] - row_max); }
  for (var c = 0u; c < params.cols; c++) { out[base + c] = finish(x[base + c], row_max, sum); }
}

var<workgroup> scratch: array<f32, 256>;

@compute @workgroup_size(256)
fn softmax_rows_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.rows) { return; } // uniform per workgroup
  let base = row * params.cols;

  var m = x[base];
  for (var c = lid; c < params.cols; c += 256u) { m = max_nan(m, x[base + c]); }
  scratch[lid] = m;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { scratch[lid] = max_nan(scratch[lid], scratch[lid + stride]); }
    workgroupBarrier();
  }
  let row_max = scratch[0];
  workgroupBarrier();

  var s = 0.0;
  for (var c = lid; c < params.cols; c += 256u) { s += exp_f32(x[base + c] - row_max); }
  scratch[lid] = s;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { scratch[lid] += scratch[lid + stride]; }
    workgroupBarrier();
  }
  let sum = scratch[0];

  for (var c = lid; c < params.cols; c += 256u) { out[base + c] = finish(x[base + c], row_max, sum); }
}
