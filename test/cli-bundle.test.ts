// A trained model leaves webmtl from the command line, as the README shows it: train on a raw CSV with
// --save-model, score new raw rows with webmtl predict (CSV and Parquet out), export to ONNX (run in ONNX
// Runtime: the same scores) and to torch-rechub's format, import that back, and the mistakes around it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRawTable, rawTableCsvText } from '../src/data/synthetic-raw.js';
import { encodeModel, loadModel } from '../src/deploy/bundle.js';
import { ensureDist, runCli } from './helpers/dist.js';
import { MODEL_ZOO } from './helpers/model-zoo.js';
import { RAW_LABELS, writeIn } from './helpers/tables.js';

let dir: string;
let bundleFile: string;
let newRows: string;
/** The rows of newRows as a user passes them to bundle.predict. */
let rows: Record<string, unknown>[];

const webmtl = (...args: string[]) => runCli(args);

/** A CSV file's numeric columns (no quoted cells in prediction files). */
function csvColumns(file: string): Record<string, number[]> {
  const [header, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\n');
  const names = header.split(',');
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const line of lines) line.split(',').forEach((v, i) => out[names[i]].push(Number(v)));
  return out;
}

beforeAll(() => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'webmtl-cli-bundle-'));
  const gen = webmtl('gen-data', '--table', 'census-raw', '--rows', '6000', '--out', dir, '--seed', '3');
  expect(gen.status, gen.stderr).toBe(0);
  const csv = join(dir, 'census_raw.csv');
  const schemaFile = join(dir, 'schema.json');
  expect(webmtl('schema', csv, '--label', RAW_LABELS.join(','), '--out', schemaFile).status).toBe(0);
  bundleFile = join(dir, 'model.webmtl');
  const run = webmtl(
    'train',
    '--data',
    csv,
    '--schema',
    schemaFile,
    '--epochs',
    '2',
    '--lr',
    '0.01',
    '--batch-size',
    '256',
    '--quiet',
    '--save-model',
    bundleFile,
  );
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain(`model bundle: ${bundleFile} (with the preprocessing: predict takes raw rows)`);
  // New rows from another draw, without labels.
  const raw = generateRawTable({ rows: 300, seed: 99, missingRate: 0.05 });
  const header = raw.header.filter((h) => !RAW_LABELS.includes(h));
  newRows = writeIn(
    dir,
    'new/rows.csv',
    rawTableCsvText({ header, columns: Object.fromEntries(header.map((h) => [h, raw.columns[h]])), rows: 300 }),
  );
  rows = Array.from({ length: 300 }, (_, r) => Object.fromEntries(header.map((h) => [h, raw.columns[h][r]])));
}, 240_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('webmtl train --save-model → predict → export → import', () => {
  it('predict scores raw rows without labels: the scores loadModel(...).predict gives, kept columns first', async () => {
    const out = join(dir, 'preds.csv');
    const r = webmtl('predict', '--model', bundleFile, '--data', newRows, '--out', out, '--keep', 'age', '--device', 'cpu');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/300 rows scored for income_50k, never_married \(MMoE, cpu backend/);
    const got = csvColumns(out);
    expect(Object.keys(got)).toEqual(['age', ...RAW_LABELS]);
    const bundle = await loadModel(bundleFile);
    const want = await bundle.predict(rows);
    expect(got.age).toEqual(rows.map((row) => row.age));
    for (const task of RAW_LABELS) got[task].forEach((v, i) => expect(Math.fround(v), `${task} row ${i}`).toBe(want[task][i]));
    // The model learned something: the scores of each task spread out over the rows.
    for (const task of RAW_LABELS) expect(Math.max(...got[task]) - Math.min(...got[task]), task).toBeGreaterThan(0.1);
  });

  it('predict writes Parquet too', () => {
    const out = join(dir, 'preds.parquet');
    expect(webmtl('predict', '--model', bundleFile, '--data', join(dir, 'new'), '--out', out).status).toBe(0);
    expect(readFileSync(out).subarray(0, 4).toString()).toBe('PAR1');
  });

  it('export --onnx: ONNX Runtime gives the same scores as webmtl on the preprocessed rows', async () => {
    const onnxFile = join(dir, 'model.onnx');
    const r = webmtl('export', '--model', bundleFile, '--onnx', onnxFile);
    expect(r.status, r.stderr).toBe(0);
    const bundle = await loadModel(bundleFile);
    const encoded = bundle.preprocessor!.transformRows(rows);
    const session = await ort.InferenceSession.create(readFileSync(onnxFile));
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of bundle.model.features) {
      const col = encoded.columns[f.name] as Int32Array | Float32Array;
      feeds[f.name] =
        f.kind === 'dense'
          ? new ort.Tensor('float32', Float32Array.from(col), [rows.length])
          : new ort.Tensor(
              'int64',
              BigInt64Array.from(col, (v) => BigInt(v)),
              [rows.length],
            );
    }
    const out = await session.run(feeds);
    const scores = out[session.outputNames[0]].data as Float32Array;
    const want = await bundle.predict(rows);
    RAW_LABELS.forEach((task, k) => {
      for (let i = 0; i < rows.length; i++) expect(Math.abs(scores[i * 2 + k] - want[task][i])).toBeLessThan(1e-5);
    });
  });

  it('export --torch-rechub, then import with the preprocessing back: the same predictions, byte for byte', () => {
    const rechub = join(dir, 'rechub');
    const ex = webmtl('export', '--model', bundleFile, '--torch-rechub', rechub);
    expect(ex.status, ex.stderr).toBe(0);
    const spec = JSON.parse(readFileSync(join(rechub, 'model.json'), 'utf8'));
    expect(spec.class).toBe('MMOE');
    expect(spec.constructor_args.n_expert).toBe(8);
    expect(existsSync(join(rechub, 'state_dict.safetensors'))).toBe(true);
    const back = join(dir, 'back.webmtl');
    const im = webmtl('import', '--torch-rechub', rechub, '--out', back, '--preprocessing-from', bundleFile);
    expect(im.status, im.stderr).toBe(0);
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    expect(webmtl('predict', '--model', bundleFile, '--data', newRows, '--out', a, '--device', 'cpu').status).toBe(0);
    expect(webmtl('predict', '--model', back, '--data', newRows, '--out', b, '--device', 'cpu').status).toBe(0);
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'));
  });

  it('mistakes: missing flags and bad names exit 2; a checkpoint or a table without the columns exit 1 with the reason', () => {
    const noModel = webmtl('predict', '--data', newRows, '--out', join(dir, 'x.csv'));
    expect(noModel.status).toBe(2);
    expect(noModel.stderr).toMatch(/webmtl predict: give --model <bundle>/);
    expect(webmtl('predict', '--model', bundleFile, '--data', newRows, '--out', join(dir, 'x.txt')).stderr).toMatch(
      /end the name in .csv or .parquet/,
    );
    expect(webmtl('export', '--model', bundleFile).status).toBe(2);
    expect(webmtl('predict', '--model', bundleFile, '--data', newRows, '--out', join(dir, 'x.csv'), '--keeps', 'age').stderr).toMatch(
      /unknown option '--keeps' \(did you mean '--keep'\?\)/,
    );
    const wrongTable = webmtl('predict', '--model', bundleFile, '--data', join(dir, 'schema.json'), '--out', join(dir, 'x.csv'));
    expect(wrongTable.status).toBe(1);
    const notBundle = webmtl('predict', '--model', join(dir, 'census_raw.csv'), '--data', newRows, '--out', join(dir, 'x.csv'));
    expect(notBundle.status).toBe(1);
    expect(notBundle.stderr).toMatch(/not a model bundle/);
  });

  it('export writes nothing when one of its targets cannot take the model (OMoE has no torch-rechub class)', async () => {
    const omoe = join(dir, 'omoe.webmtl');
    writeFileSync(omoe, await encodeModel(MODEL_ZOO.omoe()));
    const onnx = join(dir, 'omoe.onnx');
    const r = webmtl('export', '--model', omoe, '--onnx', onnx, '--torch-rechub', join(dir, 'omoe-rechub'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/OMoE/);
    expect(existsSync(onnx)).toBe(false);
    expect(existsSync(join(dir, 'omoe-rechub'))).toBe(false);
    expect(existsSync(join(dir, 'x.csv'))).toBe(false);
  });
});
