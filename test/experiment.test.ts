// The MMoE synthetic experiment: the paper's sizes with a Shared-Bottom of matched size; the statistics
// (t intervals, paired differences, quantiles, histogram bins, the bootstrap) on hand-computed inputs;
// checkClaims on made-up runs whose answer is known (including effects that only pairing reveals, and
// effects on the wrong side); and a tiny run end to end (deterministic, order-independent).
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/cpu-backend.js';
import {
  bootstrapInterval,
  budgetPoints,
  buildModel,
  checkClaims,
  claimVerdict,
  collectResult,
  curveArea,
  type ExperimentModel,
  experimentJobs,
  experimentSettings,
  formatClaims,
  formatPercent,
  formatTable,
  histogram,
  intervalSide,
  matchedBottomUnits,
  meanInterval,
  pairedDifferences,
  quantile,
  type RunResult,
  runExperimentJob,
  runMmoeSynthetic,
  spreadOf,
  std,
  tQuantile975,
} from '../src/experiments/mmoe-synthetic.js';
import { MMoE, OMoE, SharedBottom } from '../src/models/index.js';
import { setBackend } from '../src/tensor/engine.js';

beforeAll(() => setBackend(new CpuBackend()));

describe('model sizes and settings', () => {
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
    const target = mmoe.numParameters();
    const gap = (w: number) => Math.abs(buildModel('sharedbottom', 100, w).numParameters() - target);
    expect(gap(h)).toBeLessThanOrEqual(gap(h - 1));
    expect(gap(h)).toBeLessThanOrEqual(gap(h + 1));
    expect(gap(h) / target).toBeLessThan(0.01);
    expect(h).toBe(127);
    expect(experimentSettings().parameters).toEqual({ sharedbottom: sb.numParameters(), omoe: omoe.numParameters(), mmoe: target });
  });

  it('derives the step budget and the curve grid', () => {
    // 100 rows of batch 32: three full batches and a tail of 4 rows, so 4 steps an epoch.
    const a = experimentSettings({ rows: 100, batchSize: 32, epochs: 5, curvePoints: 40, dim: 4 });
    expect([a.stepsPerEpoch, a.steps, a.curveEvery]).toEqual([4, 20, 1]);
    expect(a.curveSteps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(a.claimPoint).toBe(0); // the default reads the whole curve
    expect(experimentSettings({ rows: 100, batchSize: 32, epochs: 5, claimFrom: 0.5, dim: 4 }).claimPoint).toBe(10);
    // A tail of one row is skipped (BatchNorm needs two): 65 rows of 32 give 2 steps.
    const b = experimentSettings({ rows: 65, batchSize: 32, epochs: 10, curvePoints: 6, claimFrom: 0, dim: 4 });
    expect([b.stepsPerEpoch, b.steps, b.curveEvery]).toEqual([2, 20, 3]);
    expect(b.curveSteps).toEqual([3, 6, 9, 12, 15, 18]);
    expect(b.claimPoint).toBe(0);
    expect(budgetPoints(40)).toEqual([9, 19, 39]);
    expect(budgetPoints(2)).toEqual([0, 1]);
  });

  it('takes runs, or seeds as its old name, and rejects bad settings with the option named', () => {
    expect(experimentSettings({ seeds: 4, dim: 4 }).runs).toBe(4);
    expect(experimentSettings({ runs: 4, seeds: 4, dim: 4 }).runs).toBe(4);
    expect(() => experimentSettings({ runs: 3, seeds: 4 })).toThrow(/seeds is the old name of runs/);
    expect(() => experimentSettings({ runs: 0 })).toThrow(/runs must be a positive integer/);
    expect(() => experimentSettings({ claimFrom: 1 })).toThrow(/claimFrom must be a fraction/);
    expect(() => experimentSettings({ correlations: [] })).toThrow(/at least one correlation/);
    expect(() => experimentSettings({ correlations: [1.5] })).toThrow(/\[-1, 1\]/);
    expect(() => experimentSettings({ models: ['ple' as ExperimentModel] })).toThrow(/unknown model 'ple'/);
    // A misspelt option is an error, not a long run with the defaults.
    expect(() => experimentSettings({ run: 3 } as never)).toThrow(/unknown option 'run' \(did you mean 'runs'\?\)/);
  });
});

describe('statistics', () => {
  it('t quantiles: the table, then the expansion close to the normal', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(10)).toBe(2.228);
    expect(tQuantile975(29)).toBe(2.045);
    expect(tQuantile975(40)).toBeCloseTo(2.021, 3);
    expect(tQuantile975(120)).toBeCloseTo(1.98, 3);
    expect(tQuantile975(1e6)).toBeCloseTo(1.96, 3);
    expect(tQuantile975(0)).toBeNaN();
  });

  it('a mean with its t interval, computed by hand', () => {
    // mean 3, sample std √2.5, half-width 2.776·√2.5/√5 = 1.9629.
    const iv = meanInterval([1, 2, 3, 4, 5]);
    expect(iv.estimate).toBe(3);
    expect(iv.lo).toBeCloseTo(1.0371, 4);
    expect(iv.hi).toBeCloseTo(4.9629, 4);
    expect(iv.n).toBe(5);
    expect(std([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 12);
    const one = meanInterval([7]);
    expect([one.estimate, one.lo, one.hi]).toEqual([7, NaN, NaN]);
  });

  it('paired differences remove what both members of a pair share', () => {
    // Run-to-run offsets of ±10 swamp a +1 effect between groups, but not the pairwise differences.
    const base = [10, -10, 5, -5, 0];
    const a = base.map((v, i) => v + 1 + [0.1, -0.1, 0.2, -0.2, 0][i]);
    const unpaired = meanInterval(a);
    expect(unpaired.lo).toBeLessThan(0);
    const d = meanInterval(pairedDifferences(a, base));
    expect(d.estimate).toBeCloseTo(1, 12);
    expect(d.lo).toBeGreaterThan(0.7);
    expect(intervalSide(d)).toBe('above');
    expect(intervalSide(meanInterval(pairedDifferences(base, a)))).toBe('below');
    expect(intervalSide(meanInterval([-1, 1, -2, 2]))).toBe('spans');
    expect(() => pairedDifferences([1, 2], [1])).toThrow(/aligned/);
  });

  it('quantiles (type 7), spreads and histogram bins', () => {
    expect(quantile([4, 1, 3, 2], 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2], 0.9)).toBeCloseTo(3.7, 12);
    expect(quantile([5], 0.1)).toBe(5);
    const sp = spreadOf([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sp.iqr).toBeCloseTo(4.5, 12); // 7.75 − 3.25
    expect(sp.p10).toBeCloseTo(1.9, 12);
    expect(sp.p90).toBeCloseTo(9.1, 12);
    expect([sp.min, sp.max]).toEqual([1, 10]);
    // [0, .25) [.25, .5) [.5, .75) [.75, 1]: the upper edge falls in the last bin, outside values are dropped.
    const h = histogram([0, 0.1, 0.5, 0.99, 1, 1.5, -0.1, 0.25], 4, 0, 1);
    expect(h.counts).toEqual([2, 1, 1, 2]);
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('the bootstrap: seeded, exact for a constant statistic, brackets the estimate', () => {
    const xs = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const stat = (idx: number[]) => idx.reduce((s, i) => s + xs[i], 0) / idx.length;
    const a = bootstrapInterval(xs.length, stat, { seed: 3 });
    expect(a).toEqual(bootstrapInterval(xs.length, stat, { seed: 3 }));
    expect(a.estimate).toBeCloseTo(3.9, 12);
    expect(a.lo).toBeLessThan(3.9);
    expect(a.hi).toBeGreaterThan(3.9);
    // About the t interval's width (the mean is close to normal here).
    const t = meanInterval(xs);
    expect(a.hi - a.lo).toBeGreaterThan(0.6 * (t.hi - t.lo));
    expect(a.hi - a.lo).toBeLessThan(1.2 * (t.hi - t.lo));
    const flat = bootstrapInterval(5, () => 2);
    expect([flat.lo, flat.hi]).toEqual([2, 2]);
  });

  it('the curve area is the mean log loss; differences read as percent', () => {
    expect(curveArea({ curve: [1, Math.E, Math.E ** 2] })).toBeCloseTo(1, 12);
    expect(curveArea({ curve: [100, 1, Math.E] }, 1)).toBeCloseTo(0.5, 12);
    expect(formatPercent({ estimate: Math.log(1.1), lo: Math.log(1.05), hi: Math.log(1.2), n: 5 })).toBe('+10.0% [+5.0%, +20.0%]');
    expect(formatPercent({ estimate: Math.log(0.9), lo: NaN, hi: NaN, n: 1 })).toBe('-10.0% [–, –]');
  });
});

/**
 * Made-up runs: the curve of (model, ρ, seed) is flat at exp(level(model, ρ) + draw(seed) + jitter), so
 * its log-area is known. `draw` is a large per-seed difficulty shared by every model and ρ (what
 * pairing removes); the test loss is `test(model, seed)`.
 */
function fakeRuns(
  level: (m: ExperimentModel, rho: number) => number,
  opts: {
    runs?: number;
    test?: (m: ExperimentModel, seed: number, rho: number) => number;
    models?: ExperimentModel[];
    rhos?: number[];
  } = {},
): RunResult[] {
  const runs: RunResult[] = [];
  const n = opts.runs ?? 12;
  for (const rho of opts.rhos ?? [1, 0.9, 0.5])
    for (let seed = 1; seed <= n; seed++)
      for (const model of opts.models ?? ['sharedbottom', 'omoe', 'mmoe']) {
        const draw = 0.8 * Math.sin(seed * 2.1); // ±0.8: much larger than the effects below
        const jitter = 0.004 * Math.sin(seed * 7.3 + rho * 3 + model.length);
        const v = Math.exp(level(model, rho) + draw + jitter);
        runs.push({
          model,
          correlation: rho,
          seed,
          parameters: 1,
          testLoss: opts.test ? opts.test(model, seed, rho) : v,
          taskLoss: [v, v],
          curve: [v, v],
          seconds: 0,
        });
      }
  return runs;
}

// log-levels shaped like the paper: lower at higher ρ, MMoE rising least, Shared-Bottom highest.
const RISE: Record<ExperimentModel, number> = { sharedbottom: 0.1, omoe: 0.07, mmoe: 0.02 };
const BASE: Record<ExperimentModel, number> = { sharedbottom: -1.5, omoe: -1.6, mmoe: -1.62 };
const paperLike = (m: ExperimentModel, rho: number) => BASE[m] + RISE[m] * (1 - rho) * 2;
// Shared-Bottom's test loss spreads three times as wide as the others' (a seed-wise pattern with mean 0.3).
const spreadTest = (m: ExperimentModel, seed: number) => 0.3 + (m === 'sharedbottom' ? 0.15 : 0.05) * Math.sin(seed * 1.7);

describe('checkClaims on runs whose answer is known', () => {
  it('every claim holds on paired runs shaped like the paper’s, though unpaired intervals overlap', () => {
    const runs = fakeRuns(paperLike, { test: spreadTest });
    const claims = checkClaims({ runs });
    expect(claims.map(claimVerdict)).toEqual(['holds', 'holds', 'holds', 'holds']);
    // Shared-Bottom rises by exp(0.1) − 1 = +10.5% from ρ=1 to 0.5 (0.02 + 0.08 over the two steps).
    expect(claims[1].detail).toContain('Shared-Bottom +10.5%');
    expect(claims[1].detail).toContain('MMoE +2.0%');
    expect(claims[3].detail).toMatch(/std Shared-Bottom \/ std OMoE 3\.00×/);
    // The same comparison unpaired: the per-draw difficulty (±0.8 in log) swamps the 0.02 effect.
    const areas = (m: ExperimentModel, rho: number) => runs.filter((r) => r.model === m && r.correlation === rho).map((r) => curveArea(r));
    const iv1 = meanInterval(areas('mmoe', 0.9));
    const iv2 = meanInterval(areas('mmoe', 1));
    expect(iv1.lo).toBeLessThan(iv2.hi);
  });

  it('a rise on the wrong side fails claim 1 and says where', () => {
    const claims = checkClaims({ runs: fakeRuns((m, rho) => paperLike(m, rho) + (m === 'omoe' && rho === 0.5 ? -0.2 : 0)) });
    expect(claims[0].holds).toBe(false);
    expect(claims[0].detail).toContain('Interval on the wrong side: OMoE ρ 0.9→0.5');
  });

  it('no effect at all, with run noise, is inconclusive: not a pass, not a fail', () => {
    const runs = fakeRuns(() => -1.5).map((r) => {
      const wobble = 0.05 * Math.sin(r.seed * 3.7 + r.correlation * 11 + r.model.length * 5);
      return { ...r, curve: r.curve.map((v) => v * Math.exp(wobble)) };
    });
    const claims = checkClaims({ runs });
    expect(claims.slice(0, 3).map(claimVerdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(claims[0].inconclusive).toBe(true);
    expect(claims[0].detail).toContain('Interval spans 0');
    // The same test losses for every model: the ratio of spreads is exactly 1, the interval spans 1.
    expect(claims[3].detail).toContain('1.00×');
    expect(claimVerdict(claims[3])).toBe('inconclusive');
  });

  it('claim 2 fails when another model rises less than MMoE; claim 3 fails when Shared-Bottom is lower', () => {
    const flip = (m: ExperimentModel, rho: number) => (m === 'mmoe' ? paperLike('sharedbottom', rho) + 0.2 : paperLike(m, rho));
    const claims = checkClaims({ runs: fakeRuns(flip) });
    expect(claims[1].holds).toBe(false);
    // MMoE now rises as Shared-Bottom does (+10.5%), OMoE less (+7.3%): OMoE's comparison is on the wrong side.
    expect(claims[1].detail).toContain('Interval on the wrong side: OMoE vs MMoE');
    expect(claims[2].holds).toBe(false);
    expect(claims[2].detail).toContain('Shared-Bottom vs MMoE');
  });

  it('claim 4 fails when a MoE model spreads wider than Shared-Bottom', () => {
    const test = (m: ExperimentModel, seed: number, rho: number) => spreadTest(m === 'mmoe' ? 'sharedbottom' : 'omoe', seed + rho);
    expect(checkClaims({ runs: fakeRuns(paperLike, { test }) })[3].holds).toBe(false);
  });

  it('tests the claims on the late part of the curve when told to', () => {
    // The early half says the opposite of the late half; only the late half (claimPoint 2 of 4) counts.
    const runs = fakeRuns(paperLike).map((r) => ({ ...r, curve: [1 / r.curve[0], 1 / r.curve[0], r.curve[0], r.curve[0]] }));
    expect(checkClaims({ runs })[0].holds).toBe(null); // the halves cancel exactly: no effect over the whole curve
    const late = checkClaims({ runs, settings: { claimPoint: 2, curveSteps: [10, 20, 30, 40] } });
    expect(late[0].holds).toBe(true);
    expect(late[0].detail).toContain('from step 20 on');
  });

  it('claims that the runs cannot test are not checked (null), never silently true', () => {
    const one = checkClaims({ runs: fakeRuns(paperLike, { rhos: [0.5] }) });
    expect(one[0].holds).toBeNull();
    expect(one[0].inconclusive).toBeUndefined();
    expect(one[2].holds).toBe(true);
    const noMmoe = checkClaims({ runs: fakeRuns(paperLike, { models: ['sharedbottom', 'omoe'] }) });
    expect(noMmoe[1].holds).toBeNull();
    const onlyMoe = checkClaims({ runs: fakeRuns(paperLike, { models: ['omoe', 'mmoe'] }) });
    expect(onlyMoe[2].holds).toBeNull();
    expect(onlyMoe[3].holds).toBeNull();
    expect(formatClaims(onlyMoe)).toContain('[not checked]');
    const two = checkClaims({ runs: fakeRuns(paperLike, { runs: 2 }) });
    expect(two[3].detail).toContain('needs three or more runs');
  });
});

describe('runMmoeSynthetic at a tiny size', () => {
  const tiny = { runs: 3, rows: 64, evalRows: 32, dim: 6, epochs: 2, batchSize: 16, curvePoints: 4, claimFrom: 0.5 };

  it('records each run’s training-loss curve on the step grid, and summarises each cell', async () => {
    const seen: string[] = [];
    const result = await runMmoeSynthetic({ ...tiny, onRun: (r, done, total) => seen.push(`${done}/${total} ${r.model}`) });
    const s = result.settings;
    expect([s.steps, s.curveEvery, s.curveSteps, s.claimPoint]).toEqual([8, 2, [2, 4, 6, 8], 2]);
    expect(result.runs).toHaveLength(3 * 3 * 3);
    expect(seen[seen.length - 1]).toBe('27/27 mmoe');
    expect(result.cells).toHaveLength(9);
    for (const r of result.runs) {
      expect(r.curve).toHaveLength(4);
      for (const v of r.curve) expect(v).toBeGreaterThan(0);
      expect(r.testLoss).toBeCloseTo((r.taskLoss[0] + r.taskLoss[1]) / 2, 10);
      expect(r.gradients?.tasks).toEqual(['y1', 'y2']);
    }
    for (const c of result.cells) {
      const rs = result.runs.filter((r) => r.model === c.model && r.correlation === c.correlation);
      expect(c.n).toBe(3);
      expect(c.curve.mean[1]).toBeCloseTo((rs[0].curve[1] + rs[1].curve[1] + rs[2].curve[1]) / 3, 10);
      expect(c.curve.lo[1]).toBeLessThan(c.curve.mean[1]);
      expect(Math.log(c.area.estimate)).toBeCloseTo((curveArea(rs[0]) + curveArea(rs[1]) + curveArea(rs[2])) / 3, 10);
      expect(Math.log(c.lateArea.estimate)).toBeCloseTo(rs.reduce((a, r) => a + curveArea(r, 2), 0) / 3, 10);
      expect(c.spread.std).toBeCloseTo(std(rs.map((r) => r.testLoss)), 12);
    }
    const table = formatTable(result);
    for (const label of ['Shared-Bottom', 'OMoE', 'MMoE', '0.9', '@4', '@8', 'from step 4']) expect(table).toContain(label);
    expect(table).not.toMatch(/NaN/);
    const claims = checkClaims(result);
    expect(claims).toHaveLength(4);
    expect(formatClaims(claims)).toMatch(/\[(holds|does not hold|inconclusive)\]/);
  });

  it('gives the same run for the same job in any order (workers rely on it), and pairs models on one draw', async () => {
    const settings = experimentSettings({ ...tiny, runs: 1, correlations: [0.5] });
    const jobs = experimentJobs(settings);
    const forward = [];
    for (const job of jobs) forward.push(await runExperimentJob(settings, job, { inspect: false }));
    const backward = [];
    for (const job of [...jobs].reverse()) backward.push(await runExperimentJob(settings, job, { inspect: false }));
    const a = collectResult(settings, forward, 0);
    const b = collectResult(settings, backward, 0);
    expect(b.runs.map((r) => r.model)).toEqual(['sharedbottom', 'omoe', 'mmoe']);
    expect(b.runs.map((r) => r.curve)).toEqual(a.runs.map((r) => r.curve));
    expect(b.runs.map((r) => r.testLoss)).toEqual(a.runs.map((r) => r.testLoss));
    expect(b.cells).toEqual(a.cells);
  });
});
