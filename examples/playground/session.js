// The playground's training run, with no DOM in it: the worker (worker.js) drives it with the browser
// bundle, and it runs as well in Node with src/index.ts. It trains one model of the MMoE paper's
// synthetic tasks (generateMmoeSynthetic, correlation ρ) with the library's MTLTrainer, a slice of
// steps at a time (each slice is one fit() of a one-epoch loader, so training can pause between
// slices), and measures on every step, from the step's own forward pass:
//   - each task's loss,
//   - the cosine between the two task gradients on all shared parameters (conflict),
//   - ‖∂L_k/∂θ_{E_i}‖ for every expert i (shared and task-specific): each task's gradient share per expert,
//   - each gate's mean weight over the experts it mixes (model.lastGateWeights),
//   - what the balancing strategy did: its task weights, and the norm of the shared gradient it left
//     against the plain sum of the task gradients (PCGrad: whether it projected and what it removed).
// The measuring is a thin wrapper around the registered strategy (createStrategy): it reads the task
// gradients the strategy computes anyway (ctx.taskGradients(), cached for the step) and the shared
// .grad the strategy leaves, and changes nothing. Every number is read back once per slice.
// After each slice, inspectGradients (the library's gradient inspector) reports the cosine per group
// of shared parameters on the slice's last batch.

/** The four architectures and the four balancing methods the page offers. */
export const MODELS = ['sharedbottom', 'omoe', 'mmoe', 'ple'];
export const METHODS = ['fixed', 'gradnorm', 'metabalance', 'pcgrad'];
export const MODEL_LABELS = { sharedbottom: 'Shared-Bottom', omoe: 'OMoE', mmoe: 'MMoE', ple: 'PLE' };
export const METHOD_LABELS = { fixed: 'Fixed weights', gradnorm: 'GradNorm', metabalance: 'MetaBalance', pcgrad: 'PCGrad' };

/** Defaults; the page reads overrides from its query string (?rho=0.5&model=mmoe&method=pcgrad&seed=1). */
export const DEFAULTS = Object.freeze({
  rho: 0.5,
  model: 'mmoe',
  method: 'fixed',
  seed: 1,
  /** Input dimension d (the MMoE paper uses 100). */
  dim: 100,
  rows: 8192,
  batch: 128,
  lr: 0.01,
  /** 'auto' (WebGPU on a hardware adapter, else WebAssembly), 'webgpu', 'wasm' or 'cpu'. */
  backend: 'auto',
});

/** The paper's sizes: 8 experts of 16 units, towers of 8; PLE (one CGC level) 2 experts per task and 4 shared. */
export const SIZES = Object.freeze({ nExpert: 8, expertUnits: 16, towerUnits: 8, pleSpecific: 2, pleShared: 4, bottomUnits: 64 });

const TASKS = ['y1', 'y2'];

/** Options from a query string (or URLSearchParams); bad values fall back to the defaults. */
export function parseOptions(search = '') {
  const q = typeof search === 'string' ? new URLSearchParams(search) : search;
  const o = { ...DEFAULTS };
  const rho = Number(q.get('rho'));
  if (q.has('rho') && Number.isFinite(rho) && rho >= -1 && rho <= 1) o.rho = rho;
  const model = (q.get('model') ?? '').toLowerCase().replace(/[-_ ]/g, '');
  if (MODELS.includes(model)) o.model = model;
  const method = (q.get('method') ?? '').toLowerCase();
  if (METHODS.includes(method)) o.method = method;
  if (['auto', 'webgpu', 'wasm', 'cpu'].includes(q.get('backend') ?? '')) o.backend = q.get('backend');
  for (const key of ['seed', 'dim', 'rows', 'batch']) {
    const v = Number(q.get(key));
    if (q.has(key) && Number.isInteger(v) && v >= (key === 'seed' ? 0 : 2)) o[key] = v;
  }
  const lr = Number(q.get('lr'));
  if (q.has('lr') && lr > 0 && lr < 1) o.lr = lr;
  o.rows = Math.max(o.rows, o.batch);
  return o;
}

/** The model, with its initial weights drawn from `seed`. */
export function buildModel(wm, name, dim, seed) {
  wm.seed(seed);
  const features = Array.from({ length: dim }, (_, k) => new wm.DenseFeature(`x${k}`));
  const common = { features, taskTypes: ['regression', 'regression'], taskNames: TASKS };
  const towerParamsList = [{ dims: [SIZES.towerUnits] }, { dims: [SIZES.towerUnits] }];
  const expertParams = { dims: [SIZES.expertUnits] };
  switch (name) {
    case 'sharedbottom':
      return new wm.SharedBottom({ ...common, bottomParams: { dims: [SIZES.bottomUnits] }, towerParamsList });
    case 'omoe':
      return new wm.OMoE({ ...common, nExpert: SIZES.nExpert, expertParams, towerParamsList });
    case 'mmoe':
      return new wm.MMoE({ ...common, nExpert: SIZES.nExpert, expertParams, towerParamsList });
    case 'ple':
      return new wm.PLE({
        ...common,
        nLevel: 1,
        nExpertSpecific: SIZES.pleSpecific,
        nExpertShared: SIZES.pleShared,
        expertParams,
        towerParamsList,
      });
    default:
      throw new Error(`playground: unknown model '${name}'; use ${MODELS.join(', ')}`);
  }
}

/** The balancing spec of a method name (fixed: weight 1 per task, so that Σw = T as GradNorm keeps it). */
function balanceSpec(method, seed) {
  if (method === 'fixed') return { method: 'fixed', weights: [1, 1] };
  if (method === 'pcgrad') return { method: 'pcgrad', seed };
  if (method === 'metabalance') return { method: 'metabalance', relaxFactor: 0.7, targetTask: 0 };
  return { method };
}

/**
 * Every expert of the model, shared or one task's own, in model order: its Experts module, its index
 * there, the task that owns it (null: shared by all), a short label, and its parameters.
 */
function listExperts(wm, model) {
  const groups = model.trainedParameterGroups();
  const owners = groups.perTask.map((g) => new Set(g.map(([, t]) => t)));
  const out = [];
  const modules = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof wm.Experts)) continue;
    const params = m.namedParameters(path).map(([, t]) => t);
    const owner = owners.findIndex((s) => params.every((p) => s.has(p)));
    const mod = { path, module: m, params, owner: owner < 0 ? null : owner, first: out.length };
    modules.push(mod);
    let sharedSeen = out.filter((e) => e.owner === null).length;
    for (let i = 0; i < m.nExpert; i++) {
      const label = mod.owner === null ? `S${sharedSeen++}` : `${TASKS[mod.owner]}·${i}`;
      out.push({ module: path, index: i, owner: mod.owner, label });
    }
  }
  // MMoE/OMoE: just E0 … E7.
  if (modules.length === 1 && modules[0].owner === null) out.forEach((e, i) => (e.label = `E${i}`));
  return { experts: out, modules };
}

/** The gates of the model (model.mixtures()): for each, the experts it mixes as indices into the expert list. */
function listGates(model, modules) {
  return model.mixtures().map((mix) => ({
    key: mix.key,
    tasks: mix.tasks.map((t) => TASKS[t] ?? `task${t}`),
    experts: mix.experts.flatMap(({ module, offset }) => {
      const mod = modules.find((m) => m.module === module);
      return Array.from({ length: module.nExpert }, (_, i) => ({ at: offset + i, expert: mod ? mod.first + i : -1 }));
    }),
  }));
}

/**
 * Wraps a strategy: backward() measures, on the device, what the step's forward pass and the strategy
 * produce, keeps that as one small tensor (read once per slice), and otherwise does exactly what the
 * wrapped strategy does.
 */
class Measured {
  constructor(wm, inner, model, expertModules) {
    this.wm = wm;
    this.inner = inner;
    this.name = inner.name;
    this.parameters = inner.parameters;
    this.model = model;
    this.expertModules = expertModules;
    this.gateKeys = null;
    this.gateWidths = null;
    /** Per step: [probe tensor, weights used]. */
    this.pending = [];
  }
  setup(info) {
    this.inner.setup?.(info);
  }
  readWeights() {
    return this.inner.readWeights ? this.inner.readWeights() : Promise.resolve(undefined);
  }
  onEpochEnd(epoch, losses) {
    this.inner.onEpochEnd?.(epoch, losses);
  }
  snapshot() {
    return this.inner.snapshot ? this.inner.snapshot() : { restore() {}, release() {} };
  }
  backward(ctx) {
    const wm = this.wm;
    const T = ctx.losses.length;
    // The task gradients on the shared parameters (cached: PCGrad and MetaBalance reuse them).
    const g = ctx.taskGradients();
    // Each task's gradient on every expert's parameters, shared or task-specific (zeros where it does not reach).
    const expertParams = this.expertModules.flatMap((m) => m.params);
    const ge = expertParams.length ? ctx.losses.map((l) => wm.grad(l, expertParams)) : [];
    const report = this.inner.backward(ctx);
    const probe = wm.noGrad(() => {
      const parts = [];
      const sq = (ts) => ts.map((t) => wm.sum(wm.square(t))).reduce((a, b) => wm.add(a, b));
      const dot = (a, b) => a.map((t, i) => wm.sum(wm.mul(t, b[i]))).reduce((x, y) => wm.add(x, y));
      // ‖g_k‖² and g_k·g_l (k < l) on all shared parameters.
      for (let k = 0; k < T; k++) parts.push(sq(g[k]));
      for (let k = 0; k < T; k++) for (let l = k + 1; l < T; l++) parts.push(dot(g[k], g[l]));
      // ‖shared .grad‖² as the strategy left it.
      parts.push(sq(ctx.shared.map((p) => p.grad ?? wm.zeros(p.shape))));
      // ‖∂L_k/∂θ_{E_i}‖² per task and expert: slices of the batched expert tensors (expert axis first).
      for (let k = 0; k < ge.length; k++) {
        let at = 0;
        for (const m of this.expertModules) {
          const mine = ge[k].slice(at, (at += m.params.length));
          for (let e = 0; e < m.module.nExpert; e++) {
            parts.push(
              sq(
                mine.map((t) =>
                  wm.slice(
                    t,
                    t.shape.map((_, d) => (d === 0 ? e : 0)),
                    t.shape.map((s, d) => (d === 0 ? 1 : s)),
                  ),
                ),
              ),
            );
          }
        }
      }
      // Each gate's mean weight over the batch.
      const gates = this.model.lastGateWeights ?? {};
      this.gateKeys ??= Object.keys(gates);
      this.gateWidths ??= this.gateKeys.map((k) => gates[k].shape[1]);
      for (const key of this.gateKeys) parts.push(wm.mean(gates[key], 0));
      return wm.concat(parts.map((p) => wm.reshape(p, [p.size])));
    });
    this.pending.push([wm.keep(probe), report.weights]);
    return report;
  }
  /** Reads the probes of the steps since the last call (one read), frees them. */
  async drain() {
    const list = this.pending;
    this.pending = [];
    if (list.length === 0) return [];
    const all = this.wm.noGrad(() => this.wm.concat(list.map(([t]) => t)));
    const flat = await all.data();
    all.dispose();
    const size = list[0][0].size;
    for (const [t] of list) t.dispose();
    return list.map(([, weights], s) => ({ values: Array.from(flat.subarray(s * size, (s + 1) * size)), weights: [...weights] }));
  }
}

/** A batch source of `n` batches, taken in turn from a shuffled loader that reshuffles each pass. */
class Stream {
  constructor(loader) {
    this.loader = loader;
    this.pass = 0;
    this.it = loader[Symbol.iterator]();
    this.last = null;
  }
  next() {
    let r = this.it.next();
    if (r.done) {
      this.loader.setEpoch(++this.pass);
      this.it = this.loader[Symbol.iterator]();
      r = this.it.next();
    }
    this.last = r.value;
    return r.value;
  }
  slice(n) {
    const self = this;
    return {
      length: n,
      numRows: n * this.loader.batchSize,
      nTask: 2,
      labelNames: TASKS,
      map() {
        throw new Error('playground: a slice is not mapped');
      },
      *[Symbol.iterator]() {
        for (let i = 0; i < n; i++) yield self.next();
      },
    };
  }
}

/** A training run of the playground; `await run.train(n)` trains n steps and returns their snapshot. */
export class PlaygroundRun {
  /** Makes the backend current (the caller picks it, e.g. initBackend in the page) and builds data, model and trainer. */
  constructor(wm, opts) {
    this.wm = wm;
    this.opts = { ...DEFAULTS, ...opts };
    const o = this.opts;
    const data = wm.generateMmoeSynthetic({ rows: o.rows, dim: o.dim, correlation: o.rho, seed: o.seed }).toDataset();
    this.model = buildModel(wm, o.model, o.dim, o.seed);
    const { experts, modules } = listExperts(wm, this.model);
    this.experts = experts;
    this.gates = listGates(this.model, modules);
    this.strategy = new Measured(wm, wm.createStrategy(balanceSpec(o.method, o.seed)), this.model, modules);
    this.trainer = new wm.MTLTrainer(this.model, {
      nEpoch: 1,
      optimizerParams: { lr: o.lr },
      optimizer: { strategy: this.strategy },
      device: wm.getBackend(),
      progress: 'none',
      checkGradients: false,
      onProgress: (e) => this.stepLosses.push(TASKS.map((t) => e.stepLosses[t])),
    });
    this.stream = new Stream(new wm.DataLoader(data, { batchSize: o.batch, shuffle: true, seed: o.seed }));
    this.step = 0;
    this.stepLosses = [];
    this.totals = { conflicts: 0, projections: 0 };
    this.seeded = false;
  }

  /** Static facts about the run: the experts, which task owns each, and the gates. */
  describe() {
    return {
      options: this.opts,
      tasks: TASKS,
      parameters: this.model.numParameters(),
      experts: this.experts.map(({ label, owner }) => ({ label, owner: owner === null ? null : TASKS[owner] })),
      gates: this.gates.map((g) => ({ key: g.key, tasks: g.tasks, experts: g.experts.map((e) => e.expert) })),
    };
  }

  /** Trains `n` steps; returns one record per step and the last step's full picture. */
  async train(n) {
    const wm = this.wm;
    if (!this.seeded) {
      wm.seed(this.opts.seed); // dropout (none here) and the strategies' own draws; once, not per slice
      this.seeded = true;
    }
    this.stepLosses = [];
    await this.trainer.fit(this.stream.slice(n));
    const probes = await this.strategy.drain();
    const E = this.experts.length;
    const steps = probes.map(({ values, weights }, s) => {
      let at = 0;
      const sq = values.slice(at, (at += 2));
      const dot = values[at++];
      const applied = Math.sqrt(Math.max(values[at++], 0));
      const expertSq = [values.slice(at, (at += E)), values.slice(at, (at += E))];
      const gateMeans = this.gates.map(() => null);
      const byKey = {};
      (this.strategy.gateKeys ?? []).forEach((key, i) => {
        byKey[key] = values.slice(at, (at += this.strategy.gateWidths[i]));
      });
      this.gates.forEach((g, i) => {
        const w = byKey[g.key];
        gateMeans[i] = w ? g.experts.map((e) => w[e.at]) : null;
      });
      const norms = sq.map((v) => Math.sqrt(Math.max(v, 0)));
      const cosine = norms[0] > 0 && norms[1] > 0 ? Math.max(-1, Math.min(1, dot / (norms[0] * norms[1]))) : null;
      const expertNorms = expertSq.map((row) => row.map((v) => Math.sqrt(Math.max(v, 0))));
      const share = expertNorms.map((row) => {
        const total = row.reduce((a, b) => a + b, 0);
        return row.map((v) => (total > 0 ? v / total : 0));
      });
      this.step++;
      return {
        step: this.step,
        losses: this.stepLosses[s],
        cosine,
        norms,
        dot,
        applied,
        weights,
        share,
        gates: gateMeans,
        balance: this.describeBalance({ norms, dot, applied, weights }),
      };
    });
    const last = steps[steps.length - 1];
    // The library's inspector on the slice's last batch (after its update): cosine per shared group.
    const report = await wm.tidyAsync(() => wm.inspectGradients(this.model, this.stream.last));
    const groups = report.groups.map((g) => ({ name: g.name, kind: g.kind, size: g.size, cosine: g.cosine[0][1] }));
    const weightsNow = (await this.strategy.readWeights()) ?? last.weights;
    return { step: this.step, backend: wm.getBackend().name, steps, last, groups, weightsNow, totals: { ...this.totals } };
  }

  /** What the balancing method changed on a step, in numbers and one sentence. */
  describeBalance({ norms, dot, applied, weights }) {
    const method = this.opts.method;
    const plain = Math.sqrt(Math.max(norms[0] ** 2 + norms[1] ** 2 + 2 * dot, 0));
    const base = { method, weights, plainNorm: plain, appliedNorm: applied };
    const f = (v) => v.toFixed(3);
    if (method === 'pcgrad') {
      const conflict = dot < 0;
      // Two tasks: each gradient is projected once, off the other's, when they conflict.
      const removed = conflict ? [Math.abs(dot) / norms[1], Math.abs(dot) / norms[0]] : [0, 0];
      if (conflict) {
        this.totals.conflicts++;
        this.totals.projections += 2;
      }
      return {
        ...base,
        conflict,
        projections: conflict ? 2 : 0,
        removed,
        text: conflict
          ? `g1·g2 = ${dot.toExponential(2)} < 0: both gradients projected; removed ‖·‖ ${f(removed[0])} from g1, ${f(removed[1])} from g2; update ${f(plain)} → ${f(applied)}`
          : `g1·g2 = ${dot.toExponential(2)} ≥ 0: no conflict, nothing projected (update ${f(applied)} = plain sum)`,
      };
    }
    if (method === 'metabalance') {
      return {
        ...base,
        scale: weights,
        text: `y2's shared gradient scaled to ${f(weights[1])}× its norm (y1 is the target, 1×); update ${f(plain)} → ${f(applied)}`,
      };
    }
    if (method === 'gradnorm') {
      return {
        ...base,
        text: `loss weights w = (${weights.map(f).join(', ')}), Σw = 2; weighted norms w_k‖g_k‖ = ${norms.map((n, k) => f(n * weights[k])).join(', ')} (raw ${norms.map(f).join(', ')})`,
      };
    }
    return { ...base, text: `fixed weights (${weights.map(f).join(', ')}): the update is the plain sum, ${f(applied)}` };
  }
}
