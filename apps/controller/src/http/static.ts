import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>caddyfleet</title>
<p>The dashboard has not been built yet. Run <code>npm run build</code> in the repository, then reload.
The API is available under <code>/api/v1</code>.</p>`;

/**
 * Serves the dashboard's built files, and index.html for any other GET outside the API so client-side routes
 * survive a reload. Paths are resolved inside the dist folder only.
 */
export function serveDashboard(app: FastifyInstance, dist = WEB_DIST): void {
  const root = path.resolve(dist);
  app.get('/*', async (req, reply) => {
    const urlPath = decodeURIComponent((req.url.split('?')[0] ?? '/').replace(/\+/g, ' '));
    if (urlPath.startsWith('/api/')) {
      return reply.code(404).send({ error: { code: 'not_found', message: `no such endpoint: GET ${urlPath}` } });
    }
    const index = path.join(root, 'index.html');
    if (!fs.existsSync(index)) return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
    let file = path.resolve(root, '.' + urlPath);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) file = index;
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    const immutable = file.includes(`${path.sep}assets${path.sep}`);
    reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('x-content-type-options', 'nosniff');
    if (file === index) reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
    return reply.type(type).send(fs.createReadStream(file));
  });
}
