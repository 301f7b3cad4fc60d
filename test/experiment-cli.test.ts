// `webmtl experiment mmoe-synthetic` end to end at a tiny size: the built CLI on two worker threads,
// its table and claims, the JSON of every run's curve, the report; and --seeds as the old name of --runs.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, runCli } from './helpers/dist.js';

beforeAll(() => ensureDist(), 120_000);

describe('webmtl experiment mmoe-synthetic', () => {
  it('runs on worker threads and writes the curves, the claims and the report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webmtl-exp-'));
    const [json, report] = [join(dir, 'r.json'), join(dir, 'r.html')];
    const tiny = ['--rows', '64', '--eval-rows', '32', '--epochs', '1', '--batch-size', '16', '--curve-points', '2', '--device', 'cpu'];
    const r = runCli(['experiment', 'mmoe-synthetic', '--runs', '3', ...tiny, '--quiet', '--json', json, '--report', report], 120_000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('27 runs (3 correlations × 3 runs × 3 models) on 2 threads');
    expect(r.stdout).toContain('train loss, geo. mean [95% CI]');
    expect(r.stdout.match(/^ {2}\[(holds|does not hold|inconclusive|not checked)\]/gm)).toHaveLength(4);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { runs: { curve: number[] }[]; claims: unknown[]; contrasts: unknown[] };
    expect(out.runs).toHaveLength(27);
    for (const run of out.runs) expect(run.curve).toHaveLength(2);
    expect(out.claims).toHaveLength(4);
    expect(out.contrasts).toHaveLength(3 * 2 + 2);
    expect(readFileSync(report, 'utf8')).toContain('Trainability: the final loss over runs');
  });

  it('--seeds is the old name of --runs: alone it works, with --runs it is an error', () => {
    const both = runCli(['experiment', 'mmoe-synthetic', '--runs', '2', '--seeds', '2'], 60_000);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('--seeds is the old name of --runs');
    const help = runCli(['experiment', 'mmoe-synthetic', '--help'], 60_000);
    expect(help.stdout).toContain('--runs <n>');
    expect(help.stdout).toContain('--seeds is the old name');
  });
});
