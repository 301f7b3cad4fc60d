// End to end in a browser: the scoring page (examples/browser/predict.html) loads a model bundle by
// ?model=<url> and through its file picker, reads rows of raw values typed or uploaded as CSV (with
// webmtl's light reader, typed as the bundle's schema says), and scores them with bundle.predict on
// WebAssembly. The rows the page hands to predict must be exactly the raw rows Node builds from the
// generated table (numbers as numbers, texts as texts, empty cells as null), and its scores must match
// Node's bundle.predict on those rows (CPU backend). Bad inputs show webmtl's own error text.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareTable, proposeTableSchema } from '../src/data/ingest.js';
import { generateRawTable, type RawTable, rawTableCsvText } from '../src/data/synthetic-raw.js';
import { decodeModel, encodeModel, type ModelBundle } from '../src/deploy/bundle.js';
import { init } from '../src/init.js';
import { createModel } from '../src/models/registry.js';
import { MTLTrainer } from '../src/train/trainer.js';
import { browserMissing, ensureBundle, guardedPage, launchChromium, servedFolder } from './helpers/browser.js';
import { MODEL_ZOO } from './helpers/model-zoo.js';
import { webgpuRequired } from './helpers/webgpu.js';

const missing = browserMissing();
const LABELS = ['income_50k', 'never_married'];
const PAGE = '/examples/browser/predict.html';
/**
 * Page (WebAssembly) against Node (TypeScript CPU reference), both float32. The wasm kernels sum the
 * same products in another order (SIMD lanes), so a logit may differ in its last bits (~1e-7
 * relative); through a sigmoid that moves a probability by at most about 1e-7. 1e-6 leaves room for
 * that and for the few layers it passes, and is far below any real difference: a wrong id, a missed
 * scaling or a dropped row moves a probability by 1e-3 or more. (On one thread they agree exactly.)
 */
const TOLERANCE = 1e-6;
/** WebGPU against the CPU: tile-order sums and the GPU's own exp (SwiftShader: within 6e-8). */
const WEBGPU_TOLERANCE = 1e-5;

type Row = Record<string, string | number | null>;
interface PageState {
  phase: string;
  backend: string | null;
  backendName?: string;
  fallbackReason?: string | null;
  error: string | null;
  model: { name: string; tasks: { name: string; type: string }[]; version: string; columns: string[] } | null;
  rows: Row[] | null;
  scores: Record<string, number[]> | null;
}

/** Rows [from, to) of a raw table as predict takes them: the feature columns only, labels left out. */
function rowsOf(t: RawTable, from: number, to: number): Row[] {
  const features = t.header.filter((h) => !LABELS.includes(h));
  return Array.from({ length: to - from }, (_, i) =>
    Object.fromEntries(features.map((h) => [h, t.columns[h][from + i] as string | number | null])),
  );
}

/** Rows as CSV text with the given header (rawTableCsvText: quoting, null → empty cell, floats with '.0'). */
function csvText(header: string[], rows: Row[]): string {
  const columns = Object.fromEntries(header.map((h) => [h, rows.map((r) => (h in r ? r[h] : null))]));
  return rawTableCsvText({ header, columns, rows: rows.length });
}

describe.skipIf(missing)('scoring page (headless Chromium)', () => {
  let server: Awaited<ReturnType<typeof servedFolder>>;
  let browser: Browser;
  let bundle: ModelBundle;
  let raw: RawTable;
  let inputColumns: string[];
  /** Served: dist/ and examples/ (links into the repository) and models/ with the bundles and a non-bundle. */
  let root: string;
  /** Screenshots (kept, like test/browser.test.ts's; docs/browser-predict.png is one). */
  let shots: string;

  beforeAll(async () => {
    ensureBundle();
    server = await servedFolder('webmtl-predict-', { dist: 'dist', examples: 'examples' });
    root = server.root;
    shots = mkdtempSync(join(tmpdir(), 'webmtl-predict-shots-'));
    await init({ backend: 'cpu' });
    // A census-shaped raw table, its proposed schema and preprocessing, and MMoE trained on it briefly.
    const train = generateRawTable({ rows: 1500, seed: 31, missingRate: 0.03, numericMissingRate: 0.05 });
    const text = rawTableCsvText(train);
    const { schema } = await proposeTableSchema({ name: 'census.csv', text }, { labels: LABELS });
    const table = await prepareTable({ name: 'census.csv', text }, { schema, seed: 1 });
    const model = createModel('mmoe', table.modelSchema);
    const loaders = table.loaders({ batchSize: 128, seed: 1 });
    await new MTLTrainer(model, { nEpoch: 5, learningRate: 0.01, progress: 'none' }).fit(loaders.train);
    const bytes = await encodeModel(model, { preprocessor: table.preprocessor, metadata: { trained_on: 'generated census rows' } });
    model.dispose();
    bundle = decodeModel(bytes);
    inputColumns = bundle.preprocessor!.schema.columns.filter((c) => c.role !== 'label' && c.role !== 'ignore').map((c) => c.name);

    // Rows to score: the same generator, another seed (some "?" categories, some empty numbers).
    raw = generateRawTable({ rows: 60, seed: 32, missingRate: 0.05, numericMissingRate: 0.1 });

    mkdirSync(join(root, 'models'));
    writeFileSync(join(root, 'models', 'census-mmoe.webmtl'), bytes);
    writeFileSync(join(root, 'models', 'not-a-model.webmtl'), 'income_50k,age\n0,31\n');
    // A bundle without preprocessing: rows hold the model's inputs (ids, numbers, lists of ids).
    const plain = MODEL_ZOO.sharedbottom();
    writeFileSync(join(root, 'models', 'inputs-only.webmtl'), await encodeModel(plain));
    plain.dispose();
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    bundle?.dispose();
  });

  /** Opens the page (which may only talk to our server), collecting its errors; waits until it is past 'loading'. */
  async function openPage(query = '', opts: { withoutWebGpu?: boolean } = {}): Promise<{ page: Page; problems: string[] }> {
    const { page, problems } = await guardedPage(browser, server.url, opts);
    await page.goto(`${server.url}${PAGE}${query}`);
    await waitPast(page, 'loading');
    return { page, problems };
  }

  /** Waits until the page's phase is none of `busy`, and returns its state. */
  async function waitPast(page: Page, ...busy: string[]): Promise<PageState> {
    await page.waitForFunction(
      (busy) => !busy.includes((window as { __predict?: { phase: string } }).__predict?.phase ?? 'loading'),
      busy,
      {
        timeout: 30_000,
        polling: 100,
      },
    );
    return state(page);
  }

  const loadModelBytes = async (name: string) => decodeModel(new Uint8Array(readFileSync(join(root, 'models', name))));
  const state = (page: Page) => page.evaluate(() => (window as unknown as { __predict: PageState }).__predict);

  async function scoreText(page: Page, text: string): Promise<PageState> {
    await page.locator('#csv').fill(text);
    await page.locator('#score').click();
    return waitPast(page, 'scoring');
  }

  /** The page's rows are Node's typed rows, and its scores Node's bundle.predict on them. */
  async function expectScores(got: PageState, want: Row[], tolerance = TOLERANCE): Promise<number> {
    expect(got.error, got.error ?? '').toBeNull();
    expect(got.phase).toBe('scored');
    expect(got.rows).toEqual(want);
    const wantScores = await bundle.predict(want);
    let worst = 0;
    for (const t of bundle.tasks) {
      const g = got.scores![t.name];
      expect(g, t.name).toHaveLength(want.length);
      g.forEach((v, i) => {
        const d = Math.abs(v - wantScores[t.name][i]);
        worst = Math.max(worst, d);
        expect(d, `${t.name} row ${i}: page ${v}, node ${wantScores[t.name][i]}`).toBeLessThanOrEqual(tolerance);
      });
    }
    console.log(`scoring page (${got.backend}): ${want.length} rows, largest |page − node| ${worst.toExponential(2)}`);
    return worst;
  }

  /** A few rows of the generated table, then hand-made ones: unseen categories (one with a comma and quotes) and empty cells. */
  function editedRows(): Row[] {
    const rows = rowsOf(raw, 0, 6);
    rows.push({ ...rows[0], education: 'Doctorate in Wizardry', 'state of previous residence': 'Atlantis, "New" Province' });
    rows.push({ ...rows[1], 'class of worker': null, 'wage per hour': null, 'weeks worked in year': null, sex: null });
    rows.push({ ...rows[2], age: 0, 'capital gains': 99999, 'country of birth self': 'Narnia' });
    return rows;
  }

  it('opened with ?model=<url>: shows the model and scores the rows typed into the table as Node does', async () => {
    const { page, problems } = await openPage('?model=../../models/census-mmoe.webmtl');
    let got = await state(page);
    expect(got.error, got.error ?? '').toBeNull();
    expect(got.phase).toBe('ready');
    expect(got.backendName).toBe('wasm');
    expect(got.model).toEqual({
      name: 'mmoe',
      tasks: [
        { name: 'income_50k', type: 'classification' },
        { name: 'never_married', type: 'classification' },
      ],
      version: bundle.version,
      columns: inputColumns,
    });
    expect(inputColumns).toHaveLength(39);
    const facts = await page.locator('#model-facts').textContent();
    expect(facts).toContain('income_50k (classification), never_married (classification)');
    expect(facts).toContain('generated census rows');
    const columnsText = await page.locator('#model-columns').textContent();
    expect(columnsText).toMatch(/categorical \(32\)/);
    expect(columnsText).toMatch(/numeric \(7\)/);
    expect(columnsText).toMatch(/labels, not needed \(2\)income_50k/);

    // The prefilled table: the input columns and one example row, which scores as it reads.
    const prefilled = await page.locator('#csv').inputValue();
    const [head, example, rest] = prefilled.split('\n');
    expect(head.split(',')).toEqual(inputColumns.map((c) => (c.includes(',') ? `"${c}"` : c)));
    expect(rest).toBe('');
    expect(example.split(',').length).toBeGreaterThanOrEqual(39);
    await page.locator('#score').click();
    got = await waitPast(page, 'scoring');
    expect(got.error, got.error ?? '').toBeNull();
    expect(got.rows).toHaveLength(1);
    await expectScores(got, got.rows!); // its own rows: the example row itself is checked against Node's scores

    // Rows typed in: labels present (left out quietly), columns in another order, unseen categories, empty cells.
    const rows = editedRows();
    const header = [...LABELS, ...[...inputColumns].reverse()];
    got = await scoreText(page, csvText(header, rows));
    await expectScores(got, rows);
    expect(await page.locator('#warning').textContent()).toBe('');
    expect(await page.locator('#scores tbody tr').count()).toBe(rows.length);
    const shown = await page.locator('#scores tbody tr').first().locator('td.score').allTextContents();
    expect(shown).toEqual(bundle.tasks.map((t) => got.scores![t.name][0].toFixed(4)));
    // Scores that differ from row to row: a trained model, not a constant.
    const never = got.scores!.never_married;
    expect(Math.max(...never) - Math.min(...never)).toBeGreaterThan(0.05);

    // The same rows as the input columns alone, in schema order: the same scores (and the screenshot).
    got = await scoreText(page, csvText(inputColumns, rows));
    await expectScores(got, rows);
    await page.locator('#csv').evaluate((el) => el.scrollTo(0, 0));
    const shot = join(shots, 'browser-predict.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`scoring page screenshot: ${shot}`);
    await page.close();
    expect(problems).toEqual([]);
  }, 90_000);

  it('through the file picker: a bundle, then an uploaded CSV file (with a column the model does not know)', async () => {
    const { page, problems } = await openPage();
    expect((await state(page)).phase).toBe('idle');
    await page.locator('#model-file').setInputFiles(join(root, 'models', 'census-mmoe.webmtl'));
    let got = await waitPast(page, 'idle', 'loading');
    expect(got.error, got.error ?? '').toBeNull();
    expect(got.model?.columns).toEqual(inputColumns);
    expect(await page.locator('#model-facts').textContent()).toContain('census-mmoe.webmtl');

    // 60 rows from a file, with a "note" column that is no input of the model.
    const rows = rowsOf(raw, 0, raw.rows);
    const notes = rows.map((r, i) => ({ ...r, note: `row ${i}, "quoted"` }));
    const csvPath = join(root, 'rows.csv');
    writeFileSync(csvPath, csvText(['note', ...inputColumns], notes));
    await page.locator('#csv-file').setInputFiles(csvPath);
    got = await waitPast(page, 'ready', 'scoring');
    await expectScores(got, rows);
    expect(await page.locator('#warning').textContent()).toBe('Not an input of this model, left out: "note".');
    expect(await page.locator('#csv').inputValue()).toContain('row 59, ""quoted""');
    await page.close();
    expect(problems).toEqual([]);
  }, 90_000);

  it('shows webmtl’s error for a file that is no bundle, a cell of the wrong type, a missing column and a bad URL', async () => {
    const { page, problems } = await openPage();
    await page.locator('#model-file').setInputFiles(join(root, 'models', 'not-a-model.webmtl'));
    let got = await waitPast(page, 'idle', 'loading');
    expect(got.phase).toBe('error');
    expect(got.error).toMatch(/^ModelBundleError: 'not-a-model\.webmtl' is not a model bundle \(not a readable safetensors file/);
    expect(await page.locator('#status').textContent()).toBe(got.error);
    expect(await page.locator('#status').getAttribute('class')).toBe('error');

    await page.locator('#model-file').setInputFiles(join(root, 'models', 'census-mmoe.webmtl'));
    got = await waitPast(page, 'error', 'loading');
    expect(got.phase).toBe('ready');
    const rows = rowsOf(raw, 0, 3);
    const good = csvText(inputColumns, rows);
    // A text in the integer column "age", on the third data row (line 4).
    const lines = good.split('\n');
    const ageAt = inputColumns.indexOf('age');
    const cells = lines[3].split(',');
    expect(inputColumns.slice(0, ageAt).every((c) => !c.includes(','))).toBe(true);
    cells[ageAt] = 'forty';
    lines[3] = cells.join(',');
    got = await scoreText(page, lines.join('\n'));
    expect(got.phase).toBe('error');
    expect(got.error).toMatch(/^DataError: Column "age" is read as integers but the rows line 4 .*"forty"/);
    expect(await page.locator('#status').textContent()).toBe(got.error);

    // Without the "education" column.
    const fewer = inputColumns.filter((c) => c !== 'education');
    got = await scoreText(page, csvText(fewer, rows));
    expect(got.error).toMatch(/^DataError: Column "education" is missing from the rows\. Available columns: /);

    // The good rows still score after the errors.
    got = await scoreText(page, good);
    await expectScores(got, rows);
    await page.close();
    expect(problems).toEqual([]);

    // A URL with no bundle behind it: the fetch's HTTP status, as the page's error (and no other).
    const bad = await openPage('?model=../../models/nothing-here.webmtl');
    got = await state(bad.page);
    expect(got.error).toMatch(
      /^ModelBundleError: Cannot fetch the model bundle at http:\/\/127\.0\.0\.1:\d+\/models\/nothing-here\.webmtl: HTTP 404/,
    );
    await bad.page.close();
    expect(bad.problems.filter((p) => !p.includes('nothing-here.webmtl') && !p.includes('404'))).toEqual([]);
  }, 90_000);

  it('with ?backend=webgpu: scores on WebGPU (SwiftShader without a GPU) as Node does; without WebGPU, on WebAssembly, saying why', async () => {
    const { page, problems } = await openPage('?backend=webgpu&model=../../models/census-mmoe.webmtl');
    let got = await state(page);
    expect(got.error, got.error ?? '').toBeNull();
    if (got.backendName !== 'webgpu') {
      // Only when WebGPU did not start, and the page says why.
      expect(got.fallbackReason, 'the page ignored ?backend=webgpu').toEqual(expect.any(String));
      expect(await page.locator('#status').textContent()).toContain('webgpu is not available here');
      const why = `the page fell back to ${got.backend}: ${await page.locator('#status').textContent()}`;
      if (webgpuRequired()) throw new Error(`WebGPU is required here (CI=true or WEBMTL_REQUIRE_WEBGPU=1), but ${why}`);
      console.warn(`Scoring page without WebGPU: ${why}. Comparing with Node anyway.`);
    }
    const rows = editedRows();
    got = await scoreText(page, csvText(inputColumns, rows));
    // WGSL's matmul and reductions sum in tile order, and exp/tanh are the GPU's own: ~1e-6 on a logit.
    await expectScores(got, rows, WEBGPU_TOLERANCE);
    await page.close();
    expect(problems).toEqual([]);

    // A browser without WebGPU: the page scores on WebAssembly and keeps saying why.
    const plain = await openPage('?backend=webgpu&model=../../models/census-mmoe.webmtl', { withoutWebGpu: true });
    got = await state(plain.page);
    expect(got.error, got.error ?? '').toBeNull();
    expect(got.backendName).toBe('wasm');
    expect(got.fallbackReason).toContain('navigator.gpu is missing');
    got = await scoreText(plain.page, csvText(inputColumns, rows));
    await expectScores(got, rows);
    expect(await plain.page.locator('#status').textContent()).toMatch(
      /^Scored 9 rows · WebAssembly \(webgpu is not available here: .*navigator\.gpu is missing/,
    );
    expect(await plain.page.locator('#status').getAttribute('class')).toBe('warn');
    await plain.page.close();
    expect(plain.problems).toEqual([]);
  }, 120_000);

  it('a bundle without preprocessing: lists the model’s features and scores rows of model inputs (ids, numbers, "|"-separated ids)', async () => {
    const { page, problems } = await openPage('?model=../../models/inputs-only.webmtl');
    let got = await state(page);
    expect(got.error, got.error ?? '').toBeNull();
    expect(got.model?.name).toBe('sharedbottom');
    expect(got.model?.tasks).toEqual([
      { name: 'click', type: 'classification' },
      { name: 'dwell', type: 'regression' },
    ]);
    expect(got.model?.columns).toEqual(['user', 'item', 'history', 'price']);
    expect(await page.locator('#model-columns').textContent()).toContain('This bundle has no preprocessing');
    expect(await page.locator('#csv').inputValue()).toBe('user,item,history,price\n1,1,1|2,0\n');
    const plain = await loadModelBytes('inputs-only.webmtl');
    try {
      const text = 'price,history,user,item\n0.5,3|1|4,2,6\n-1.25,,10,0\n7,"5 | 2",0,3\n';
      got = await scoreText(page, text);
      const rows = [
        { user: 2, item: 6, history: [3, 1, 4], price: 0.5 },
        { user: 10, item: 0, history: [], price: -1.25 },
        { user: 0, item: 3, history: [5, 2], price: 7 },
      ];
      expect(got.rows).toEqual(rows);
      const want = await plain.predict(rows);
      for (const t of plain.tasks)
        got.scores![t.name].forEach((v, i) => expect(Math.abs(v - want[t.name][i]), `${t.name} row ${i}`).toBeLessThanOrEqual(TOLERANCE));
      expect(await page.locator('#scores thead').textContent()).toBe('rowP(click)dwelluseritemhistoryprice');

      got = await scoreText(page, 'user,item,history,price\n1,2,3|x,0\n');
      expect(got.error).toBe(
        'DataError: Column "history" at the rows line 2 (data row 1): "x" is not an id. Fix: give whole-number ids separated by "|".',
      );
      got = await scoreText(page, 'user,item,history,price\n,2,3,0\n');
      expect(got.error).toMatch(/^DataError: Row 0: feature "user" needs an integer id, got null\./);
    } finally {
      plain.dispose();
    }
    await page.close();
    expect(problems).toEqual([]);
  }, 60_000);
});
