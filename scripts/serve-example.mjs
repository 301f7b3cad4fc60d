#!/usr/bin/env node
// Serves the browser example: node scripts/serve-example.mjs [--port N]  (then open the printed URL).
// Needs dist/browser/webmtl.js (npm run build; npm ci builds it too).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { examplePath, repoRoot, startServer } from '../examples/browser/server.mjs';

const i = process.argv.indexOf('--port');
const port = i > 0 ? Number(process.argv[i + 1]) : 8080;
if (!existsSync(join(repoRoot, 'dist/browser/webmtl.js'))) {
  console.error('dist/browser/webmtl.js is missing: run `npm run build` first.');
  process.exit(1);
}
const server = await startServer({ port, log: process.argv.includes('--verbose') ? console.log : undefined });
const url = server.url + examplePath;
console.log(`webmtl browser example: ${url}`);
console.log('WebGPU needs Chrome/Edge 113+ (or a browser with WebGPU enabled); the page falls back to WebAssembly on the CPU otherwise.');
console.log('Query options: ?data=generated|sample&rows=4000&epochs=3&batch=256&lr=0.005&seed=1&steps=0&backend=webgpu|wasm|cpu|auto');
console.log('Ctrl+C stops the server.');
