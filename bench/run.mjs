#!/usr/bin/env node
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// Runs a TypeScript benchmark from bench/: bundles bench/<name>.ts with esbuild (WGSL as text,
// packages left external) into node_modules/.cache/webmtl-bench/, then imports it and calls its
// exported main(argv) with the remaining arguments.
// The benches import the engine's sources directly, so no `npm run build` is needed first.
//
//   node bench/run.mjs gating [--quick|--full] [flags]
//   node bench/run.mjs matmul [--quick|--full] [flags]
//   node bench/run.mjs <name> --help
import { build } from 'esbuild';
import { SWIFTSHADER_ICD, useSwiftShaderWithoutGpu } from '../scripts/swiftshader.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const benches = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && f !== 'common.ts')
  .map((f) => f.slice(0, -3));

const [name, ...args] = process.argv.slice(2);
if (!name || !benches.includes(name)) {
  console.error(`usage: node bench/run.mjs <${benches.join('|')}> [--quick|--full] [--help]`);
  process.exit(2);
}

if (useSwiftShaderWithoutGpu()) {
  console.log(`(no GPU device found: WebGPU will run on SwiftShader, VK_ICD_FILENAMES=${SWIFTSHADER_ICD})`);
}

const outDir = join(root, 'node_modules', '.cache', 'webmtl-bench');
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, `${name}.mjs`);
await build({
  entryPoints: [join(root, 'bench', `${name}.ts`)],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'es2022',
  packages: 'external',
  loader: { '.wgsl': 'text' },
  sourcemap: 'inline',
  logLevel: 'warning',
});

process.env.WEBMTL_BENCH_ROOT = root;
const mod = await import(pathToFileURL(outfile).href);
try {
  // A bench exports main(argv); one without it did its work when imported.
  if (typeof mod.main === 'function') await mod.main(args);
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
}
// Dawn's device threads can keep Node alive after the bench; leave explicitly.
process.exit(process.exitCode ?? 0);
