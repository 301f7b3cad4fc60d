// out[i] = value for i < n. The value arrives as raw bits so f32 and i32 share one kernel.
// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (FILL).
{{LAYOUT}}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < params.n) {
    out[i] = params.bits;
  }
}
