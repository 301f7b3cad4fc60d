// Unary elementwise op: out[i] = f(x[i], p0, p1) for i < n.
// Template: {{X_TYPE}} / {{OUT_TYPE}} are f32 or i32 (values go through f32), {{EXPR}} is f in terms of x, p0, p1,
// {{STORE}} converts the f32 result to OUT_TYPE (f32, or js_to_i32 for i32). Needs math.wgsl.
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (UNARY).
{{LAYOUT}}

fn unary_op(x: f32, p0: f32, p1: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) {
    out[i] = {{STORE}}(unary_op(f32(x_in[i]), params.p0, params.p1));
  }
}
