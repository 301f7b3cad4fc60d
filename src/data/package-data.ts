// Finds the data folders shipped with the package (Node only): walk up from this module's own file
// until a `data/<name>` folder appears. Works from src/ (tests), from dist/node/ (the bundle) and from
// node_modules/webmtl/dist/node/ (installed).

import { DataError } from './errors.js';

export async function packageDataDir(name: string): Promise<string> {
  const { existsSync, statSync } = await import('node:fs');
  const { dirname, join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const here = import.meta.url;
  if (!here.startsWith('file:')) {
    throw new DataError(
      `The bundled "${name}" data can only be located in Node (this module was loaded from ${here}). ` +
        `Fix: fetch the CSV files yourself and pass their text (e.g. aliCcpFromCsvText).`,
    );
  }
  let dir = dirname(fileURLToPath(here));
  const searched: string[] = [];
  for (;;) {
    const candidate = join(dir, 'data', name);
    searched.push(candidate);
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new DataError(
    `Could not find the package's data/${name} folder; looked in: ${searched.join(', ')}. Fix: pass the folder explicitly.`,
  );
}
