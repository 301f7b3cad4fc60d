// The numbers behind docs/gradient-routing.md: on tiny models and the MMoE paper's synthetic tasks,
// (1) how MMoE's gate weight g_i^(k) scales the gradient task k sends into expert i, (2) what a
// Shared-Bottom does instead, (3) what MetaBalance and GradNorm change in the gradient on one shared
// tensor, (4) what PCGrad removes when the two task gradients conflict. Deterministic for a seed on
// the CPU backend; `webmtl walkthrough` prints formatWalkthrough(await runWalkthrough()).
import { CpuBackend } from '../backend/cpu/cpu-backend.js';
import { ColumnarDataset } from '../data/columns.js';
import { DataLoader, type HostBatch } from '../data/loader.js';
import { generateMmoeSynthetic } from '../data/synthetic-mmoe.js';
import { DenseFeature } from '../features.js';
import type { MultiTaskModel } from '../models/base.js';
import { MMoE } from '../models/mmoe.js';
import { SharedBottom } from '../models/shared-bottom.js';
import { makeBalanceContext } from '../mtl/context.js';
import type { StrategySpec } from '../mtl/index.js';
import { type GradientReport, inspectGradients } from '../mtl/inspector.js';
import { MetaBalance } from '../mtl/metabalance.js';
import { PCGrad } from '../mtl/pcgrad.js';
import { setBackend, tidyAsync } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { seed as seedGlobal } from '../tensor/random.js';
import { grad, type Tensor } from '../tensor/tensor.js';
import { toDevice } from '../train/batch.js';
import { MTLTrainer } from '../train/trainer.js';

export interface WalkthroughOptions {
  /** Seeds the data, the weights and the shuffles (default 7). */
  seed?: number;
}

const DIM = 8;
const ROWS = 1024;
const BATCH = 64;
/** Epochs of equal-weight training before GradNorm's training rates are read (short: few steps to drift with kernel rounding). */
const BALANCE_EPOCHS = 2;
const ALPHA = 1.5;
const TASKS = ['y1', 'y2'];
const REGRESSION: ['regression', 'regression'] = ['regression', 'regression'];

export interface RoutingRow {
  /** g_i^(k)(x) for the chosen row: [task][expert]. */
  gate: number[][];
  /** ‖∂L_k/∂f^k(x)‖: the gradient reaching task k's mixture on that row. */
  mixNorm: number[];
  /** ‖∂L_k/∂E_i(x)‖: the gradient task k sends into expert i's output on that row. */
  expertNorm: number[][];
}

export interface WalkthroughResult {
  seed: number;
  correlation: number;
  mmoe: { parameters: number; row: RoutingRow; report: GradientReport };
  sharedBottom: { parameters: number; bottomUnits: number; report: GradientReport; rowNorm: number[] };
  balancing: {
    /** The shared tensor all numbers of this part are measured on. */
    tensor: string;
    labelScale: number;
    /** ‖∇_W L_k‖ at initialisation, per task. */
    norms: number[];
    /** ‖∇_W (L_1 + L_2)‖, the plain sum. */
    sumNorm: number;
    metabalance: {
      relaxFactor: number;
      beta: number;
      scale: number;
      scaledAuxNorm: number;
      predictedAuxNorm: number;
      combinedNorm: number;
    };
    /** L_k on the batch at initialisation (L_k(0) for GradNorm below). */
    initialLosses: number[];
    /**
     * GradNorm's view after `steps` of training with equal weights: loss ratios L_k(t)/L_k(0), relative
     * inverse training rates r_k, raw norms G_k = ‖∇_W L_k‖, its targets Ḡ·r_k^α, and the weights (Σ w = T)
     * that put w_k·G_k in the targets' proportion, with the resulting norms.
     */
    gradnorm: {
      alpha: number;
      steps: number;
      lossRatios: number[];
      rates: number[];
      norms: number[];
      targets: number[];
      weights: number[];
      weightedNorms: number[];
    };
  };
  pcgrad: {
    /** The seed of the Shared-Bottom's initial weights. */
    weightSeed: number;
    /** The batch (of two shuffled epochs) with the most negative cosine, of `batches`; `conflicting` had a negative one. */
    batch: number;
    batches: number;
    conflicting: number;
    norms: number[];
    dot: number;
    cosine: number;
    /** Norm of the component PCGrad removes from each task's gradient. */
    removed: number[];
    /** g_1^PC · g_2 and g_2^PC · g_1 (zero up to rounding). */
    residualDots: number[];
    sumNorm: number;
    projectedNorm: number;
    /** ‖shared .grad‖ left by the PCGrad strategy itself (equals projectedNorm). */
    strategyNorm: number;
  };
}

function features(): DenseFeature[] {
  return Array.from({ length: DIM }, (_, k) => new DenseFeature(`x${k}`));
}

function tinyMMoE(): MMoE {
  return new MMoE({
    features: features(),
    taskTypes: REGRESSION,
    taskNames: TASKS,
    nExpert: 3,
    expertParams: { dims: [4] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
}

function tinySharedBottom(units: number): SharedBottom {
  return new SharedBottom({
    features: features(),
    taskTypes: REGRESSION,
    taskNames: TASKS,
    bottomParams: { dims: [units] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
}

/** Trains with Adam (lr 0.01); by default on the plain sum of the task losses (weights 1, as GradNorm's sum to T). */
async function train(
  model: MultiTaskModel,
  data: ColumnarDataset,
  epochs: number,
  seed: number,
  balance: StrategySpec = { method: 'fixed', weights: [1, 1] },
): Promise<{ steps: number; weights: number[] }> {
  const loader = new DataLoader(data, { batchSize: BATCH, shuffle: true, seed });
  const trainer = new MTLTrainer(model, {
    nEpoch: epochs,
    optimizerParams: { lr: 0.01 },
    device: 'cpu',
    progress: 'none',
    seed,
    adaptiveParams: balance,
  });
  const history = await trainer.fit(loader);
  const last = history.epochs[history.epochs.length - 1];
  return { steps: epochs * loader.length, weights: TASKS.map((t) => last.taskWeights[t]) };
}

function firstBatch(data: ColumnarDataset): HostBatch {
  return new DataLoader(data, { batchSize: BATCH })[Symbol.iterator]().next().value!;
}

const norm = (t: Tensor) => ops.sqrt(ops.sum(ops.square(t)));
const value = async (t: Tensor) => (await t.data())[0];

/** The per-task losses of a forward pass (MSE, as the trainer computes them). */
function taskLosses(out: Tensor, y: Tensor): Tensor[] {
  const rows = out.shape[0];
  const col = (t: Tensor, c: number) => ops.reshape(ops.slice(t, [0, c], [rows, 1]), [rows]);
  return TASKS.map((_, k) => ops.mseLoss(col(out, k), col(y, k)));
}

/** MMoE's forward written out, so that the expert outputs and the mixtures are tensors we can differentiate to. */
async function routingAtRow(model: MMoE, batch: HostBatch, row: number): Promise<RoutingRow> {
  return tidyAsync(async () => {
    const { x, y } = toDevice(
      batch,
      model.backend!,
      model.features.map((f) => f.name),
    );
    const input = model.embedding.forward(x);
    const experts = model.experts.forward(input); // [E, B, H]
    const { mix, weights } = ops.gateMix(ops.stack(model.gates.map((g) => g.forward(input))), experts); // mix [T, B, H], weights [T, B, E]
    const [T, B, H] = mix.shape;
    const E = experts.shape[0];
    const outputs = model.towers.map((tower, k) => tower.forward(ops.reshape(ops.slice(mix, [k, 0, 0], [1, B, H]), [B, H])));
    const losses = taskLosses(ops.concat(outputs, 1), y);
    const gate: number[][] = [];
    const mixNorm: number[] = [];
    const expertNorm: number[][] = [];
    for (let k = 0; k < T; k++) {
      const [dExperts, dMix] = grad(losses[k], [experts, mix]);
      gate.push(Array.from(await ops.slice(weights, [k, row, 0], [1, 1, E]).data()));
      mixNorm.push(await value(norm(ops.slice(dMix, [k, row, 0], [1, 1, H]))));
      const perExpert: number[] = [];
      for (let i = 0; i < E; i++) perExpert.push(await value(norm(ops.slice(dExperts, [i, row, 0], [1, 1, H]))));
      expertNorm.push(perExpert);
    }
    return { gate, mixNorm, expertNorm };
  });
}

/** ‖∂L_k/∂h(x)‖ for the Shared-Bottom's bottom output h on one row. */
async function bottomRowNorms(model: SharedBottom, batch: HostBatch, row: number): Promise<number[]> {
  return tidyAsync(async () => {
    const { x, y } = toDevice(
      batch,
      model.backend!,
      model.features.map((f) => f.name),
    );
    const h = model.bottom.forward(model.embedding.forward(x));
    const out = ops.concat(
      model.towers.map((t) => t.forward(h)),
      1,
    );
    const losses = taskLosses(out, y);
    const H = h.shape[1];
    const norms: number[] = [];
    for (const l of losses) norms.push(await value(norm(ops.slice(grad(l, [h])[0], [row, 0], [1, H]))));
    return norms;
  });
}

/** Task gradients on the named shared tensors of a model, for one batch: [task][tensor]. */
function sharedGradients(model: MultiTaskModel, x: Record<string, Tensor>, y: Tensor, names?: string[]) {
  const shared = model.parameterGroups().shared.filter(([n]) => !names || names.includes(n));
  const losses = taskLosses(model.forward(x), y);
  return {
    losses,
    shared,
    grads: losses.map((l) =>
      grad(
        l,
        shared.map(([, t]) => t),
      ),
    ),
  };
}

const dotAll = (a: Tensor[], b: Tensor[]) => a.map((t, i) => ops.sum(ops.mul(t, b[i]))).reduce((s, v) => ops.add(s, v));
const normAll = (a: Tensor[]) => ops.sqrt(dotAll(a, a));

/** Runs on a fresh CPU backend, which it leaves as the current backend. */
export async function runWalkthrough(opts: WalkthroughOptions = {}): Promise<WalkthroughResult> {
  const seed = opts.seed ?? 7;
  setBackend(new CpuBackend());
  const correlation = 0.5;
  const data = generateMmoeSynthetic({ rows: ROWS, dim: DIM, correlation, seed }).toDataset();
  const batch = firstBatch(data);

  // 1. MMoE at initialisation (so the numbers do not depend on a training trajectory): one row's gradient.
  seedGlobal(seed);
  const mmoe = tinyMMoE();
  mmoe.train();
  const row = await routingAtRow(mmoe, batch, 0);
  const mmoeReport = await tidyAsync(() =>
    inspectGradients(
      mmoe,
      toDevice(
        batch,
        mmoe.backend!,
        mmoe.features.map((f) => f.name),
      ),
    ),
  );

  // 2. Shared-Bottom of about the same size, also at initialisation.
  const bottomUnits = 12;
  seedGlobal(seed);
  const sb = tinySharedBottom(bottomUnits);
  sb.train();
  const sbReport = await tidyAsync(() =>
    inspectGradients(
      sb,
      toDevice(
        batch,
        sb.backend!,
        sb.features.map((f) => f.name),
      ),
    ),
  );
  const sbRow = await bottomRowNorms(sb, batch, 0);

  // 3. Unequal tasks: y2 scaled by 10, so its loss and gradients dwarf y1's.
  const labelScale = 10;
  const scaledY = Float32Array.from(data.labels, (v, j) => (j % 2 === 1 ? v * labelScale : v));
  const unequal = new ColumnarDataset(data.columns, scaledY, [...TASKS], data.length);
  const unequalBatch = firstBatch(unequal);
  seedGlobal(seed);
  const fresh = tinySharedBottom(bottomUnits);
  fresh.train();
  const watched = gradNormWatched(fresh.parameterGroups().shared.map(([n]) => n));
  const before = await tidyAsync(async () => {
    const { x, y } = toDevice(
      unequalBatch,
      fresh.backend!,
      fresh.features.map((f) => f.name),
    );
    const { grads, losses } = sharedGradients(fresh, x, y, [watched]);
    const norms = [await value(normAll(grads[0])), await value(normAll(grads[1]))];
    const sumNorm = await value(normAll(grads[0].map((g, i) => ops.add(g, grads[1][i]))));
    // MetaBalance's first step, y1 the target: m_tar / m_2 = ‖g_1‖ / ‖g_2‖ (both averages start at 0).
    const mb = new MetaBalance({ relaxFactor: 0.7, beta: 0.9, targetTask: 0 });
    mb.setup({ nTask: 2 });
    fresh.zeroGrad();
    const lossValues = await Promise.all(losses.map((l) => value(l)));
    const groups = fresh.parameterGroups();
    mb.backward(
      makeBalanceContext({
        losses,
        lossValues,
        shared: groups.shared.map(([, t]) => t),
        sharedNames: groups.shared.map(([n]) => n),
        perTask: groups.perTask.map((g) => g.map(([, t]) => t)),
      }),
    );
    const W = groups.shared.find(([n]) => n === watched)![1];
    const combinedNorm = await value(norm(W.grad!));
    fresh.zeroGrad();
    return { norms, sumNorm, combinedNorm, lossValues };
  });
  const r = 0.7;
  const scale = r * (before.norms[0] / before.norms[1]) + (1 - r);

  // GradNorm reads each task's training rate L_k(t)/L_k(0) and sets a target norm on W per task.
  seedGlobal(seed);
  const plain = tinySharedBottom(bottomUnits);
  const eq = await train(plain, unequal, BALANCE_EPOCHS, seed);
  plain.train();
  const after = await tidyAsync(async () => {
    const { x, y } = toDevice(
      unequalBatch,
      plain.backend!,
      plain.features.map((f) => f.name),
    );
    const { grads, losses } = sharedGradients(plain, x, y, [watched]);
    return {
      norms: [await value(normAll(grads[0])), await value(normAll(grads[1]))],
      lossRatios: [(await value(losses[0])) / before.lossValues[0], (await value(losses[1])) / before.lossValues[1]],
    };
  });
  const meanRatio = (after.lossRatios[0] + after.lossRatios[1]) / 2;
  const rates = after.lossRatios.map((v) => v / meanRatio);
  const meanNorm = (after.norms[0] + after.norms[1]) / 2;
  const targets = rates.map((rk) => meanNorm * rk ** ALPHA);
  const proportional = targets.map((t, k) => t / after.norms[k]);
  const weights = proportional.map((v) => (2 * v) / (proportional[0] + proportional[1]));

  // 4. PCGrad: the first step of plain training at which the two task gradients on all shared
  // parameters point away from each other (negative dot product).
  // Some initialisations make the towers agree on every batch; then the next weight seed is tried.
  let pcgrad: WalkthroughResult['pcgrad'] | null = null;
  for (let s = seed + 1; !pcgrad && s <= seed + 10; s++) {
    seedGlobal(s);
    pcgrad = await strongestConflict(tinySharedBottom(bottomUnits), data, seed, s);
  }
  if (!pcgrad) throw new Error(`walkthrough: no conflicting batch for weight seeds ${seed + 1}–${seed + 10}; try another --seed`);

  return {
    seed,
    correlation,
    mmoe: { parameters: mmoe.numParameters(), row, report: mmoeReport },
    sharedBottom: { parameters: sb.numParameters(), bottomUnits, report: sbReport, rowNorm: sbRow },
    balancing: {
      tensor: watched,
      labelScale,
      norms: before.norms,
      sumNorm: before.sumNorm,
      metabalance: {
        relaxFactor: r,
        beta: 0.9,
        scale,
        scaledAuxNorm: scale * before.norms[1],
        predictedAuxNorm: r * before.norms[0] + (1 - r) * before.norms[1],
        combinedNorm: before.combinedNorm,
      },
      initialLosses: before.lossValues,
      gradnorm: {
        alpha: ALPHA,
        steps: eq.steps,
        lossRatios: after.lossRatios,
        rates,
        norms: after.norms,
        targets,
        weights,
        weightedNorms: weights.map((w, k) => w * after.norms[k]),
      },
    },
    pcgrad,
  };
}

/** The shared tensor GradNorm watches by default: the last shared layer weight (not BatchNorm). */
function gradNormWatched(names: string[]): string {
  const layers = names.filter((n) => /(^|\.)weight$/.test(n) && !/(^|\.)(bn|act)\./.test(n) && !n.startsWith('embedding.'));
  return layers[layers.length - 1] ?? names[names.length - 1];
}

/**
 * Over one shuffled epoch of batches, the batch on which the two task gradients on all shared
 * parameters point most against each other, for a Shared-Bottom at initialisation (no training, so
 * no trajectory to depend on).
 */
async function strongestConflict(
  model: SharedBottom,
  data: ColumnarDataset,
  seed: number,
  weightSeed: number,
): Promise<WalkthroughResult['pcgrad'] | null> {
  model.train();
  const loader = new DataLoader(data, { batchSize: BATCH, shuffle: true, seed });
  // Two shuffled epochs of batches.
  const batches = [...loader, ...loader];
  // The cosine of the two task gradients on every batch; the most negative one is examined.
  const cosines: number[] = [];
  for (const batch of batches) {
    cosines.push(
      await tidyAsync(async () => {
        const { x, y } = toDevice(
          batch,
          model.backend!,
          model.features.map((f) => f.name),
        );
        const { grads } = sharedGradients(model, x, y);
        return (await value(dotAll(grads[0], grads[1]))) / ((await value(normAll(grads[0]))) * (await value(normAll(grads[1]))));
      }),
    );
  }
  const worst = cosines.indexOf(Math.min(...cosines));
  if (!(cosines[worst] < 0)) return null;
  const conflicting = cosines.filter((c) => c < 0).length;
  {
    const batch = batches[worst];
    return tidyAsync(async () => {
      const { x, y } = toDevice(
        batch,
        model.backend!,
        model.features.map((f) => f.name),
      );
      const { losses, shared, grads } = sharedGradients(model, x, y);
      const dot = await value(dotAll(grads[0], grads[1]));
      const n = [await value(normAll(grads[0])), await value(normAll(grads[1]))];
      const proj = (a: Tensor[], b: Tensor[], nb: number) => a.map((t, i) => ops.sub(t, ops.mul(b[i], dot / (nb * nb))));
      const pc1 = proj(grads[0], grads[1], n[1]);
      const pc2 = proj(grads[1], grads[0], n[0]);
      const residualDots = [await value(dotAll(pc1, grads[1])), await value(dotAll(pc2, grads[0]))];
      const sumNorm = await value(normAll(grads[0].map((g, i) => ops.add(g, grads[1][i]))));
      const projectedNorm = await value(normAll(pc1.map((g, i) => ops.add(g, pc2[i]))));
      // The strategy itself, on the same forward pass.
      const strategy = new PCGrad({ seed });
      strategy.setup({ nTask: 2 });
      model.zeroGrad();
      const groups = model.parameterGroups();
      strategy.backward(
        makeBalanceContext({
          losses,
          lossValues: await Promise.all(losses.map((l) => value(l))),
          shared: shared.map(([, t]) => t),
          perTask: groups.perTask.map((g) => g.map(([, t]) => t)),
        }),
      );
      const strategyNorm = await value(normAll(shared.map(([, t]) => t.grad!)));
      model.zeroGrad();
      return {
        weightSeed,
        batch: worst,
        batches: batches.length,
        conflicting,
        norms: n,
        dot,
        cosine: dot / (n[0] * n[1]),
        removed: [Math.abs(dot) / n[1], Math.abs(dot) / n[0]],
        residualDots,
        sumNorm,
        projectedNorm,
        strategyNorm,
      };
    });
  }
}

const f = (v: number, digits = 4) => (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(digits) : v.toExponential(2));
const pad = (s: string, n: number) => s.padStart(n);

/** The walkthrough as text: the numbers docs/gradient-routing.md quotes, section by section. */
export function formatWalkthrough(w: WalkthroughResult): string {
  const out: string[] = [];
  const { row } = w.mmoe;
  const E = row.gate[0].length;
  const cols = (cells: string[]) => cells.map((c) => pad(c, 10)).join('');
  out.push(
    `webmtl walkthrough (seed ${w.seed}): MMoE synthetic tasks, d = ${DIM}, ρ = ${w.correlation}, batch of ${BATCH} rows, CPU backend`,
  );
  out.push('');
  out.push(`1. MMoE (3 experts of 4 units, towers of 4; ${w.mmoe.parameters} parameters) at initialisation.`);
  out.push("   Row 0 of the batch: the gate weight g_i^(k) and the gradient of L_k at expert i's output");
  out.push(`   ${''.padEnd(30)}${cols(Array.from({ length: E }, (_, i) => `expert ${i}`))}`);
  row.gate.forEach((g, k) => {
    out.push(`   ${`g_i^(${k + 1})  (gate of ${TASKS[k]})`.padEnd(30)}${cols(g.map((v) => f(v)))}`);
    out.push(`   ${`‖∂L${k + 1}/∂E_i‖`.padEnd(30)}${cols(row.expertNorm[k].map((v) => f(v, 5)))}`);
    out.push(`   ${`‖∂L${k + 1}/∂E_i‖ / ‖∂L${k + 1}/∂f^${k + 1}‖`.padEnd(30)}${cols(row.expertNorm[k].map((v) => f(v / row.mixNorm[k])))}`);
  });
  out.push(
    `   ‖∂L1/∂f^1‖ = ${f(row.mixNorm[0], 5)}, ‖∂L2/∂f^2‖ = ${f(row.mixNorm[1], 5)} (the gradient at each task's mixture f^k = Σ_i g_i^(k) E_i)`,
  );
  const m = w.mmoe.report.experts[0];
  out.push("   Over the whole batch (inspector): mean gate weight and share of each task's gradient on the expert parameters");
  out.push(`   ${''.padEnd(30)}${cols(Array.from({ length: E }, (_, i) => `expert ${i}`))}`);
  TASKS.forEach((t, k) => {
    out.push(`   ${`gate mean, ${t}`.padEnd(30)}${cols(m.gateMean[k]!.map((v) => f(v)))}`);
    out.push(`   ${`gradient share, ${t}`.padEnd(30)}${cols(m.share[k].map((v) => f(v)))}`);
  });
  const expertGroups = w.mmoe.report.groups.filter((g) => g.kind === 'expert');
  out.push(`   ${'‖∇L1‖ on expert params'.padEnd(30)}${cols(expertGroups.map((g) => f(g.norms[0], 5)))}`);
  out.push(`   ${'‖∇L2‖ on expert params'.padEnd(30)}${cols(expertGroups.map((g) => f(g.norms[1], 5)))}`);
  out.push(`   ${'cosine(∇L1, ∇L2)'.padEnd(30)}${cols(expertGroups.map((g) => (g.cosine[0][1] === null ? 'n/a' : f(g.cosine[0][1]!))))}`);
  out.push('');
  const bottom = w.sharedBottom.report.groups.find((g) => g.kind === 'bottom')!;
  out.push(
    `2. Shared-Bottom (a bottom of ${w.sharedBottom.bottomUnits} units, towers of 4; ${w.sharedBottom.parameters} parameters) at initialisation.`,
  );
  out.push(
    `   Row 0: ‖∂L1/∂h‖ = ${f(w.sharedBottom.rowNorm[0], 5)}, ‖∂L2/∂h‖ = ${f(w.sharedBottom.rowNorm[1], 5)} at the bottom's output h, which both towers read whole`,
  );
  out.push(
    `   Batch: ‖∇L1‖ = ${f(bottom.norms[0], 5)}, ‖∇L2‖ = ${f(bottom.norms[1], 5)} on the bottom's ${bottom.size} parameters, cosine ${bottom.cosine[0][1] === null ? 'n/a' : f(bottom.cosine[0][1]!)}`,
  );
  out.push('');
  const b = w.balancing;
  out.push(`3. Unequal tasks: y2 scaled by ${b.labelScale}. Shared tensor W = ${b.tensor} of a fresh Shared-Bottom, one batch.`);
  out.push(
    `   before: ‖∇_W L1‖ = ${f(b.norms[0], 5)}, ‖∇_W L2‖ = ${f(b.norms[1], 5)} (ratio ${f(b.norms[1] / b.norms[0], 2)}), ‖∇_W (L1 + L2)‖ = ${f(b.sumNorm, 5)}`,
  );
  const mb = b.metabalance;
  out.push(`   MetaBalance (r = ${mb.relaxFactor}, β = ${mb.beta}, target y1), first step: y2's gradient on W is multiplied by`);
  out.push(
    `     r·‖∇_W L1‖/‖∇_W L2‖ + (1 − r) = ${f(mb.scale)}, so ‖∇_W L2‖ becomes ${f(mb.scaledAuxNorm, 5)} (= r·${f(b.norms[0], 5)} + (1 − r)·${f(b.norms[1], 5)} = ${f(mb.predictedAuxNorm, 5)})`,
  );
  out.push(`     ‖W.grad‖ after MetaBalance = ${f(mb.combinedNorm, 5)} (plain sum: ${f(b.sumNorm, 5)})`);
  const gn = b.gradnorm;
  out.push(`   GradNorm (α = ${gn.alpha}), read after ${gn.steps} steps of training with equal weights:`);
  out.push(
    `     L_k(t)/L_k(0) = ${gn.lossRatios.map((v) => f(v)).join(', ')} (L(0) = ${b.initialLosses.map((v) => f(v)).join(', ')}); relative inverse training rates r_k = ${gn.rates.map((v) => f(v)).join(', ')}`,
  );
  out.push(
    `     G_k = ‖∇_W L_k‖ = ${gn.norms.map((v) => f(v, 5)).join(', ')} (ratio ${f(gn.norms[1] / gn.norms[0], 2)}); targets Ḡ·r_k^α = ${gn.targets.map((v) => f(v, 5)).join(', ')}`,
  );
  out.push(
    `     weights in the targets' proportion (Σ w = 2): w = (${gn.weights.map((v) => f(v)).join(', ')}); w_k·G_k = ${gn.weightedNorms.map((v) => f(v, 5)).join(', ')} (ratio ${f(gn.weightedNorms[1] / gn.weightedNorms[0], 3)})`,
  );
  out.push('');
  const p = w.pcgrad;
  out.push(
    `4. PCGrad: a Shared-Bottom at initialisation (weight seed ${p.weightSeed}); the task gradients conflict on ${p.conflicting} of ${p.batches} batches, most on batch ${p.batch}.`,
  );
  out.push(
    `   On all shared parameters: ‖g1‖ = ${f(p.norms[0], 5)}, ‖g2‖ = ${f(p.norms[1], 5)}, g1·g2 = ${f(p.dot, 6)}, cosine ${f(p.cosine)}`,
  );
  out.push(`   removed from g1: (g1·g2/‖g2‖²)·g2, norm ${f(p.removed[0], 5)}; removed from g2: norm ${f(p.removed[1], 5)}`);
  out.push(`   after projection: g1^PC·g2 = ${f(p.residualDots[0], 2)}, g2^PC·g1 = ${f(p.residualDots[1], 2)}`);
  out.push(
    `   ‖g1 + g2‖ = ${f(p.sumNorm, 5)}; ‖g1^PC + g2^PC‖ = ${f(p.projectedNorm, 5)}; ‖shared .grad‖ from the PCGrad strategy = ${f(p.strategyNorm, 5)}`,
  );
  return out.join('\n');
}
