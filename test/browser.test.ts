// End to end in a browser: the example page (examples/browser) trains MMoE with the browser bundle on
// WebGPU in headless Chromium (SwiftShader without a GPU), and its per-step losses, validation metrics
// and gate weights must match the same run on the CPU backend in Node: same generated data, same seed,
// same loaders and trainer settings (both run examples/browser/experiment.js).
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadData, parseOptions, runExperiment } from '../examples/browser/experiment.js';
import { examplePath, startServer } from '../examples/browser/server.mjs';
import * as wm from '../src/index.js';
import { browserMissing, ensureBundle, launchChromium } from './helpers/browser.js';
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
    const problems: string[] = [];
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    if (opts.withoutWebGpu)
      await page.addInitScript(() => {
        delete (Object.getPrototypeOf(navigator) as { gpu?: unknown }).gpu;
      });
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${server.url}/`) || url.startsWith('data:')) return route.continue();
      problems.push(`blocked a request outside the test server: ${url}`);
      return route.abort();
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
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
});
