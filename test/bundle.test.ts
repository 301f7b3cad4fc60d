// Model bundles (saveModel / loadModel / encodeModel / decodeModel): every model kind comes back with
// the same architecture, weights and predictions; a bundle with its preprocessing scores raw rows
// exactly as the training files were encoded (unseen categories → id 0, no labels needed); and a bad
// file, a mismatched part or a diverged model is refused with the reason, building and writing nothing.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../src/data/errors.js';
import { type PreparedTable, prepareTable, proposeTableSchema } from '../src/data/ingest.js';
import { generateRawTable } from '../src/data/synthetic-raw.js';
import { decodeModel, encodeModel, loadModel, ModelBundleError, saveModel } from '../src/deploy/bundle.js';
import { rowsToModelInputs } from '../src/deploy/predict.js';
import type { Feature } from '../src/features.js';
import { saveCheckpoint } from '../src/io/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import type { MultiTaskModel } from '../src/models/base.js';
import { createModel } from '../src/models/registry.js';
import { assign } from '../src/tensor/ops.js';
import { globalRng, Random, seed } from '../src/tensor/random.js';
import { fromArray } from '../src/tensor/tensor.js';
import { MODEL_ZOO, perturbWeights } from './helpers/model-zoo.js';
import { csvOf, RAW_LABELS, writeIn } from './helpers/tables.js';

/** Rows of model inputs: an id per sparse feature, a number per dense one, 0–3 ids per sequence. */
function inputRows(features: readonly Feature[], n: number, seed: number): Record<string, unknown>[] {
  const r = new Random(seed);
  return Array.from({ length: n }, () =>
    Object.fromEntries(
      features.map((f) => [
        f.name,
        f.kind === 'dense'
          ? r.normal()
          : f.kind === 'sparse'
            ? r.int(f.vocabSize)
            : Array.from({ length: r.int(4) }, () => 1 + r.int(f.vocabSize - 1)),
      ]),
    ),
  );
}

/** The model's own outputs for model-input rows, one array per output column. */
async function direct(model: MultiTaskModel, rows: Record<string, unknown>[]): Promise<number[][]> {
  const data = rowsToModelInputs(model, rows);
  const x = Object.fromEntries(
    model.features.map((f) => {
      const col = data.columns[f.name];
      return [f.name, 'width' in col ? fromArray(col.values, [rows.length, col.width]) : fromArray(col, [rows.length])];
    }),
  );
  const out = (await model.predict(x).data()) as Float32Array;
  const n = model.nTask;
  return Array.from({ length: n }, (_, k) => Array.from({ length: rows.length }, (_, r) => out[r * n + k]));
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'webmtl-bundle-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('every model kind round-trips through a bundle', () => {
  for (const [name, make] of Object.entries(MODEL_ZOO)) {
    it(`${name}: same config, weights (buffers too), tasks and predictions`, async () => {
      const model = make();
      perturbWeights(model, 7);
      const bytes = await encodeModel(model, { metadata: { trained_on: 'unit test', format: 'kept as given' } });
      const bundle = decodeModel(bytes);
      expect(bundle.model.constructor).toBe(model.constructor);
      expect(bundle.model.config()).toEqual(model.config());
      expect(bundle.tasks).toEqual(model.taskNames.map((n, i) => ({ name: n, type: model.taskTypes[i] })));
      expect(bundle.metadata).toEqual({ trained_on: 'unit test', format: 'kept as given' });
      expect(bundle.preprocessor).toBeNull();
      expect(bundle.model.training).toBe(false);
      for (const [k, t] of Object.entries(model.stateDict()))
        expect(Array.from(bundle.model.stateDict()[k].dataSync()), k).toEqual(Array.from(t.dataSync()));
      const rows = inputRows(model.features, 23, 3);
      const scores = await bundle.predict(rows, { batchSize: 5 });
      const want = await direct(model, rows);
      bundle.tasks.forEach((t, k) => expect(Array.from(scores[t.name]), t.name).toEqual(want[k]));
    });
  }
});

describe('a bundle with its preprocessing scores raw rows', () => {
  let table: PreparedTable;
  let model: MultiTaskModel;
  let rawRows: Record<string, unknown>[];
  beforeAll(async () => {
    const raw = generateRawTable({ rows: 1500, seed: 5, missingRate: 0.03 });
    const csv = writeIn(dir, 'census.csv', csvOf(raw));
    const { schema } = await proposeTableSchema(csv, { labels: RAW_LABELS, engine: 'light' });
    table = await prepareTable(csv, { schema, engine: 'light' });
    model = createModel('mmoe', table.modelSchema);
    perturbWeights(model, 9);
    // The first 40 rows as a user would pass them: column → value, labels left out.
    rawRows = Array.from({ length: 40 }, (_, r) =>
      Object.fromEntries(raw.header.filter((h) => !RAW_LABELS.includes(h)).map((h) => [h, raw.columns[h][r]])),
    );
  }, 60_000);

  it('gives the ids and scaling of the training files, then the model’s outputs; no labels needed', async () => {
    const file = join(dir, 'census.webmtl');
    await saveModel(file, model, { preprocessor: table.preprocessor });
    const bundle = await loadModel(file);
    expect(bundle.preprocessor?.toJSON()).toEqual(table.preprocessor.toJSON());
    const scores = await bundle.predict(rawRows);
    const encoded = table.preprocessor.transformRows(rawRows);
    const x = Object.fromEntries(
      model.features.map((f) => [f.name, fromArray(encoded.columns[f.name] as Float32Array | Int32Array, [rawRows.length])]),
    );
    const out = (await model.predict(x).data()) as Float32Array;
    RAW_LABELS.forEach((label, k) => {
      expect(Array.from(scores[label]), label).toEqual(Array.from({ length: rawRows.length }, (_, r) => out[r * 2 + k]));
      expect(scores[label].every((p) => p > 0 && p < 1)).toBe(true);
    });
  });

  it('label values in the rows are not read: a bad one changes nothing', async () => {
    const bundle = decodeModel(await encodeModel(model, { preprocessor: table.preprocessor }));
    const plain = await bundle.predict(rawRows.slice(0, 3));
    const labelled = await bundle.predict(rawRows.slice(0, 3).map((r) => ({ ...r, [RAW_LABELS[0]]: 'yes', [RAW_LABELS[1]]: 7 })));
    expect(labelled).toEqual(plain);
  });

  it('an unseen category gets the unseen id 0, as in training: two different unseen values score the same', async () => {
    const bundle = decodeModel(await encodeModel(model, { preprocessor: table.preprocessor }));
    const row = rawRows[0];
    const column = table.preprocessor.sparseColumns[0];
    const a = await bundle.predict([{ ...row, [column]: 'never seen in training' }]);
    const b = await bundle.predict([{ ...row, [column]: 'another unseen value' }]);
    const seen = await bundle.predict([row]);
    expect(a).toEqual(b);
    expect(a[RAW_LABELS[0]][0]).not.toBe(seen[RAW_LABELS[0]][0]);
  });

  it('a row missing a feature column is a DataError naming it', async () => {
    const bundle = decodeModel(await encodeModel(model, { preprocessor: table.preprocessor }));
    const column = table.preprocessor.denseColumns[0];
    const { [column]: _, ...without } = rawRows[0];
    await expect(bundle.predict([without])).rejects.toThrow(new RegExp(column));
  });

  it('refuses a preprocessing that does not fit the model, at save time', async () => {
    const small = createModel('mmoe', {
      ...table.modelSchema,
      vocabSizes: Object.fromEntries(Object.keys(table.modelSchema.vocabSizes).map((k) => [k, 2])),
    });
    const err = await encodeModel(small, { preprocessor: table.preprocessor }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelBundleError);
    expect(err.message).toMatch(/preprocessing gives ids up to \d+, but the model's table has 2 rows/);
  });
});

describe('bad bundles are refused whole', () => {
  const model = () => MODEL_ZOO.mmoe();

  it('a checkpoint, a foreign safetensors file and junk bytes each say what they are', async () => {
    const file = join(dir, 'ckpt.safetensors');
    await saveCheckpoint(file, model());
    await expect(loadModel(file)).rejects.toThrow(/a training checkpoint, not a model bundle.*saveModel/);
    expect(() => decodeModel(encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } }))).toThrow(/no webmtl.format/);
    expect(() => decodeModel(new Uint8Array([1, 2, 3]))).toThrow(ModelBundleError);
    await expect(loadModel(join(dir, 'nope.webmtl'))).rejects.toThrow(/no such file/);
  });

  /** The bundle's bytes with its header changed by `edit` (tensors and metadata). */
  async function tampered(edit: (t: ReturnType<typeof decodeSafetensors>) => void): Promise<Uint8Array> {
    const d = decodeSafetensors(await encodeModel(model()));
    edit(d);
    return encodeSafetensors(d.tensors, d.metadata);
  }

  it('lists every weight that is missing, extra, of another shape or non-finite', async () => {
    const bytes = await tampered((d) => {
      delete d.tensors['gates.0.linear.weight'];
      d.tensors.extra = { dtype: 'F32', shape: [1], data: Float32Array.of(0) };
      const w = d.tensors['towers.0.0.linear.weight'];
      d.tensors['towers.0.0.linear.weight'] = { ...w, shape: [w.shape[1], w.shape[0]] };
      d.tensors['towers.1.0.linear.bias'].data[0] = Number.NaN;
    });
    const err = (() => {
      try {
        decodeModel(bytes);
      } catch (e) {
        return e as ModelBundleError;
      }
    })();
    expect(err).toBeInstanceOf(ModelBundleError);
    const text = err!.problems.join('\n');
    expect(text).toMatch(/'gates.0.linear.weight' .* is missing/);
    expect(text).toMatch(/unexpected weight 'extra'/);
    expect(text).toMatch(/'towers.0.0.linear.weight' is F32/);
    expect(text).toMatch(/'towers.1.0.linear.bias' has non-finite values/);
  });

  it('a damaged config, task list or preprocessing names the entry', async () => {
    const cases: [(m: Record<string, string>) => void, RegExp][] = [
      [(m) => (m['webmtl.model'] = '{"model": "mmoe", "options": {"nExperts": 2}}'), /webmtl.model.*nExperts/],
      [(m) => (m['webmtl.model'] = '{not json'), /'webmtl.model' is not JSON/],
      [(m) => (m['webmtl.tasks'] = '[{"name": "a"}]'), /'webmtl.tasks' must be a list of \{ name, type \}/],
      [
        (m) =>
          (m['webmtl.tasks'] = JSON.stringify([
            { name: 'x', type: 'regression' },
            { name: 'y', type: 'classification' },
          ])),
        /tasks \(x, y\) are not the model's/,
      ],
      [(m) => (m['webmtl.preprocessor'] = '{"format": "webmtl-preprocessor", "version": 9}'), /preprocessing is damaged/],
      [(m) => (m['webmtl.format'] = 'webmtl-model/9'), /format 'webmtl-model\/9'; this webmtl .* reads 'webmtl-model\/1'/],
    ];
    for (const [edit, message] of cases) {
      const bytes = await tampered((d) => edit(d.metadata));
      expect(() => decodeModel(bytes), String(message)).toThrow(message);
    }
  });

  it('saveModel refuses a diverged model, reserved metadata and unknown options, and writes nothing', async () => {
    const file = join(dir, 'kept.webmtl');
    writeFileSync(file, 'the old bundle');
    const m = model();
    const w = m.stateDict()['towers.0.0.linear.bias'];
    assign(
      w,
      fromArray(
        Float32Array.from(w.dataSync() as Float32Array, () => Number.NaN),
        w.shape,
      ),
    );
    await expect(saveModel(file, m)).rejects.toThrow(/non-finite weights in towers.0.0.linear.bias.*nothing was written/);
    await expect(saveModel(file, model(), { metadata: { 'webmtl.format': 'x' } })).rejects.toThrow(/reserved/);
    await expect(saveModel(file, model(), { preprocesor: null } as never)).rejects.toThrow(/unknown option.*preprocesor.*preprocessor/);
    expect(readFileSync(file, 'utf8')).toBe('the old bundle');
  });

  it('loading leaves the global random stream where it was (the fresh weights drawn to build the model are not seen)', async () => {
    const bytes = await encodeModel(model());
    seed(5);
    const without = globalRng().uniform();
    seed(5);
    decodeModel(bytes);
    expect(globalRng().uniform()).toBe(without);
    const d = decodeSafetensors(bytes);
    d.metadata['webmtl.model'] = JSON.stringify({
      ...JSON.parse(d.metadata['webmtl.model']),
      options: { ...JSON.parse(d.metadata['webmtl.model']).options, seed: 1 },
    });
    expect(() => decodeModel(encodeSafetensors(d.tensors, d.metadata))).toThrow(/has a seed option/);
  });

  it('a header over the safetensors readers’ limit is refused at save, with the fix, instead of writing a file no reader opens', async () => {
    const file = join(dir, 'huge.webmtl');
    const err = await saveModel(file, model(), { metadata: { notes: 'x'.repeat(100_000_001) } }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelBundleError);
    expect(err.message).toMatch(/header would take 95\.4 MiB \(notes 95\.4 MiB.*nothing was written.*minCount/);
    expect(existsSync(file)).toBe(false);
  });

  it('a bundle without preprocessing takes model inputs, and an id out of range is a DataError', async () => {
    const bundle = decodeModel(await encodeModel(model()));
    const rows = inputRows(bundle.model.features, 3, 1);
    rows[2].user = 11;
    const err = await bundle.predict(rows).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/"user": id 11 at row 2 is outside \[0, 11\)/);
    await expect(bundle.predict([{ ...rows[0], user: 'alice' }])).rejects.toThrow(
      /needs an integer id.*save the bundle with its preprocessing/,
    );
    // An id past int32 is refused as given, not wrapped around to another id (2^32 + 1 would be 1).
    await expect(bundle.predict([{ ...rows[0], user: 2 ** 32 + 1 }])).rejects.toThrow(
      /"user": id 4294967297 at row 0 is outside \[0, 11\)/,
    );
  });
});

describe('loadModel reads paths, URLs, Blobs and bytes', () => {
  it('each source gives the same model', async () => {
    const m = model0();
    const bytes = await encodeModel(m);
    const file = join(dir, 'm.webmtl');
    writeFileSync(file, bytes);
    const server = createServer((req, res) => {
      if (req.url === '/m.webmtl') res.end(bytes);
      else res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const sources = [
        file,
        `${base}/m.webmtl`,
        new URL(`${base}/m.webmtl`),
        new Blob([bytes as Uint8Array<ArrayBuffer>]),
        bytes.buffer.slice(0),
        bytes,
      ];
      for (const source of sources) {
        const b = await loadModel(source as never);
        expect(Array.from(b.model.stateDict()['gates.0.linear.weight'].dataSync())).toEqual(
          Array.from(m.stateDict()['gates.0.linear.weight'].dataSync()),
        );
      }
      await expect(loadModel(`${base}/missing.webmtl`)).rejects.toThrow(/HTTP 404/);
      // A number is not a source (Node would read it as a file descriptor), nor is a plain object.
      await expect(loadModel(3 as never)).rejects.toThrow(/loadModel: give a file path.*got number/);
      await expect(loadModel({ path: file } as never)).rejects.toThrow(/got object/);
      const bundle = await loadModel(bytes);
      await expect(bundle.predict({ age: 3 } as never)).rejects.toThrow(/rows must be an array/);
    } finally {
      server.close();
    }
  });
});

function model0(): MultiTaskModel {
  const m = MODEL_ZOO.mmoe();
  perturbWeights(m, 2);
  return m;
}
