/**
 * End-to-end: proxy and redirection hosts made through the dashboard's forms (headless Chromium, real controller
 * in-process), served by a real agent's managed Caddy (/usr/bin/caddy on 127.0.0.2/127.0.0.3, enrolled through the
 * API, tests/helpers/dashboard-session.ts).
 *
 * Flow: a proxy host created through the form (after the schema's inline errors) is served by the node's Caddy
 * (checked with a Host header against a real upstream on 127.0.0.1) → a duplicate domain shows the 409 on its
 * field → editing it (PATCH) and a redirection host (create, 308 served, delete) reach the node's Caddy → a proxy
 * host with options from each group of the form (load balancing, a custom location, an IP deny list, a response
 * header; then maintenance) is applied by the node's Caddy.
 *
 * Screenshots go to test-results/screenshots/; any browser console error fails the test (tests/helpers/browser.ts).
 * Missing Chromium or Caddy: fails under CI=true, skips locally.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { Page } from 'playwright-core';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { hidden, open, poll, text, visible, type DashboardEnv } from './helpers/dashboard';
import { useDashboardSession } from './helpers/dashboard-session';
import { requireCaddy } from './helpers/fleet-agent';
import { httpGet } from './helpers/http-probe';
import { startUpstream } from '../apps/agent/test-support/fixtures';
import { waitFor } from './helpers/processes';

/** GET from a chosen loopback source address (for the IP deny list). */
function getFrom(source: string, ip: string, port: number, host: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, localAddress: source, headers: { Host: host }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${host} from ${source} timed out`)));
    req.on('error', reject);
  });
}

const DOMAIN = 'app.e2e.test';

// Both throw under CI=true when missing (never skip in CI); locally they warn and the suite skips.
const browserReady = hasChromium();
const caddyReady = requireCaddy();

describe.skipIf(!browserReady || !caddyReady)('dashboard host forms (Chromium, real controller, real agent)', () => {
  const session = useDashboardSession({ signIn: true, agent: true });
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;
  let nodeId = '';

  beforeAll(() => {
    ({ env, browser, page, nodeId } = session);
  });

  it('creates a proxy host on that node through the form, and the node\'s Caddy serves it', async () => {
    await open(page, '/proxy-hosts', 'Proxy hosts');
    await page.getByRole('button', { name: 'Add proxy host' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New proxy host' });

    // Client-side validation from the protocol's zod schema, inline on the fields.
    await dialog.getByLabel('Domain names').fill('not a_domain!');
    await dialog.getByRole('button', { name: 'Create proxy host' }).click();
    await visible(dialog.getByText(/not a valid RFC 1123 label/));
    await poll(() => dialog.getByLabel('Domain names').getAttribute('aria-invalid')).toBe('true');
    await visible(dialog.getByText('enter a port (1–65535)'));
    await browser.screenshot('13-proxy-form-validation');

    await dialog.getByLabel('Server', { exact: true }).selectOption(nodeId);
    await dialog.getByLabel('Domain names').fill(DOMAIN);
    await dialog.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await dialog.getByLabel('Port', { exact: true }).fill(String(env.upstream.port));
    await dialog.getByLabel('TLS').selectOption('off');
    await dialog.getByRole('button', { name: 'Create proxy host' }).click();
    await hidden(dialog);

    const created = page.locator('tbody tr').filter({ hasText: DOMAIN });
    await poll(() => text(created)).toContain(`127.0.0.1:${env.upstream.port}`);
    await poll(() => text(created)).toContain('e2e-node');

    const served = await waitFor(
      async () => {
        const res = await env.caddyGet(DOMAIN, '/hello');
        return res?.status === 200 ? res : null;
      },
      { timeoutMs: 20_000, description: `${DOMAIN} served by the node's Caddy` },
    );
    expect(served.body).toBe(`e2e-upstream ${DOMAIN}/hello`);
    await browser.screenshot('14-proxy-hosts');
    browser.assertClean();
  });

  it('shows the 409 domain conflict on the domains field', async () => {
    await page.getByRole('button', { name: 'Add proxy host' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New proxy host' });
    await dialog.getByLabel('Server', { exact: true }).selectOption(nodeId);
    await dialog.getByLabel('Domain names').fill(DOMAIN);
    await dialog.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await dialog.getByLabel('Port', { exact: true }).fill('9');
    browser.expectHttpError(409, /^\/api\/v1\/routes$/);
    await dialog.getByRole('button', { name: 'Create proxy host' }).click();
    const domains = dialog.getByLabel('Domain names');
    await poll(() => domains.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await domains.getAttribute('aria-describedby')) ?? '';
    const fieldError = page.locator(`[id="${describedBy.split(' ').pop()}"]`);
    await poll(() => text(fieldError)).toContain(`${DOMAIN} is already served on this server by another route`);
    await browser.screenshot('15-proxy-form-409');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await hidden(dialog);
    browser.assertClean();
  });

  it('edits a proxy host and creates, serves and deletes a redirection host on the node', async () => {
    await open(page, '/proxy-hosts', 'Proxy hosts');
    await page.getByRole('button', { name: `Edit ${DOMAIN}` }).click();
    const edit = page.getByRole('dialog', { name: 'Edit proxy host' });
    await poll(() => edit.getByLabel('Domain names').inputValue()).toBe(DOMAIN);
    await edit.getByLabel('Domain names').fill(`${DOMAIN}\nwww.${DOMAIN}`);
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await hidden(edit);
    await poll(() => text(page.locator('tbody tr').filter({ hasText: DOMAIN }))).toContain(`www.${DOMAIN}`);
    const www = await waitFor(
      async () => {
        const res = await env.caddyGet(`www.${DOMAIN}`);
        return res?.status === 200 ? res : null;
      },
      { timeoutMs: 20_000, description: `www.${DOMAIN} served after the edit` },
    );
    expect(www.body).toBe(`e2e-upstream www.${DOMAIN}/`);

    await open(page, '/redirection-hosts', 'Redirection hosts');
    await page.getByRole('button', { name: 'Add redirection host' }).first().click();
    const form = page.getByRole('dialog', { name: 'New redirection host' });
    await form.getByLabel('Server', { exact: true }).selectOption(nodeId);
    await form.getByLabel('Domain names').fill('old.e2e.test');
    await form.getByLabel('Redirect to').fill('https://new.e2e.test/base');
    await form.getByLabel('Status code').selectOption('308');
    await form.getByLabel('TLS').selectOption('off');
    expect(await form.getByLabel('TLS').locator('option[value="off"]').textContent()).toBe('Redirect the HTTP port only (no TLS; HTTPS left alone)');
    await visible(form.getByText(/^Only the HTTP port answers with this redirect/));
    await form.getByRole('button', { name: 'Create redirection host' }).click();
    await hidden(form);
    const redirected = await waitFor(
      async () => {
        const res = await env.caddyGet('old.e2e.test', '/docs?x=1');
        return res?.status === 308 ? res : null;
      },
      { timeoutMs: 20_000, description: 'old.e2e.test redirected by the node' },
    );
    expect(redirected.location).toBe('https://new.e2e.test/base/docs?x=1');
    await browser.screenshot('16-redirection-hosts');

    await page.getByRole('button', { name: 'Delete old.e2e.test' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete redirection host?' });
    await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
    await hidden(confirm);
    await visible(page.getByText('No redirection hosts yet.'));
    await waitFor(async () => (await env.caddyGet('old.e2e.test'))?.status === 404, {
      timeoutMs: 20_000,
      description: 'old.e2e.test no longer served',
    });
    browser.assertClean();
  });

  it("creates a proxy host with options through the form, one per group, and the node's Caddy applies them", async () => {
    const api = await startUpstream('api-upstream');
    try {
      await open(page, '/proxy-hosts', 'Proxy hosts');
      await page.getByRole('button', { name: 'Add proxy host' }).first().click();
      const dialog = page.getByRole('dialog', { name: 'New proxy host' });
      await dialog.getByLabel('Server', { exact: true }).selectOption(nodeId);
      await dialog.getByLabel('Domain names').fill('opts.e2e.test');
      await dialog.getByLabel('Host', { exact: true }).fill('127.0.0.1');
      await dialog.getByLabel('Port', { exact: true }).fill(String(env.upstream.port));
      await dialog.getByLabel('TLS').selectOption('off');
      // Upstream group
      await dialog.getByText('Upstream connection').click();
      await dialog.getByLabel('Load balancing').selectOption('round_robin');
      // Locations group: a malformed line first, refused on the field by the shared schema.
      await dialog.getByText('Custom locations').click();
      await dialog.getByLabel('Locations').fill('/api* = 127.0.0.1:1');
      await dialog.getByRole('button', { name: 'Create proxy host' }).click();
      await visible(dialog.getByText(/^line 1: must start with \//));
      await dialog.getByLabel('Locations').fill(`/api = 127.0.0.1:${api.port}`);
      // Security group
      await dialog.getByText('Security and access').click();
      await dialog.getByLabel('Deny').fill('127.0.0.9');
      // Headers group
      await dialog.getByText('Headers', { exact: true }).click();
      await dialog.getByLabel('Response headers').fill('X-Served-By: caddyfleet');
      await browser.screenshot('17c-proxy-form-options');
      await dialog.getByRole('button', { name: 'Create proxy host' }).click();
      await hidden(dialog);

      const served = await waitFor(
        async () => {
          const r = await httpGet(env.caddyHttp.ip, env.caddyHttp.port, 'opts.e2e.test', '/').catch(() => null);
          return r?.status === 200 ? r : null;
        },
        { timeoutMs: 20_000, description: 'opts.e2e.test served' },
      );
      expect(served.body).toBe('e2e-upstream opts.e2e.test/');
      expect(served.headers['x-served-by']).toBe('caddyfleet');
      expect((await httpGet(env.caddyHttp.ip, env.caddyHttp.port, 'opts.e2e.test', '/api/items')).body).toBe('api-upstream opts.e2e.test/api/items');
      const denied = await getFrom('127.0.0.9', env.caddyHttp.ip, env.caddyHttp.port, 'opts.e2e.test');
      expect(denied.status).toBe(403);

      // The maintenance switch, through the edit form.
      await page.getByRole('button', { name: 'Edit opts.e2e.test' }).click();
      const edit = page.getByRole('dialog', { name: 'Edit proxy host' });
      await poll(() => edit.getByLabel('Locations').inputValue()).toBe(`/api = 127.0.0.1:${api.port}`);
      await edit.getByRole('switch', { name: 'Maintenance page' }).check();
      await edit.getByRole('button', { name: 'Save changes' }).click();
      await hidden(edit);
      const maintenance = await waitFor(
        async () => {
          const r = await httpGet(env.caddyHttp.ip, env.caddyHttp.port, 'opts.e2e.test', '/').catch(() => null);
          return r?.status === 503 ? r : null;
        },
        { timeoutMs: 20_000, description: 'opts.e2e.test in maintenance' },
      );
      expect(maintenance.body).toContain('Down for maintenance');
      const route = ((await env.api('GET', `/routes?nodeId=${nodeId}`)) as { id: string; domains: string[] }[]).find((r) => r.domains.includes('opts.e2e.test'))!;
      await env.api('DELETE', `/routes/${route.id}`);
      browser.assertClean();
    } finally {
      await api.close();
    }
  });
});
