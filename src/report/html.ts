// Self-contained HTML reports (inline SVG and CSS, no scripts, no network): one for a training run —
// learning curves, task weights, and what the gradient inspector recorded (gradient norms, conflict
// between task gradients, gate weights, expert shares) — and one for the MMoE synthetic experiment.
import type { GradientReport, RecordedReport } from '../mtl/inspector.js';
import type { TaskReport } from '../train/metrics.js';
import type { History } from '../train/trainer.js';
import { barChart, colorAt, escapeHtml, formatNumber, heatmap, histogram, legend, lineChart, type Series } from './svg.js';

export interface TrainingReportInput {
  title?: string;
  history: History;
  /** The trained tasks, in order (default: those of the history). */
  taskNames?: string[];
  modelName?: string;
  /** The balancing method ('fixed', 'gradnorm', ...): picks the task-weight chart's caption. */
  strategyName?: string;
  /** Training steps per epoch: puts the inspector's per-batch losses on the epoch axis. */
  stepsPerEpoch?: number;
  /** Test metrics to print at the top. */
  testMetrics?: Record<string, TaskReport>;
  /** Extra facts for the header, e.g. ['parameters', '291,554']. */
  facts?: [string, string][];
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222; margin: 0; background: #f6f7f9; }
main { max-width: 1000px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-bottom: 1px solid #d8dbe0; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 6px 0 2px; }
p.lead { color: #555; margin: 2px 0 10px; }
p.note { color: #666; font-style: italic; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: #666; } dl.facts dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 14px; align-items: start; }
figure { background: #fff; border: 1px solid #dde0e5; border-radius: 6px; margin: 0; padding: 10px 10px 8px; }
figure svg.chart { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12.5px; color: #444; margin-top: 4px; }
figcaption b { color: #222; }
.legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 12px; color: #333; margin: 2px 0 4px 50px; }
.legend span { display: inline-flex; align-items: center; gap: 4px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
th, td { border: 1px solid #dde0e5; padding: 4px 10px; text-align: right; font-variant-numeric: tabular-nums; }
table.wide td { white-space: nowrap; padding: 3px 7px; } table.wide th { font-size: 12.5px; padding: 3px 7px; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef0f3; }
ul.claims { list-style: none; padding: 0; }
ul.claims li { background: #fff; border: 1px solid #dde0e5; border-radius: 6px; padding: 6px 10px; margin: 6px 0; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; border-radius: 10px; padding: 1px 8px; margin-right: 6px; }
.holds { background: #d9f2e1; color: #17622f; } .fails { background: #fbe0dd; color: #8a1f14; } .unchecked { background: #eee; color: #555; } .unsure { background: #fdf1d3; color: #7a5300; }
.detail { color: #555; font-size: 12.5px; }
.ci { color: #777; font-size: 12px; }
svg .tick { font-size: 11px; fill: #444; } svg .axis-label { font-size: 12px; fill: #222; } svg .cell { font-size: 10px; }
svg .grid { stroke: #eceef1; } svg .axis { stroke: #888; } svg .ref { stroke: #555; stroke-dasharray: 3 3; }
svg .plot-bg { fill: #fff; } svg .err { stroke: #222; stroke-width: 1.2; }
`;

function page(title: string, body: string[]): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body.join('\n')}
</main>
</body>
</html>
`;
}

/** A chart with its legend and a one-line caption: the bold part says what to look at. */
function figure(title: string, svg: string, caption: string, legendHtml = ''): string {
  return `<figure><h3>${escapeHtml(title)}</h3>${legendHtml}${svg}<figcaption>${caption}</figcaption></figure>`;
}

function facts(items: [string, string][]): string {
  return `<dl class="facts">${items.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function metricsTable(metrics: Record<string, TaskReport>): string {
  const rows = Object.entries(metrics).map(([task, m]) =>
    m.type === 'classification'
      ? `<tr><td>${escapeHtml(task)}</td><td>AUC ${m.auc === null ? 'n/a' : m.auc.toFixed(4)}</td><td>logloss ${m.logloss.toFixed(4)}</td><td>${m.n}</td></tr>`
      : `<tr><td>${escapeHtml(task)}</td><td>MSE ${m.mse.toFixed(4)}</td><td>MAE ${m.mae.toFixed(4)}</td><td>${m.n}</td></tr>`,
  );
  return `<table><thead><tr><th>task</th><th>metric</th><th>loss</th><th>rows</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const TASK_WEIGHT_CAPTIONS: Record<string, string> = {
  fixed: '<b>Fixed weights stay flat</b>: every task contributes its loss with the same weight throughout.',
  uwl: '<b>UWL learns e^(−s) per task</b>: a task whose loss stays high (more uncertain) is weighted down.',
  gradnorm:
    "<b>GradNorm raises the task whose loss falls slowest</b>, so that the gradient norms on the shared layer follow each task's training rate; the weights sum to the number of tasks.",
  metabalance:
    "<b>MetaBalance scales each auxiliary task's shared gradient towards the target task's magnitude</b>: above 1 a gradient was enlarged, below 1 shrunk (the target stays at 1).",
  pcgrad: '<b>PCGrad keeps weights at 1</b>: it changes the direction of conflicting gradients instead (see the conflict charts below).',
  dwa: '<b>DWA gives more weight to the task whose loss fell least</b> over the last epochs (1 for the first two epochs).',
  cagrad: "<b>CAGrad's coefficient per task gradient</b>: a task whose gradient conflicts with the average gets more weight.",
};

/** ‖∇L_k‖ over all the groups of a report (the groups partition the shared parameters). */
function totalNorm(r: GradientReport, k: number): number {
  return Math.sqrt(r.groups.reduce((s, g) => s + g.norms[k] ** 2, 0));
}

/** The cosine of tasks k and l over all shared parameters, assembled from the per-group ones. */
export function overallCosine(r: GradientReport, k: number, l: number): number | null {
  let dot = 0;
  for (const g of r.groups) dot += (g.cosine[k][l] ?? 0) * g.norms[k] * g.norms[l];
  const denom = totalNorm(r, k) * totalNorm(r, l);
  return denom > 0 ? Math.max(-1, Math.min(1, dot / denom)) : null;
}

function taskPairs(n: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let k = 0; k < n; k++) for (let l = k + 1; l < n; l++) pairs.push([k, l]);
  return pairs;
}

function curveSection(history: History, tasks: string[], stepsPerEpoch?: number): string[] {
  const figures = tasks.map((task, k) => {
    const train = history.epochs.map((e) => [e.epoch + 0.5, e.trainLoss[task]] as [number, number]);
    const valLoss = history.epochs.map((e) => {
      const m = e.val?.[task];
      return [e.epoch + 1, m === undefined ? NaN : m.type === 'classification' ? m.logloss : m.mse] as [number, number];
    });
    const series: Series[] = [];
    if (stepsPerEpoch && history.gradients.length) {
      const at = history.gradients.map((g) => g.report.tasks.indexOf(task));
      series.push({
        name: 'loss on the inspected batch',
        points: history.gradients.map((g, i) => [g.step / stepsPerEpoch, at[i] >= 0 ? g.report.losses[at[i]] : NaN] as [number, number]),
        color: '#b9c2ce',
        width: 1,
        markers: false,
      });
    }
    series.push({ name: 'training (epoch mean)', points: train, color: colorAt(k) });
    series.push({ name: 'validation', points: valLoss, color: colorAt(k), dashed: true });
    const classification = history.epochs.some((e) => e.val?.[task]?.type === 'classification');
    const lossName = classification ? 'BCE / logloss' : 'MSE';
    const svg = lineChart({ series, xLabel: 'epoch', yLabel: lossName, label: `${task} loss` });
    const items = series.map((s) => ({ name: s.name, color: s.color!, dashed: s.dashed }));
    return figure(
      `${task}: training and validation loss`,
      svg,
      `<b>Watch the gap</b>: validation (dashed, end of each epoch) rising while training (solid, mean over the epoch) still falls means ${escapeHtml(task)} overfits.`,
      legend(items),
    );
  });
  const aucTasks = tasks.filter((t) => history.epochs.some((e) => e.val?.[t]?.type === 'classification'));
  if (aucTasks.length) {
    const series: Series[] = aucTasks.map((t) => ({
      name: t,
      color: colorAt(tasks.indexOf(t)),
      points: history.epochs.map((e) => {
        const m = e.val?.[t];
        return [e.epoch + 1, m?.type === 'classification' && m.auc !== null ? m.auc : NaN] as [number, number];
      }),
    }));
    figures.push(
      figure(
        'Validation AUC per task',
        lineChart({ series, xLabel: 'epoch', yLabel: 'AUC', integerX: true }),
        "<b>Higher is better</b>; a task whose AUC falls while another's rises is the seesaw effect of a shared model.",
        legend(series.map((s) => ({ name: s.name, color: s.color! }))),
      ),
    );
  }
  return [
    '<h2>Learning curves</h2>',
    '<p class="lead">Per task: the training loss and the validation loss per epoch.</p>',
    `<div class="charts">${figures.join('')}</div>`,
  ];
}

function weightSection(history: History, tasks: string[], strategy: string): string[] {
  const series: Series[] = tasks.map((t, k) => ({
    name: t,
    color: colorAt(k),
    points: history.epochs.map((e) => [e.epoch + 1, e.taskWeights[t]] as [number, number]),
  }));
  const caption =
    TASK_WEIGHT_CAPTIONS[strategy.toLowerCase()] ?? '<b>How the balancing strategy weighs each task</b> at the end of every epoch.';
  return [
    `<h2>Task weights (${escapeHtml(strategy)})</h2>`,
    `<div class="charts">${figure('Task weight at the end of each epoch', lineChart({ series, xLabel: 'epoch', yLabel: 'weight', integerX: true }), caption, legend(series.map((s) => ({ name: s.name, color: s.color! }))))}</div>`,
  ];
}

function missingInspector(): string {
  return '<p class="note">No gradient reports were recorded: train with <code>inspectEvery</code> (the CLI does with <code>--report</code>) to fill this section.</p>';
}

function gradientSection(reports: RecordedReport[], tasks: string[]): string[] {
  const out: string[] = ['<h2>Task gradients on the shared parameters</h2>'];
  if (!reports.length) return [...out, missingInspector()];
  out.push(
    `<p class="lead">From the gradient inspector, ${reports.length} reports between step ${reports[0].step} and step ${reports[reports.length - 1].step}: each is one batch, one gradient per task, on every group of shared parameters.</p>`,
  );
  const last = reports[reports.length - 1].report;
  const names = last.tasks.length ? last.tasks : tasks;
  const steps = reports.map((r) => r.step);
  const figures: string[] = [];

  const normSeries: Series[] = names.map((t, k) => ({
    name: t,
    color: colorAt(k),
    points: reports.map((r) => [r.step, totalNorm(r.report, k)] as [number, number]),
  }));
  figures.push(
    figure(
      'Gradient norm per task, all shared parameters',
      lineChart({ series: normSeries, xLabel: 'training step', yLabel: '‖∇L_k‖ on shared', integerX: true }),
      '<b>Very unequal norms</b> mean one task dominates the shared update: what GradNorm and MetaBalance even out.',
      legend(normSeries.map((s) => ({ name: s.name, color: s.color! }))),
    ),
  );

  const pairs = taskPairs(names.length);
  if (pairs.length) {
    const cosSeries: Series[] = pairs.map(([k, l], i) => ({
      name: `${names[k]} · ${names[l]}`,
      color: colorAt(i + 2),
      points: reports.map((r) => [r.step, overallCosine(r.report, k, l) ?? NaN] as [number, number]),
    }));
    figures.push(
      figure(
        'Conflict: cosine of task gradients, all shared parameters',
        lineChart({ series: cosSeries, xLabel: 'training step', yLabel: 'cosine', yDomain: [-1, 1], refLines: [0], integerX: true }),
        '<b>Below the dashed zero line the tasks pull the shared parameters in opposite directions</b>; PCGrad projects such conflicts away.',
        legend(cosSeries.map((s) => ({ name: s.name, color: s.color! }))),
      ),
    );
    const groupNames = last.groups.map((g) => g.name);
    for (const [k, l] of pairs.slice(0, 6)) {
      const values = groupNames.map((name) => reports.map((r) => r.report.groups.find((g) => g.name === name)?.cosine[k][l] ?? null));
      figures.push(
        figure(
          `Conflict per parameter group: ${names[k]} · ${names[l]}`,
          heatmap({
            rows: groupNames,
            cols: steps.map(String),
            values,
            scale: 'diverging',
            domain: [-1, 1],
            xLabel: 'training step',
            yLabel: 'group',
            label: 'cosine per group',
          }),
          '<b>Red cells are conflicts</b> (cosine < 0) on that group at that step, blue cells agreement; grey: a task sent no gradient there.',
        ),
      );
    }
  }
  out.push(`<div class="charts">${figures.join('')}</div>`);
  return out;
}

/** Colour domain of gate weights: at least [0, 2/n], so a uniform gate (1/n) sits mid-scale rather than looking saturated. */
function gateDomain(values: (number | null)[], nExpert: number): [number, number] {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return [0, Math.max(2 / Math.max(nExpert, 1), ...finite)];
}

function gateSection(reports: RecordedReport[]): string[] {
  const out: string[] = ['<h2>Gates: how each task weighs the experts</h2>'];
  const last = reports[reports.length - 1]?.report;
  const gates = last ? Object.keys(last.gates) : [];
  if (!last) return [...out, missingInspector()];
  if (gates.length === 0)
    return [...out, `<p class="note">${escapeHtml(last.model)} has no gates: every task reads the same shared representation.</p>`];
  const figures: string[] = [];
  const nExpert = Math.max(...gates.map((g) => last.gates[g].length));
  const expertNames = Array.from({ length: nExpert }, (_, i) => `E${i}`);
  figures.push(
    figure(
      `Mean gate weight per expert, step ${reports[reports.length - 1].step}`,
      heatmap({
        rows: gates,
        cols: expertNames,
        values: gates.map((g) => expertNames.map((_, i) => last.gates[g][i] ?? null)),
        scale: 'sequential',
        domain: gateDomain(
          gates.flatMap((g) => last.gates[g]),
          nExpert,
        ),
        xLabel: 'expert',
        yLabel: 'gate',
        showValues: nExpert <= 12,
      }),
      '<b>Rows that differ are tasks that have specialised</b> onto different experts; identical rows mean the gates share everything (as OMoE must).',
    ),
  );
  for (const g of gates) {
    const n = last.gates[g].length;
    const rows = Array.from({ length: n }, (_, i) => `E${i}`);
    const values = rows.map((_, i) => reports.map((r) => r.report.gates[g]?.[i] ?? null));
    figures.push(
      figure(
        `Gate '${g}' over training`,
        heatmap({
          rows,
          cols: reports.map((r) => String(r.step)),
          values,
          scale: 'sequential',
          domain: gateDomain(values.flat(), n),
          xLabel: 'training step',
          yLabel: 'expert',
          label: `gate ${g}`,
        }),
        `<b>Dark rows are the experts gate '${escapeHtml(g)}' relies on</b>; a uniform column (1/${n} each) means the gate has not yet chosen.`,
      ),
    );
  }
  out.push(
    '<p class="lead">Mean over the inspected batch of each gate\'s softmax weights, like the gate-distribution figures of the MMoE and PLE papers.</p>',
  );
  out.push(`<div class="charts">${figures.join('')}</div>`);
  return out;
}

function expertSection(reports: RecordedReport[]): string[] {
  const out: string[] = ["<h2>Expert share of each task's gradient</h2>"];
  const lastRecord = reports[reports.length - 1];
  if (!lastRecord) return [...out, missingInspector()];
  const last = lastRecord.report;
  if (last.experts.length === 0)
    return [
      ...out,
      `<p class="note">${escapeHtml(last.model)} has no shared experts: its shared gradient goes to ${escapeHtml(last.groups.map((g) => g.name).join(', '))}.</p>`,
    ];
  const figures = last.experts.map((m) => {
    const categories = Array.from({ length: m.nExpert }, (_, i) => `E${i}`);
    const series = last.tasks.map((t, k) => ({ name: `${t}: gradient share`, values: m.share[k], color: colorAt(k) }));
    const markers = last.tasks.map((t, k) => ({ name: `${t}: gate weight`, values: m.gateMean[k] ?? categories.map(() => null) }));
    const hasGate = m.gateMean.some((g) => g !== null);
    const items = [
      ...series.map((s) => ({ name: s.name, color: s.color })),
      ...(hasGate ? [{ name: 'gate weight of that task', color: '#222', marker: true }] : []),
    ];
    return figure(
      `${m.module}: share of each task's gradient, step ${lastRecord.step}`,
      barChart({ categories, series, markers: hasGate ? markers : undefined, xLabel: 'expert', yLabel: 'share of ‖∇L_k‖' }),
      hasGate
        ? "<b>Compare each bar with its diamond</b>: task k's gradient reaches expert i scaled by its gate weight g_i^(k), so the experts a gate ignores learn little from that task."
        : "<b>How task k's gradient on these experts splits between them</b> (shares sum to 1 per task).",
      legend(items),
    );
  });
  out.push(`<div class="charts">${figures.join('')}</div>`);
  return out;
}

/** The training report: learning curves, task weights and the inspector's gradient routing. */
export function renderReport(input: TrainingReportInput): string {
  const { history } = input;
  const tasks = input.taskNames ?? Object.keys(history.epochs[0]?.trainLoss ?? {});
  const title = input.title ?? `webmtl training report${input.modelName ? `: ${input.modelName}` : ''}`;
  const strategy = input.strategyName ?? 'fixed';
  const epochs = history.epochs;
  const seconds = epochs.reduce((s, e) => s + e.seconds, 0);
  const header: [string, string][] = [
    ...(input.modelName ? [['model', input.modelName] as [string, string]] : []),
    ['balancing', strategy],
    ['tasks', tasks.join(', ')],
    [
      'epochs',
      `${epochs.length}${history.stoppedEarly ? ' (stopped early)' : ''}${history.bestEpoch !== null ? `, best epoch ${history.bestEpoch + 1}` : ''}`,
    ],
    ['training time', `${seconds.toFixed(1)} s`],
    ...(input.facts ?? []),
  ];
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    facts(header),
    ...(input.testMetrics ? ['<h2>Test metrics</h2>', metricsTable(input.testMetrics)] : []),
    ...curveSection(history, tasks, input.stepsPerEpoch),
    ...weightSection(history, tasks, strategy),
    ...gradientSection(history.gradients, tasks),
    ...gateSection(history.gradients),
    ...expertSection(history.gradients),
  ];
  return page(title, body);
}

/** A statement checked on a run (a paper's claim): null when the run lacks what it needs. */
export interface Claim {
  claim: string;
  /** true / false: the evidence is on one side; null: not checked, or (with `inconclusive`) an interval spans the null value. */
  holds: boolean | null;
  /** Checked, but the evidence does not decide (an interval spans the null value). */
  inconclusive?: boolean;
  detail: string;
}

export const claimVerdict = (c: Claim): string =>
  c.holds === null ? (c.inconclusive ? 'inconclusive' : 'not checked') : c.holds ? 'holds' : 'does not hold';

/** A mean with its 95% interval over runs. */
interface ReportInterval {
  estimate: number;
  lo: number;
  hi: number;
}

/**
 * What the MMoE synthetic experiment report draws (src/experiments/mmoe-synthetic.ts's result has this
 * shape). Models are keys: 'sharedbottom' is the baseline, 'mmoe' the model whose gates are shown.
 */
export interface ExperimentReportResult {
  settings: {
    correlations: number[];
    /** Runs per (model, ρ); run i of every cell shares seed i's data draw. */
    runs: number;
    rows: number;
    evalRows: number;
    dim: number;
    epochs: number;
    batchSize: number;
    lr: number;
    /** Training steps in all, and the step at the end of each curve point's window. */
    steps: number;
    curveSteps: number[];
    /** The claims are tested on the curve from point claimPoint on (0: all of it). */
    claimPoint: number;
    /** Every model of the experiment, key → display name; the key order is the table's and the colours'. */
    labels: Record<string, string>;
    /** Parameters per model key. */
    parameters: Record<string, number>;
    /** The MoE models' experts and every model's towers. */
    sizes: { nExpert: number; expertUnits: number; towerUnits: number };
    /** Shared-Bottom's bottom width. */
    bottomUnits: number;
  };
  runs: { model: string; correlation: number; seed: number; testLoss: number; curve: number[]; gradients?: GradientReport }[];
  /** Per (model, ρ): the curve's mean height with its interval, the mean curve with its band, the final test loss and its spread. */
  cells: {
    model: string;
    correlation: number;
    n: number;
    area: ReportInterval;
    /** The same from settings.claimPoint on. */
    lateArea: ReportInterval;
    curve: { mean: number[]; lo: number[]; hi: number[] };
    test: ReportInterval;
    spread: { std: number; iqr: number; p10: number; p90: number };
  }[];
  /**
   * Paired curves in percent, mean and 95% band per curve point: 'rho', a model at a lower ρ vs itself
   * at the highest; 'model', Shared-Bottom vs a MoE model (averaged over ρ).
   */
  contrasts?: { kind: 'rho' | 'model'; model: string; correlation?: number; label: string; mean: number[]; lo: number[]; hi: number[] }[];
  seconds: number;
}

export interface ExperimentReportInput {
  result: ExperimentReportResult;
  claims: Claim[];
  title?: string;
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const withInterval = (iv: ReportInterval) => `${f3(iv.estimate)} <span class="ci">[${f3(iv.lo)}, ${f3(iv.hi)}]</span>`;

/** The points of a curve at a quarter, half and all of the budget (as the experiment's table). */
function budgetIndices(points: number): number[] {
  if (points === 0) return [];
  return [...new Set([Math.ceil(points / 4) - 1, Math.ceil(points / 2) - 1, points - 1])];
}

/**
 * The MMoE synthetic experiment, measured as the paper does: the claims with their intervals, the
 * training-loss curves with 95% bands (per ρ and per model), the table, the trainability histograms of
 * the final test loss, and the gradient cosine and MMoE gates after training.
 */
export function renderExperimentReport(input: ExperimentReportInput): string {
  const { result, claims } = input;
  const s = result.settings;
  const title = input.title ?? 'MMoE synthetic experiment (Ma et al., KDD 2018)';
  const order = Object.keys(s.labels);
  const label = (m: string) => s.labels[m];
  const models = order.filter((m) => result.cells.some((c) => c.model === m));
  const color = (m: string) => colorAt(order.indexOf(m));
  const cell = (m: string, rho: number) => result.cells.find((c) => c.model === m && c.correlation === rho);
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const budgets = budgetIndices(s.curveSteps.length);

  const table = `<table class="wide"><thead><tr><th>model</th><th>ρ</th><th>training loss over the budget (geometric mean) [95% CI]</th>${s.claimPoint > 0 ? `<th>from step ${s.curveSteps[s.claimPoint - 1]} on [95% CI]</th>` : ''}${budgets
    .map((j) => `<th>at step ${s.curveSteps[j]}</th>`)
    .join('')}<th>final test loss [95% CI]</th><th>std</th><th>IQR</th><th>10–90% range</th></tr></thead><tbody>${models
    .flatMap((m) =>
      s.correlations.map((r) => {
        const c = cell(m, r);
        if (!c) return '';
        return `<tr><td>${label(m)}</td><td>${r}</td><td>${withInterval(c.area)}</td>${s.claimPoint > 0 ? `<td>${withInterval(c.lateArea)}</td>` : ''}${budgets
          .map((j) => `<td>${f3(c.curve.mean[j])}</td>`)
          .join(
            '',
          )}<td>${withInterval(c.test)}</td><td>${f3(c.spread.std)}</td><td>${f3(c.spread.iqr)}</td><td>${f3(c.spread.p10)}–${f3(c.spread.p90)}</td></tr>`;
      }),
    )
    .join('')}</tbody></table>`;
  const claimList = `<ul class="claims">${claims
    .map((c) => {
      const cls = c.holds === null ? (c.inconclusive ? 'unsure' : 'unchecked') : c.holds ? 'holds' : 'fails';
      return `<li><span class="badge ${cls}">${claimVerdict(c)}</span>${escapeHtml(c.claim)}<div class="detail">${escapeHtml(c.detail)}</div></li>`;
    })
    .join('')}</ul>`;

  const curveSeries = (m: string, rho: number, name: string, col: string, dashed = false): Series | null => {
    const c = cell(m, rho);
    if (!c) return null;
    const xs = s.curveSteps.slice(0, c.curve.mean.length);
    return {
      name,
      color: col,
      dashed,
      markers: false,
      points: xs.map((x, j) => [x, c.curve.mean[j]] as [number, number]),
      band: xs.map((x, j) => [x, c.curve.lo[j], c.curve.hi[j]] as [number, number, number]),
    };
  };
  const n = s.runs;
  // A dashed line where the part of the curve the claims are tested on starts.
  const refX = s.claimPoint > 0 ? [s.curveSteps[s.claimPoint - 1]] : [];
  const windowNote = s.claimPoint > 0 ? ` The claims are tested right of the dashed line (step ${s.curveSteps[s.claimPoint - 1]} on).` : '';
  const byRho: string[] = [];
  for (const rho of s.correlations) {
    const series = models.map((m) => curveSeries(m, rho, label(m), color(m))).filter((x): x is Series => x !== null);
    byRho.push(
      figure(
        `Training loss over steps, ρ = ${rho}`,
        lineChart({ series, xLabel: 'training step', yLabel: 'training MSE (log scale)', integerX: true, logY: true, refX }),
        `<b>The lowest curve learns fastest and furthest at ρ = ${rho}</b> (the paper's Figure 4 expects MMoE lowest, Shared-Bottom highest); lines: mean over ${plural(n, 'run')}, bands: 95% interval of the mean.${windowNote}`,
        legend(series.map((x) => ({ name: x.name, color: x.color! }))),
      ),
    );
  }
  // The paired curves behind the claims: what the same runs lose at a lower ρ, and Shared-Bottom against each MoE model.
  const contrastFigures: string[] = [];
  const contrasts = result.contrasts ?? [];
  const contrastSeries = (c: (typeof contrasts)[number], name: string, col: string, dashed: boolean): Series => {
    const xs = s.curveSteps.slice(0, c.mean.length);
    return {
      name,
      color: col,
      dashed,
      markers: false,
      points: xs.map((x, j) => [x, c.mean[j]] as [number, number]),
      band: xs.map((x, j) => [x, c.lo[j], c.hi[j]] as [number, number, number]),
    };
  };
  const lowest = s.correlations.length > 1 ? Math.min(...s.correlations) : null;
  const byRhoContrast = contrasts.filter((c) => c.kind === 'rho');
  if (byRhoContrast.length) {
    const series = byRhoContrast.map((c) => contrastSeries(c, c.label, color(c.model), c.correlation !== lowest));
    contrastFigures.push(
      figure(
        'What a lower task correlation costs each model, run by run',
        lineChart({ series, xLabel: 'training step', yLabel: '% above its curve at the highest ρ', integerX: true, refLines: [0], refX }),
        `<b>Above zero a model learns worse at the lower ρ (claim 1); the paper expects MMoE's line lowest (claim 2)</b>. Solid: ρ = ${lowest}, dashed: the ρ between; each run against itself on the same draw at the highest ρ, mean and 95% band over ${plural(n, 'run')}.${windowNote}`,
        legend(series.map((x) => ({ name: x.name, color: x.color!, dashed: x.dashed }))),
      ),
    );
  }
  const vsShared = contrasts.filter((c) => c.kind === 'model');
  if (vsShared.length) {
    const series = vsShared.map((c) => contrastSeries(c, c.label, color(c.model), false));
    contrastFigures.push(
      figure(
        "Shared-Bottom's training loss relative to each MoE model, run by run",
        lineChart({ series, xLabel: 'training step', yLabel: '% Shared-Bottom above the MoE model', integerX: true, refLines: [0], refX }),
        `<b>Above zero Shared-Bottom learns worse than that MoE model (claim 3)</b>: on the same draw and initial seed, averaged over ρ; mean and 95% band over ${plural(n, 'run')}.${windowNote}`,
        legend(series.map((x) => ({ name: x.name, color: x.color! }))),
      ),
    );
  }

  // Trainability: the distribution of the final test loss over runs, one histogram per ρ, bins shared by the models.
  const hist: string[] = [];
  const BINS = 12;
  for (const rho of s.correlations) {
    const losses = (m: string) => result.runs.filter((r) => r.model === m && r.correlation === rho).map((r) => r.testLoss);
    const all = models.flatMap(losses).filter(Number.isFinite);
    if (all.length < 2) continue;
    const [lo, hi] = [Math.min(...all), Math.max(...all)];
    const { edges } = histogram(all, BINS, lo, hi);
    const categories = edges.slice(0, -1).map((e, i) => formatNumber((e + edges[i + 1]) / 2, 2));
    const series = models.map((m) => ({ name: label(m), color: color(m), values: histogram(losses(m), BINS, lo, hi).counts }));
    hist.push(
      figure(
        `Final test loss over ${plural(n, 'run')}, ρ = ${rho}`,
        barChart({ categories, series, xLabel: 'final test MSE (bin centre)', yLabel: 'runs' }),
        `<b>A wide spread, or runs far to the right, is a model that is hard to train</b> (the paper's Figure 5: Shared-Bottom's spread is by far the widest); the spread of each is in the table.`,
        legend(series.map((x) => ({ name: x.name, color: x.color }))),
      ),
    );
  }

  const figures: string[] = [];
  const inspected = result.runs.filter((r) => r.gradients);
  if (inspected.length) {
    const seed0 = Math.min(...inspected.map((r) => r.seed));
    const rhoLabels = s.correlations.map((r) => `ρ = ${r}`);
    const cos = models.map((m) => ({
      name: label(m),
      color: color(m),
      values: s.correlations.map((rho) => {
        const rs = inspected.filter((r) => r.model === m && r.correlation === rho);
        const vs = rs.map((r) => overallCosine(r.gradients!, 0, 1)).filter((v): v is number => v !== null);
        return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : NaN;
      }),
    }));
    figures.push(
      figure(
        "Cosine of the two tasks' gradients on the shared parameters, after training",
        barChart({ categories: rhoLabels, series: cos, xLabel: 'task correlation', yLabel: 'cosine', yDomain: [-1, 1] }),
        '<b>Near 1 the two tasks push the shared parameters the same way, near 0 or below they pull apart</b> (after training, one test batch, mean over runs).',
        legend(cos.map((b) => ({ name: b.name, color: b.color }))),
      ),
    );
    const gateRows: string[] = [];
    const gateValues: number[][] = [];
    for (const rho of s.correlations) {
      const r = inspected.find((x) => x.model === 'mmoe' && x.correlation === rho && x.seed === seed0);
      if (!r) continue;
      for (const [gate, w] of Object.entries(r.gradients!.gates)) {
        gateRows.push(`ρ=${rho} ${gate}`);
        gateValues.push(w);
      }
    }
    if (gateRows.length) {
      const nExpert = Math.max(...gateValues.map((v) => v.length));
      figures.push(
        figure(
          `MMoE gates after training (run ${seed0})`,
          heatmap({
            rows: gateRows,
            cols: Array.from({ length: nExpert }, (_, i) => `E${i}`),
            values: gateValues,
            scale: 'sequential',
            domain: gateDomain(gateValues.flat(), nExpert),
            xLabel: 'expert',
            yLabel: 'ρ and task gate',
          }),
          '<b>Compare the two rows of each ρ</b>: gates that pick different experts are tasks that have separated.',
        ),
      );
    }
  }

  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    '<p class="lead">Two regression tasks whose correlation ρ is set by construction, learned by Shared-Bottom, OMoE and MMoE of about the same size, measured as the paper does: the training loss over steps averaged over many runs (its Figure 4) and the spread of the final loss over runs (its Figure 5, trainability).</p>',
    facts([
      [
        'data',
        `d = ${s.dim}, ${s.rows.toLocaleString('en-US')} training rows and ${s.evalRows.toLocaleString('en-US')} test rows per (ρ, run); run i draws the same inputs, directions and sine terms at every ρ and for every model`,
      ],
      [
        'models',
        `MMoE / OMoE: ${s.sizes.nExpert} experts of ${s.sizes.expertUnits} units, towers of ${s.sizes.towerUnits}; Shared-Bottom: a bottom of ${s.bottomUnits} units, towers of ${s.sizes.towerUnits} (${models.map((m) => `${label(m)} ${s.parameters[m].toLocaleString('en-US')}`).join(', ')} parameters)`,
      ],
      [
        'training',
        `Adam, lr ${s.lr}, batch ${s.batchSize}, ${plural(s.epochs, 'epoch')} = ${s.steps.toLocaleString('en-US')} steps; the training loss (mean of the two tasks' MSE) averaged over windows of ${s.curveSteps[0] ?? 0} steps; ${plural(n, 'run')} per (model, ρ)`,
      ],
      ['statistics', 'differences paired by run with 95% Student-t intervals; the ratio of spreads with a 95% percentile bootstrap'],
      ['time', `${result.seconds.toFixed(0)} s`],
    ]),
    "<h2>The paper's claims on this run</h2>",
    claimList,
    "<h2>Training loss over steps (the paper's Figure 4)</h2>",
    `<div class="charts">${byRho.join('')}${contrastFigures.join('')}</div>`,
    `<h2>The numbers (${plural(n, 'run')} per row)</h2>`,
    '<p class="note">Training loss over the budget: the area under the log-loss curve divided by its length, as a loss (the geometric mean of the curve: how fast and how far a model gets over the whole budget); then the mean curve at a quarter, half and all of the budget; the final test loss after the last step and its spread over runs.</p>',
    table,
    "<h2>Trainability: the final loss over runs (the paper's Figure 5)</h2>",
    `<div class="charts">${hist.join('')}</div>`,
    ...(figures.length ? ['<h2>After training</h2>', `<div class="charts">${figures.join('')}</div>`] : []),
  ];
  return page(title, body);
}

/** Writes a report to a file (Node only; the directory must exist). */
export async function writeReport(path: string, html: string): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, html, 'utf8');
}
