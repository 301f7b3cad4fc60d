// The package as a user installs it: what npm ships, require() and import of 'webmtl' from an
// installed copy, and the optional peer `webgpu` (Dawn for Node) being absent.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  setDawnImporterForTesting,
  WEBGPU_PACKAGE_VERSION,
  WebGPUPackageMissingError,
  webgpuLoadError,
} from '../src/backend/webgpu/device.js';
import { createBackend } from '../src/init.js';
import { VERSION } from '../src/version.js';
import { ensureDist, repoRoot } from './helpers/dist.js';

interface PackageJson {
  version: string;
  main: string;
  engines: { node: string };
  exports: Record<string, unknown>;
  files: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const FIX = `npm install webgpu@${WEBGPU_PACKAGE_VERSION}`;

/** The errors Node throws when a package is not installed, for `import()` and for `require()`. */
function notFound(specifier: string, code: 'ERR_MODULE_NOT_FOUND' | 'MODULE_NOT_FOUND'): Error {
  const message =
    code === 'ERR_MODULE_NOT_FOUND'
      ? `Cannot find package '${specifier}' imported from /app/node_modules/webmtl/dist/node/chunk.js`
      : `Cannot find module '${specifier}'\nRequire stack:\n- /app/node_modules/webmtl/dist/node/index.cjs`;
  return Object.assign(new Error(message), { code });
}

describe('webgpu is an optional peer dependency', () => {
  it('package.json: a pinned optional peer, a devDependency for the tests, never installed for users', () => {
    expect(pkg.peerDependencies?.webgpu).toBe(WEBGPU_PACKAGE_VERSION);
    expect(pkg.peerDependenciesMeta?.webgpu?.optional).toBe(true);
    expect(pkg.devDependencies.webgpu).toBe(WEBGPU_PACKAGE_VERSION);
    expect(pkg.dependencies?.webgpu).toBeUndefined();
    expect(pkg.optionalDependencies?.webgpu).toBeUndefined();
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, PackageJson> };
    expect(lock.packages[''].peerDependencies).toEqual(pkg.peerDependencies);
    // The one optional dependency is DuckDB (the fast table reader, loaded only when used), never webgpu.
    expect(lock.packages[''].optionalDependencies).toEqual(pkg.optionalDependencies);
    expect(Object.keys(pkg.optionalDependencies ?? {})).toEqual(['@duckdb/node-api']);
  });

  it('a missing webgpu package becomes WebGPUPackageMissingError with the fix; other load errors pass through', () => {
    for (const code of ['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND'] as const) {
      const e = webgpuLoadError(notFound('webgpu', code));
      expect(e).toBeInstanceOf(WebGPUPackageMissingError);
      expect(e.name).toBe('WebGPUPackageMissingError');
      expect(e.message).toContain("optional package 'webgpu'");
      expect(e.message).toContain(FIX);
      expect((e as WebGPUPackageMissingError).fix).toBe(FIX);
    }
    // One of webgpu's own dependencies missing, or a broken binary, is another problem: shown as it is.
    const dependency = notFound('debug', 'ERR_MODULE_NOT_FOUND');
    expect(webgpuLoadError(dependency)).toBe(dependency);
    const broken = new Error('dawn.node: invalid ELF header');
    expect(webgpuLoadError(broken)).toBe(broken);
  });

  describe('with the package absent (its import rejected as Node rejects it)', () => {
    beforeAll(() => setDawnImporterForTesting(() => Promise.reject(notFound('webgpu', 'ERR_MODULE_NOT_FOUND'))));
    afterAll(() => setDawnImporterForTesting());

    it("backend 'webgpu' throws WebGPUPackageMissingError naming the package and the fix", async () => {
      const err = await createBackend('webgpu').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WebGPUPackageMissingError);
      expect((err as Error).message).toContain(FIX);
    });

    it("backend 'auto' falls back to wasm without a word", async () => {
      const warn = vi.spyOn(console, 'warn');
      const error = vi.spyOn(console, 'error');
      const backend = await createBackend('auto');
      expect(backend.name).toBe('wasm');
      expect(warn).not.toHaveBeenCalled();
      expect(error).not.toHaveBeenCalled();
      warn.mockRestore();
      error.mockRestore();
    });
  });
});

describe('the installed package (a copy in node_modules, without webgpu)', () => {
  let app: string;
  beforeAll(() => {
    ensureDist();
    // app/node_modules/webmtl: what npm would unpack (package.json, dist/node, the data); the
    // dependencies are links to this checkout's, all but webgpu. Outside the checkout, so nothing
    // resolves from its node_modules.
    app = mkdtempSync(join(tmpdir(), 'webmtl-app-'));
    const installed = join(app, 'node_modules', 'webmtl');
    mkdirSync(join(installed, 'dist'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(installed, 'package.json'));
    cpSync(join(repoRoot, 'dist/node'), join(installed, 'dist/node'), { recursive: true, filter: (f) => !f.endsWith('.map') });
    cpSync(join(repoRoot, 'dist/types'), join(installed, 'dist/types'), { recursive: true });
    cpSync(join(repoRoot, 'data/ali-ccp'), join(installed, 'data/ali-ccp'), { recursive: true });
    for (const dep of readdirSync(join(repoRoot, 'node_modules'))) {
      if (dep === 'webgpu' || dep.startsWith('.')) continue;
      symlinkSync(join(repoRoot, 'node_modules', dep), join(app, 'node_modules', dep));
    }
  }, 120_000);
  afterAll(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  function node(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, args, { cwd: app, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  // Adds two tensors, reads the shipped sample, then asks for WebGPU; prints what happened as JSON.
  const probe = (load: string) => `
    (async () => {
      const wm = await (${load});
      const auto = await wm.init({ backend: 'auto' });
      const sum = await wm.add(wm.tensor([1, 2, 3]), wm.tensor([10, 20, 30])).toArray();
      const sample = await wm.loadAliCcp();
      let webgpu = null;
      try { await wm.init({ backend: 'webgpu' }); } catch (e) { webgpu = { name: e.name, message: e.message }; }
      console.log(JSON.stringify({ auto, sum, trainRows: sample.train.length, webgpu }));
    })().catch((e) => { console.error(e); process.exit(1); });`;

  it('has no webgpu to find', () => {
    const r = node(['-e', "require.resolve('webgpu')"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Cannot find module 'webgpu'");
  });

  it.each([
    ['require() without require(esm), as on Node before 20.19', ['--no-experimental-require-module'], "require('webmtl')"],
    ['import()', [], "import('webmtl')"],
  ])('%s: computes, finds its data, falls back to wasm, and names the missing package', (_, flags, load) => {
    const flagsHere = flags.filter((f) => process.allowedNodeEnvironmentFlags.has(f));
    const r = node([...flagsHere, '-e', probe(load)]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const got = JSON.parse(r.stdout) as {
      auto: string;
      sum: number[];
      trainRows: number;
      webgpu: { name: string; message: string } | null;
    };
    expect(got.auto).toBe('wasm');
    expect(got.sum).toEqual([11, 22, 33]);
    expect(got.trainRows).toBe(100);
    expect(got.webgpu?.name).toBe('WebGPUPackageMissingError');
    expect(got.webgpu?.message).toContain(FIX);
  });

  it("resolves require('webmtl') to the CommonJS build and import to the ES module", () => {
    const r = node(['-e', "console.log(require.resolve('webmtl')); import('webmtl').then(() => console.log('import ok'))"]);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/node_modules[\\/]webmtl[\\/]dist[\\/]node[\\/]index\.cjs$/);
    expect(r.stdout).toContain('import ok');
  });

  it('TypeScript (node16 resolution) types both require() and import of webmtl', () => {
    const use =
      "import * as wm from 'webmtl';\nexport const t: wm.Tensor = wm.tensor([1, 2]);\nexport const b: Promise<string> = wm.init({ backend: 'auto' });\n";
    writeFileSync(join(app, 'uses-require.cts'), use);
    writeFileSync(join(app, 'uses-import.mts'), use);
    const compilerOptions = {
      module: 'node16',
      moduleResolution: 'node16',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['uses-require.cts', 'uses-import.mts'] }));
    const r = node([join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the CLI: --version, and --device webgpu fails with the fix (exit 1)', () => {
    const cli = join('node_modules', 'webmtl', 'dist', 'node', 'cli.js');
    const v = node([cli, '--version']);
    expect(v.status).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    // The version model bundles record (src/version.ts) is the package's.
    expect(VERSION).toBe(pkg.version);
    const r = node([cli, 'train', '--device', 'webgpu', '--rows', '40', '--epochs', '1', '--quiet']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(FIX);
  });
});

describe('what npm publishes', () => {
  it('ships the LICENSE, the three builds and the data, not the sources', () => {
    ensureDist();
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8' });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    for (const f of [
      'LICENSE',
      'package.json',
      'README.md',
      'dist/node/index.js',
      'dist/node/index.cjs',
      'dist/node/cli.js',
      'dist/browser/webmtl.js',
      'dist/types/index.d.ts',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('data/ali-ccp/'))).toBe(true);
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
    expect(readFileSync(join(repoRoot, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the webmtl authors\n/);
    expect(pkg.exports['.']).toMatchObject({
      node: {
        import: { types: './dist/types/index.d.ts', default: './dist/node/index.js' },
        require: { types: './dist/types/index.d.cts', default: './dist/node/index.cjs' },
      },
    });
    expect(pkg.files).toContain('LICENSE');
    // Tools that read `main` and not `exports` (older bundlers and test runners) get the CommonJS build.
    expect(pkg.main).toBe('./dist/node/index.cjs');
  }, 60_000);
});
