/**
 * Cross-site request forgery from a page on another port of the same host, in real Chromium: SameSite=Strict
 * sends the admin's session cookie along (ports do not make another site), so only the controller's origin
 * check stands between that page and the API.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startController } from '../apps/controller/src/index';
import { BrowserSession, hasChromium } from './helpers/browser';
import { ADMIN_PASSWORD, TestController, TestStore } from './helpers/controller';
import { waitFor } from './helpers/processes';

const available = hasChromium();

describe.skipIf(!available)('CSRF in a real browser', () => {
  let store: TestStore;
  let t: TestController;
  let browser: BrowserSession;
  let attacker: http.Server;
  let attackerPage = '';
  let api: ReturnType<TestController['client']>;

  beforeAll(async () => {
    store = await TestStore.create('sqlite');
    const config = loadConfig('server', { listen: '127.0.0.1:0', dataDir: store.dir.path, adminPassword: ADMIN_PASSWORD, logLevel: 'silent' }, {});
    t = new TestController(await startController(config, { announce: () => {} }));
    const session = await t.login();
    api = t.client(session);
    browser = await BrowserSession.launch();
    const [name, value] = session.cookie!.split('=') as [string, string];
    await browser.context.addCookies([{ name, value, url: t.c.url, httpOnly: true, sameSite: 'Strict' }]);
    // The attacker: another port on the same host, posting to whatever URL it is given.
    attacker = http.createServer((req, res) => {
      const target = new URL(req.url ?? '/', 'http://x').searchParams.get('target') ?? '';
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><title>waiting</title><script>
        fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include' })
          .then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });
      </script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', () => r()));
    attackerPage = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => attacker?.close(r));
    await t?.close();
    await store?.dispose();
  });

  async function enroll(name: string): Promise<string> {
    const siteId = (await api.get('/nodes/local')).body.siteId;
    const tok = (await api.post(`/sites/${siteId}/enrollment-tokens`, {})).body;
    return (await t.request('POST', '/agent/enroll', { body: { token: tok.token, name, hostname: `${name}.test` } })).body.nodeId;
  }

  it("refuses a no-cors POST from another port carrying the admin's cookie", async () => {
    const nodeId = await enroll('csrf-victim');
    const page = await browser.context.newPage();
    await page.goto(`${attackerPage}?target=${encodeURIComponent(`${t.c.url}/api/v1/nodes/${nodeId}/revoke`)}`);
    await waitFor(async () => (await page.title()) !== 'waiting');
    await page.close();
    expect((await api.get(`/nodes/${nodeId}`)).body.revokedAt).toBeNull();
    // It did arrive, with the cookie (401 otherwise), and was refused by the origin check.
    const metrics = (await t.request('GET', '/metrics', { headers: await t.login() })).body as string;
    expect(metrics).toContain('caddyfleet_http_requests_total{method="POST",route="/api/v1/nodes/:id/revoke",status="403"} 1');
  });

  it('lets the same request through from the dashboard origin', async () => {
    const nodeId = await enroll('csrf-control');
    const page = await browser.context.newPage();
    await page.goto(`${t.c.url}/healthz`);
    const status = await page.evaluate(
      async (url) => (await fetch(url, { method: 'POST', headers: { 'x-requested-with': 'caddyfleet' } })).status,
      `/api/v1/nodes/${nodeId}/revoke`,
    );
    await page.close();
    expect(status).toBe(200);
    expect((await api.get(`/nodes/${nodeId}`)).body.revokedAt).not.toBeNull();
  });
});
