// A tiny read-only static file server for the browser example and its test: serves the repository root
// (so the page can load /dist/browser/webmtl.js and /data/ali-ccp/*.csv) on 127.0.0.1 only.
// WebGPU needs a secure context, and http://localhost / 127.0.0.1 counts as one.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two folders up from this file). */
export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The page's path on the server. */
export const examplePath = '/examples/browser/index.html';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.webmtl': 'application/octet-stream',
};

/**
 * Starts the server; resolves once it listens. `port: 0` (the default) picks a free port.
 * @param {{ root?: string, port?: number, host?: string, log?: (line: string) => void }} [opts]
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void> }>}
 */
export function startServer(opts = {}) {
  const root = resolve(opts.root ?? repoRoot);
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const server = createServer(async (req, res) => {
    const send = (code, text) => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(text);
      log(`${code} ${req.method} ${req.url}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'read-only server: GET and HEAD only\n');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request\n');
    }
    if (path === '/') {
      res.writeHead(302, { location: examplePath });
      return res.end();
    }
    const file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) return send(403, 'outside the served folder\n');
    if (file.split(sep).includes('node_modules') || file.split(sep).some((p) => p.startsWith('.') && p.length > 1)) {
      return send(404, 'not found\n');
    }
    let info;
    try {
      info = await stat(file);
    } catch {
      return send(404, `not found: ${path}\n`);
    }
    if (!info.isFile()) return send(404, `not a file: ${path}\n`);
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
    log(`200 ${req.method} ${req.url}`);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      ok({
        url: `http://${host}:${port}`,
        port,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}
