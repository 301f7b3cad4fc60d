#!/usr/bin/env node
// Serves the gradient-routing playground: node scripts/serve-playground.mjs [--port N]  (then open the printed URL).
// Needs dist/browser/webmtl.js (npm run build; npm ci builds it too).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startServer } from '../examples/browser/server.mjs';

export const playgroundPath = '/examples/playground/playground.html';

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 8081;
if (!existsSync(join(repoRoot, 'dist/browser/webmtl.js'))) {
  console.error('dist/browser/webmtl.js is missing: run `npm run build` first.');
  process.exit(1);
}
const server = await startServer({ port, log: process.argv.includes('--verbose') ? console.log : undefined });
console.log(`webmtl playground: ${server.url}${playgroundPath}`);
console.log(
  'Query options: ?rho=0.2&model=sharedbottom|omoe|mmoe|ple&method=fixed|gradnorm|metabalance|pcgrad&backend=auto|wasm|webgpu&seed=1&autostart=1&steps=300',
);
console.log('Training runs in a Web Worker on WebAssembly, or on WebGPU where the browser has it (backend=webgpu).');
console.log('Ctrl+C stops the server.');
