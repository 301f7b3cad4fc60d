// Fused softmax gating + expert mixture (MMoE / PLE), forward and backward.
// Shapes: logits, weights [T, B, E]; experts [E, B, H]; mix, g_mix [T, B, H]. Rows are (t, b) pairs,
// row = t * B + b. E is at most MAX_EXPERTS (checked on the host). Needs math.wgsl.
// NaN / Inf as in the reference softmax: a row whose logit max is not finite (a NaN, a +Inf, all -Inf)
// has NaN weights, so its mixture is NaN; the backward is plain arithmetic, which carries NaN on.
const WG: u32 = 64u;
const MAX_EXPERTS: u32 = 256u;

// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (GATING).
{{LAYOUT}}

var<workgroup> gate: array<f32, MAX_EXPERTS>;
var<workgroup> gw_part: array<f32, MAX_EXPERTS>;
var<workgroup> gw: array<f32, MAX_EXPERTS>;

// One workgroup per row: softmax of the row's E logits into `gate`, then mix[row, h] for h strided by lane.
@compute @workgroup_size(64)
fn gate_mix_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let B = params.batch;
  let E = params.experts;
  let H = params.hidden;
  let row = wid.y * nwg.x + wid.x;
  if (row >= params.tasks * B) { return; } // uniform per workgroup
  let b = row % B;

  for (var e = lid; e < E; e += WG) { gate[e] = logits[row * E + e]; }
  workgroupBarrier();
  // E is small: every lane folds the row itself instead of a tree reduction.
  var row_max = gate[0];
  for (var e = 1u; e < E; e++) { row_max = max_nan(row_max, gate[e]); }
  var sum = 0.0;
  for (var e = 0u; e < E; e++) { sum += exp_f32(gate[e] - row_max); }
  workgroupBarrier(); // all lanes have read the logits before they are replaced by weights
  for (var e = lid; e < E; e += WG) {
    let w = select(nan_f32(), exp_f32(gate[e] - row_max) / sum, is_finite_f32(row_max));
    gate[e] = w;
    weights_out[row * E + e] = w;
  }
  workgroupBarrier();

  for (var h = lid; h < H; h += WG) {
    var acc = 0.0;
    for (var e = 0u; e < E; e++) {
      acc = fma(gate[e], experts[(e * B + b) * H + h], acc);
    }
    mix[row * H + h] = acc;
  }
}

// The first T*B workgroups each produce one row of g_logits; the remaining workgroups produce
// g_experts with one lane per element. The split depends only on the workgroup id, so the
// barriers stay in uniform control flow.
@compute @workgroup_size(64)
fn gate_mix_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let T = params.tasks;
  let B = params.batch;
  let E = params.experts;
  let H = params.hidden;
  let group = wid.y * nwg.x + wid.x;
  let rows = T * B;

  if (group < rows) {
    let row = group;
    let b = row % B;
    for (var e = lid; e < E; e += WG) { gate[e] = weights[row * E + e]; }
    // gw[e] = Σ_h g_mix[row, h] · experts[e, b, h]. With E < WG the lanes split into `slices`
    // groups of E, each slice summing every slices-th h; with E >= WG a lane owns whole experts.
    let slices = max(1u, WG / E);
    let slice = lid / E;
    if (slice < slices) {
      for (var e = lid % E; e < E; e += WG) {
        var acc = 0.0;
        for (var h = slice; h < H; h += slices) {
          acc = fma(g_mix[row * H + h], experts[(e * B + b) * H + h], acc);
        }
        gw_part[slice * E + e] = acc;
      }
    }
    workgroupBarrier();
    for (var e = lid; e < E; e += WG) {
      var s = 0.0;
      for (var sl = 0u; sl < slices; sl++) { s += gw_part[sl * E + e]; }
      gw[e] = s;
    }
    workgroupBarrier();
    var dot = 0.0;
    for (var e = 0u; e < E; e++) { dot += gate[e] * gw[e]; }
    for (var e = lid; e < E; e += WG) {
      g_logits[row * E + e] = gate[e] * (gw[e] - dot);
    }
    return;
  }

  // g_experts[e, b, h] = Σ_t weights[t, b, e] · g_mix[t, b, h]
  let idx = (group - rows) * WG + lid;
  if (idx >= E * B * H) { return; }
  let h = idx % H;
  let b = (idx / H) % B;
  let e = idx / (H * B);
  var acc = 0.0;
  for (var t = 0u; t < T; t++) {
    acc = fma(weights[(t * B + b) * E + e], g_mix[(t * B + b) * H + h], acc);
  }
  g_experts[idx] = acc;
}
