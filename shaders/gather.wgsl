// Row gather and its backward, scatter-add of rows.

// Params and bindings of both kernels: src/backend/webgpu/kernels.ts (GATHER, SCATTER).
{{GATHER_LAYOUT}}

// gathered[out_offset + i * out_stride + d] = table[ids[i], d], one thread per (i, d); words move
// as u32 (bit-exact).
// An id outside [0, vocab) yields a zero row instead of an out-of-bounds read.
@compute @workgroup_size(256)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (t >= gather_params.count * gather_params.dim) { return; }
  let i = t / gather_params.dim;
  let d = t % gather_params.dim;
  let id = ids[i];
  var v = 0u;
  if (id >= 0 && u32(id) < gather_params.vocab) {
    v = table[u32(id) * gather_params.dim + d];
  }
  gathered[gather_params.out_offset + i * gather_params.out_stride + d] = v;
}

// Scatter-add without atomics: the host sorts row positions by id into a CSR list
//   csr[0 .. unique)                 the distinct ids
//   csr[unique .. 2*unique + 1)      offsets of each id's run in the position list
//   csr[2*unique + 1 ..)             row positions, grouped by id, in ascending order
// and one thread per (distinct id, d) sums its rows in that order (the CPU's order, so the
// f32 rounding matches). The output was zero-filled by a preceding fill dispatch.
{{SCATTER_LAYOUT}}

@compute @workgroup_size(256)
fn scatter_add_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 256u + lid;
  let unique = scatter_params.unique;
  let dim = scatter_params.dim;
  if (t >= unique * dim) { return; }
  let u = t / dim;
  let d = t % dim;
  let id = csr[u];
  if (id >= scatter_params.vocab) { return; }
  let begin = csr[unique + u];
  let end = csr[unique + u + 1u];
  let positions = 2u * unique + 1u;
  var acc = 0.0;
  for (var p = begin; p < end; p++) {
    acc += src[csr[positions + p] * dim + d];
  }
  summed[id * dim + d] = acc;
}
