// End to end in a browser: the example page (examples/browser) trains MMoE with the browser bundle on
// WebGPU in headless Chromium (SwiftShader without a GPU), and its per-step losses, validation metrics
// and gate weights must match the same run on the CPU backend in Node: same generated data, same seed,
// same loaders and trainer settings (both run examples/browser/experiment.js). And "your own table" in
// a page: the bundle's prepareTable reads CSV text and Parquet bytes given in memory (no file system)
// into the same splits and vocabularies as in Node.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadData, parseOptions, runExperiment } from '../examples/browser/experiment.js';
import { examplePath, startServer } from '../examples/browser/server.mjs';
import { prepareTable, proposeTableSchema } from '../src/data/ingest.js';
import { generateRawTable, rawTableCsvText } from '../src/data/synthetic-raw.js';
import * as wm from '../src/index.js';
import { browserMissing, ensureBundle, guardedPage, launchChromium } from './helpers/browser.js';
import { summarizeTable } from './helpers/table-summary.js';
import { webgpuRequired } from './helpers/webgpu.js';

const missing = browserMissing();
// Few steps: SwiftShader runs WGSL on the CPU, slowly, and float differences grow with each step.
const QUERY = 'data=generated&rows=2000&epochs=1&steps=6&batch=256&seed=1&backend=webgpu';

interface PageResult {
  done: boolean;
  error?: string;
  backend: string;
  label: string;
  adapter: string;
  navigatorGpu: boolean;
  fallbackReason: string | null;
  taskNames: string[];
  losses: Record<string, number[]>;
  val: Record<string, { auc: number | null; logloss: number }>[];
  test: Record<string, { auc: number | null; logloss: number }>;
  gates: Record<string, number[]>;
}

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);

describe.skipIf(missing)('browser example (headless Chromium)', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  const shots = mkdtempSync(join(tmpdir(), 'webmtl-browser-'));

  beforeAll(async () => {
    ensureBundle();
    server = await startServer();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /**
   * Opens the page (which may only talk to our server) and waits for its run; collects its errors.
   * `withoutWebGpu`: the page sees a browser without navigator.gpu.
   */
  async function openPage(query: string, opts: { withoutWebGpu?: boolean } = {}): Promise<{ page: Page; problems: string[] }> {
    const { page, problems } = await guardedPage(browser, server.url, opts);
    await page.goto(`${server.url}${examplePath}?${query}`);
    await page.waitForFunction(() => (window as { __webmtl?: { done?: boolean } }).__webmtl?.done === true, null, {
      timeout: 150_000,
      polling: 250,
    });
    return { page, problems };
  }

  it('trains MMoE on WebGPU and matches the CPU backend in Node step by step', async () => {
    const { page, problems } = await openPage(QUERY);
    const got = (await page.evaluate(() => (window as unknown as { __webmtl: unknown }).__webmtl)) as PageResult;
    const shot = join(shots, 'browser-example.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`browser example: backend ${got.backend} (${got.adapter}); screenshot ${shot}`);
    await page.close();

    expect(got.error, got.error).toBeUndefined();
    expect(problems).toEqual([]);
    expect(statSync(shot).size).toBeGreaterThan(10_000);

    // (a) WebGPU in the page: required in CI, a visible warning elsewhere.
    if (!got.navigatorGpu || got.backend !== 'webgpu') {
      const why = `the page ran on ${got.backend}: ${got.navigatorGpu ? got.fallbackReason : 'navigator.gpu is missing'}`;
      if (webgpuRequired()) throw new Error(`WebGPU is required here (CI=true or WEBMTL_REQUIRE_WEBGPU=1), but ${why}`);
      console.warn(`Browser example without WebGPU: ${why}. Comparing with the CPU run anyway.`);
    }
    expect(got.taskNames).toEqual(['click', 'purchase']);
    if (got.backend === 'webgpu') expect(got.label).toBe('WebGPU');

    // (b) The same run on the CPU backend in Node.
    const opts = parseOptions(QUERY);
    const be = await initBackend(wm, 'cpu');
    expect(be.backend).toBe('cpu');
    const data = await loadData(wm, opts);
    const want = await runExperiment(wm, opts, data);

    for (const task of want.taskNames) {
      const [g, w] = [got.losses[task], want.losses[task]];
      expect(g.length, `${task}: steps`).toBe(6);
      expect(w.length).toBe(6);
      g.forEach((v, i) => {
        expect(Number.isFinite(v)).toBe(true);
        expect(relErr(v, w[i]), `${task} loss at step ${i + 1}: browser ${v}, cpu ${w[i]}`).toBeLessThan(1e-3);
      });
      // Evaluation runs in eval mode, where BatchNorm uses its running mean. The bias of a Linear layer
      // that feeds a BatchNorm gets a gradient of zero plus rounding noise, which Adam scales up to
      // steps of ±lr, differently on each backend; the running mean follows it only partly. Training
      // losses are immune (BatchNorm subtracts the batch mean); eval outputs differ by ~1e-3, which
      // moves the logloss by up to ~1%.
      const [gv, wv] = [got.val[0][task], want.val[0][task]];
      if (wv.type !== 'classification') throw new Error('classification tasks expected');
      expect(relErr(gv.logloss, wv.logloss), `${task} val logloss`).toBeLessThan(2e-2);
      // AUC over a few dozen positives turns such small output differences into rank swaps: a loose bound.
      expect(Math.abs((gv.auc ?? NaN) - (wv.auc ?? NaN)), `${task} val AUC`).toBeLessThan(5e-2);
      const gt = got.test[task];
      const wt = want.test[task];
      if (wt.type !== 'classification') throw new Error('classification tasks expected');
      expect(relErr(gt.logloss, wt.logloss), `${task} test logloss`).toBeLessThan(2e-2);
      expect(Math.abs((gt.auc ?? NaN) - (wt.auc ?? NaN)), `${task} test AUC`).toBeLessThan(5e-2);

      // Gate weights of the last step: a distribution over the 8 experts per task, equal on both backends.
      const [gg, wg] = [got.gates[task], want.gates![task]];
      expect(gg).toHaveLength(8);
      expect(gg.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      gg.forEach((v, e) => expect(Math.abs(v - wg[e]), `${task} gate on expert ${e + 1}`).toBeLessThan(1e-3));
    }
  }, 240_000);

  it('trains on the shipped Ali-CCP sample fetched from the server (CPU backend)', async () => {
    const { page, problems } = await openPage('data=sample&epochs=1&batch=64&seed=2&backend=cpu');
    const got = (await page.evaluate(() => (window as unknown as { __webmtl: unknown }).__webmtl)) as PageResult;
    await page.close();
    expect(got.error, got.error).toBeUndefined();
    expect(problems).toEqual([]);
    expect(got.backend).toBe('cpu');
    expect(got.label).toBe('TypeScript CPU reference');
    // 99 training rows in batches of 64: two steps per task, finite losses, metrics on the 49 val rows.
    expect(got.losses.click).toHaveLength(2);
    expect(got.losses.purchase.every(Number.isFinite)).toBe(true);
    expect(got.val).toHaveLength(1);
    expect(got.val[0].click.logloss).toBeGreaterThan(0);
  }, 60_000);

  it('without WebGPU, trains on WebAssembly, says so, and matches the CPU backend in Node', async () => {
    const query = 'data=generated&rows=1000&epochs=1&steps=4&batch=128&seed=3&backend=webgpu';
    const { page, problems } = await openPage(query, { withoutWebGpu: true });
    const got = (await page.evaluate(() => (window as unknown as { __webmtl: unknown }).__webmtl)) as PageResult;
    const status = await page.locator('#status').textContent();
    const progress = await page.locator('#progress').textContent();
    await page.close();
    expect(got.error, got.error).toBeUndefined();
    expect(problems).toEqual([]);
    expect(got.navigatorGpu).toBe(false);
    expect(got.backend).toBe('wasm');
    expect(got.label).toBe('WebAssembly');
    expect(got.fallbackReason).toContain('navigator.gpu is missing');
    expect(status).toMatch(
      /^Backend: WebAssembly · SIMD kernels on the CPU, one thread\. WebGPU is not available here: this browser has no navigator\.gpu/,
    );
    expect(progress).toMatch(/^Done: 4 steps in [\d.]+ s on WebAssembly\.$/);

    const opts = parseOptions(query);
    await initBackend(wm, 'cpu');
    const want = await runExperiment(wm, opts, await loadData(wm, opts));
    for (const task of want.taskNames) {
      expect(got.losses[task]).toHaveLength(4);
      got.losses[task].forEach((v, i) => expect(relErr(v, want.losses[task][i]), `${task} loss at step ${i + 1}`).toBeLessThan(1e-4));
    }
  }, 120_000);
  it('prepareTable in the page: CSV text and Parquet bytes in memory give the splits and vocabularies Node gives', async () => {
    // A census-shaped table of raw text (32 text columns, 7 numbers, 2 labels), and its Parquet twin.
    const table = generateRawTable({ rows: 1200, seed: 4, missingRate: 0.03 });
    const text = rawTableCsvText(table);
    const tmp = mkdtempSync(join(tmpdir(), 'webmtl-browser-table-'));
    let parquetBytes: Uint8Array;
    try {
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const db = await DuckDBInstance.create(':memory:');
      const con = await db.connect();
      const csvPath = join(tmp, 'census.csv');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(csvPath, text);
      await con.run(`COPY (SELECT * FROM read_csv('${csvPath}', header = true)) TO '${join(tmp, 'census.parquet')}' (FORMAT parquet)`);
      con.closeSync();
      db.closeSync();
      parquetBytes = new Uint8Array(readFileSync(join(tmp, 'census.parquet')));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const { schema } = await proposeTableSchema({ name: 'census.csv', text }, { labels: ['income_50k', 'never_married'] });
    const want = summarizeTable(await prepareTable({ name: 'census.csv', text }, { schema }));
    const wantParquet = summarizeTable(await prepareTable({ name: 'census.parquet', bytes: parquetBytes }, { schema }));
    expect(want.rows.train + want.rows.val + want.rows.test).toBe(1200);
    expect(want.sparseColumns).toHaveLength(32);
    expect(want.denseColumns).toHaveLength(7);

    const problems: string[] = [];
    const page = await browser.newPage();
    const pageUrl = `${server.url}/__own-table.html`;
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url === pageUrl) return route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>own table</title>' });
      if (url === `${server.url}/dist/browser/webmtl.js` || url === `${server.url}/test/helpers/table-summary.js`) return route.continue();
      problems.push(`unexpected request: ${url}`);
      return route.abort();
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    await page.goto(pageUrl);
    // The bundle as a page loads it (a module script; the test's own code is transformed for Node).
    await page.addScriptTag({
      type: 'module',
      content:
        "import * as wm from '/dist/browser/webmtl.js'; import { summarizeTable } from '/test/helpers/table-summary.js'; window.__wm = wm; window.__summarizeTable = summarizeTable;",
    });
    await page.waitForFunction(() => (window as { __summarizeTable?: unknown }).__summarizeTable !== undefined, null, { timeout: 30_000 });
    const parquetBase64 = Buffer.from(parquetBytes).toString('base64');
    const got = await page.evaluate(
      async ({ text, parquetBase64, schema }) => {
        const lib = (window as unknown as { __wm: typeof wm }).__wm;
        const summarize = (window as unknown as { __summarizeTable: typeof summarizeTable }).__summarizeTable;
        const fromText = summarize(await lib.prepareTable({ name: 'census.csv', text }, { schema }));
        const bytes = Uint8Array.from(atob(parquetBase64), (c) => c.charCodeAt(0));
        const fromBytes = summarize(await lib.prepareTable({ name: 'census.parquet', bytes: bytes.buffer }, { schema }));
        // Shards of text, a val split in memory, a proposed schema.
        const lines = text.split('\n');
        const half = `${lines.slice(0, 601).join('\n')}\n`;
        const rest = `${[lines[0], ...lines.slice(601)].join('\n')}`;
        const shards = await lib.prepareTable(
          [
            { name: 'part-0.csv', text: half },
            { name: 'part-1.csv', text: rest },
          ],
          { schema, holdout: [0, 0] },
        );
        const proposed = await lib.proposeTableSchema({ name: 'census.csv', text }, { labels: ['income_50k', 'never_married'] });
        const errors: string[] = [];
        for (const run of [
          () => lib.prepareTable({ name: 'census.csv', text }, { schema, storage: 'disk' }),
          () => lib.prepareTable({ name: 'census.csv', text }, { schema, engine: 'duckdb' }),
          () => lib.prepareTable({ name: 'bad.csv', text: `${lines[0]}\n${lines[1]}\n1,2\n` }, { schema }),
        ])
          await run().then(
            () => errors.push('no error'),
            (e: Error) => errors.push(`${e.name}: ${e.message}`),
          );
        return { fromText, fromBytes, shardRows: shards.rows('train'), proposedColumns: proposed.schema.columns.length, errors };
      },
      { text, parquetBase64, schema },
    );
    await page.close();
    expect(problems).toEqual([]);
    expect(got.fromText).toEqual(want);
    expect(got.fromBytes).toEqual(wantParquet);
    // The Parquet twin holds the same table: the same vocabularies and encoded cells.
    expect(got.fromBytes.vocabSizes).toEqual(got.fromText.vocabSizes);
    expect(got.fromBytes.splits.train.columns.education).toEqual(got.fromText.splits.train.columns.education);
    expect(got.shardRows).toBe(1200);
    expect(got.proposedColumns).toBe(schema.columns.length);
    expect(got.errors[0]).toMatch(/^DataError: prepareTable: "census\.csv" is in memory .*Fix: use storage 'memory'/);
    expect(got.errors[1]).toMatch(/^DataError: The DuckDB engine reads files only.*Fix: use engine 'light'/);
    expect(got.errors[2]).toMatch(/^DataError: bad\.csv line 3 has 2 field\(s\), but the header has 41\. Fix:/);
  }, 60_000);
});
