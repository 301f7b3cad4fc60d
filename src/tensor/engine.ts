// Engine state: the current backend, whether gradients are recorded, and the scopes that own
// tensors so a training loop can free device memory without disposing each tensor by hand.
import type { Backend } from '../backend/backend.js';
import { CpuBackend } from '../backend/cpu/cpu-backend.js';
import type { Tensor } from './tensor.js';

let current: Backend = new CpuBackend();

export function getBackend(): Backend {
  return current;
}

export function setBackend(backend: Backend): void {
  current = backend;
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording operations for autograd (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

// ---- scopes ----------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes t from every open scope, so that it outlives them (parameters, gradients, results). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collectTensors(value: unknown, out: Set<Tensor>, isTensor: (v: unknown) => v is Tensor): void {
  if (isTensor(value)) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out, isTensor);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, isTensor);
  }
}

let isTensorFn: (v: unknown) => v is Tensor = (_v): _v is Tensor => false;
export function registerTensorCheck(fn: (v: unknown) => v is Tensor): void {
  isTensorFn = fn;
}

function closeScope(scope: Set<Tensor>, result: unknown): void {
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors, isTensorFn);
  scopes.pop();
  for (const t of scope) {
    if (survivors.has(t)) track(t);
    else t.dispose();
  }
}

/**
 * Runs fn and disposes every tensor created inside it except those it returns (in a tensor,
 * array or plain object) and those passed to keep(). Scopes nest.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    scopes.pop();
    throw new Error('tidy(fn): fn returned a Promise; use tidyAsync for async work');
  }
  closeScope(scope, result);
  return result;
}

/** tidy for async functions. Do not interleave two tidyAsync calls concurrently. */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  closeScope(scope, result);
  return result;
}

// ---- staged writes -------------------------------------------------------------------------------

/**
 * Writes that a training step makes outside the tape (BatchNorm's running statistics and batch count),
 * held back while a stage is open so that the trainer can commit them once the step is known to be
 * good, or discard them. Outside a stage they apply at once.
 */
export class StagedWrites {
  private pending: { apply: () => void; discard: () => void; value?: Tensor; what?: string }[] = [];
  /**
   * Queues a write (`discard` frees what it holds when the step is refused). `value` is the tensor it
   * would write, named `what`, for a check before commit.
   */
  add(apply: () => void, discard: () => void = () => {}, value?: Tensor, what?: string): void {
    this.pending.push({ apply, discard, value, what });
  }
  /** The values the queued writes would store, with their names. */
  values(): { value: Tensor; what: string }[] {
    return this.pending.flatMap((w) => (w.value ? [{ value: w.value, what: w.what ?? 'a staged value' }] : []));
  }
  /** Applies the writes in order; if one throws, the rest are discarded (their tensors freed). */
  commit(): void {
    const list = this.pending;
    this.pending = [];
    let done = 0;
    try {
      for (const w of list) {
        done++;
        w.apply();
      }
    } finally {
      for (const w of list.slice(done)) w.discard();
    }
  }
  discard(): void {
    const list = this.pending;
    this.pending = [];
    for (const w of list) w.discard();
  }
}

const stages: StagedWrites[] = [];

/** Opens a stage (stages nest): until closeStage(), stageWrite() queues its writes there. */
export function openStage(): StagedWrites {
  const s = new StagedWrites();
  stages.push(s);
  return s;
}

/** Closes the innermost stage; its writes wait for commit() or discard(). */
export function closeStage(s: StagedWrites): void {
  if (stages[stages.length - 1] !== s) throw new Error('closeStage: stages must close innermost first');
  stages.pop();
}

/** Applies `apply` now, or queues it on the innermost open stage (`value`, `what`: see StagedWrites.add). */
export function stageWrite(apply: () => void, discard?: () => void, value?: Tensor, what?: string): void {
  const s = stages[stages.length - 1];
  if (s) s.add(apply, discard, value, what);
  else apply();
}
