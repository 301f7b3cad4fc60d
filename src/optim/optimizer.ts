// The optimizer base: parameter groups (per-group lr and weight decay, e.g. one group per task
// tower), per-parameter state kept on the device, and a state dict so a trainer can resume.
// Updates happen in place on the parameters' backend; nothing is read back to the host.
import { keep, noGrad, tidy } from '../tensor/engine.js';
import { assign } from '../tensor/ops.js';
import { Tensor, fromArray, full } from '../tensor/tensor.js';

/** A set of parameters sharing hyperparameters; unset fields take the optimizer's defaults. */
export interface ParamGroup {
  params: Tensor[];
  lr?: number;
  weightDecay?: number;
  /** A label for logs and error messages (e.g. the task name). */
  name?: string;
}

/** A group as the optimizer holds it. Schedulers (and users) may change `lr` between steps. */
export interface OptimizerParamGroup {
  params: Tensor[];
  lr: number;
  weightDecay: number;
  name?: string;
}

/** The per-parameter state: a step count and named device tensors (torch's names: exp_avg, ...). */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

/**
 * An optimizer's resumable state. Parameters are identified by their position when the groups'
 * parameter lists are concatenated (as torch does), so load it into an optimizer built the same way.
 * `stateDict()` returns the live device tensors; `loadStateDict` also accepts host arrays
 * (what a checkpoint file holds) and always copies.
 */
export interface OptimizerStateDict {
  type: string;
  groups: { lr: number; weightDecay: number; name?: string; numParams: number }[];
  state: Record<number, { step: number; buffers: Record<string, Tensor | Float32Array> }>;
}

export interface OptimizerDefaults {
  lr: number;
  weightDecay: number;
}

export abstract class Optimizer {
  readonly paramGroups: OptimizerParamGroup[];
  protected readonly state = new Map<Tensor, ParamState>();

  /**
   * @param type the class name used in errors and state dicts
   * @param stateKeys the names of the per-parameter state tensors this optimizer keeps
   */
  protected constructor(
    readonly type: string,
    params: Tensor[] | ParamGroup[],
    defaults: OptimizerDefaults,
    protected readonly stateKeys: readonly string[],
  ) {
    checkLr(type, 'lr', defaults.lr);
    checkWeightDecay(type, 'weightDecay', defaults.weightDecay);
    this.paramGroups = resolveGroups(type, params, defaults);
  }

  /** Updates, in place, every parameter that has a gradient. Parameters without one are skipped. */
  step(): void {
    tidy(() =>
      noGrad(() => {
        this.paramGroups.forEach((group, gi) => {
          if (!(group.lr >= 0 && Number.isFinite(group.lr))) {
            throw new Error(`${this.type}: ${groupLabel(group, gi)} has lr ${group.lr}; it must be a finite number ≥ 0 (check the scheduler or the code that sets paramGroups[${gi}].lr)`);
          }
          for (const p of group.params) {
            const g = p.grad;
            if (!g) continue;
            if (g.shape.join() !== p.shape.join() || g.dtype !== 'f32' || g.backend !== p.backend) {
              throw new Error(`${this.type}: the gradient ${g.describe()} on ${g.backend.name} does not match parameter ${p.describe()} on ${p.backend.name}`);
            }
            let s = this.state.get(p);
            if (!s) {
              s = { step: 0, buffers: {} };
              this.state.set(p, s);
            }
            s.step++;
            this.updateParam(p, g, group, s);
          }
        });
      }),
    );
  }

  /** One update of p with gradient g; runs under noGrad inside a tidy scope (temporaries are freed). */
  protected abstract updateParam(p: Tensor, g: Tensor, group: OptimizerParamGroup, state: ParamState): void;

  /** A state tensor that outlives the step's tidy scope, created on p's backend filled with `value`. */
  protected stateTensor(p: Tensor, state: ParamState, key: string, value = 0): Tensor {
    let t = state.buffers[key];
    if (!t) {
      t = keep(full(p.shape, value, { backend: p.backend }));
      state.buffers[key] = t;
    }
    return t;
  }

  /** Drops every parameter's gradient (set_to_none semantics, as torch's default). */
  zeroGrad(): void {
    for (const group of this.paramGroups) for (const p of group.params) p.zeroGrad();
  }

  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict['state'] = {};
    this.allParams().forEach((p, i) => {
      const s = this.state.get(p);
      if (s) state[i] = { step: s.step, buffers: { ...s.buffers } };
    });
    return {
      type: this.type,
      groups: this.paramGroups.map((g) => ({ lr: g.lr, weightDecay: g.weightDecay, ...(g.name !== undefined ? { name: g.name } : {}), numParams: g.params.length })),
      state,
    };
  }

  /** Throws, naming every mismatch, when `sd` does not fit this optimizer. Changes nothing. */
  validateStateDict(sd: OptimizerStateDict): void {
    const problems: string[] = [];
    if (!sd || typeof sd !== 'object') throw new Error(`${this.type}.loadStateDict: expected a state dict object, got ${String(sd)}`);
    if (sd.type !== this.type) problems.push(`it was saved by ${sd.type}, this is ${this.type}`);
    if (!Array.isArray(sd.groups) || sd.groups.length !== this.paramGroups.length) {
      problems.push(`it has ${sd.groups?.length} parameter groups, this optimizer has ${this.paramGroups.length}`);
    } else {
      sd.groups.forEach((g, i) => {
        const own = this.paramGroups[i];
        if (g.numParams !== own.params.length) problems.push(`${groupLabel(own, i)}: ${g.numParams} parameters saved, ${own.params.length} here`);
        if (!(g.lr >= 0 && Number.isFinite(g.lr))) problems.push(`${groupLabel(own, i)}: lr ${g.lr} is not a finite number ≥ 0`);
        if (!(g.weightDecay >= 0 && Number.isFinite(g.weightDecay))) problems.push(`${groupLabel(own, i)}: weightDecay ${g.weightDecay} is not a finite number ≥ 0`);
      });
    }
    const params = this.allParams();
    for (const [key, s] of Object.entries(sd.state ?? {})) {
      const i = Number(key);
      const p = params[i];
      if (!Number.isInteger(i) || !p) {
        problems.push(`state for parameter #${key}, but there are ${params.length} parameters`);
        continue;
      }
      if (!(Number.isInteger(s?.step) && s.step >= 0)) problems.push(`parameter #${i}: step ${s?.step} is not a non-negative integer`);
      for (const [name, value] of Object.entries(s?.buffers ?? {})) {
        if (!this.stateKeys.includes(name)) problems.push(`parameter #${i}: unknown state '${name}' (${this.type} keeps ${this.stateKeys.join(', ')})`);
        else if (value instanceof Float32Array) {
          if (value.length !== p.size) problems.push(`parameter #${i} '${name}': ${value.length} values, parameter ${p.describe()} has ${p.size}`);
        } else if (value instanceof Tensor) {
          if (value.shape.join() !== p.shape.join() || value.dtype !== 'f32') problems.push(`parameter #${i} '${name}': ${value.describe()} does not match parameter ${p.describe()}`);
          else if (value.backend !== p.backend) problems.push(`parameter #${i} '${name}': lives on ${value.backend.name}, the parameter on ${p.backend.name}; pass its values as a Float32Array`);
        } else problems.push(`parameter #${i} '${name}': expected a Tensor or Float32Array`);
      }
    }
    if (problems.length) throw new Error(`${this.type}.loadStateDict: the state does not fit this optimizer:\n  ${problems.join('\n  ')}`);
  }

  /** Replaces the state (copies values) and each group's lr and weight decay. All-or-nothing. */
  loadStateDict(sd: OptimizerStateDict): void {
    this.validateStateDict(sd);
    const params = this.allParams();
    const next = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(sd.state ?? {})) {
      const p = params[Number(key)];
      const buffers: Record<string, Tensor> = {};
      for (const [name, value] of Object.entries(s.buffers)) {
        if (value instanceof Float32Array) buffers[name] = keep(fromArray(value, p.shape, { backend: p.backend }));
        else {
          const copy = keep(full(p.shape, 0, { backend: p.backend }));
          assign(copy, value);
          buffers[name] = copy;
        }
      }
      next.set(p, { step: s.step, buffers });
    }
    this.disposeState();
    for (const [p, s] of next) this.state.set(p, s);
    sd.groups.forEach((g, i) => {
      this.paramGroups[i].lr = g.lr;
      this.paramGroups[i].weightDecay = g.weightDecay;
    });
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const t of Object.values(s.buffers)) t.dispose();
    this.state.clear();
  }

  /** Frees the optimizer's device state (not the parameters). */
  dispose(): void {
    this.disposeState();
  }
}

function groupLabel(g: { name?: string }, i: number): string {
  return g.name !== undefined ? `param group ${i} ('${g.name}')` : `param group ${i}`;
}

export function checkLr(type: string, what: string, lr: unknown): void {
  if (typeof lr !== 'number' || !(lr > 0) || !Number.isFinite(lr)) {
    throw new Error(`${type}: ${what} must be a positive finite number, got ${String(lr)}; pass e.g. { lr: 1e-3 }`);
  }
}

export function checkWeightDecay(type: string, what: string, wd: unknown): void {
  if (typeof wd !== 'number' || !(wd >= 0) || !Number.isFinite(wd)) {
    throw new Error(`${type}: ${what} must be a finite number ≥ 0, got ${String(wd)}; use 0 to disable weight decay`);
  }
}

/** Checks a hyperparameter is a finite number in [min, max). */
export function checkRange(type: string, what: string, value: unknown, min: number, max: number, hint: string): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && value < max;
  if (!ok) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max})`;
    throw new Error(`${type}: ${what} must be ${range}, got ${String(value)}; ${hint}`);
  }
}

function resolveGroups(type: string, params: Tensor[] | ParamGroup[], defaults: OptimizerDefaults): OptimizerParamGroup[] {
  if (!Array.isArray(params)) {
    throw new Error(`${type}: expected an array of parameters or of param groups, got ${describeValue(params)}; pass model.parameters()`);
  }
  if (params.length === 0) {
    throw new Error(`${type}: got an empty parameter list; pass model.parameters() of a model that has parameters`);
  }
  const isGroup = (x: unknown): x is ParamGroup => !!x && typeof x === 'object' && !(x instanceof Tensor) && Array.isArray((x as ParamGroup).params);
  let groups: ParamGroup[];
  if (params.every((x) => x instanceof Tensor)) groups = [{ params: params as Tensor[] }];
  else if (params.every(isGroup)) groups = params as ParamGroup[];
  else {
    throw new Error(`${type}: params must be all Tensors or all param groups ({ params: Tensor[], lr?, weightDecay?, name? }), not a mix or other values`);
  }

  const owner = new Map<Tensor, string>();
  return groups.map((g, i) => {
    const label = groupLabel(g, i);
    if (g.params.length === 0) throw new Error(`${type}: ${label} has no parameters; drop the group or give it some`);
    const lr = g.lr ?? defaults.lr;
    const weightDecay = g.weightDecay ?? defaults.weightDecay;
    checkLr(type, `${label} lr`, lr);
    checkWeightDecay(type, `${label} weightDecay`, weightDecay);
    for (const p of g.params) {
      if (!(p instanceof Tensor)) throw new Error(`${type}: ${label} contains ${describeValue(p)}, not a Tensor`);
      if (p.disposed) throw new Error(`${type}: parameter ${p.describe()} in ${label} was disposed`);
      if (p.dtype !== 'f32') throw new Error(`${type}: parameter ${p.describe()} in ${label} is not float32; only float tensors can be optimized`);
      const prev = owner.get(p);
      if (prev !== undefined) {
        throw new Error(
          `${type}: parameter ${p.describe()} appears in ${prev}${prev === label ? ' twice' : ` and in ${label}`}; each parameter may belong to one group only (split model.parameters() so the groups are disjoint)`,
        );
      }
      owner.set(p, label);
    }
    return { params: [...g.params], lr, weightDecay, ...(g.name !== undefined ? { name: g.name } : {}) };
  });
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return `an object of class ${(v as object).constructor?.name ?? 'Object'}`;
  return `a ${typeof v}`;
}
