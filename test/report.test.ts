// The HTML reports: every section and chart is there with its caption, the SVG is well formed, the
// page is self-contained (no scripts, no URLs, no NaN), models without gates or experts and runs
// without inspector reports get a note instead of an empty chart, and headless Chromium renders it
// (a screenshot; skipped with a warning when Chromium is missing, unless CI=true or
// WEBMTL_REQUIRE_WEBGPU=1). WEBMTL_UPDATE_REPORT_PNG=1 also writes docs/report-example.png.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import { ColumnarDataset } from '../src/data/columns.js';
import { DataLoader } from '../src/data/loader.js';
import { generateMmoeSynthetic } from '../src/data/synthetic-mmoe.js';
import { type Claim, checkClaims, type ExperimentResult, runMmoeSynthetic } from '../src/experiments/mmoe-synthetic.js';
import { DenseFeature, SparseFeature } from '../src/features.js';
import { MMoE, type MultiTaskModel, SharedBottom } from '../src/models/index.js';
import type { StrategySpec } from '../src/mtl/index.js';
import { overallCosine, renderExperimentReport, renderReport, writeReport } from '../src/report/html.js';
import { heatmap, lineChart, niceTicks } from '../src/report/svg.js';
import { setBackend } from '../src/tensor/engine.js';
import { Random, seed as seedGlobal } from '../src/tensor/random.js';
import type { TaskReport } from '../src/train/metrics.js';
import { type History, MTLTrainer } from '../src/train/trainer.js';
import { webgpuRequired } from './helpers/webgpu.js';

beforeAll(() => setBackend(new CpuBackend()));

interface TrainedRun {
  model: MultiTaskModel;
  history: History;
  stepsPerEpoch: number;
  test: Record<string, TaskReport>;
}

const DIM = 6;

/** MMoE or Shared-Bottom on the synthetic regression tasks, 3 epochs of 4 steps, inspector every 2 steps. */
async function trainedRegression(kind: 'mmoe' | 'sharedbottom', balance?: StrategySpec): Promise<TrainedRun> {
  const data = generateMmoeSynthetic({ rows: 160, dim: DIM, correlation: 0.5, seed: 3 }).toDataset();
  const features = Array.from({ length: DIM }, (_, k) => new DenseFeature(`x${k}`));
  seedGlobal(5);
  const common = {
    features,
    taskTypes: ['regression', 'regression'] as ['regression', 'regression'],
    taskNames: ['y1', 'y2'],
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  };
  const model =
    kind === 'mmoe'
      ? new MMoE({ ...common, nExpert: 3, expertParams: { dims: [4] } })
      : new SharedBottom({ ...common, bottomParams: { dims: [8] } });
  const train = new DataLoader(data.slice(0, 128), { batchSize: 32, shuffle: true, seed: 1 });
  const val = new DataLoader(data.slice(128), { batchSize: 64 });
  const trainer = new MTLTrainer(model, {
    nEpoch: 3,
    device: 'cpu',
    progress: 'none',
    seed: 1,
    inspectEvery: 2,
    optimizerParams: { lr: 0.01 },
    adaptiveParams: balance,
  });
  const history = await trainer.fit(train, val);
  return { model, history, stepsPerEpoch: train.length, test: await trainer.evaluate(val) };
}

/** MMoE on two classification tasks over sparse and dense features (embeddings are a shared group). */
async function trainedClassification(): Promise<TrainedRun> {
  const rows = 192;
  const r = new Random(11);
  const user = Int32Array.from({ length: rows }, () => r.int(20));
  const item = Int32Array.from({ length: rows }, () => r.int(30));
  const price = Float32Array.from({ length: rows }, () => r.normal());
  const y = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    const click = r.uniform() < 1 / (1 + Math.exp(-(price[i] + (user[i] % 3) - 1))) ? 1 : 0;
    y[2 * i] = click;
    y[2 * i + 1] = click && r.uniform() < 0.4 ? 1 : 0;
  }
  const data = new ColumnarDataset({ user, item, price }, y, ['click', 'purchase'], rows);
  seedGlobal(8);
  const model = new MMoE({
    features: [
      new SparseFeature({ name: 'user', vocabSize: 20, embedDim: 3 }),
      new SparseFeature({ name: 'item', vocabSize: 30, embedDim: 3 }),
      new DenseFeature('price'),
    ],
    taskTypes: ['classification', 'classification'],
    taskNames: ['click', 'purchase'],
    nExpert: 4,
    expertParams: { dims: [6] },
    towerParamsList: [{ dims: [4] }, { dims: [4] }],
  });
  const train = new DataLoader(data.slice(0, 128), { batchSize: 32, shuffle: true, seed: 2 });
  const val = new DataLoader(data.slice(128), { batchSize: 64 });
  const trainer = new MTLTrainer(model, {
    nEpoch: 2,
    device: 'cpu',
    progress: 'none',
    seed: 2,
    inspectEvery: 1,
    adaptiveParams: { method: 'gradnorm', alpha: 1.5 },
  });
  const history = await trainer.fit(train, val);
  return { model, history, stepsPerEpoch: train.length, test: await trainer.evaluate(val) };
}

/** A tiny run of the experiment (every model, three correlations, two seeds). */
async function tinyExperiment(): Promise<{ result: ExperimentResult; claims: Claim[] }> {
  const result = await runMmoeSynthetic({ seeds: 2, rows: 64, evalRows: 32, dim: DIM, epochs: 2, batchSize: 32 });
  return { result, claims: checkClaims(result) };
}

/** Every <svg> block parses as balanced XML-style tags with quoted attributes. */
function checkSvg(html: string): number {
  const blocks = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
  for (const block of blocks) {
    const stack: string[] = [];
    for (const m of block.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g)) {
      const [, closing, name, , selfClosing] = m;
      if (selfClosing) continue;
      if (closing) expect(stack.pop(), `</${name}> closes the wrong element in ${block.slice(0, 120)}`).toBe(name);
      else stack.push(name);
    }
    expect(stack, `unclosed elements in ${block.slice(0, 120)}`).toEqual([]);
    // Every tag matched the pattern above: as many '<' as matched tags (text never holds a raw '<').
    const tags = [...block.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>/g)].length;
    expect((block.match(/</g) ?? []).length).toBe(tags);
  }
  return blocks.length;
}

function checkPage(html: string): { figures: number; svgs: number; captions: string[] } {
  expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
  expect(html).not.toMatch(/NaN|undefined|Infinity|\[object /);
  expect(html).not.toMatch(/https?:\/\/|<script|<link|<img|\bsrc=|\bhref=|url\(/i);
  const figures = html.match(/<figure>[\s\S]*?<\/figure>/g) ?? [];
  const captions = figures.map((f) => {
    const caps = f.match(/<figcaption>([\s\S]*?)<\/figcaption>/g) ?? [];
    expect(caps, 'one caption per figure').toHaveLength(1);
    const text = caps[0]!.replace(/<[^>]+>/g, '').trim();
    expect(text.length).toBeGreaterThan(20);
    expect(f).toMatch(/<svg class="chart"/);
    return text;
  });
  return { figures: figures.length, svgs: checkSvg(html), captions };
}

const headings = (html: string) => [...html.matchAll(/<h2>([\s\S]*?)<\/h2>/g)].map((m) => m[1]);

describe('renderReport', () => {
  let regression: TrainedRun;
  let classification: TrainedRun;
  beforeAll(async () => {
    regression = await trainedRegression('mmoe');
    classification = await trainedClassification();
  });

  it('has every section, a captioned chart each, and well-formed SVG (MMoE, regression)', () => {
    const { model, history, stepsPerEpoch, test } = regression;
    expect(history.gradients.length).toBeGreaterThan(3);
    const html = renderReport({ history, modelName: model.constructor.name, strategyName: 'fixed', stepsPerEpoch, testMetrics: test });
    expect(headings(html)).toEqual([
      'Test metrics',
      'Learning curves',
      'Task weights (fixed)',
      'Task gradients on the shared parameters',
      'Gates: how each task weighs the experts',
      "Expert share of each task's gradient",
    ]);
    const { figures, svgs, captions } = checkPage(html);
    // Curves for y1 and y2; weights; norm, cosine, cosine per group; gate summary and one per gate; expert shares.
    expect(figures).toBe(2 + 1 + 3 + 3 + 1);
    expect(svgs).toBeGreaterThanOrEqual(figures);
    expect(captions.join(' ')).toContain('Fixed weights stay flat');
    for (const title of [
      'y1: training and validation loss',
      "Gate 'y1' over training",
      "Gate 'y2' over training",
      "experts: share of each task's gradient",
    ]) {
      expect(html).toContain(title);
    }
    // The per-group heatmap names every group of the inspector: here the three experts.
    for (const g of ['experts[0]', 'experts[1]', 'experts[2]']) expect(html).toContain(`>${g}</text>`);
  });

  it('classification runs get AUC curves, the strategy’s caption and the embeddings group', () => {
    const { model, history, stepsPerEpoch, test } = classification;
    const html = renderReport({
      history,
      modelName: model.constructor.name,
      strategyName: 'gradnorm',
      stepsPerEpoch,
      testMetrics: test,
      facts: [['parameters', String(model.numParameters())]],
    });
    const { figures, captions } = checkPage(html);
    expect(figures).toBe(3 + 1 + 3 + 3 + 1);
    expect(html).toContain('Validation AUC per task');
    expect(html).toContain('>embeddings</text>');
    expect(captions.join(' ')).toContain('GradNorm raises the task whose loss falls slowest');
    expect(html).toMatch(/AUC \d\.\d{4}/);
  });

  it('says so instead of drawing empty charts: Shared-Bottom has no gates or experts; no inspector reports', async () => {
    const sb = await trainedRegression('sharedbottom', { method: 'pcgrad' });
    const html = renderReport({ history: sb.history, modelName: 'SharedBottom', strategyName: 'pcgrad' });
    checkPage(html);
    expect(html).toContain('SharedBottom has no gates');
    expect(html).toContain('has no shared experts: its shared gradient goes to bottom');
    expect(html).toContain('>bottom</text>');

    const bare = renderReport({ history: { ...regression.history, gradients: [] } });
    checkPage(bare);
    expect(bare.match(/No gradient reports were recorded/g)).toHaveLength(3);
  });

  it('writes the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-report-'));
    const html = renderReport({ history: regression.history });
    await writeReport(join(dir, 'r.html'), html);
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toBe(html);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('renderExperimentReport', () => {
  it('is the lower layer: src/report imports nothing from src/experiments (types included)', () => {
    const dir = new URL('../src/report/', import.meta.url);
    const imports = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .flatMap((file) =>
        [...readFileSync(new URL(file, dir), 'utf8').matchAll(/^(?:import|export)\b[^;]*?from\s+'([^']+)'/gm)].map(
          (m) => `src/report/${file} imports ${m[1]}`,
        ),
      );
    expect(imports.some((i) => i.includes('../mtl/inspector.js'))).toBe(true);
    for (const i of imports) expect(i).not.toMatch(/experiments\//);
  });

  it('has the table, each claim with its verdict, and the charts', async () => {
    const { result, claims } = await tinyExperiment();
    const html = renderExperimentReport({ result, claims });
    const { figures } = checkPage(html);
    // Training-loss curves per ρ, the paired curves (lower ρ vs highest, Shared-Bottom vs MoE), a final-loss
    // histogram per ρ, the gradient cosine by ρ, the MMoE gates.
    expect(figures).toBe(3 + 2 + 3 + 1 + 1);
    for (const c of result.cells) expect(html).toContain(`${c.area.estimate.toFixed(3)} <span class="ci">[${c.area.lo.toFixed(3)}`);
    for (const c of claims) expect(html).toContain(c.claim);
    expect((html.match(/class="badge (holds|fails|unsure|unchecked)"/g) ?? []).length).toBe(4);
    expect(html).toContain('fill-opacity="0.18"'); // the confidence bands
    expect(html).toContain('ρ=0.5 y2');
  });
});

describe('SVG helpers', () => {
  it('nice ticks, dropped non-finite points, grey empty cells', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-1, 1, 4)).toEqual([-1, -0.5, 0, 0.5, 1]);
    const line = lineChart({
      series: [
        {
          name: 'a',
          points: [
            [0, 1],
            [1, NaN],
            [2, 3],
          ],
        },
      ],
      xLabel: 'x',
      yLabel: 'y',
    });
    expect(line).not.toMatch(/NaN/);
    expect(line.match(/<circle/g)).toHaveLength(2);
    expect(lineChart({ series: [], xLabel: 'x', yLabel: 'y' })).toContain('no data');
    const map = heatmap({ rows: ['a'], cols: ['b', 'c'], values: [[0.5, null]], scale: 'diverging', xLabel: 'x', yLabel: 'y' });
    expect(map).toContain('fill="#e0e0e0"');
    expect(map).toContain('a · c: n/a');
    expect(checkSvg(line + map)).toBe(2);
  });

  it('overallCosine combines per-group cosines weighted by the norms', () => {
    const report = {
      model: 'M',
      batchSize: 1,
      tasks: ['a', 'b'],
      losses: [1, 1],
      experts: [],
      gates: {},
      groups: [
        {
          name: 'g1',
          kind: 'other' as const,
          parameters: [],
          size: 1,
          norms: [1, 2],
          cosine: [
            [1, 1],
            [1, 1],
          ],
        },
        {
          name: 'g2',
          kind: 'other' as const,
          parameters: [],
          size: 1,
          norms: [2, 1],
          cosine: [
            [1, -1],
            [-1, 1],
          ],
        },
      ],
    };
    // dot = 1·2·1 + 2·1·(−1) = 0.
    expect(overallCosine(report, 0, 1)).toBeCloseTo(0, 12);
    report.groups[1].cosine = [
      [1, 0.5],
      [0.5, 1],
    ];
    expect(overallCosine(report, 0, 1)).toBeCloseTo((2 + 1) / (Math.sqrt(5) * Math.sqrt(5)), 12);
  });
});

const CHROMIUM = process.env.WEBMTL_CHROMIUM || '/usr/lib/chromium/chromium-headless-shell';
const browserReason = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}`;
if (browserReason) {
  if (webgpuRequired())
    throw new Error(
      `The report render test is required here (CI=true or WEBMTL_REQUIRE_WEBGPU=1) but there is ${browserReason}: install chromium-headless-shell or set WEBMTL_CHROMIUM.`,
    );
  console.warn(`Skipping the report render test: ${browserReason}. Install chromium-headless-shell (npm run test:all does) to run it.`);
}

describe.skipIf(browserReason !== null)('the report in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webmtl-report-render-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders every chart with a size, without network requests or console errors, and screenshots', async () => {
    const { chromium } = await import('playwright-core');
    const run = await trainedClassification();
    const file = join(dir, 'report.html');
    await writeReport(
      file,
      renderReport({
        history: run.history,
        modelName: 'MMoE',
        strategyName: 'gradnorm',
        stepsPerEpoch: run.stepsPerEpoch,
        testMetrics: run.test,
      }),
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1050, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => !r.url().startsWith('file://') && problems.push(`request: ${r.url()}`));
      await page.goto(`file://${file}`);
      const boxes = await page.$$eval('svg.chart', (svgs) => svgs.map((s) => s.getBoundingClientRect()).map((r) => [r.width, r.height]));
      expect(boxes.length).toBe(11);
      for (const [w, h] of boxes) {
        expect(w).toBeGreaterThan(200);
        expect(h).toBeGreaterThan(60);
      }
      const captions = await page.$$eval('figcaption', (cs) => cs.filter((c) => c.getBoundingClientRect().height > 0).length);
      expect(captions).toBe(11);
      const shot = join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = readFileSync(shot);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(statSync(shot).size).toBeGreaterThan(20_000);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
