// Runs an op case on a backend: forward, then the gradient of a random projection Σ out·w, so every
// output element influences the gradient. Also central finite differences on the same projection.
import type { Backend } from '../../src/backend/backend.js';
import * as wm from '../../src/tensor/index.js';
import { drawInputs, type OpCase, wantsGrad } from './op-cases.js';

export interface CaseResult {
  out: Float32Array;
  grads: (Float32Array | null)[];
}

function projection(n: number, seed: number): Float32Array {
  const r = new wm.Random(seed);
  return Float32Array.from({ length: n }, () => r.normal());
}

function makeInputs(c: OpCase, host: (Float32Array | Int32Array)[], backend: Backend): wm.Tensor[] {
  return host.map((values, i) => wm.fromArray(values, c.inputs[i].shape, { backend, requiresGrad: wantsGrad(c.inputs[i]) }));
}

export async function runCase(backend: Backend, c: OpCase, seed = 1): Promise<CaseResult> {
  wm.setBackend(backend);
  return wm.tidyAsync(async () => {
    const xs = makeInputs(c, drawInputs(c, seed), backend);
    const out = c.run(xs);
    const w = wm.fromArray(projection(out.size, seed + 1), out.shape, { backend });
    wm.sum(wm.mul(out, w)).backward();
    const outValues = (await out.data()) as Float32Array;
    const grads = await Promise.all(xs.map(async (x) => (x.grad ? ((await x.grad.data()) as Float32Array) : null)));
    for (const x of xs) x.zeroGrad();
    return { out: outValues, grads };
  });
}

/** Σ out·w for inputs `host`, with the sum taken in float64 on the host (CPU backend). */
function projectedLoss(backend: Backend, c: OpCase, host: (Float32Array | Int32Array)[], w: Float32Array): number {
  return wm.tidy(() =>
    wm.noGrad(() => {
      const xs = host.map((v, i) => wm.fromArray(v, c.inputs[i].shape, { backend }));
      const out = c.run(xs).dataSync();
      let s = 0;
      for (let i = 0; i < out.length; i++) s += out[i] * w[i];
      return s;
    }),
  );
}

export interface FiniteDiffMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

/** Compares CPU analytic gradients with central differences at up to `samples` coordinates per input. */
export function finiteDiffCheck(
  backend: Backend,
  c: OpCase,
  result: CaseResult,
  seed = 1,
  opts = { h: 1e-2, rtol: 1e-2, atol: 2e-3, samples: 8 },
): FiniteDiffMismatch[] {
  wm.setBackend(backend);
  const host = drawInputs(c, seed);
  const w = projection(result.out.length, seed + 1);
  const bad: FiniteDiffMismatch[] = [];
  const r = new wm.Random(seed + 2);
  host.forEach((values, inputIndex) => {
    const g = result.grads[inputIndex];
    if (!g || !(values instanceof Float32Array)) return;
    const picks = values.length <= opts.samples ? [...values.keys()] : Array.from({ length: opts.samples }, () => r.int(values.length));
    for (const i of picks) {
      const orig = values[i];
      values[i] = orig + opts.h;
      const plus = projectedLoss(backend, c, host, w);
      values[i] = orig - opts.h;
      const minus = projectedLoss(backend, c, host, w);
      values[i] = orig;
      const numeric = (plus - minus) / (2 * opts.h);
      if (Math.abs(numeric - g[i]) > opts.atol + opts.rtol * Math.abs(numeric))
        bad.push({ input: inputIndex, index: i, analytic: g[i], numeric });
    }
  });
  return bad;
}

/** Largest violation of |a − b| ≤ atol + rtol·|b| (≤ 0 means all close), with where it happened. */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): { worst: number; at: number } {
  if (a.length !== b.length) return { worst: Infinity, at: -1 };
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= worst) || Number.isNaN(excess)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  }
  return { worst, at };
}
