import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { ADMIN_PASSWORD } from './helpers/controller';
import { tempDir, waitFor, type TempDir } from './helpers/processes';

describe('live event feed (SSE)', () => {
  let dir: TempDir;
  let c: RunningController | undefined;
  afterAll(async () => {
    await c?.close();
    await dir?.cleanup();
  });

  it('streams node changes to a signed-in client and ends open streams on shutdown', async () => {
    dir = await tempDir('cf-events-');
    c = await startController(loadConfig('server', { listen: '127.0.0.1:0', dataDir: dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {}), { announce: () => {} });
    const login = await fetch(`${c.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(`${c.url}/api/v1/events`)).status).toBe(401);

    let text = '';
    const ended = new Promise<void>((resolve, reject) => {
      http
        .get(`${c!.url}/api/v1/events`, { headers: { cookie } }, (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve());
          res.on('error', reject);
        })
        .on('error', reject);
    });
    await waitFor(() => text.includes(': connected'));
    const patched = await fetch(`${c.url}/api/v1/nodes/local`, { method: 'PATCH', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'renamed' }) });
    expect(patched.status).toBe(200);
    await waitFor(() => /event: node\ndata: \{[^\n]*"name":"renamed"/.test(text));

    const started = Date.now();
    await c.close();
    c = undefined;
    await ended;
    expect(Date.now() - started, 'close() did not wait for the open stream').toBeLessThan(3000);
  });
});
