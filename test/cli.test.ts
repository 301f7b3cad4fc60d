// The command line as a user meets it: the built dist/node/cli.js run in a child process, its output
// streams and exit status. 0 = done, 1 = failed while running, 2 = the command line is wrong.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDist, repoRoot, runCli } from './helpers/dist.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

const webmtl = (...args: string[]) => runCli(args, 60_000);

/** The section headers of every command's options in the full help. */
const SECTIONS = {
  train: 'train options:',
  schema: 'schema options:',
  'gen-data': 'gen-data options:',
  experiment: 'experiment mmoe-synthetic options:',
  walkthrough: 'walkthrough options:',
} as const;

beforeAll(() => ensureDist(), 120_000);

describe('webmtl --version', () => {
  it.each(['--version', '-v'])('%s prints the version in package.json', (flag) => {
    const r = webmtl(flag);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
    expect(r.stderr).toBe('');
  });
});

describe('help', () => {
  it('webmtl with no arguments prints the usage to stderr and exits 2', () => {
    const r = webmtl();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage:');
    for (const command of ['train', 'schema', 'gen-data', 'experiment mmoe-synthetic', 'walkthrough'])
      expect(r.stderr).toContain(`webmtl ${command}`);
    expect(r.stderr).toContain('webmtl <command> --help');
  });

  it('webmtl --help prints every command, model and balancing method to stdout', () => {
    const r = webmtl('--help');
    expect(r.status).toBe(0);
    for (const header of Object.values(SECTIONS)) expect(r.stdout).toContain(header);
    expect(r.stdout).toContain('models (--model):');
    expect(r.stdout).toContain('balancing methods (--balance');
  });

  it.each(Object.keys(SECTIONS) as (keyof typeof SECTIONS)[])('webmtl %s --help prints that command’s options only', (command) => {
    for (const args of [
      [command, '--help'],
      [command, '-h'],
      ['help', command],
    ]) {
      const r = webmtl(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`webmtl ${command}`);
      for (const [other, header] of Object.entries(SECTIONS)) {
        if (other === command) expect(r.stdout).toContain(header);
        else expect(r.stdout, `${args.join(' ')} shows ${other}'s options`).not.toContain(header);
      }
      expect(r.stdout.includes('models (--model):')).toBe(command === 'train');
    }
  });

  it('webmtl experiment mmoe-synthetic --help is the experiment’s help', () => {
    const r = webmtl('experiment', 'mmoe-synthetic', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(SECTIONS.experiment);
    expect(r.stdout).not.toContain(SECTIONS.train);
  });
});

describe('mistakes in the command line exit 2 with a suggestion and run nothing', () => {
  it('an unknown command', () => {
    const r = webmtl('trian');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'trian' (did you mean 'train'?)");
    expect(r.stdout).toBe('');
  });

  it('an unknown top-level option', () => {
    const r = webmtl('--verison');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("'--verison' (did you mean '--version'?)");
  });

  it.each([
    ['train', '--rowz', "'--rowz' (did you mean '--rows'?)"],
    ['train', '--batchsize', "'--batchsize' (did you mean '--batch-size'?)"],
    ['gen-data', '--row', "'--row' (did you mean '--rows'?)"],
    ['walkthrough', '--sed', "'--sed' (did you mean '--seed'?)"],
  ])('webmtl %s %s', (command, flag, hint) => {
    const r = webmtl(command, flag, '20');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`webmtl ${command}: unknown option ${hint}`);
    expect(r.stderr).toContain(`webmtl ${command} --help`);
    expect(r.stdout).toBe(''); // nothing was generated or trained
  });

  it('an unknown flag of the experiment', () => {
    const r = webmtl('experiment', 'mmoe-synthetic', '--seed', '3');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--seed' (did you mean '--seeds'?)");
    expect(r.stdout).toBe('');
  });

  it('an unknown experiment, a bad value, a missing value, a stray argument', () => {
    const cases: [string[], string][] = [
      [['experiment', 'mmoe'], "unknown experiment 'mmoe'"],
      [['train', '--epochs', 'two'], "--epochs must be a number, got 'two'"],
      [['train', '--model', 'mmoee'], "--model 'mmoee' (did you mean 'mmoe'?)"],
      [['train', '--rows'], "'--rows <value>' argument missing"],
      [['train', 'mmoe'], "Unexpected argument 'mmoe'"],
    ];
    for (const [args, message] of cases) {
      const r = webmtl(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stdout).toBe('');
    }
  });

  it('a failure while running exits 1, not 2', () => {
    const r = webmtl('train', '--data', join(repoRoot, 'no-such-folder'), '--quiet');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no such file or folder');
  });
});
