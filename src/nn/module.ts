// Module: named parameters, buffers (running statistics) and children, train/eval mode and a state
// dict. Parameters and buffers are kept out of tidy() scopes: they live until the module is disposed.
import type { Backend } from '../backend/backend.js';
import { keep } from '../tensor/engine.js';
import { assign } from '../tensor/ops.js';
import { fmtShape, Tensor } from '../tensor/tensor.js';

export abstract class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly ownChildren = new Map<string, Module>();

  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    t.name = name;
    this.ownParams.set(name, keep(t));
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    t.name = name;
    this.ownBuffers.set(name, keep(t));
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.ownChildren.set(name, m);
    return m;
  }

  /** Registers a list of modules as children `name.0`, `name.1`, ... */
  protected children<M extends Module>(name: string, ms: M[]): M[] {
    ms.forEach((m, i) => this.child(`${name}.${i}`, m));
    return ms;
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, c] of this.ownChildren) yield* c.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, p] of m.ownParams) out.push([path ? `${path}.${n}` : n, p]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [n, b] of m.ownBuffers) out.push([path ? `${path}.${n}` : n, b]);
    }
    return out;
  }

  /** Number of trainable values (BatchNorm's weight and bias count; running statistics do not). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Record<string, Tensor> {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Every reason `state` cannot be loaded (empty when it can). Pure: changes nothing. Entries are
   * read as own properties only, so a name such as `__proto__`, `constructor` or `toString` is a
   * plain name (unexpected, unless the model has it), never Object.prototype's.
   */
  stateDictProblems(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): string[] {
    if (!state || typeof state !== 'object' || Array.isArray(state))
      return [`expected an object of tensors by name, got ${state === null ? 'null' : Array.isArray(state) ? 'an array' : typeof state}`];
    const strict = opts.strict ?? true;
    const own = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    const problems: string[] = [];
    for (const [name, t] of own) {
      if (!Object.hasOwn(state, name)) {
        if (strict) problems.push(`missing '${name}' ${fmtShape(t.shape)}`);
        continue;
      }
      const src: unknown = state[name];
      if (!(src instanceof Tensor))
        problems.push(
          `'${name}': not a Tensor (${src === null ? 'null' : Array.isArray(src) ? 'an array' : typeof src}); build it with fromArray(values, ${fmtShape(t.shape)})`,
        );
      else if (src.disposed) problems.push(`'${name}': the tensor was disposed`);
      else if (src.shape.join() !== t.shape.join()) problems.push(`'${name}': expected ${fmtShape(t.shape)}, got ${fmtShape(src.shape)}`);
      else if (src.dtype !== t.dtype) problems.push(`'${name}': expected ${t.dtype}, got ${src.dtype}`);
    }
    if (strict) {
      for (const name of Object.keys(state)) {
        if (!own.has(name))
          problems.push(
            `unexpected '${name}' (the model has no parameter or buffer of that name; pass { strict: false } to ignore extra entries)`,
          );
      }
    }
    return problems;
  }

  /** Throws, naming every problem, when `state` cannot be loaded. Changes nothing. */
  validateStateDict(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): void {
    const problems = this.stateDictProblems(state, opts);
    if (problems.length)
      throw new Error(`loadStateDict: state does not match the model (nothing was changed):\n  ${problems.join('\n  ')}`);
  }

  /**
   * Copies values into this module's parameters and buffers. Checks every name, shape and dtype
   * first and changes nothing when any differ (strict: missing and unexpected names are errors too).
   */
  loadStateDict(state: Record<string, Tensor>, opts: { strict?: boolean } = {}): void {
    this.validateStateDict(state, opts);
    for (const [name, t] of [...this.namedParameters(), ...this.namedBuffers()]) if (Object.hasOwn(state, name)) assign(t, state[name]);
  }

  /** Moves every parameter and buffer to `backend` (values copied through the host once). */
  async to(backend: Backend): Promise<this> {
    for (const t of Object.values(this.stateDict())) await t.moveTo(backend);
    return this;
  }

  /** The backend the parameters live on (the first parameter's or buffer's). */
  get backend(): Backend | null {
    return Object.values(this.stateDict())[0]?.backend ?? null;
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Frees the device memory of every parameter and buffer. */
  dispose(): void {
    for (const t of Object.values(this.stateDict())) {
      t.zeroGrad();
      t.dispose();
    }
  }
}
