// The optimizer base: parameter groups (per-group lr and weight decay, e.g. one group per task
// tower), per-parameter state kept on the device, and a state dict so a trainer can resume.
// Updates happen in place on the parameters' backend; nothing is read back to the host.
import { keep, noGrad, tidy } from '../tensor/engine.js';
import { assign } from '../tensor/ops.js';
import { fmtShape, fromArray, full, Tensor } from '../tensor/tensor.js';

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
            throw new Error(
              `${this.type}: ${groupLabel(group, gi)} has lr ${group.lr}; it must be a finite number ≥ 0 (check the scheduler or the code that sets paramGroups[${gi}].lr)`,
            );
          }
          for (const p of group.params) {
            const g = p.grad;
            if (!g) continue;
            if (g.shape.join() !== p.shape.join() || g.dtype !== 'f32' || g.backend !== p.backend) {
              throw new Error(
                `${this.type}: the gradient ${g.describe()} on ${g.backend.name} does not match parameter ${p.describe()} on ${p.backend.name}`,
              );
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

  /** Every parameter, in the order state dicts number them (the groups' lists concatenated). */
  allParams(): Tensor[] {
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
      groups: this.paramGroups.map((g) => ({
        lr: g.lr,
        weightDecay: g.weightDecay,
        ...(g.name !== undefined ? { name: g.name } : {}),
        numParams: g.params.length,
      })),
      state,
    };
  }

  /**
   * The state tensors every parameter with state must have (torch's names). Defaults to all the
   * optimizer's state keys; an optimizer whose state depends on its options (SGD without momentum
   * keeps none) narrows it.
   */
  protected requiredStateKeys(): readonly string[] {
    return this.stateKeys;
  }

  /** What a state entry of this optimizer holds, for error messages. */
  protected describeStateKeys(): string {
    const keys = this.requiredStateKeys();
    return keys.length ? `${this.type} keeps ${keys.join(', ')}` : `${this.type} with these options keeps no state tensors`;
  }

  /**
   * Every reason `sd` does not fit this optimizer (empty when it fits). Pure: changes nothing.
   * Checks the type, each group's size, lr and weight decay, and for every parameter with state:
   * that its index exists, its step count is a non-negative integer, and it has exactly the state
   * tensors this optimizer keeps (none missing, none extra), each the parameter's shape, float32.
   * Names are read as own properties only, so `__proto__` or `constructor` are plain (bad) names.
   * `paramName` may name a parameter in messages (e.g. its dotted name in the model).
   */
  stateDictProblems(sd: OptimizerStateDict, paramName?: (p: Tensor) => string | undefined): string[] {
    const problems: string[] = [];
    if (!isRecord(sd)) return [`expected a state dict object { type, groups, state }, got ${describeValue(sd)}`];
    if (sd.type !== this.type)
      problems.push(`it was saved by ${String(sd.type)}, this is ${this.type}; load it into the same kind of optimizer`);
    if (!Array.isArray(sd.groups) || sd.groups.length !== this.paramGroups.length) {
      problems.push(
        `it has ${Array.isArray(sd.groups) ? sd.groups.length : 'no list of'} parameter groups, this optimizer has ${this.paramGroups.length}; build the optimizer with the same groups`,
      );
    } else {
      sd.groups.forEach((g, i) => {
        const own = this.paramGroups[i];
        if (!isRecord(g)) {
          problems.push(`${groupLabel(own, i)}: expected { lr, weightDecay, numParams }, got ${describeValue(g)}`);
          return;
        }
        if (g.numParams !== own.params.length)
          problems.push(
            `${groupLabel(own, i)}: ${String(g.numParams)} parameters saved, ${own.params.length} here; build the optimizer with the same groups`,
          );
        if (!(typeof g.lr === 'number' && g.lr >= 0 && Number.isFinite(g.lr)))
          problems.push(`${groupLabel(own, i)}: lr ${String(g.lr)} is not a finite number ≥ 0`);
        if (!(typeof g.weightDecay === 'number' && g.weightDecay >= 0 && Number.isFinite(g.weightDecay)))
          problems.push(`${groupLabel(own, i)}: weightDecay ${String(g.weightDecay)} is not a finite number ≥ 0`);
      });
    }
    const params = this.allParams();
    const state: unknown = sd.state ?? {};
    if (!isRecord(state)) {
      problems.push(`its state is ${describeValue(state)}, expected an object keyed by parameter index`);
      return problems;
    }
    const required = this.requiredStateKeys();
    for (const key of Object.keys(state)) {
      const i = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : NaN;
      if (!(i < params.length)) {
        problems.push(
          `state for '${key}', which is not a parameter index (there are ${params.length} parameters, #0 to #${params.length - 1})`,
        );
        continue;
      }
      const p = params[i];
      const label = paramName?.(p);
      const where = `parameter #${i} (${label !== undefined ? `'${label}' ${fmtShape(p.shape)}` : p.describe()})`;
      const s = (state as Record<string, unknown>)[key];
      if (!isRecord(s)) {
        problems.push(`${where}: expected { step, buffers }, got ${describeValue(s)}`);
        continue;
      }
      if (!(typeof s.step === 'number' && Number.isSafeInteger(s.step) && s.step >= 0))
        problems.push(`${where}: step ${describeStep(s.step)} is not a non-negative integer`);
      const buffers: unknown = s.buffers ?? {};
      if (!isRecord(buffers)) {
        problems.push(`${where}: buffers is ${describeValue(buffers)}, expected an object of state tensors`);
        continue;
      }
      for (const name of required) {
        if (!Object.hasOwn(buffers, name))
          problems.push(
            `${where}: missing '${name}' (${this.describeStateKeys()} for every parameter it has updated; the next step would start it from zeros). Save and load with the same optimizer and options`,
          );
      }
      for (const name of Object.keys(buffers)) {
        const value = (buffers as Record<string, unknown>)[name];
        if (!required.includes(name)) {
          problems.push(
            `${where}: unexpected state '${name}' (${this.describeStateKeys()}); build the optimizer with the options it was saved with`,
          );
        } else if (value instanceof Float32Array) {
          if (value.length !== p.size)
            problems.push(`parameter #${i} '${name}': ${value.length} values, parameter ${p.describe()} has ${p.size}`);
        } else if (value instanceof Tensor) {
          if (value.disposed) problems.push(`parameter #${i} '${name}': the tensor was disposed`);
          else if (value.shape.join() !== p.shape.join() || value.dtype !== 'f32')
            problems.push(`parameter #${i} '${name}': ${value.describe()} does not match parameter ${p.describe()}`);
          else if (value.backend !== p.backend)
            problems.push(
              `parameter #${i} '${name}': lives on ${value.backend.name}, the parameter on ${p.backend.name}; pass its values as a Float32Array`,
            );
        } else problems.push(`parameter #${i} '${name}': expected a Tensor or Float32Array, got ${describeValue(value)}`);
      }
    }
    return problems;
  }

  /** Throws, naming every mismatch, when `sd` does not fit this optimizer. Changes nothing. */
  validateStateDict(sd: OptimizerStateDict): void {
    const problems = this.stateDictProblems(sd);
    if (problems.length)
      throw new Error(
        `${this.type}.loadStateDict: the state does not fit this optimizer (nothing was changed):\n  ${problems.join('\n  ')}`,
      );
  }

  /**
   * Replaces the state (copies values) and each group's lr and weight decay. All-or-nothing: the
   * state is validated, then every copy is made, and only then is anything replaced.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    this.validateStateDict(sd);
    const params = this.allParams();
    const next = new Map<Tensor, ParamState>();
    try {
      for (const key of Object.keys(sd.state ?? {})) {
        const s = sd.state[Number(key)];
        const p = params[Number(key)];
        const buffers: Record<string, Tensor> = {};
        next.set(p, { step: s.step, buffers });
        for (const name of Object.keys(s.buffers ?? {})) {
          const value = s.buffers[name];
          if (value instanceof Float32Array) buffers[name] = keep(fromArray(value, p.shape, { backend: p.backend }));
          else {
            const copy = keep(full(p.shape, 0, { backend: p.backend }));
            buffers[name] = copy;
            assign(copy, value);
          }
        }
      }
    } catch (e) {
      for (const s of next.values()) for (const t of Object.values(s.buffers)) t.dispose();
      throw e;
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
  const isGroup = (x: unknown): x is ParamGroup =>
    !!x && typeof x === 'object' && !(x instanceof Tensor) && Array.isArray((x as ParamGroup).params);
  let groups: ParamGroup[];
  if (params.every((x) => x instanceof Tensor)) groups = [{ params: params as Tensor[] }];
  else if (params.every(isGroup)) groups = params as ParamGroup[];
  else {
    throw new Error(
      `${type}: params must be all Tensors or all param groups ({ params: Tensor[], lr?, weightDecay?, name? }), not a mix or other values`,
    );
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
      if (p.dtype !== 'f32')
        throw new Error(`${type}: parameter ${p.describe()} in ${label} is not float32; only float tensors can be optimized`);
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

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Tensor);
}

function describeStep(v: unknown): string {
  return typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return `an object of class ${(v as object).constructor?.name ?? 'Object'}`;
  return `a ${typeof v}`;
}
