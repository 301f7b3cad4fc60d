// Where the task gradients go: for one batch, each task's gradient on every group of shared parameters
// (the embeddings, each expert of a batched Experts module, each shared gate, the bottom), the
// pairwise cosine similarity of the task gradients there, and for mixture-of-experts models each
// task's mean gate weight per expert next to each expert's share of that task's gradient. In MMoE the
// tower of task k reads Σ_i g_i^(k) E_i(x), so ∂L_k/∂E_i carries the factor g_i^(k): the share of
// expert i in task k's gradient follows task k's gate. Which gate mixes which experts the model
// declares itself (model.mixtures()); the inspector knows no model class.
//
// Everything is computed on the device and read back once; the report is plain JSON.
import { type Column, SequenceColumn } from '../data/columns.js';
import type { GateMixture, MultiTaskModel, TaskTerm } from '../models/base.js';
import { Experts, Gate } from '../nn/experts.js';
import { closeStage, noGrad, openStage, tidyAsync } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { globalRng } from '../tensor/random.js';
import { fromArray, grad, Tensor } from '../tensor/tensor.js';

export interface InspectOptions {
  /** The tasks to inspect, by name or by position among the trained tasks. Default: all (ESMM: ctr, ctcvr). */
  tasks?: (string | number)[];
}

export interface GroupReport {
  /** 'embeddings', 'experts[0]', 'gate', 'bottom', 'levels.0.sharedExperts[1]', 'levels.0.sharedGate', ... */
  name: string;
  kind: 'embeddings' | 'expert' | 'gate' | 'bottom' | 'other';
  /** Parameter names in the group; an expert's slice of a batched tensor is written 'name[e]'. */
  parameters: string[];
  /** Number of values in the group. */
  size: number;
  /** norms[k] = ‖∇_group L_k‖₂. */
  norms: number[];
  /** cosine[k][l] = ∇L_k · ∇L_l / (‖∇L_k‖ ‖∇L_l‖); null when either gradient is zero. */
  cosine: (number | null)[][];
}

export interface ExpertReport {
  /** Path of the Experts module ('experts', 'levels.0.sharedExperts'). */
  module: string;
  nExpert: number;
  /** The names of its expert groups in `groups`, in expert order. */
  groups: string[];
  /** share[k][i] = ‖∇_{E_i} L_k‖ / Σ_j ‖∇_{E_j} L_k‖ (sums to 1 over i; 0s when task k sends no gradient). */
  share: number[][];
  /** gateMean[k][i]: mean over the batch of the gate weight task k gives expert i; null when no gate of task k mixes these experts. */
  gateMean: (number[] | null)[];
}

export interface GradientReport {
  /** The model's class name. */
  model: string;
  batchSize: number;
  /** The inspected tasks (their losses), in order; every per-task array below follows it. */
  tasks: string[];
  /** losses[k]: BCE on the probability (classification) or MSE (regression) of task k on this batch. */
  losses: number[];
  groups: GroupReport[];
  experts: ExpertReport[];
  /** Every gate of the forward pass (model.lastGateWeights): its mean weight per expert over the batch. */
  gates: Record<string, number[]>;
}

/** A group's members: shared tensor index and, for an expert's slice, which expert. */
interface Member {
  name: string;
  index: number;
  expert?: number;
}

interface PlannedGroup {
  report: Omit<GroupReport, 'norms' | 'cosine'>;
  members: Member[];
}

/**
 * Per-task gradients of one batch on the model's shared parameters. The forward runs in the model's
 * current mode (train mode: batch statistics and dropout, as in training); BatchNorm running statistics
 * and the global random generator (dropout seeds) are restored afterwards and no .grad is touched. labels y: [batch, label columns] as the trainer takes them.
 */
/** A batch as tensors, or as a DataLoader yields it: typed-array columns and labels [rows, nLabel] row-major. */
export type InspectBatch = { x: Record<string, Tensor>; y: Tensor } | { x: Record<string, Column>; y: Float32Array; size?: number };

/** Host columns and labels uploaded to the model's backend; tensors pass through. */
function onDevice(model: MultiTaskModel, batch: InspectBatch): { x: Record<string, Tensor>; y: Tensor } {
  if (batch.y instanceof Tensor) return batch as { x: Record<string, Tensor>; y: Tensor };
  const backend = model.backend ?? undefined;
  const columns = Object.entries(batch.x as Record<string, Column | Tensor>);
  const first = columns[0]?.[1];
  const rows = (batch as { size?: number }).size ?? (first instanceof Tensor ? first.shape[0] : first?.length) ?? 0;
  if (rows === 0 || batch.y.length % rows !== 0) {
    throw new Error(
      `inspectGradients: labels of length ${batch.y.length} do not fit ${rows} rows; pass y as [rows, nLabel] row-major (or as a Tensor)`,
    );
  }
  const x: Record<string, Tensor> = {};
  for (const [name, col] of columns) {
    x[name] =
      col instanceof Tensor
        ? col
        : col instanceof SequenceColumn
          ? fromArray(col.values, [rows, col.width], { backend })
          : fromArray(col, [rows], { backend });
  }
  return { x, y: fromArray(batch.y, [rows, batch.y.length / rows], { backend }) };
}

export async function inspectGradients(model: MultiTaskModel, batch: InspectBatch, opts: InspectOptions = {}): Promise<GradientReport> {
  const { x, y } = onDevice(model, batch);
  if (y.rank !== 2) throw new Error(`inspectGradients: labels y must be [batch, columns], got ${y.describe()}`);
  const plan = model.taskPlan(y.shape[1]);
  const terms = selectTasks(plan.train, opts.tasks);
  const groups = model.parameterGroups(plan.train.map((t) => [t.output]));
  const sharedNames = groups.shared.map(([n]) => n);
  const shared = groups.shared.map(([, t]) => t);
  if (shared.length === 0) {
    throw new Error(`inspectGradients: ${model.constructor.name} has no shared parameters; there is nothing the tasks share to inspect`);
  }
  const planned = planGroups(model, sharedNames, shared);
  const expertModules = planned.experts;

  // The forward's BatchNorm updates (running statistics, batch counts) go to a stage that is discarded.
  const stage = openStage();
  // In train mode the forward's Dropout layers draw their mask seeds from the global random stream.
  // The inspector draws them as training would and then rewinds the stream (rather than drawing from a
  // private generator): it sees exactly the masks of the training step that follows on this batch, and
  // the run draws the same seeds it would have drawn without the inspector, so inspecting changes no number.
  const randomState = globalRng().getState();
  try {
    const values = await tidyAsync(async () => {
      const out = model.forward(x);
      const rows = out.shape[0];
      const column = (t: Tensor, c: number) => ops.reshape(ops.slice(t, [0, c], [rows, 1]), [rows]);
      const losses = terms.map((t) =>
        t.type === 'classification'
          ? ops.binaryCrossEntropy(column(out, t.output), column(y, t.label))
          : ops.mseLoss(column(out, t.output), column(y, t.label)),
      );
      const grads = losses.map((l) => grad(l, shared));

      // Everything to read, as one flat tensor: losses, then per group the T × T products, then the gates.
      const parts: Tensor[] = [ops.concat(losses.map((l) => ops.reshape(l, [1])))];
      const T = terms.length;
      noGrad(() => {
        for (const g of planned.groups) {
          for (let k = 0; k < T; k++) {
            for (let l = 0; l < T; l++) {
              parts.push(ops.reshape(groupDot(g.members, grads[k], grads[l]), [1]));
            }
          }
        }
        for (const w of Object.values(model.lastGateWeights ?? {})) parts.push(ops.mean(w, 0));
      });
      return { flat: await ops.concat(parts).data(), rows };
    });

    const flat = Array.from(values.flat);
    const T = terms.length;
    let at = 0;
    const losses = flat.slice(at, (at += T));
    const groupReports: GroupReport[] = planned.groups.map((g) => {
      const products = flat.slice(at, (at += T * T));
      const norms = Array.from({ length: T }, (_, k) => Math.sqrt(Math.max(products[k * T + k], 0)));
      const cosine = norms.map((nk, k) =>
        // A gradient's cosine with itself is 1 exactly (p / (√p·√p) can round to 0.9999999999999999).
        norms.map((nl, l) => (nk > 0 && nl > 0 ? (k === l ? 1 : clampUnit(products[k * T + l] / (nk * nl))) : null)),
      );
      return { ...g.report, norms, cosine };
    });
    const gates: Record<string, number[]> = {};
    for (const [name, w] of Object.entries(model.lastGateWeights ?? {})) gates[name] = flat.slice(at, (at += w.shape[1]));

    const mixtures = model.mixtures();
    const experts: ExpertReport[] = expertModules.map((m) => {
      const own = m.groups.map((name) => groupReports.find((g) => g.name === name)!);
      const share = terms.map((_, k) => {
        const total = own.reduce((s, g) => s + g.norms[k], 0);
        return own.map((g) => (total > 0 ? g.norms[k] / total : 0));
      });
      const gateMean = terms.map((t) => {
        const source = gateFor(mixtures, m.experts, t.output);
        return source && gates[source.key] ? gates[source.key].slice(source.from, source.from + m.nExpert) : null;
      });
      return { module: m.module, nExpert: m.nExpert, groups: m.groups, share, gateMean };
    });

    return {
      model: model.constructor.name,
      batchSize: values.rows,
      tasks: terms.map((t) => t.name),
      losses,
      groups: groupReports,
      experts,
      gates,
    };
  } finally {
    globalRng().setState(randomState);
    closeStage(stage);
    stage.discard();
  }
}

function clampUnit(v: number): number {
  return Math.min(1, Math.max(-1, v));
}

function selectTasks(terms: TaskTerm[], wanted: (string | number)[] | undefined): TaskTerm[] {
  if (!wanted) return terms;
  if (!Array.isArray(wanted) || wanted.length === 0) throw new Error('inspectGradients: tasks must list at least one task name or index');
  return wanted.map((w) => {
    const t = typeof w === 'number' ? terms[w] : terms.find((term) => term.name === w);
    if (!t)
      throw new Error(
        `inspectGradients: no trained task ${typeof w === 'number' ? `#${w}` : `'${w}'`}; the tasks are ${terms.map((x) => x.name).join(', ')}`,
      );
    return t;
  });
}

/** ∇L_k · ∇L_l over a group (its tensors, or one expert's slice of them). */
function groupDot(members: Member[], a: Tensor[], b: Tensor[]): Tensor {
  return members
    .map((m) => {
      const [ga, gb] = [a[m.index], b[m.index]];
      if (m.expert === undefined) return ops.sum(ops.mul(ga, gb));
      const size = ga.shape.map((d, i) => (i === 0 ? 1 : d));
      const begin = ga.shape.map((_, i) => (i === 0 ? m.expert! : 0));
      return ops.sum(ops.mul(ops.slice(ga, begin, size), ops.slice(gb, begin, size)));
    })
    .reduce((s, v) => ops.add(s, v));
}

/**
 * Groups of the shared parameters: each expert of every shared Experts module, each shared gate, the
 * embedding tables together, and everything else by its top-level module (e.g. 'bottom').
 */
function planGroups(
  model: MultiTaskModel,
  names: string[],
  tensors: Tensor[],
): {
  groups: PlannedGroup[];
  experts: { module: string; experts: Experts; nExpert: number; groups: string[] }[];
} {
  const index = new Map(names.map((n, i) => [n, i]));
  const taken = new Set<number>();
  const groups: PlannedGroup[] = [];
  const experts: { module: string; experts: Experts; nExpert: number; groups: string[] }[] = [];

  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Experts) && !(m instanceof Gate)) continue;
    const own = m.namedParameters(path).filter(([n]) => index.has(n));
    if (own.length === 0) continue;
    own.forEach(([n]) => taken.add(index.get(n)!));
    if (m instanceof Gate) {
      groups.push(
        planned(
          path,
          'gate',
          own.map(([n]) => ({ name: n, index: index.get(n)! })),
          tensors,
        ),
      );
      continue;
    }
    const names: string[] = [];
    for (let e = 0; e < m.nExpert; e++) {
      const name = `${path}[${e}]`;
      names.push(name);
      groups.push(
        planned(
          name,
          'expert',
          own.map(([n]) => ({ name: `${n}[${e}]`, index: index.get(n)!, expert: e })),
          tensors,
        ),
      );
    }
    experts.push({ module: path, experts: m, nExpert: m.nExpert, groups: names });
  }

  const rest = new Map<string, Member[]>();
  names.forEach((n, i) => {
    if (taken.has(i)) return;
    const top = n.startsWith('embedding.') ? 'embeddings' : n.split('.')[0];
    if (!rest.has(top)) rest.set(top, []);
    rest.get(top)!.push({ name: n, index: i });
  });
  const kinds: Record<string, GroupReport['kind']> = { embeddings: 'embeddings', bottom: 'bottom' };
  const others = [...rest].map(([top, members]) => planned(top, kinds[top] ?? 'other', members, tensors));
  // Inputs first: the embeddings, then the layers in model order.
  return {
    groups: [...others.filter((g) => g.report.kind === 'embeddings'), ...groups, ...others.filter((g) => g.report.kind !== 'embeddings')],
    experts,
  };
}

function planned(name: string, kind: GroupReport['kind'], members: Member[], tensors: Tensor[]): PlannedGroup {
  const size = members.reduce(
    (s, m) => s + (m.expert === undefined ? tensors[m.index].size : tensors[m.index].size / tensors[m.index].shape[0]),
    0,
  );
  return { report: { name, kind, parameters: members.map((m) => m.name), size }, members };
}

/** The gate (of the model's declared mixtures) through which task output `output` reads `experts`, and where they start among its weights. */
function gateFor(mixtures: GateMixture[], experts: Experts, output: number): { key: string; from: number } | null {
  for (const m of mixtures) {
    const mixed = m.experts.find((e) => e.module === experts);
    if (mixed && m.tasks.includes(output)) return { key: m.key, from: mixed.offset };
  }
  return null;
}

export interface RecordedReport {
  step: number;
  report: GradientReport;
}

/** Keeps gradient reports taken every `every` steps (the trainer calls shouldRecord / record). */
export class GradientRecorder {
  readonly every: number;
  /** Oldest reports are dropped beyond this many. Default: keep all. */
  readonly limit: number;
  readonly history: RecordedReport[] = [];

  constructor(opts: { every?: number; limit?: number } = {}) {
    const every = opts.every ?? 100;
    if (!Number.isInteger(every) || every < 1)
      throw new Error(`GradientRecorder: every must be a positive integer, got ${String(opts.every)}`);
    const limit = opts.limit ?? Infinity;
    if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 1)))
      throw new Error(`GradientRecorder: limit must be a positive integer, got ${String(opts.limit)}`);
    this.every = every;
    this.limit = limit;
  }

  shouldRecord(step: number): boolean {
    return step % this.every === 0;
  }

  record(step: number, report: GradientReport): void {
    this.history.push({ step, report });
    if (this.history.length > this.limit) this.history.shift();
  }

  /** The history as plain JSON. */
  toJSON(): RecordedReport[] {
    return this.history;
  }
}
