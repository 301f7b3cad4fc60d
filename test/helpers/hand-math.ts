// Plain float64 JavaScript versions of the layers the multi-task models are built from, for tests
// that compute the models' outputs by hand. Nothing here calls the tensor engine: matrices are
// number[][] (rows × columns) and parameters are flat number[] read out of a model's stateDict, laid
// out as the model stores them (Linear weights [in, out]; stacked experts [E, in, out], their biases
// and BatchNorm values [E, 1, out]).

export type Mat = number[][];
/** Flat float64 copies of a model's parameters and buffers, by stateDict name. */
export type Params = Record<string, number[]>;

/** BatchNorm's ε (torch's default, and the model's). */
export const BN_EPS = 1e-5;

/**
 * Switches for deliberately wrong variants of the hand math (to show a test would notice them);
 * tests that flip one restore it.
 */
export const variants = { unbiasedBatchVariance: false };

export function get(P: Params, name: string): number[] {
  const v = P[name];
  if (!v) throw new Error(`hand-math: no parameter '${name}' (have ${Object.keys(P).length} names)`);
  return v;
}

/** y = x·W + b with W stored [in, out] starting at wOff (one expert of a stack: wOff = e·in·out). */
export function linear(x: Mat, w: number[], b: number[] | null, outDim: number, wOff = 0, bOff = 0): Mat {
  const inDim = x[0].length;
  return x.map((row) => {
    const y = new Array<number>(outDim).fill(0);
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[bOff + o] : 0;
      for (let i = 0; i < inDim; i++) s += row[i] * w[wOff + i * outDim + o];
      y[o] = s;
    }
    return y;
  });
}

/**
 * BatchNorm1d over the rows of x. Training: the batch mean and the biased variance (divide by B) —
 * torch's normalisation. Eval: the running statistics. Every per-channel value read at offset off.
 */
export function batchNorm(
  x: Mat,
  gamma: number[],
  beta: number[],
  train: boolean,
  runningMean: number[],
  runningVar: number[],
  off = 0,
): Mat {
  const C = x[0].length;
  const B = x.length;
  const mu = new Array<number>(C).fill(0);
  const va = new Array<number>(C).fill(0);
  for (let c = 0; c < C; c++) {
    if (train) {
      let s = 0;
      for (let r = 0; r < B; r++) s += x[r][c];
      mu[c] = s / B;
      let q = 0;
      for (let r = 0; r < B; r++) q += (x[r][c] - mu[c]) ** 2;
      va[c] = q / (variants.unbiasedBatchVariance ? B - 1 : B);
    } else {
      mu[c] = runningMean[off + c];
      va[c] = runningVar[off + c];
    }
  }
  return x.map((row) => row.map((v, c) => ((v - mu[c]) / Math.sqrt(va[c] + BN_EPS)) * gamma[off + c] + beta[off + c]));
}

export const relu = (x: Mat): Mat => x.map((row) => row.map((v) => (v > 0 ? v : 0)));
export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((a) => Math.exp(a - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((a) => a / s);
}
export const softmaxRows = (x: Mat): Mat => x.map(softmax);

/** One block Linear → BatchNorm1d → ReLU (dropout 0) of an MLP at `prefix` (e.g. 'towers.0.1'). */
export function mlpBlock(P: Params, prefix: string, x: Mat, train: boolean): Mat {
  const b = get(P, `${prefix}.linear.bias`);
  const z = linear(x, get(P, `${prefix}.linear.weight`), b, b.length);
  return relu(
    batchNorm(
      z,
      get(P, `${prefix}.bn.weight`),
      get(P, `${prefix}.bn.bias`),
      train,
      get(P, `${prefix}.bn.running_mean`),
      get(P, `${prefix}.bn.running_var`),
    ),
  );
}

/**
 * torch-rechub's MLP: `nBlocks` blocks, then (outputLayer) Linear(→ 1). Returns [B, width] or,
 * with the output layer, [B, 1].
 */
export function mlp(P: Params, prefix: string, x: Mat, nBlocks: number, outputLayer: boolean, train: boolean): Mat {
  let h = x;
  for (let i = 0; i < nBlocks; i++) h = mlpBlock(P, `${prefix}.${i}`, h, train);
  if (!outputLayer) return h;
  return linear(h, get(P, `${prefix}.output.weight`), get(P, `${prefix}.output.bias`), 1);
}

/**
 * E experts stacked at `prefix` (an Experts module), each an MLP without output layer of `nLayers`
 * blocks, all reading x. Returns one [B, H] per expert, expert by expert.
 */
export function experts(P: Params, prefix: string, x: Mat, E: number, nLayers: number, train: boolean): Mat[] {
  const out: Mat[] = [];
  for (let e = 0; e < E; e++) {
    let h = x;
    for (let l = 0; l < nLayers; l++) {
      const p = `${prefix}.layers.${l}`;
      const inDim = h[0].length;
      const H = get(P, `${p}.bias`).length / E;
      const z = linear(h, get(P, `${p}.weight`), get(P, `${p}.bias`), H, e * inDim * H, e * H);
      h = relu(
        batchNorm(
          z,
          get(P, `${p}.bn.weight`),
          get(P, `${p}.bn.bias`),
          train,
          get(P, `${p}.bn.running_mean`),
          get(P, `${p}.bn.running_var`),
          e * H,
        ),
      );
    }
    out.push(h);
  }
  return out;
}

/** torch-rechub's gate MLP(dims=[E], activation softmax, no output layer): softmax(BN(Linear(x))) per row. */
export function gate(P: Params, prefix: string, x: Mat, train: boolean): Mat {
  const b = get(P, `${prefix}.linear.bias`);
  const z = linear(x, get(P, `${prefix}.linear.weight`), b, b.length);
  return softmaxRows(
    batchNorm(
      z,
      get(P, `${prefix}.bn.weight`),
      get(P, `${prefix}.bn.bias`),
      train,
      get(P, `${prefix}.bn.running_mean`),
      get(P, `${prefix}.bn.running_var`),
    ),
  );
}

/** Σ_e w[r][e] · experts[e][r] per row. */
export function mix(w: Mat, expertOuts: Mat[]): Mat {
  if (w[0].length !== expertOuts.length) throw new Error(`hand-math: ${w[0].length} gate weights for ${expertOuts.length} experts`);
  return w.map((wr, r) => expertOuts[0][r].map((_, h) => wr.reduce((s, we, e) => s + we * expertOuts[e][r][h], 0)));
}

/** Columns side by side. */
export const hcat = (...parts: Mat[]): Mat => parts[0].map((_, r) => parts.flatMap((p) => p[r]));

/** Rows of an embedding table [vocab, dim]. */
export function lookup(table: number[], dim: number, ids: number[]): Mat {
  return ids.map((id) => table.slice(id * dim, (id + 1) * dim));
}

/** Mean binary cross-entropy over every entry of p [B, T] against y [B, T]. */
export function bceMean(p: Mat, y: Mat): number {
  let s = 0;
  let n = 0;
  p.forEach((row, r) =>
    row.forEach((v, t) => {
      s += -(y[r][t] * Math.log(v) + (1 - y[r][t]) * Math.log(1 - v));
      n++;
    }),
  );
  return s / n;
}

/** A small deterministic generator (mulberry32); values rounded to float32 so model and hand agree. */
export class HandRng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform in [lo, hi), rounded to float32. */
  uniform(lo: number, hi: number): number {
    return Math.fround(lo + (hi - lo) * this.next());
  }
}

/**
 * Central finite differences of f at every entry of the named parameters (float64, step h). P is
 * modified in place during the sweep and restored.
 */
export function finiteDifferences(P: Params, names: string[], f: (P: Params) => number, h = 1e-6): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const name of names) {
    const v = get(P, name);
    out[name] = v.map((x0, i) => {
      v[i] = x0 + h;
      const up = f(P);
      v[i] = x0 - h;
      const down = f(P);
      v[i] = x0;
      return (up - down) / (2 * h);
    });
  }
  return out;
}
