// Small pieces the balancing strategies share: weighted sums of losses, dot products over lists of
// tensors, writing gradients into .grad, and host copies of weights that live on the device.
import { keep, noGrad } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { grad, type Tensor } from '../tensor/tensor.js';
import type { BalanceContext } from './strategy.js';

/** Guards divisions by a squared norm or a moving average that can be exactly zero. */
export const TINY = 1e-20;

/** Σ w_i L_i for host weights (no upload) or a [T] device tensor of weights. */
export function weightedSum(losses: Tensor[], weights: number[] | Tensor): Tensor {
  if (Array.isArray(weights)) {
    return losses.map((l, i) => ops.mul(l, weights[i])).reduce((a, b) => ops.add(a, b));
  }
  return ops.sum(ops.mul(stackScalars(losses), weights));
}

/** T scalars (shape [] or [1]) → one [T] tensor. */
export function stackScalars(xs: Tensor[]): Tensor {
  return ops.concat(xs.map((x) => ops.reshape(x, [1])));
}

/** Σ_p a_p · b_p over every element of two parameter lists: the dot product of the flattened lists. */
export function dot(a: Tensor[], b: Tensor[]): Tensor {
  return a.map((t, p) => ops.sum(ops.mul(t, b[p]))).reduce((x, y) => ops.add(x, y));
}

/** ‖a‖² of a flattened parameter list. */
export function sumSquares(a: Tensor[]): Tensor {
  return a.map((t) => ops.sum(ops.square(t))).reduce((x, y) => ops.add(x, y));
}

/** Adds g into p.grad (creating it), as backward() does: the trainer zeroes gradients between steps. */
export function accumulateGrad(p: Tensor, g: Tensor): void {
  noGrad(() => {
    const shaped = g.shape.join() === p.shape.join() ? g : ops.reshape(g, [...p.shape]);
    if (p.grad) {
      const total = ops.add(p.grad, shaped);
      p.grad.dispose();
      p.grad = keep(total);
    } else {
      // A view of its own, so that p.grad outlives the scope that owns g.
      p.grad = keep(shaped.view(p.shape));
    }
  });
}

/** The gradient of `total` with respect to `params`, added into their .grad. */
export function backwardInto(total: Tensor, params: Tensor[]): void {
  if (params.length === 0 || !total.requiresGrad) return;
  const grads = grad(total, params);
  params.forEach((p, i) => accumulateGrad(p, grads[i]));
}

/** Parameters of the tasks' own (towers, gates, specific experts), each once, excluding shared ones. */
export function taskSpecificParams(ctx: BalanceContext): Tensor[] {
  const shared = new Set(ctx.shared);
  const out = new Set<Tensor>();
  for (const ps of ctx.perTask) for (const p of ps) if (!shared.has(p)) out.add(p);
  return [...out];
}

/** The model's name when the context carries one (makeBalanceContext's modelName). */
export function modelLabel(ctx: BalanceContext): string {
  const name = (ctx as BalanceContext & { modelName?: string }).modelName;
  return name ? `the ${name} model` : 'this model';
}

/** Throws when a gradient-manipulating strategy finds no shared parameters to work on. */
export function requireShared(ctx: BalanceContext, method: string): void {
  if (ctx.shared.length > 0) return;
  throw new Error(
    `${method}: ${modelLabel(ctx)} has no shared parameters (every parameter belongs to one task), so there are no task gradients to ` +
      `${method === 'GradNorm' ? 'normalise' : 'balance'}. Use a loss-weighting method instead: { method: 'uwl' }, { method: 'dwa' } or { method: 'fixed', weights: [...] }.`,
  );
}

/** Checks the number of losses against the task count given to setup() or the options. */
export function checkTaskCount(method: string, expected: number | undefined, got: number): void {
  if (expected !== undefined && expected !== got) {
    throw new Error(`${method}: set up for ${expected} tasks but the step has ${got} losses; build one strategy per task configuration`);
  }
  if (got < 1) throw new Error(`${method}: the step has no losses`);
}

/**
 * Host copies of a small device tensor of weights, for StepReport. On backends that read
 * synchronously (CPU, wasm) the copy is exact every step. Elsewhere (WebGPU) nothing is read during a
 * step — a training step reads back only its losses — so StepReport carries the last value read();
 * the trainer calls readWeights() (which uses read()) at the end of each epoch.
 */
export class HostWeights {
  /** `initial`: what to report before the first read (default 1 per task). */
  constructor(private values: number[] = []) {}

  snapshot(t: Tensor): number[] {
    const b = t.backend;
    if (this.values.length !== t.size) this.values = Array<number>(t.size).fill(1);
    if (b.readSync) this.values = Array.from(b.readSync(t.buffer));
    return [...this.values];
  }

  async read(t: Tensor): Promise<number[]> {
    this.values = Array.from(await t.data());
    return [...this.values];
  }

  get last(): number[] {
    return [...this.values];
  }

  /** Puts back values taken from `last` (a step that was undone). */
  set last(values: number[]) {
    this.values = [...values];
  }
}

export function checkFinite(method: string, what: string, v: unknown, ok: (x: number) => boolean, hint: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
    throw new Error(`${method}: ${what} ${hint}, got ${String(v)}`);
  }
  return v;
}
