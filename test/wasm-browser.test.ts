// The wasm backend in a browser (headless Chromium, the browser bundle): on an ordinary page it runs
// on one thread over unshared memory (no SharedArrayBuffer); on a cross-origin-isolated page it starts
// its helper thread from a blob URL. Either way a training step on it matches the CPU backend in the
// same page.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE, browserMissing, ensureBundle, launchChromium } from './helpers/browser.js';

const missing = browserMissing();

// One step of an MMoE-like block on a backend: experts (matmul, BatchNorm, relu), softmax gating,
// a loss, backward; returns the loss, the input gradient and the weight gradient.
const PAGE = `<!doctype html><meta charset="utf-8"><title>wasm</title><script type="module">
import * as wm from '/webmtl.js';
const r = new wm.Random(3);
const draw = (n, s = 1) => Float32Array.from({ length: n }, () => s * r.normal());
const [B, D, E, H, T] = [1030, 100, 8, 16, 2];
const xv = draw(B * D), wv = draw(E * D * H, 0.1), lv = draw(T * B * E), pv = draw(T * B * H);
async function step(backend) {
  wm.setBackend(backend);
  return wm.tidyAsync(async () => {
    const x = wm.fromArray(xv, [B, D], { requiresGrad: true });
    const w = wm.fromArray(wv, [E, D, H], { requiresGrad: true });
    const logits = wm.fromArray(lv, [T, B, E], { requiresGrad: true });
    const state = { runningMean: wm.zeros([E, 1, H]), runningVar: wm.ones([E, 1, H]) };
    const h = wm.relu(wm.batchNorm1d(wm.matmul(x, w), wm.ones([E, 1, H]), wm.zeros([E, 1, H]), state, { training: true }));
    const { mix } = wm.gateMix(logits, h);
    const loss = wm.sum(wm.mul(mix, wm.fromArray(pv, [T, B, H])));
    loss.backward();
    return { loss: await loss.item(), gx: await x.grad.data(), gw: await w.grad.data(), gl: await logits.grad.data() };
  });
}
const relErr = (a, b) => { let d = 0, s = 0; for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); } return d / s; };
try {
  const wasm = await wm.createWasmBackend();
  const got = await step(wasm);
  const want = await step(new wm.CpuBackend());
  window.__result = {
    isolated: self.crossOriginIsolated === true,
    threaded: wasm.threaded,
    splitCalls: wasm.splitCalls,
    shared: typeof SharedArrayBuffer !== 'undefined' && wasm.memory.buffer instanceof SharedArrayBuffer,
    loss: Math.abs(got.loss - want.loss) / Math.abs(want.loss),
    gx: relErr(got.gx, want.gx), gw: relErr(got.gw, want.gw), gl: relErr(got.gl, want.gl),
  };
} catch (e) {
  window.__result = { error: String(e && e.stack || e) };
}
</script>`;

describe.skipIf(missing)('the wasm backend in headless Chromium', () => {
  let server: Server;
  let url = '';
  let browser: Browser;

  beforeAll(async () => {
    ensureBundle();
    const bundle = readFileSync(BUNDLE);
    server = createServer((req, res) => {
      const isolated = req.url?.startsWith('/isolated') ?? false;
      const headers: Record<string, string> = isolated
        ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
        : {};
      if (req.url?.endsWith('/webmtl.js')) {
        res.writeHead(200, { 'content-type': 'text/javascript', ...headers, 'cross-origin-resource-policy': 'same-origin' });
        res.end(bundle);
      } else if (req.url?.endsWith('page.html')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
        res.end(PAGE);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  });

  async function run(path: string): Promise<Record<string, unknown>> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${url}${path}`);
    await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, null, { timeout: 60_000, polling: 100 });
    const result = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as Record<string, unknown>;
    await page.close();
    expect(errors).toEqual([]);
    expect(result.error).toBeUndefined();
    return result;
  }

  const expectMatch = (r: Record<string, unknown>) => {
    for (const k of ['loss', 'gx', 'gw', 'gl']) expect(r[k] as number, k).toBeLessThan(1e-4);
  };

  it('an ordinary page: one thread over unshared memory, same step as the CPU backend', async () => {
    const r = await run('/plain/page.html');
    expect(r.isolated).toBe(false);
    expect(r.shared).toBe(false);
    expect(r.threaded).toBe(false);
    expectMatch(r);
  });

  it('a cross-origin-isolated page: the helper thread shares the large kernels, same step as the CPU backend', async () => {
    const r = await run('/isolated/page.html');
    expect(r.isolated).toBe(true);
    expect(r.shared).toBe(true);
    expect(r.threaded).toBe(true);
    expect(r.splitCalls as number).toBeGreaterThan(0);
    expectMatch(r);
  });
});
