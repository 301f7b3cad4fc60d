// Batched tiled matrix product: out[b] (M x N) = op(A[b]) (M x K) · op(B[b]) (K x N).
// A 16x16 workgroup computes a BM x BN block (BM = 16*TM, BN = 16*TN), each thread a TM x TN
// sub-block strided by 16 rows/columns, walking K in steps of BK through workgroup memory.
// Template: {{TM}}, {{TN}} (1, 2 or 4) and {{TRANS_A}}, {{TRANS_B}} (true/false).
// Element (i, kk) of op(A) is A[a_off + i*a_row + kk*a_col]; (kk, j) of op(B) is B[b_off + kk*b_row + j*b_col].
const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const BM: u32 = 16u * TM;
const BN: u32 = 16u * TN;
const BK: u32 = 16u;
const TRANS_A: bool = {{TRANS_A}};
const TRANS_B: bool = {{TRANS_B}};

// The params struct and bindings are declared by name in src/backend/webgpu/kernels.ts (MATMUL).
{{LAYOUT}}

// Tiles stored k-major: a_tile[kk * BM + i], b_tile[kk * BN + j].
var<workgroup> a_tile: array<f32, BK * BM>;
var<workgroup> b_tile: array<f32, BK * BN>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let batch = wid.z + params.batch_base;
  let row0 = (wid.y + params.row_tile_base) * BM;
  let col0 = (wid.x + params.col_tile_base) * BN;
  let a_off = batch * params.a_batch_stride;
  let b_off = batch * params.b_batch_stride;
  let tid = lid.y * 16u + lid.x;

  var acc: array<f32, TM * TN>;
  for (var q = 0u; q < TM * TN; q++) { acc[q] = 0.0; }

  for (var k0 = 0u; k0 < params.k; k0 += BK) {
    // Each thread stages TM elements of the A tile and TN of the B tile. The thread-to-element map
    // follows the operand's memory layout so that neighbouring threads read neighbouring words.
    for (var l = 0u; l < TM; l++) {
      let t = tid + l * 256u;
      var i: u32;
      var kk: u32;
      if (TRANS_A) { i = t % BM; kk = t / BM; } else { kk = t % BK; i = t / BK; }
      var v = 0.0;
      if (row0 + i < params.m && k0 + kk < params.k) {
        v = a[a_off + (row0 + i) * params.a_row + (k0 + kk) * params.a_col];
      }
      a_tile[kk * BM + i] = v;
    }
    for (var l = 0u; l < TN; l++) {
      let t = tid + l * 256u;
      var j: u32;
      var kk: u32;
      if (TRANS_B) { kk = t % BK; j = t / BK; } else { j = t % BN; kk = t / BN; }
      var v = 0.0;
      if (col0 + j < params.n && k0 + kk < params.k) {
        v = b[b_off + (k0 + kk) * params.b_row + (col0 + j) * params.b_col];
      }
      b_tile[kk * BN + j] = v;
    }
    workgroupBarrier();

    for (var kk = 0u; kk < BK; kk++) {
      var a_reg: array<f32, TM>;
      var b_reg: array<f32, TN>;
      for (var r = 0u; r < TM; r++) { a_reg[r] = a_tile[kk * BM + lid.y + 16u * r]; }
      for (var c = 0u; c < TN; c++) { b_reg[c] = b_tile[kk * BN + lid.x + 16u * c]; }
      for (var r = 0u; r < TM; r++) {
        for (var c = 0u; c < TN; c++) {
          acc[r * TN + c] = fma(a_reg[r], b_reg[c], acc[r * TN + c]);
        }
      }
    }
    workgroupBarrier();
  }

  let out_off = batch * params.m * params.n;
  for (var r = 0u; r < TM; r++) {
    let i = row0 + lid.y + 16u * r;
    if (i >= params.m) { continue; }
    for (var c = 0u; c < TN; c++) {
      let j = col0 + lid.x + 16u * c;
      if (j < params.n) {
        out[out_off + i * params.n + j] = acc[r * TN + c];
      }
    }
  }
}
