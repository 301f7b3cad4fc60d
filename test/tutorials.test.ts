// Runs every example of examples/tutorials/ (the torch-rechub tutorials translated to webmtl) as a
// reader would, `node examples/tutorials/<file> --epochs 1`, against the built package (they import
// 'webmtl', which resolves to dist/node): each must exit 0 and print the metrics its tutorial section
// ends with, an AUC in [0, 1] for every task it trains. dist/ is built first when it is stale.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, repoRoot } from './helpers/dist.js';

const folder = join(repoRoot, 'examples/tutorials');

/** What each example must print besides exiting 0: the tasks it reports an AUC for, or other lines. */
interface Expectation {
  /** Task names with an AUC in [0, 1] (from util.inspect of a report, or "Task: x / AUC: y" lines). */
  aucs?: string[];
  /** Other lines the output must contain. */
  lines?: RegExp[];
}

const TASKS_000 = ['click', 'conversion'];
const ESMM = ['ctr', 'ctcvr', 'cvr'];
const EXPECTED: Record<string, Expectation> = {
  '000-data.mjs': { lines: [/train : val : test = 100 50 50/, /user features: 17, item features: 6, tasks: click, conversion/] },
  '000-shared-bottom.mjs': { aucs: TASKS_000 },
  '000-esmm.mjs': { aucs: ESMM },
  '000-mmoe.mjs': { aucs: TASKS_000 },
  '000-ple.mjs': { aucs: TASKS_000 },
  '000-gradnorm.mjs': { aucs: TASKS_000, lines: [/task weights after the last epoch: \{ click: [\d.e+-]+, conversion: [\d.e+-]+ \}/] },
  '000-metabalance.mjs': {
    aucs: TASKS_000,
    lines: [/gradient scale factors after the last epoch: \{ click: [\d.e+-]+, conversion: [\d.e+-]+ \}/],
  },
  '000-evaluate.mjs': { aucs: TASKS_000, lines: [/LogLoss: \d+\.\d{4}/] },
  '000-task-weights.mjs': { aucs: TASKS_000, lines: [/task weights: \{ click: 1, conversion: 0\.5 \}/] },
  '000-shared-task-layers.mjs': { lines: [/shared parameters: [1-9]\d* tensors/, /task-specific parameters: [1-9]\d* tensors/] },
  '000-task-specific-lr.mjs': { aucs: TASKS_000, lines: [/learning rates: \{ shared: 0\.001, \w+: 0\.001, \w+: 0\.0005 \}/] },
  '003-mmoe.mjs': {
    aucs: ['task0', 'task1'],
    lines: [
      /train : val : test = 100 50 50/,
      /sparse cols: 23 dense cols: 8/,
      /y_train shape: \[ 100, 2 \] y_val shape: \[ 50, 2 \] y_test shape: \[ 50, 2 \]/,
      /test auc:/,
    ],
  },
  '004-data.mjs': { lines: [/train : val : test = 100 50 50/] },
  '004-esmm.mjs': { aucs: ESMM, lines: [/sparse cols:24 dense cols:8/, /test auc:/] },
  '004-mmoe.mjs': { aucs: ['task0', 'task1'], lines: [/test auc:/] },
};

/** Task → AUC as the examples print them: util.inspect of a metrics report, or the tutorial's "Task: / AUC:" lines. */
function printedAucs(out: string): Map<string, number | null> {
  const found = new Map<string, number | null>();
  for (const m of out.matchAll(/(\w+): \{\s*type: 'classification',\s*auc: ([\d.e-]+|null)/g))
    found.set(m[1], m[2] === 'null' ? null : Number(m[2]));
  for (const m of out.matchAll(/Task: (\w+)\nAUC: ([\d.]+)/g)) found.set(m[1], Number(m[2]));
  return found;
}

const examples = readdirSync(folder)
  .filter((f) => f.endsWith('.mjs'))
  .sort();

describe('examples/tutorials', () => {
  beforeAll(ensureDist, 300_000); // builds dist/ when it is missing or older than src/

  it('has an expectation for every example, and an example for every expectation', () => {
    expect(examples).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(examples)('%s runs and prints its metrics', (file) => {
    const run = spawnSync(process.execPath, [join(folder, file), '--epochs', '1'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const out = run.stdout ?? '';
    const tail = `\n--- stdout ---\n${out.slice(-3000)}\n--- stderr ---\n${(run.stderr ?? '').slice(-3000)}`;
    expect(run.error, `node ${file} could not run: ${run.error?.message}${tail}`).toBeUndefined();
    expect(run.status, `node ${file} exited with ${run.status ?? run.signal}${tail}`).toBe(0);
    const want = EXPECTED[file] ?? {};
    const aucs = printedAucs(out);
    for (const task of want.aucs ?? []) {
      const auc = aucs.get(task);
      expect(
        typeof auc === 'number' && auc >= 0 && auc <= 1,
        `${file}: no AUC in [0, 1] printed for task '${task}' (found ${JSON.stringify([...aucs])})${tail}`,
      ).toBe(true);
    }
    for (const line of want.lines ?? []) expect(out, `${file}: expected ${line}${tail}`).toMatch(line);
  });
});
