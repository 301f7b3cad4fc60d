// The layers of src/ run one way: a file imports only from its own layer's folder or from a lower
// layer. Type-only imports count (they tie the lower layer's meaning to the higher one's).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');

/** Lowest first. A root file (src/*.ts) is named by its file name, a folder by its name. */
const LAYERS: readonly (readonly string[])[] = [
  ['options.ts', 'features.ts', 'rng.ts', 'spellings.ts', 'version.ts', 'wgsl.d.ts'], // leaves: plain data, no engine
  ['backend'], // buffers and kernels
  ['data'], // host-side columns, loaders, CSV: no tensors
  ['tensor'], // autograd over the backend
  ['init.ts'], // choosing and opening a backend
  ['nn'],
  ['optim'],
  ['models'],
  ['mtl'], // task balancing and the gradient inspector
  ['io'], // checkpoints, safetensors, torch-rechub weights
  ['train'],
  ['deploy'], // model bundles and predicting with them
  ['report'],
  ['experiments'],
  ['cli.ts', 'index.ts'],
];

/** A root file's name, or the folder under src/ that holds the file. */
function unitOf(file: string): string {
  return relative(SRC, file).split(/[\\/]/)[0];
}

function rankOf(unit: string): number {
  const r = LAYERS.findIndex((layer) => layer.includes(unit));
  if (r < 0) throw new Error(`src/${unit} is in no layer: add it to LAYERS in test/architecture.test.ts`);
  return r;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative module a file names: static imports and re-exports (type-only too) and dynamic import(). */
function importedPaths(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
    /^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]);
  return found;
}

interface Tie {
  from: string;
  to: string;
}

function wrongWayTies(): Tie[] {
  const ties: Tie[] = [];
  for (const file of sourceFiles(SRC)) {
    const fromUnit = unitOf(file);
    if (fromUnit === 'backend' && file.includes(join('wasm', 'assembly'))) continue; // AssemblyScript, compiled apart
    for (const spec of importedPaths(readFileSync(file, 'utf8'))) {
      const target = normalize(join(dirname(file), spec));
      const rel = relative(SRC, target);
      if (rel.startsWith('..')) {
        // Only the WebGPU backend reaches outside src/, for its WGSL sources.
        if (!(fromUnit === 'backend' && relative(join(SRC, '..', 'shaders'), target).split(/[\\/]/).length === 1)) {
          ties.push({ from: relative(SRC, file), to: rel });
        }
        continue;
      }
      const toUnit = unitOf(target.replace(/\.js$/, '.ts'));
      if (toUnit === fromUnit) continue;
      if (rankOf(toUnit) >= rankOf(fromUnit) && !(rankOf(toUnit) === 0 && rankOf(fromUnit) === 0)) {
        ties.push({ from: relative(SRC, file), to: relative(SRC, target) });
      }
    }
  }
  return ties;
}

describe('architecture', () => {
  it('every folder and root file of src/ is in a layer', () => {
    const units = new Set(sourceFiles(SRC).map(unitOf));
    for (const u of units) expect(() => rankOf(u)).not.toThrow();
  });

  it('no file imports from a higher layer (or outside src/)', () => {
    expect(wrongWayTies()).toEqual([]);
  });

  it('the import scanner sees static, type-only, re-exported and dynamic imports', () => {
    const source = [
      "import { a } from '../tensor/ops.js';",
      "import type { B } from '../models/base.js';",
      "export { c } from './c.js';",
      "const d = await import('../train/trainer.js');",
      "import './side-effect.js';",
      "import { readFile } from 'node:fs';",
    ].join('\n');
    expect(importedPaths(source).sort()).toEqual([
      '../models/base.js',
      '../tensor/ops.js',
      '../train/trainer.js',
      './c.js',
      './side-effect.js',
    ]);
  });
});
