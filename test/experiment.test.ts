// The MMoE synthetic experiment: the paper's sizes with a Shared-Bottom of matched size, a tiny run
// end to end (deterministic, order-independent), and checkClaims on hand-made results where each
// claim holds, fails, or cannot be checked.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import {
  buildModel,
  type CellSummary,
  checkClaims,
  collectResult,
  type ExperimentModel,
  experimentJobs,
  experimentSettings,
  formatClaims,
  formatTable,
  matchedBottomUnits,
  runExperimentJob,
  runMmoeSynthetic,
} from '../src/experiments/mmoe-synthetic.js';
import { MMoE, OMoE, SharedBottom } from '../src/models/index.js';
import { setBackend } from '../src/tensor/engine.js';

beforeAll(() => setBackend(new CpuBackend()));

describe('model sizes', () => {
  it('uses the paper sizes and solves the Shared-Bottom width for MMoE’s parameter count', () => {
    const h = matchedBottomUnits(100);
    const mmoe = buildModel('mmoe', 100, h);
    const omoe = buildModel('omoe', 100, h);
    const sb = buildModel('sharedbottom', 100, h);
    expect(mmoe).toBeInstanceOf(MMoE);
    expect(omoe).toBeInstanceOf(OMoE);
    expect(sb).toBeInstanceOf(SharedBottom);
    expect((mmoe as MMoE).experts.nExpert).toBe(8);
    expect((mmoe as MMoE).experts.outputDim).toBe(16);
    // The closest width: one unit more or less moves the count further from MMoE's.
    const target = mmoe.numParameters();
    const gap = (w: number) => Math.abs(buildModel('sharedbottom', 100, w).numParameters() - target);
    expect(gap(h)).toBeLessThanOrEqual(gap(h - 1));
    expect(gap(h)).toBeLessThanOrEqual(gap(h + 1));
    expect(gap(h) / target).toBeLessThan(0.01);
    expect(h).toBe(127);
    expect(experimentSettings().parameters).toEqual({ sharedbottom: sb.numParameters(), omoe: omoe.numParameters(), mmoe: target });
  });

  it('rejects bad settings with the option named', () => {
    expect(() => experimentSettings({ seeds: 0 })).toThrow(/seeds must be a positive integer/);
    expect(() => experimentSettings({ correlations: [] })).toThrow(/at least one correlation/);
    expect(() => experimentSettings({ correlations: [1.5] })).toThrow(/\[-1, 1\]/);
    expect(() => experimentSettings({ models: ['ple' as ExperimentModel] })).toThrow(/unknown model 'ple'/);
  });
});

describe('runMmoeSynthetic at a tiny size', () => {
  const tiny = { seeds: 2, rows: 64, evalRows: 32, dim: 6, epochs: 2, batchSize: 32 };

  it('trains every model at every ρ and seed, and summarises mean ± std per cell', async () => {
    const seen: string[] = [];
    const result = await runMmoeSynthetic({ ...tiny, onRun: (r, done, total) => seen.push(`${done}/${total} ${r.model}`) });
    expect(result.runs).toHaveLength(3 * 2 * 3);
    expect(seen[seen.length - 1]).toBe('18/18 mmoe');
    expect(result.cells).toHaveLength(9);
    for (const c of result.cells) {
      expect(c.n).toBe(2);
      const losses = result.runs.filter((r) => r.model === c.model && r.correlation === c.correlation).map((r) => r.testLoss);
      expect(c.mean).toBeCloseTo((losses[0] + losses[1]) / 2, 10);
      expect(c.std).toBeCloseTo(Math.abs(losses[0] - losses[1]) / Math.SQRT2, 10);
    }
    for (const r of result.runs) {
      expect(Number.isFinite(r.testLoss)).toBe(true);
      expect(r.testLoss).toBeCloseTo((r.taskLoss[0] + r.taskLoss[1]) / 2, 10);
      expect(r.valCurve).toHaveLength(2);
      expect(r.trainCurve).toHaveLength(2);
      expect(r.gradients?.tasks).toEqual(['y1', 'y2']);
    }
    const table = formatTable(result);
    for (const label of ['Shared-Bottom', 'OMoE', 'MMoE', 'ρ = 1', 'ρ = 0.9', 'ρ = 0.5', ' ± ']) expect(table).toContain(label);
    expect(table).not.toMatch(/NaN/);
    const claims = checkClaims(result);
    expect(claims).toHaveLength(3);
    claims.forEach((c) => expect(typeof c.holds).toBe('boolean'));
    expect(formatClaims(claims)).toMatch(/\[(holds|does not hold)\]/);
  });

  it('gives the same run for the same job in any order (workers rely on it)', async () => {
    const settings = experimentSettings({ ...tiny, seeds: 1, correlations: [0.5] });
    const jobs = experimentJobs(settings);
    const forward = [];
    for (const job of jobs) forward.push(await runExperimentJob(settings, job, { inspect: false }));
    const backward = [];
    for (const job of [...jobs].reverse()) backward.push(await runExperimentJob(settings, job, { inspect: false }));
    const a = collectResult(settings, forward, 0);
    const b = collectResult(settings, backward, 0);
    expect(b.runs.map((r) => r.model)).toEqual(['sharedbottom', 'omoe', 'mmoe']);
    expect(b.runs.map((r) => r.testLoss)).toEqual(a.runs.map((r) => r.testLoss));
    expect(b.cells).toEqual(a.cells);
  });
});

/** Cells from a table: rows per model, one loss per correlation (given high → low ρ). */
function cells(table: Partial<Record<ExperimentModel, number[]>>, rhos = [1, 0.9, 0.5]): CellSummary[] {
  return Object.entries(table).flatMap(([model, losses]) =>
    losses!.map((mean, i) => ({ model: model as ExperimentModel, correlation: rhos[i], mean, std: 0.01, n: 3 })),
  );
}

describe('checkClaims', () => {
  const paperLike = { sharedbottom: [0.2, 0.3, 0.6], omoe: [0.15, 0.2, 0.4], mmoe: [0.14, 0.16, 0.2] };

  it('marks every claim as holding on results shaped like the paper’s', () => {
    const claims = checkClaims(cells(paperLike));
    expect(claims.map((c) => c.holds)).toEqual([true, true, true]);
    expect(claims[0].detail).toContain('MMoE 0.140 → 0.160 → 0.200');
    expect(claims[1].detail).toContain('MMoE +0.060');
    expect(claims[2].detail).toContain('Shared-Bottom 0.367');
  });

  it('claim 1 fails when any model is not better at a higher ρ, and says where', () => {
    const claims = checkClaims(cells({ ...paperLike, omoe: [0.25, 0.2, 0.4] }));
    expect(claims[0].holds).toBe(false);
    expect(claims[0].detail).toContain('Not lower at higher ρ: OMoE ρ=1 vs ρ=0.9');
    expect(claims[1].holds).toBe(true);
  });

  it('claim 2 fails when another model degrades less than MMoE', () => {
    const claims = checkClaims(cells({ ...paperLike, omoe: [0.15, 0.16, 0.17] }));
    expect(claims[1].holds).toBe(false);
    expect(claims[1].detail).toContain('OMoE +0.020');
  });

  it('claim 3 needs both MoE models below Shared-Bottom on average', () => {
    expect(checkClaims(cells({ ...paperLike, omoe: [0.3, 0.4, 0.5] }))[2].holds).toBe(false);
    expect(checkClaims(cells({ ...paperLike, sharedbottom: [0.1, 0.11, 0.12] }))[2].holds).toBe(false);
  });

  it('claims that a run cannot test are not checked (null), never silently true', () => {
    const one = checkClaims(cells({ sharedbottom: [0.2], omoe: [0.1], mmoe: [0.1] }, [0.5]));
    expect(one[0].holds).toBeNull();
    expect(one[1].holds).toBeNull();
    expect(one[2].holds).toBe(true);
    const noMmoe = checkClaims(cells({ sharedbottom: paperLike.sharedbottom, omoe: paperLike.omoe }));
    expect(noMmoe[1].holds).toBeNull();
    const onlyMoe = checkClaims(cells({ omoe: paperLike.omoe, mmoe: paperLike.mmoe }));
    expect(onlyMoe[2].holds).toBeNull();
    expect(formatClaims(onlyMoe)).toContain('[not checked]');
  });
});
