// Builds dist/node (ESM for Node, webgpu left external), dist/browser (one ESM bundle, WGSL inlined,
// no Node-only code) and dist/types (.d.ts from tsc).

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, statSync } from 'node:fs';
import { build } from 'esbuild';

// The wasm kernels (AssemblyScript) are embedded in src/backend/wasm/kernels-wasm.ts; this rebuilds
// that file only when its sources changed.
execFileSync(process.execPath, ['scripts/build-wasm.mjs'], { stdio: 'inherit' });
rmSync('dist', { recursive: true, force: true });

// Node-only modules (Dawn's `webgpu`, `cli-progress`, `node:*`) are imported dynamically on Node paths
// only. In the browser bundle they resolve to a stub that throws if ever loaded, so the bundle holds
// no Node-only specifier for a page — or a downstream bundler — to trip over.
const nodeOnlyStubs = {
  name: 'node-only-stubs',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|webgpu|cli-progress)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`webmtl: '${args.path}' is a Node.js module and is not available in a browser`)});`,
      loader: 'js',
    }));
  },
};
const common = { bundle: true, format: 'esm', loader: { '.wgsl': 'text' }, target: 'es2022', sourcemap: true, logLevel: 'warning' };
const nodeEntries = ['src/index.ts'];
if (existsSync('src/cli.ts')) nodeEntries.push('src/cli.ts');
await build({
  ...common,
  entryPoints: nodeEntries,
  outdir: 'dist/node',
  platform: 'node',
  packages: 'external',
  splitting: true,
});
await build({
  ...common,
  entryPoints: { webmtl: 'src/index.ts' },
  outdir: 'dist/browser',
  platform: 'browser',
  plugins: [nodeOnlyStubs],
  minify: true,
});
if (existsSync('dist/node/cli.js')) chmodSync('dist/node/cli.js', 0o755);
execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
const kib = (f) => (statSync(f).size / 1024).toFixed(1);
console.log(`dist/browser/webmtl.js ${kib('dist/browser/webmtl.js')} KiB (minified)`);
