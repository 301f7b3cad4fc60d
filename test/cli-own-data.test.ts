// Your own table from the command line, as the README walks through it: generate a census-shaped CSV of
// raw text, propose a schema, train on it with the schema file or inline --label lists, and the
// command-line mistakes around it (exit 2 with the fix).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema } from '../src/data/schema.js';
import { ensureDist, runCli } from './helpers/dist.js';

let dir: string;

const webmtl = (...args: string[]) => runCli(args);

function auc(stdout: string, task: string): number {
  const m = new RegExp(`${task}\\s+auc (\\d\\.\\d+)`).exec(stdout);
  if (!m) throw new Error(`no ${task} auc in:\n${stdout}`);
  return Number(m[1]);
}

beforeAll(() => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'webmtl-cli-own-'));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('webmtl gen-data --table census-raw → schema → train', () => {
  it('writes the table, proposes a schema with the labels, and trains a model that learns both tasks', () => {
    const gen = webmtl('gen-data', '--table', 'census-raw', '--rows', '20000', '--out', dir, '--seed', '4');
    expect(gen.status, gen.stderr).toBe(0);
    const csv = join(dir, 'census_raw.csv');
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toContain('class of worker');

    const schemaFile = join(dir, 'schema.json');
    const proposed = webmtl('schema', csv, '--label', 'income_50k,never_married', '--out', schemaFile);
    expect(proposed.status, proposed.stderr).toBe(0);
    expect(proposed.stdout).toMatch(/class of worker\s+sparse\s+string/);
    expect(proposed.stdout).toMatch(/age\s+dense\s+int/);
    const schema = parseSchema(JSON.parse(readFileSync(schemaFile, 'utf8')));
    expect(schema.columns.filter((c) => c.role === 'label').map((c) => c.name)).toEqual(['income_50k', 'never_married']);

    // Without --out the schema goes to stdout (the summary to stderr), ready for a redirect.
    const printed = webmtl('schema', csv, '--label', 'income_50k,never_married', '--sample-rows', '2000');
    expect(printed.status).toBe(0);
    expect(parseSchema(JSON.parse(printed.stdout)).columns).toHaveLength(schema.columns.length);
    expect(printed.stderr).toContain('roles proposed from the first 2000 rows');

    const run = webmtl(
      'train',
      '--data',
      csv,
      '--schema',
      schemaFile,
      '--model',
      'mmoe',
      '--epochs',
      '3',
      '--batch-size',
      '256',
      '--device',
      'wasm',
      '--quiet',
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/2 labels, 32 sparse, 7 dense, 0 sequence columns; in memory/);
    // The generator's oracle AUCs are about 0.93 and 0.98; three epochs on 16,000 rows get well above chance.
    expect(auc(run.stdout, 'income_50k')).toBeGreaterThan(0.8);
    expect(auc(run.stdout, 'never_married')).toBeGreaterThan(0.95);

    // Inline lists instead of a file, streamed through the on-disk cache: columns not named are ignored.
    const inline = webmtl(
      'train',
      ...[
        '--data',
        csv,
        '--label',
        'income_50k,never_married',
        '--sparse',
        'education,sex,class of worker',
        '--dense',
        'age,weeks worked in year',
      ],
      ...[
        '--storage',
        'disk',
        '--cache-dir',
        join(dir, 'cache'),
        '--model',
        'ple',
        '--epochs',
        '1',
        '--batch-size',
        '256',
        '--device',
        'cpu',
        '--quiet',
      ],
    );
    expect(inline.status, inline.stderr).toBe(0);
    expect(inline.stdout).toMatch(/2 labels, 3 sparse, 2 dense, 0 sequence columns; streamed from the on-disk cache$/m);
    expect(auc(inline.stdout, 'income_50k')).toBeGreaterThan(0.75);
    expect(auc(inline.stdout, 'never_married')).toBeGreaterThan(0.9);
  }, 300_000);
});

describe('command-line mistakes around your own table (exit 2, with the fix)', () => {
  it('a table that is not Ali-CCP and no schema: says how to describe it', () => {
    const csv = join(dir, 'mine.csv');
    writeFileSync(csv, 'user,item,clicked\nu1,i1,1\nu2,i2,0\n');
    const r = webmtl('train', '--data', csv);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('does not have the Ali-CCP columns');
    expect(r.stderr).toContain(`webmtl schema ${csv} --label`);
  });

  it('--schema and --label together, --val without a schema, a missing schema file, schema without a table', () => {
    expect(webmtl('train', '--data', 'x.csv', '--schema', 's.json', '--label', 'click').stderr).toContain('not both');
    const val = webmtl('train', '--val', 'v.csv');
    expect(val.status).toBe(2);
    expect(val.stderr).toContain('--val needs --schema or --label');
    const missing = webmtl('train', '--data', 'x.csv', '--schema', join(dir, 'nope.json'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('webmtl schema <data files> --out');
    const none = webmtl('schema');
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('give the table');
  });

  it('a label that is not a column: exit 1 with the closest name', () => {
    const csv = join(dir, 'census_raw.csv');
    const r = webmtl('train', '--data', csv, '--label', 'income50k', '--sparse', 'sex', '--quiet');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('income_50k');
  });
});
