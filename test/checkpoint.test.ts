import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWritable, loadCheckpoint, saveCheckpoint } from '../src/io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { BatchNorm1d, Linear, Module } from '../src/nn/index.js';
import { Adam, SGD, StepLR } from '../src/optim/index.js';
import * as wm from '../src/tensor/index.js';

class Tiny extends Module {
  readonly fc: Linear;
  readonly bn: BatchNorm1d;
  constructor(inDim = 3, hidden = 4) {
    super();
    this.fc = this.child('fc', new Linear(inDim, hidden));
    this.bn = this.child('bn', new BatchNorm1d(hidden));
  }
  forward(x: wm.Tensor): wm.Tensor {
    return this.bn.forward(this.fc.forward(x));
  }
}

async function snapshot(m: Module): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(m.stateDict())) out[name] = Array.from(await t.data());
  return out;
}

/** One training step so parameters, running statistics and optimizer state are all non-trivial. */
function trainStep(m: Tiny, opt: Adam): void {
  wm.tidy(() => {
    opt.zeroGrad();
    const x = wm.tensor([
      [1, 2, 3],
      [0, -1, 2],
      [4, 0, 1],
    ]);
    wm.sum(wm.square(m.forward(x))).backward();
    opt.step();
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webmtl-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safetensors encoding', () => {
  it('matches a hand-built buffer byte for byte', () => {
    const bytes = encodeSafetensors({
      wt: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
      ids: { dtype: 'I32', shape: [1, 1], data: new Int32Array([7]) },
    });
    const json = '{"wt":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"ids":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]}}';
    expect(json.length % 8).not.toBe(0); // so the padding is exercised
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    const expected = new Uint8Array(8 + padded.length + 12);
    const view = new DataView(expected.buffer);
    view.setUint32(0, padded.length, true); // u64 little-endian: the high word stays 0
    expected.set(new TextEncoder().encode(padded), 8);
    const d = 8 + padded.length;
    view.setFloat32(d, 1, true);
    view.setFloat32(d + 4, -2, true);
    view.setInt32(d + 8, 7, true);
    expect(Array.from(bytes)).toEqual(Array.from(expected));
    expect((8 + padded.length) % 8).toBe(0);
    expect(bytes[8 + json.length]).toBe(0x20);
  });

  it('round-trips tensors and metadata (including scalars and empty tensors)', () => {
    const tensors = {
      a: { dtype: 'F32' as const, shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) },
      s: { dtype: 'F32' as const, shape: [], data: Float32Array.from([Math.PI]) },
      e: { dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) },
      i: { dtype: 'I32' as const, shape: [3], data: Int32Array.from([-1, 0, 2 ** 31 - 1]) },
    };
    const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, { epoch: '3', note: 'é ✓' }));
    expect(metadata).toEqual({ epoch: '3', note: 'é ✓' });
    expect(Object.keys(back).sort()).toEqual(['a', 'e', 'i', 's']);
    for (const [k, t] of Object.entries(tensors)) {
      expect(back[k].dtype).toBe(t.dtype);
      expect(back[k].shape).toEqual(t.shape);
      expect(Array.from(back[k].data)).toEqual(Array.from(t.data));
    }
  });

  it('decodes from an unaligned view of a larger buffer', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    expect(Array.from(decodeSafetensors(big.subarray(3)).tensors.x.data)).toEqual([1, 2, 3]);
  });

  it('rejects bad input when encoding', () => {
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array(3) } })).toThrow(
      /shape \[2\] \(2 elements\) but 3 values/,
    );
    expect(() => encodeSafetensors({ x: { dtype: 'I32', shape: [1], data: new Float32Array(1) } })).toThrow(
      /is I32 but its data is a Float32Array/,
    );
    expect(() => encodeSafetensors({}, { n: 3 as unknown as string })).toThrow(/must be a string/);
  });
});

/** A valid file whose header JSON is replaced (keeping the header length field consistent). */
function withHeader(header: unknown, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors decoding rejects corrupt files', () => {
  const good = encodeSafetensors({
    a: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
    b: { dtype: 'F32', shape: [1], data: Float32Array.from([3]) },
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /fewer than the 8-byte header length/],
    ['truncated data', good.subarray(0, good.length - 4), /beyond the 8 data bytes/],
    ['truncated header', good.subarray(0, 20), /header length says \d+ bytes but only 12 follow/],
    [
      'huge header length',
      (() => {
        const b = good.slice();
        new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
        return b;
      })(),
      /header length says/,
    ],
    ['bad JSON', withHeader('{"a": {', 0), /not valid JSON/],
    ['not an object', withHeader('[1,2]', 0), /not a JSON object/],
    ['offsets out of range', withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /beyond the 4 data bytes/],
    [
      'size does not match shape',
      withHeader({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8),
      /\(12 bytes\) but data_offsets \[0, 8\] span 8 bytes/,
    ],
    [
      'overlap',
      withHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
      /overlaps/,
    ],
    ['gap', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /gap of 4 bytes/],
    ['trailing bytes', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8), /4 bytes after the last tensor/],
    ['negative offsets', withHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 4), /invalid data_offsets/],
    ['begin after end', withHeader({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /begin after end/],
    ['bad shape', withHeader({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), /invalid shape/],
    ['metadata not strings', withHeader({ __metadata__: { a: 1 } }, 0), /__metadata__ 'a' is not a string/],
    ['bad UTF-8', withHeader('{"a\xff":1}'.replace('\xff', '\u00ff'), 0).map((x, i) => (i === 11 ? 0xff : x)), /not valid UTF-8/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      expect(() => decodeSafetensors(bytes, "'model.safetensors'")).toThrow(/^checkpoint 'model.safetensors' is corrupt: /);
      expect(() => decodeSafetensors(bytes, "'model.safetensors'")).toThrow(message);
    });
  }

  it('unknown dtypes are named', () => {
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] } }, 4))).toThrow(
      /dtype 'BF16', which webmtl cannot read \(only F32, I32 and I64\)/,
    );
    expect(() => decodeSafetensors(withHeader({ a: { dtype: 'toString', shape: [2], data_offsets: [0, 8] } }, 8))).toThrow(
      /dtype 'toString'/,
    );
  });
});

describe('checkpoint files', () => {
  it('round-trips a module, its optimizer and scheduler', async () => {
    wm.seed(11);
    const m = new Tiny();
    const opt = new Adam(m.parameters(), { lr: 0.01 });
    const sched = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
    trainStep(m, opt);
    sched.step();
    const file = join(dir, 'nested', 'deeper', 'run.safetensors');
    await saveCheckpoint(file, m, { metadata: { epoch: '1' }, optimizer: opt, scheduler: sched });

    wm.seed(99);
    const m2 = new Tiny();
    const opt2 = new Adam(m2.parameters(), { lr: 0.01 });
    const sched2 = new StepLR(opt2, { stepSize: 1, gamma: 0.5 });
    expect(await snapshot(m2)).not.toEqual(await snapshot(m));
    const info = await loadCheckpoint(file, m2, { optimizer: opt2, scheduler: sched2 });
    expect(info).toEqual({ metadata: { epoch: '1' }, hasOptimizerState: true, hasSchedulerState: true, hasStrategyState: false });
    expect(await snapshot(m2)).toEqual(await snapshot(m));
    expect(opt2.paramGroups[0].lr).toBe(0.005);
    expect(sched2.lastEpoch).toBe(1);

    // Both continue identically.
    trainStep(m, opt);
    trainStep(m2, opt2);
    expect(await snapshot(m2)).toEqual(await snapshot(m));

    // The file holds the module's names, as torch-style dotted paths.
    const names = Object.keys(decodeSafetensors(await readFile(file)).tensors);
    expect(names).toEqual(expect.arrayContaining(['fc.weight', 'fc.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var']));
  });

  it('a module-only checkpoint loads without an optimizer, and refuses to restore one it lacks', async () => {
    const m = new Tiny();
    const file = join(dir, 'weights.safetensors');
    await saveCheckpoint(file, m);
    const m2 = new Tiny();
    expect(await loadCheckpoint(file, m2)).toEqual({
      metadata: {},
      hasOptimizerState: false,
      hasSchedulerState: false,
      hasStrategyState: false,
    });
    const m3 = new Tiny();
    const before = await snapshot(m3);
    await expect(loadCheckpoint(file, m3, { optimizer: new SGD(m3.parameters()) })).rejects.toThrow(/has no optimizer state/);
    expect(await snapshot(m3)).toEqual(before);
  });

  it('leaves no temporary files behind and overwrites atomically', async () => {
    const sub = join(dir, 'atomic');
    const m = new Tiny();
    await saveCheckpoint(join(sub, 'a.safetensors'), m);
    await saveCheckpoint(join(sub, 'a.safetensors'), m, { metadata: { v: '2' } });
    expect(await readdir(sub)).toEqual(['a.safetensors']);
    expect((await loadCheckpoint(join(sub, 'a.safetensors'), new Tiny())).metadata).toEqual({ v: '2' });
  });

  it('a file that does not match the model names what differs and changes nothing', async () => {
    const file = join(dir, 'other.safetensors');
    await saveCheckpoint(file, new Tiny(3, 5));
    const m = new Tiny(3, 4);
    const before = await snapshot(m);
    await expect(loadCheckpoint(file, m)).rejects.toThrow(/'fc\.weight': expected \[3, 4\], got \[3, 5\]/);
    expect(await snapshot(m)).toEqual(before);

    // An optimizer that does not fit is found before the module is touched.
    const fileOpt = join(dir, 'with-opt.safetensors');
    const src = new Tiny();
    const srcOpt = new Adam(src.parameters());
    trainStep(src, srcOpt);
    await saveCheckpoint(fileOpt, src, { optimizer: srcOpt });
    const m2 = new Tiny();
    const before2 = await snapshot(m2);
    await expect(loadCheckpoint(fileOpt, m2, { optimizer: new SGD(m2.parameters()) })).rejects.toThrow(/saved by Adam, this is SGD/);
    expect(await snapshot(m2)).toEqual(before2);
  });

  it('corrupt files: a clear error and the module unchanged', async () => {
    const good = join(dir, 'good.safetensors');
    const src = new Tiny();
    await saveCheckpoint(good, src);
    const bytes = await readFile(good);
    const header = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const variants: [string, Uint8Array, RegExp][] = [
      ['truncated', bytes.subarray(0, bytes.length - 10), /beyond the \d+ data bytes|bytes after the last tensor/],
      ['cut inside the header', bytes.subarray(0, 30), /header length says/],
      [
        'bad JSON',
        (() => {
          const b = Uint8Array.from(bytes);
          b[8] = 0x5b;
          b[9] = 0x7b;
          return b;
        })(),
        /not valid JSON/,
      ],
      [
        'offsets out of range',
        (() => {
          const text = new TextDecoder().decode(bytes.subarray(8, 8 + header));
          const h = JSON.parse(text);
          h['fc.bias'].data_offsets = [h['fc.bias'].data_offsets[0], 1e6];
          return withHeader(h, bytes.length - 8 - header);
        })(),
        /'fc.bias' has data_offsets .* beyond/,
      ],
    ];
    for (const [what, b, message] of variants) {
      const file = join(dir, `corrupt-${what.replace(/ /g, '-')}.safetensors`);
      await writeFile(file, b);
      const m = new Tiny();
      const before = await snapshot(m);
      await expect(loadCheckpoint(file, m), what).rejects.toThrow(
        new RegExp(`checkpoint '${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' is corrupt: .*${message.source}`),
      );
      expect(await snapshot(m), what).toEqual(before);
    }
    await expect(loadCheckpoint(join(dir, 'missing.safetensors'), new Tiny())).rejects.toThrow(/Cannot read checkpoint .*no such file/);
  });

  it('unwritable locations fail with a clear message', async () => {
    const aFile = join(dir, 'plain-file');
    await writeFile(aFile, 'x');
    await expect(checkWritable(join(aFile, 'ckpt'))).rejects.toThrow(
      /Checkpoint directory '.*plain-file\/ckpt' is not writable: .*(not a directory|ENOTDIR|EEXIST)/,
    );
    await expect(checkWritable('/proc/webmtl-ckpt')).rejects.toThrow(/Checkpoint directory '\/proc\/webmtl-ckpt' is not writable/);
    await expect(saveCheckpoint(join(aFile, 'm.safetensors'), new Tiny())).rejects.toThrow(
      /Cannot save checkpoint to '.*plain-file\/m.safetensors': /,
    );
    await expect(saveCheckpoint('/proc/webmtl.safetensors', new Tiny())).rejects.toThrow(
      /Cannot save checkpoint to '\/proc\/webmtl.safetensors'/,
    );
    const target = join(dir, 'is-a-dir.safetensors');
    await mkdir(target);
    await expect(saveCheckpoint(target, new Tiny())).rejects.toThrow(/Cannot save checkpoint .*directory/);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // A writable directory passes (and is created).
    await checkWritable(join(dir, 'fresh', 'ok'));
    expect(await readdir(join(dir, 'fresh', 'ok'))).toEqual([]);
  });
});
