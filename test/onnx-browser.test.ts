// The ONNX export in a page: a model bundle written in Node is decoded by the browser bundle, exported
// to ONNX there (exportOnnx is browser-safe), and run by onnxruntime-web (its WebAssembly build) in
// headless Chromium; the scores equal webmtl's own predictions in Node. Covers every model kind of the
// test zoo (sparse, shared-table sequence and dense features; sigmoid gates; PLE's two levels).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../src/deploy/bundle.js';
import type { Feature } from '../src/features.js';
import { Random } from '../src/tensor/random.js';
import { fromArray } from '../src/tensor/tensor.js';
import { browserMissing, ensureBundle, guardedPage, launchChromium, servedFolder } from './helpers/browser.js';
import { MODEL_ZOO, perturbWeights } from './helpers/model-zoo.js';

const missing = browserMissing();
const ROWS = 23;

/** Inputs for every feature: ids below each vocabulary (sequences of 3, some all padding), normal dense values. */
function inputs(features: readonly Feature[], seed: number): Record<string, { ids?: number[]; values?: number[]; width?: number }> {
  const r = new Random(seed);
  return Object.fromEntries(
    features.map((f) => {
      if (f.kind === 'dense') return [f.name, { values: Array.from({ length: ROWS }, () => r.normal()) }];
      const width = f.kind === 'sequence' ? 3 : 1;
      return [f.name, { ids: Array.from({ length: ROWS * width }, (_, i) => (i < 3 ? 0 : r.int(f.vocabSize))), width }];
    }),
  );
}

describe.skipIf(missing)('ONNX export run by onnxruntime-web in headless Chromium', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof servedFolder>>;

  beforeAll(async () => {
    ensureBundle();
    server = await servedFolder('webmtl-onnx-browser-', { ort: 'node_modules/onnxruntime-web/dist', dist: 'dist' });
    writeFileSync(join(server.root, 'index.html'), '<!doctype html><meta charset="utf-8"><title>onnx</title>');
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('every model kind: decoded and exported in the page, scored by onnxruntime-web, equal to webmtl in Node within 1e-5', async () => {
    const { page, problems } = await guardedPage(browser, server.url);
    await page.goto(`${server.url}/index.html`);
    // Module imports go in a script tag: vitest rewrites import() inside functions handed to the page.
    await page.addScriptTag({
      type: 'module',
      content:
        "import * as wm from '/dist/browser/webmtl.js'; import * as ort from '/ort/ort.min.mjs'; window.__wm = wm; window.__ort = ort;",
    });
    await page.waitForFunction(() => '__ort' in window && '__wm' in window);
    for (const [name, make] of Object.entries(MODEL_ZOO)) {
      const model = make();
      perturbWeights(model, 3, 0.2);
      const x = inputs(model.features, 11);
      const batch = Object.fromEntries(
        model.features.map((f) => {
          const v = x[f.name];
          return [
            f.name,
            v.values
              ? fromArray(Float32Array.from(v.values), [ROWS])
              : fromArray(Int32Array.from(v.ids!), v.width === 1 ? [ROWS] : [ROWS, v.width!]),
          ];
        }),
      );
      const want = Array.from((await model.predict(batch).data()) as Float32Array);
      const bundle = Array.from(await encodeModel(model));
      const got = await page.evaluate(
        async ({ bundle, x, rows }) => {
          // biome-ignore lint/suspicious/noExplicitAny: the page's modules, untyped here
          const { __wm: wm, __ort: ort } = window as any;
          ort.env.wasm.wasmPaths = '/ort/';
          ort.env.wasm.numThreads = 1;
          await wm.init({ backend: 'cpu' });
          const loaded = wm.decodeModel(new Uint8Array(bundle));
          const onnx = await wm.exportOnnx(loaded.model);
          const session = await ort.InferenceSession.create(onnx);
          const feeds: Record<string, unknown> = {};
          for (const [name, v] of Object.entries(x as Record<string, { ids?: number[]; values?: number[]; width?: number }>)) {
            feeds[name] = v.values
              ? new ort.Tensor('float32', Float32Array.from(v.values), [rows])
              : new ort.Tensor(
                  'int64',
                  BigInt64Array.from(v.ids!, (id) => BigInt(id)),
                  v.width === 1 ? [rows] : [rows, v.width],
                );
          }
          const out = await session.run(feeds);
          return Array.from(out[session.outputNames[0]].data as Float32Array);
        },
        { bundle, x, rows: ROWS },
      );
      expect(got.length, name).toBe(want.length);
      const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
      expect(worst, `${name}: largest difference from webmtl in Node`).toBeLessThan(1e-5);
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});
