// A crash in the middle of writing a checkpoint over an existing one must leave the previous file
// readable, with its old values, under its name. The crash is simulated on node:fs/promises (the only
// file API the writer uses): once armed, the first write of checkpoint bytes (fs.writeFile, fs.appendFile,
// or write / writeFile / writev / appendFile on an opened file) puts half of its bytes on disk and then
// never returns, as if the process had been killed there; no cleanup code of the writer runs. The
// directory is then inspected as a restarted process would find it.
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { BatchNorm1d, Linear, Module } from '../src/nn/index.js';
import * as wm from '../src/tensor/index.js';

type Fs = typeof import('node:fs/promises');
type Handle = Awaited<ReturnType<Fs['open']>>;

/** What the mock does with writes: pass them through, freeze after half (a crash), or fail after half (ENOSPC). */
const io = vi.hoisted(() => ({
  mode: 'pass' as 'pass' | 'crash' | 'fail',
  /** Resolves when a write was cut short. */
  cut: null as null | { promise: Promise<string>; resolve: (path: string) => void },
  /** Handles opened through the mock (closed after each test: a crashed process holds them). */
  handles: [] as { close(): Promise<void> }[],
  /** open, write, sync and rename calls, in order, with resolved paths. */
  log: [] as { op: 'open' | 'write' | 'sync' | 'rename'; path: string; to?: string }[],
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<Fs>();
  const { resolve: abs } = await import('node:path');
  const half = (data: unknown): unknown => {
    if (typeof data === 'string') return data.slice(0, data.length >> 1);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength >> 1);
    return data;
  };
  /** Writes `partial`, then crashes (never settles) or fails, per io.mode; passes through otherwise. */
  async function write<T>(path: string, full: () => Promise<T>, partial: () => Promise<unknown>): Promise<T> {
    io.log.push({ op: 'write', path });
    if (io.mode === 'pass') return full();
    await partial();
    const mode = io.mode;
    io.mode = 'pass';
    io.cut?.resolve(path);
    if (mode === 'fail') throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return new Promise<T>(() => {});
  }
  function wrap(handle: Handle, path: string): Handle {
    io.handles.push(handle);
    return new Proxy(handle, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key === 'writeFile' || key === 'appendFile') {
          return (data: unknown, opts?: unknown) =>
            write(
              path,
              () => value.call(target, data, opts),
              () => value.call(target, half(data), opts),
            );
        }
        if (key === 'write') {
          return (data: unknown, ...rest: unknown[]) => {
            if (typeof data === 'string' || !ArrayBuffer.isView(data))
              return write(
                path,
                () => value.call(target, data, ...rest),
                () => value.call(target, half(data), ...rest),
              );
            const [offset = 0, length = data.byteLength - (offset as number), position = null] = rest as number[];
            return write(
              path,
              () => value.call(target, data, ...rest),
              () => value.call(target, data, offset, length >> 1, position),
            );
          };
        }
        if (key === 'writev') {
          return (buffers: Uint8Array[], position?: number) =>
            write(
              path,
              () => value.call(target, buffers, position),
              () =>
                value.call(
                  target,
                  buffers.slice(0, Math.max(1, buffers.length >> 1)).map((b) => half(b) as Uint8Array),
                  position,
                ),
            );
        }
        if (key === 'sync' || key === 'datasync') {
          return () => {
            io.log.push({ op: 'sync', path });
            return value.call(target);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }
  const mocked = {
    ...real,
    open: async (path: string, ...rest: unknown[]) => {
      io.log.push({ op: 'open', path: abs(String(path)) });
      return wrap(await (real.open as (...a: unknown[]) => Promise<Handle>)(path, ...rest), abs(String(path)));
    },
    writeFile: (path: unknown, data: unknown, opts?: unknown) =>
      typeof path === 'string' || path instanceof URL || Buffer.isBuffer(path)
        ? write(
            abs(String(path)),
            () => real.writeFile(path as string, data as string, opts as undefined),
            () => real.writeFile(path as string, half(data) as string, opts as undefined),
          )
        : real.writeFile(path as Handle, data as string, opts as undefined),
    appendFile: (path: unknown, data: unknown, opts?: unknown) =>
      write(
        abs(String(path)),
        () => real.appendFile(path as string, data as string, opts as undefined),
        () => real.appendFile(path as string, half(data) as string, opts as undefined),
      ),
    rename: async (from: string, to: string) => {
      io.log.push({ op: 'rename', path: abs(String(from)), to: abs(String(to)) });
      return real.rename(from, to);
    },
  };
  return { ...mocked, default: mocked };
});

// Imported after the mock is declared (vi.mock is hoisted); the tests read the disk through the real functions.
const fs = await vi.importActual<Fs>('node:fs/promises');

class Net extends Module {
  readonly fc: Linear;
  readonly bn: BatchNorm1d;
  constructor() {
    super();
    this.fc = this.child('fc', new Linear(24, 40));
    this.bn = this.child('bn', new BatchNorm1d(40));
  }
}

const net = (seed: number) => {
  wm.seed(seed);
  return new Net();
};
const values = (m: Module) => Object.fromEntries(Object.entries(m.stateDict()).map(([n, t]) => [n, Array.from(t.dataSync())]));

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await fs.mkdtemp(join(tmpdir(), 'webmtl-crash-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  io.mode = 'pass';
  io.cut = null;
  io.log.length = 0;
  await Promise.all(io.handles.splice(0).map((h) => h.close().catch(() => {})));
});

/** A checkpoint of net(1) at `file` (a fresh subdirectory), its bytes, and net(2), whose values differ everywhere. */
async function existing() {
  const sub = join(dir, `case-${n++}`);
  const file = join(sub, 'last.safetensors');
  await fs.mkdir(sub);
  const old = net(1);
  await saveCheckpoint(file, old);
  const oldBytes = await fs.readFile(file);
  const next = net(2);
  expect(values(next)['fc.weight']).not.toEqual(values(old)['fc.weight']);
  return { sub, file, old, oldBytes, next };
}

function arm(mode: 'crash' | 'fail'): Promise<string> {
  io.mode = mode;
  let resolveCut!: (path: string) => void;
  const promise = new Promise<string>((r) => (resolveCut = r));
  io.cut = { promise, resolve: resolveCut };
  return promise;
}

/** Loads `file` into a fresh module and returns its values. */
async function load(file: string) {
  const into = net(3);
  await loadCheckpoint(file, into);
  return values(into);
}

describe('a crash while a checkpoint is written over an existing one', () => {
  it('leaves the previous checkpoint, byte for byte, under its name; the partial bytes are elsewhere', async () => {
    const { sub, file, old, oldBytes, next } = await existing();
    const cut = arm('crash');
    const saving = saveCheckpoint(file, next);
    saving.catch(() => {});
    const partialPath = await Promise.race([cut, saving.then(() => 'finished')]);
    expect(partialPath, 'the write was cut short').not.toBe('finished');

    // What a restarted process finds:
    expect(Buffer.compare(await fs.readFile(file), oldBytes), 'the file under the final name is the old one').toBe(0);
    expect(await load(file)).toEqual(values(old));
    expect(resolve(partialPath)).not.toBe(resolve(file));
    expect(dirname(resolve(partialPath)), 'the temporary file is in the same directory (rename is atomic only within a file system)').toBe(
      resolve(sub),
    );
    const partial = await fs.stat(partialPath);
    expect(partial.size).toBeGreaterThan(0);
    expect(partial.size).toBeLessThan(oldBytes.length);
  });

  it('a write that fails half way (disk full) rejects, keeps the old file, and leaves no temporary file', async () => {
    const { sub, file, old, oldBytes, next } = await existing();
    const cut = arm('fail');
    const error = await saveCheckpoint(file, next).then(
      () => null,
      (e: unknown) => e,
    );
    await cut;
    expect(Buffer.compare(await fs.readFile(file), oldBytes), 'the file under the final name is the old one').toBe(0);
    expect(await load(file)).toEqual(values(old));
    expect(await fs.readdir(sub), 'the partial temporary file was removed').toEqual(['last.safetensors']);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Cannot save checkpoint to '.*last\.safetensors': no space left on the device \(ENOSPC\)/);
  });

  it('without a crash the new checkpoint replaces the old one; its bytes were flushed before it took the name', async () => {
    const { sub, file, next } = await existing();
    io.log.length = 0;
    await saveCheckpoint(file, next);
    expect(await load(file)).toEqual(values(next));
    expect(await fs.readdir(sub)).toEqual(['last.safetensors']);

    const target = resolve(file);
    const writes = io.log.filter((e) => e.op === 'write');
    expect(writes.length).toBeGreaterThan(0);
    expect(
      writes.every((e) => e.path !== target),
      'nothing is written to the final name directly',
    ).toBe(true);
    const renameAt = io.log.findIndex((e) => e.op === 'rename' && e.to === target);
    expect(renameAt, 'the file takes its name by rename').toBeGreaterThan(-1);
    const tmp = io.log[renameAt].path;
    expect(dirname(tmp)).toBe(resolve(sub));
    const lastWrite = io.log.reduce((last, e, i) => (i < renameAt && e.op === 'write' && e.path === tmp ? i : last), -1);
    expect(lastWrite, 'the bytes went to the temporary file').toBeGreaterThan(-1);
    const syncAt = io.log.findIndex((e, i) => i > lastWrite && i < renameAt && e.op === 'sync' && e.path === tmp);
    expect(syncAt, 'fsync of the temporary file after its last write and before the rename').toBeGreaterThan(-1);
  });
});
