// The synthetic regression benchmark of the MMoE paper (Ma et al., KDD 2018), where the correlation of
// the two tasks is a knob:
//   u1, u2 orthonormal in R^d;  w1 = c·u1;  w2 = c·(ρ·u1 + √(1−ρ²)·u2);  x ~ N(0, I_d)
//   y_k = w_kᵀx + Σ_{i=1..m} sin(α_i·w_kᵀx + β_i) + ε_k,   α_i, β_i ~ N(0, 1) shared by both tasks.
// ρ is exactly the Pearson correlation of w1ᵀx and w2ᵀx; the labels' correlation falls with ρ too,
// though not linearly (the sine terms).

import { ColumnarDataset, type Columns } from './columns.js';
import { DataError } from './errors.js';
import { Rng } from './random.js';

export interface MmoeSyntheticOptions {
  rows: number;
  /** Input dimension d (default 100, as in MMoE; PLE used 512). */
  dim?: number;
  /** Task correlation ρ in [-1, 1]. */
  correlation: number;
  /** Number of sine terms (default 10). */
  m?: number;
  /** Scale of the weight vectors (default 1). */
  c?: number;
  seed: number;
  /** Variance of the label noise ε (the paper's N(0, 0.01)); its standard deviation is √noise. */
  noise?: number;
}

export interface MmoeSynthetic {
  /** Inputs, row-major [rows, dim]. */
  x: Float32Array;
  /** Labels, row-major [rows, 2]. */
  y: Float32Array;
  rows: number;
  dim: number;
  labelNames: [string, string];
  w1: Float64Array;
  w2: Float64Array;
  alpha: Float64Array;
  beta: Float64Array;
  /** The inputs as columns x0 … x{dim−1} (dense features) with both labels: a copy, made on demand. */
  toDataset(prefix?: string): ColumnarDataset;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>, n = a.length, offsetA = 0): number {
  let s = 0;
  for (let k = 0; k < n; k++) s += a[offsetA + k] * b[k];
  return s;
}

/** Two orthonormal vectors in R^dim by Gram–Schmidt on seeded Gaussian vectors. */
export function orthonormalPair(dim: number, rng: Rng): [Float64Array, Float64Array] {
  if (dim < 2) throw new DataError(`dim must be at least 2 to hold two orthonormal vectors, got ${dim}.`);
  const u1 = Float64Array.from({ length: dim }, () => rng.normal());
  const n1 = Math.sqrt(dot(u1, u1));
  for (let k = 0; k < dim; k++) u1[k] /= n1;
  const u2 = Float64Array.from({ length: dim }, () => rng.normal());
  const proj = dot(u2, u1);
  for (let k = 0; k < dim; k++) u2[k] -= proj * u1[k];
  const n2 = Math.sqrt(dot(u2, u2));
  for (let k = 0; k < dim; k++) u2[k] /= n2;
  return [u1, u2];
}

export function generateMmoeSynthetic(options: MmoeSyntheticOptions): MmoeSynthetic {
  const { rows, dim = 100, correlation: rho, m = 10, c = 1, seed, noise = 0.01 } = options;
  if (!Number.isInteger(rows) || rows < 0) throw new DataError(`rows must be a non-negative integer, got ${rows}.`);
  if (!(rho >= -1 && rho <= 1)) throw new DataError(`correlation must be in [-1, 1], got ${rho}.`);
  if (!(noise >= 0)) throw new DataError(`noise (a variance) must be >= 0, got ${noise}.`);
  const rng = new Rng(seed);
  const [u1, u2] = orthonormalPair(dim, rng.fork('directions'));
  const w1 = u1.map((v) => c * v);
  const s = Math.sqrt(1 - rho * rho);
  const w2 = u1.map((v, k) => c * (rho * v + s * u2[k]));
  const params = rng.fork('sines');
  const alpha = Float64Array.from({ length: m }, () => params.normal());
  const beta = Float64Array.from({ length: m }, () => params.normal());

  const xr = rng.fork('x');
  const er = rng.fork('noise');
  const sd = Math.sqrt(noise);
  const x = new Float32Array(rows * dim);
  const y = new Float32Array(rows * 2);
  const target = (z: number) => {
    let t = z;
    for (let i = 0; i < m; i++) t += Math.sin(alpha[i] * z + beta[i]);
    return t;
  };
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    for (let k = 0; k < dim; k++) x[base + k] = xr.normal();
    y[2 * r] = target(dot(x, w1, dim, base)) + sd * er.normal();
    y[2 * r + 1] = target(dot(x, w2, dim, base)) + sd * er.normal();
  }
  const labelNames: [string, string] = ['y1', 'y2'];
  return {
    x,
    y,
    rows,
    dim,
    labelNames,
    w1,
    w2,
    alpha,
    beta,
    toDataset(prefix = 'x') {
      const columns: Columns = {};
      for (let k = 0; k < dim; k++) {
        const col = new Float32Array(rows);
        for (let r = 0; r < rows; r++) col[r] = x[r * dim + k];
        columns[`${prefix}${k}`] = col;
      }
      return new ColumnarDataset(columns, y, [...labelNames], rows);
    },
  };
}
