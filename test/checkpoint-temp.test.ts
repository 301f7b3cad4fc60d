// Temporary files that a killed process left while writing a checkpoint
// (`.<checkpoint name>.<pid>.<random>.tmp`, next to the checkpoint) are removed by the next save of
// that checkpoint: those whose process is gone, this process's own leftovers, and any untouched for
// an hour. Files another live process may still be writing, and other checkpoints' temporaries, stay.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { Linear, Module } from '../src/nn/index.js';
import * as wm from '../src/tensor/index.js';

class Net extends Module {
  readonly fc = this.child('fc', new Linear(3, 2));
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  expect(r.pid).toBeGreaterThan(0);
  return r.pid!;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webmtl-temp-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('stale checkpoint temporaries', () => {
  it('the next save removes those of a killed process and keeps what may be in flight', async () => {
    const sub = await mkdtemp(join(dir, 'run-'));
    const file = join(sub, 'last.safetensors');
    wm.seed(1);
    await saveCheckpoint(file, new Net());

    const dead = deadPid();
    const live = process.ppid; // alive: the process that started this test worker
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    const files: Record<string, boolean> = {
      // name → removed?
      [`.last.safetensors.${dead}.k3j4h5g6.tmp`]: true, // its writer was killed
      [`.last.safetensors.${process.pid}.a1b2c3d4.tmp`]: true, // this process's, not being written
      [`.last.safetensors.${live}.old00000.tmp`]: true, // a live pid, but untouched for two hours
      [`.last.safetensors.${live}.fresh000.tmp`]: false, // another live process may be writing it
      [`.other.safetensors.${dead}.k3j4h5g6.tmp`]: false, // another checkpoint's
      '.last.safetensors.tmp': false, // not one of ours
      'notes.tmp': false,
      [`last.safetensors.${dead}.k3j4h5g6.tmp`]: false, // no leading dot: not one of ours
    };
    for (const name of Object.keys(files)) await writeFile(join(sub, name), 'partial bytes');
    await utimes(join(sub, `.last.safetensors.${live}.old00000.tmp`), hourAgo, hourAgo);

    wm.seed(2);
    const next = new Net();
    await saveCheckpoint(file, next);

    const left = (await readdir(sub)).sort();
    const expected = [
      'last.safetensors',
      ...Object.entries(files)
        .filter(([, removed]) => !removed)
        .map(([name]) => name),
    ].sort();
    expect(left).toEqual(expected);
    const back = new Net();
    await loadCheckpoint(file, back);
    expect(Array.from(back.fc.weight.dataSync())).toEqual(Array.from(next.fc.weight.dataSync()));
  });

  it('concurrent saves of one checkpoint in this process do not remove each other’s temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'concurrent-'));
    const file = join(sub, 'last.safetensors');
    const nets = [1, 2, 3, 4].map((s) => {
      wm.seed(s);
      return new Net();
    });
    await Promise.all(nets.map((m) => saveCheckpoint(file, m)));
    expect(await readdir(sub)).toEqual(['last.safetensors']);
    const back = new Net();
    await loadCheckpoint(file, back);
    const w = Array.from(back.fc.weight.dataSync());
    expect(nets.some((m) => Array.from(m.fc.weight.dataSync()).join() === w.join())).toBe(true);
  });
});
