// Builds dist/node (ESM for Node, and index.cjs for require(); packages left external), dist/browser
// (one ESM bundle, WGSL inlined, no Node-only code) and dist/types (.d.ts from tsc).

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// The wasm kernels (AssemblyScript) are embedded in src/backend/wasm/kernels-wasm.ts; this rebuilds
// that file only when its sources changed.
execFileSync(process.execPath, ['scripts/build-wasm.mjs'], { stdio: 'inherit' });
rmSync('dist', { recursive: true, force: true });

// Node-only modules (Dawn's `webgpu`, `cli-progress`, DuckDB, `tinyglobby`, `node:*`) are imported dynamically on Node paths
// only. In the browser bundle they resolve to a stub that throws if ever loaded, so the bundle holds
// no Node-only specifier for a page — or a downstream bundler — to trip over.
const nodeOnlyStubs = {
  name: 'node-only-stubs',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|webgpu|cli-progress|tinyglobby|@duckdb\/.*)$/ }, (args) => ({
      path: args.path,
      namespace: 'node-only',
    }));
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
// require('webmtl'): Node before 20.19 cannot require() an ES module, so the library is also bundled
// as CommonJS. The source has no top-level await; import.meta.url (used to find the shipped data
// folders) becomes this file's URL. Dynamic imports of ES-only packages (Dawn's `webgpu`) stay import().
await build({
  ...common,
  entryPoints: ['src/index.ts'],
  outfile: 'dist/node/index.cjs',
  format: 'cjs',
  platform: 'node',
  packages: 'external',
  define: { 'import.meta.url': '__webmtlModuleUrl' },
  banner: { js: "const __webmtlModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
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
// The types of require('webmtl'): a .d.cts is read as CommonJS, as TypeScript's node16 resolution
// wants for a require(); it re-exports the ES module declarations (clean with skipLibCheck, as tsc --init sets it).
mkdirSync('dist/types', { recursive: true });
writeFileSync('dist/types/index.d.cts', "export * from './index.js';\n");
execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], { stdio: 'inherit' });
const kib = (f) => (statSync(f).size / 1024).toFixed(1);
console.log(`dist/browser/webmtl.js ${kib('dist/browser/webmtl.js')} KiB (minified)`);
