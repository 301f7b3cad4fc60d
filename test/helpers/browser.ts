// Headless Chromium for the browser tests: finds the browser, builds the bundle when it is missing,
// and launches Chromium with WebGPU on (SwiftShader when there is no GPU).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { repoRoot, startServer } from '../../examples/browser/server.mjs';
import { webgpuRequired } from './webgpu.js';

/** Debian's chromium-headless-shell (what scripts/test-all.sh installs); WEBMTL_CHROMIUM overrides it. */
export const CHROMIUM = process.env.WEBMTL_CHROMIUM || '/usr/lib/chromium/chromium-headless-shell';

export const BUNDLE = join(repoRoot, 'dist/browser/webmtl.js');

const SETUP_HINT =
  'install it with `apt-get install chromium-headless-shell` (or run `npm run test:all`), or point WEBMTL_CHROMIUM at a Chromium binary';

/**
 * Null when the browser is there; otherwise a reason, after a visible warning. Throws instead when
 * the browser tests are required (CI=true or WEBMTL_REQUIRE_WEBGPU=1).
 */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `no Chromium at ${CHROMIUM}`;
  if (webgpuRequired())
    throw new Error(`Browser tests are required here (CI=true or WEBMTL_REQUIRE_WEBGPU=1) but there is ${reason}: ${SETUP_HINT}.`);
  console.warn(`Skipping the browser tests: ${reason}. To run them, ${SETUP_HINT}.`);
  return reason;
}

/** The newest modification time of the files under the given folders of the repository. */
function newestSource(folders: string[]): { file: string; mtime: number } {
  let best = { file: '', mtime: 0 };
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const mtime = statSync(path).mtimeMs;
        if (mtime > best.mtime) best = { file: path, mtime };
      }
    }
  };
  for (const f of folders) if (existsSync(join(repoRoot, f))) walk(join(repoRoot, f));
  return best;
}

/**
 * Builds dist/browser/webmtl.js (node scripts/build.mjs) when it is missing or older than a file in
 * src/ or shaders/, so the page never runs a bundle that differs from the code the test compares with.
 * After npm ci (whose prepare step builds) neither happens.
 */
export function ensureBundle(): void {
  const newest = newestSource(['src', 'shaders']);
  const why = !existsSync(BUNDLE)
    ? 'it is missing'
    : statSync(BUNDLE).mtimeMs < newest.mtime
      ? `${relative(repoRoot, newest.file)} is newer`
      : null;
  if (!why) return;
  console.log(`Building dist/browser/webmtl.js (${why}): node scripts/build.mjs`);
  const started = Date.now();
  try {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
  } catch (e) {
    // The bundle is written before the .d.ts step; a type error there does not make it wrong.
    const fresh = existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= started - 1000;
    if (!fresh) throw e;
    console.warn(`node scripts/build.mjs failed after writing ${relative(repoRoot, BUNDLE)} (see its output); testing that bundle.`);
  }
  if (!existsSync(BUNDLE)) throw new Error(`node scripts/build.mjs did not write ${BUNDLE}`);
}

/**
 * Headless Chromium with WebGPU enabled and nothing that phones home. Playwright gives every launch a
 * fresh temporary profile (its own --user-data-dir) and removes it on close.
 */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--enable-unsafe-webgpu', // WebGPU on Linux; SwiftShader's adapter when there is no GPU
      '--no-sandbox', // root in a container has no user namespaces for the sandbox
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--no-default-browser-check',
    ],
  });
}

/**
 * A new page of `browser` that may talk only to `serverUrl` (data: and blob: URLs too); every request
 * elsewhere is blocked, and it, page errors, console errors and HTTP errors go into `problems`, which
 * a test expects to stay empty. `withoutWebGpu`: the page sees a browser without navigator.gpu.
 */
export async function guardedPage(
  browser: Browser,
  serverUrl: string,
  opts: { withoutWebGpu?: boolean } = {},
): Promise<{ page: Page; problems: string[] }> {
  const problems: string[] = [];
  const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  if (opts.withoutWebGpu)
    await page.addInitScript(() => {
      delete (Object.getPrototypeOf(navigator) as { gpu?: unknown }).gpu;
    });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${serverUrl}/`) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
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
  return { page, problems };
}

/**
 * A temporary folder served by the example server, for pages that need files of their own: `links`
 * maps a name in it to a folder of the repository linked there (the server refuses node_modules
 * paths, so a package's files go in under a plain name). close() stops the server and removes it.
 */
export async function servedFolder(
  prefix: string,
  links: Record<string, string>,
): Promise<{ root: string; url: string; close(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, target] of Object.entries(links)) symlinkSync(join(repoRoot, target), join(root, name));
  const server = await startServer({ root });
  return {
    root,
    url: server.url,
    close: async () => {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
