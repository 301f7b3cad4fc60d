// The built package for the tests that run it as a user would (the CLI, require('webmtl')): builds
// dist/ (node scripts/build.mjs) when an output is missing or older than the sources that make it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** What scripts/build.mjs writes that these tests run. */
export const DIST_OUTPUTS = [
  'dist/node/index.js',
  'dist/node/index.cjs',
  'dist/node/cli.js',
  'dist/browser/webmtl.js',
  'dist/types/index.d.cts',
];

function newest(paths: string[]): { file: string; mtime: number } {
  let best = { file: '', mtime: 0 };
  const visit = (path: string) => {
    if (!existsSync(path)) return;
    const info = statSync(path);
    if (info.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else if (info.mtimeMs > best.mtime) best = { file: path, mtime: info.mtimeMs };
  };
  for (const p of paths) visit(join(repoRoot, p));
  return best;
}

/** Builds dist/ unless every output is newer than src/, shaders/, package.json and scripts/build.mjs. */
export function ensureDist(): void {
  const source = newest(['src', 'shaders', 'package.json', 'scripts/build.mjs']);
  const missing = DIST_OUTPUTS.find((f) => !existsSync(join(repoRoot, f)));
  const stale = DIST_OUTPUTS.find((f) => existsSync(join(repoRoot, f)) && statSync(join(repoRoot, f)).mtimeMs < source.mtime);
  if (!missing && !stale) return;
  console.log(`Building dist/ (${missing ? `${missing} is missing` : `${relative(repoRoot, source.file)} is newer than ${stale}`})`);
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot, stdio: 'inherit' });
}

/** Runs the built CLI (`node dist/node/cli.js …args`) from the repository root: its exit status and both streams. */
export function runCli(args: readonly string[], timeoutMs = 240_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/node/cli.js', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
