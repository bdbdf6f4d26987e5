/**
 * End-to-end: the dashboard (apps/web, built with Vite) in headless Chromium against a real controller started
 * in-process, and a real agent (apps/agent) with a managed Caddy (/usr/bin/caddy) on 127.0.0.2/127.0.0.3.
 *
 * Flow: log in → every page renders → "New agent" issues a token, the agent enrolls with the token read off the
 * page and turns Online live (the dialog follows its own token's usedByNodeId, not whichever node enrolls first in
 * the site: a decoy enrolls in between) → the Sites page lists the site's enrollment tokens, issues one and revokes
 * it (enrolling with it then answers 401 enrollment_token_revoked) → a proxy host created through the form is served by the node's Caddy (checked
 * with a Host header against a real upstream on 127.0.0.1) → a duplicate domain shows the 409 on its field →
 * editing it (PATCH) and a redirection host (create, 308 served, delete) reach the node's Caddy → the stream form
 * refuses a server whose Caddy lacks layer4 (409 node_lacks_module on the Server field), and a local route that
 * clashes with a central one shows its lastError live → a proxy host with options from each group of the form
 * (load balancing, a custom location, an IP deny list, a response header; then maintenance) is applied by the
 * node's Caddy → an agent-local route appears and disappears live (SSE `routes`) →
 * the header's server selector filters the hosts list and survives a reload → the server page lists the
 * certificate its Caddy issued for a tls 'internal' host → stopping the agent turns the
 * node Offline live → revoke through the confirmation dialog → "Move to site" → every page again at phone width.
 *
 * Every page is screenshotted to test-results/screenshots/. Any browser console error or uncaught page error
 * fails the test (see tests/helpers/browser.ts for the one exception: HTTP errors the test provokes itself).
 *
 * The web app is built in beforeAll when apps/web/dist is missing or older than its sources (~1 s with Vite).
 * Missing Chromium or Caddy: fails under CI=true, skips locally.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { Page } from 'playwright-core';
import type { RunningAgent } from '@caddyfleet/agent';
import { hasChromium, type BrowserSession } from './helpers/browser';
import {
  DashboardEnv,
  documentMark,
  ensureWebBuilt,
  hidden,
  horizontalOverflow,
  markDocument,
  open,
  poll,
  row,
  signIn,
  text,
  visible,
} from './helpers/dashboard';
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
const LOCAL_DOMAIN = 'local.e2e.test';

// Both throw under CI=true when missing (never skip in CI); locally they warn and the suite skips.
const browserReady = hasChromium();
const caddyReady = requireCaddy();

describe.skipIf(!browserReady || !caddyReady)('dashboard end-to-end (Chromium, real controller, real agent)', () => {
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;
  // Filled in by the enrollment step.
  let agent: RunningAgent | null = null;
  let nodeId = '';
  let siteId = '';

  beforeAll(async () => {
    await ensureWebBuilt();
    env = await DashboardEnv.start();
    browser = await env.launchBrowser({ width: 1280, height: 900 });
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await env?.close();
  });

  it('logs in, with first-run guidance on the login page', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'caddyfleet' }).waitFor();
    await page.getByText('First time here?').click();
    await visible(page.getByText(/printed once in the controller/));
    await visible(page.getByText('CADDYFLEET_ADMIN_PASSWORD'));
    await browser.screenshot('01-login');

    await signIn(page, 'admin');
    await visible(page.getByRole('status').filter({ hasText: 'Live' }));
    browser.assertClean();
  });

  it('renders every page with its empty states', async () => {
    await open(page, '/', 'Overview');
    await visible(page.getByText('Only the controller\'s local server is registered.'));
    await browser.screenshot('02-overview-empty');
    await open(page, '/proxy-hosts', 'Proxy hosts');
    await visible(page.getByText('No proxy hosts yet.'));
    for (const [path, heading, shot] of [
      ['/redirection-hosts', 'Redirection hosts', '03-redirection-hosts'],
      ['/streams', 'Streams', '04-streams'],
      ['/404-hosts', '404 hosts', '05-404-hosts'],
      ['/sites', 'Sites', '06-sites'],
      ['/audit', 'Audit log', '07-audit'],
      ['/access', 'Users & API tokens', '08-access'],
    ] as const) {
      await open(page, path, heading);
      await page.waitForLoadState('networkidle');
      await browser.screenshot(shot);
    }
    // An API token is shown once, with a copy button.
    await page.getByLabel('Token name').fill('e2e script');
    await page.getByRole('button', { name: 'Create token' }).click();
    await poll(() => page.getByRole('textbox', { name: 'API token' }).inputValue()).toMatch(/\S{20,}/);
    await visible(page.getByRole('cell', { name: 'e2e script', exact: true }));
    browser.assertClean();
  });

  // ── AGENT ─────────────────────────────────────────────────────────────────────────────────────────────
  // The steps below run the real agent (apps/agent, startAgent) with a managed /usr/bin/caddy.

  it('enrolls a node through "New agent" and shows it Online live', async () => {
    // A site for the new server, made through the Sites page.
    await open(page, '/sites', 'Sites');
    await page.getByRole('button', { name: '+ Add tenant' }).click();
    await page.getByLabel('Name of the new tenant').fill('E2E Tenant');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('region', { name: 'Tenant E2E Tenant' }).getByRole('button', { name: '+ Add organization' }).click();
    await page.getByLabel('Name of the new organization').fill('E2E Org');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('region', { name: 'Tenant E2E Tenant' }).getByRole('button', { name: '+ Add site' }).click();
    await page.getByLabel('Name of the new site').fill('E2E Site');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await visible(page.getByText('E2E Site'));
    await browser.screenshot('09-sites-tree');

    await open(page, '/servers', 'Servers');
    await page.getByRole('button', { name: 'New agent' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New agent' });
    await dialog.getByLabel('Site').selectOption({ label: 'E2E Tenant / E2E Org / E2E Site' });
    await dialog.getByRole('button', { name: 'Create enrollment token' }).click();
    const token = await dialog.getByLabel('Enrollment token').inputValue();
    expect(token).toMatch(/\S{20,}/);
    const command = await dialog.getByLabel('Command').inputValue();
    expect(command).toBe(`curl -fsSL ${env.url}/install.sh | CADDYFLEET_ENROLLMENT_TOKEN=${token} sh`);
    // The test controller is on 127.0.0.1: the dialog says other servers cannot reach it.
    await visible(dialog.getByTestId('loopback-warning'));
    await visible(dialog.getByText('Waiting for the agent to connect…'));
    await browser.screenshot('10-new-agent-token');

    // A decoy enrolls into the same site with another token first: the dialog must keep waiting for its own.
    const sites = (await env.api('GET', '/sites')) as { id: string; name: string }[];
    siteId = sites.find((s) => s.name === 'E2E Site')!.id;
    const other = (await env.api('POST', `/sites/${siteId}/enrollment-tokens`, { ttlSeconds: 600 })) as { token: string };
    const decoy = await env.enroll(other.token, 'decoy-node');
    expect(decoy.status).toBe(201);
    // The decoy's row reaches the table behind the dialog through the same SSE event that would mislead it.
    await row(page, 'node-id', decoy.body.nodeId!).waitFor({ state: 'attached' });
    await page.waitForTimeout(800);
    await visible(dialog.getByText('Waiting for the agent to connect…'));
    expect(await dialog.getByTestId('enrolled-node').count()).toBe(0);

    // The real agent, with the token taken from the page.
    agent = await env.startAgent(token, 'e2e-node');
    nodeId = agent.nodeId;

    const enrolled = dialog.getByTestId('enrolled-node');
    await poll(() => text(enrolled), 20_000).toContain('e2e-node');
    expect(await enrolled.getAttribute('data-node-id')).toBe(nodeId);
    await visible(enrolled.locator('[data-status="online"]'), 20_000);
    await browser.screenshot('11-new-agent-online');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await env.api('DELETE', `/nodes/${decoy.body.nodeId!}`);
    await hidden(row(page, 'node-id', decoy.body.nodeId!));

    // The table updated live too (no reload happened).
    const nodeRow = row(page, 'node-id', nodeId);
    await visible(nodeRow.locator('[data-status="online"]'));
    await poll(() => text(nodeRow)).toContain('2.6');
    await poll(() => text(nodeRow)).toContain('In sync');
    await browser.screenshot('12-servers');
    browser.assertClean();
  });

  it('lists a site\'s enrollment tokens on the Sites page, issues one there and revokes it', async () => {
    await open(page, '/sites', 'Sites');
    const toggle = page.getByRole('button', { name: 'Enrollment tokens of E2E Site', exact: true });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const panel = page.getByRole('region', { name: 'Enrollment tokens of site E2E Site', exact: true });
    const rows = panel.locator('tbody tr');
    // The dialog's token (used by e2e-node) and the decoy's (its server was deleted since).
    await poll(() => rows.count()).toBe(2);
    const listed = (await env.api('GET', `/sites/${siteId}/enrollment-tokens`)) as { id: string; usedByNodeId: string | null }[];
    const used = panel.locator(`tr[data-token-id="${listed.find((t) => t.usedByNodeId === nodeId)!.id}"]`);
    await poll(() => used.getAttribute('data-token-state')).toBe('used');
    await visible(used.getByRole('link', { name: 'e2e-node' }));
    await poll(() => text(panel.locator('tr[data-token-state="used"]').filter({ hasNotText: 'e2e-node' }))).toContain('deleted server');
    expect(await panel.getByRole('button', { name: /^Revoke enrollment token/ }).count()).toBe(0);

    // "New enrollment token" reuses the New agent dialog, with the site fixed.
    await panel.getByRole('button', { name: 'New enrollment token for E2E Site' }).click();
    const dialog = page.getByRole('dialog', { name: 'New enrollment token' });
    await visible(dialog.getByText('E2E Tenant / E2E Org / E2E Site'));
    await dialog.getByLabel('Token expires after').selectOption({ label: '1 day' });
    await dialog.getByRole('button', { name: 'Create enrollment token' }).click();
    const secret = await dialog.getByLabel('Enrollment token').inputValue();
    expect(secret).toMatch(/\S{20,}/);
    await visible(dialog.getByText('Waiting for the agent to connect…'));
    await browser.screenshot('24-new-enrollment-token');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await hidden(dialog);
    const unused = panel.locator('tr[data-token-state="unused"]');
    await poll(() => unused.count()).toBe(1);
    const tokenId = (await unused.getAttribute('data-token-id'))!;
    await poll(() => text(unused)).toMatch(/in (23|24) h/);
    await browser.screenshot('25-sites-enrollment-tokens');

    await unused.getByRole('button', { name: `Revoke enrollment token ${tokenId}` }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke enrollment token?' });
    await poll(() => text(confirm)).toContain(tokenId);
    await browser.screenshot('26-revoke-enrollment-token');
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await hidden(confirm);
    const revoked = panel.locator(`tr[data-token-id="${tokenId}"]`);
    await poll(() => revoked.getAttribute('data-token-state')).toBe('revoked');
    expect(await revoked.getByRole('button').count()).toBe(0);
    await browser.screenshot('27-sites-token-revoked');

    // The API agrees: the token is revoked, and an agent using it is refused.
    const after = (await env.api('GET', `/sites/${siteId}/enrollment-tokens`)) as { id: string; revokedAt: string | null; usedAt: string | null }[];
    expect(after.find((t) => t.id === tokenId)).toMatchObject({ usedAt: null, revokedAt: expect.any(String) });
    const refused = await env.enroll(secret, 'late-agent');
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('enrollment_token_revoked');
    browser.assertClean();
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

  it("refuses a stream on the form for a server whose Caddy lacks layer4, and shows a route the node cannot serve with its lastError, live", async () => {
    await open(page, '/streams', 'Streams');
    await visible(page.getByText('No streams yet.'));
    await page.getByRole('button', { name: 'Add stream' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New stream' });
    await dialog.getByLabel('Server', { exact: true }).selectOption(nodeId);
    // The agent reported its Debian Caddy's modules: the form says so before the controller does.
    await visible(dialog.getByText("This server's Caddy has no layer4 module, so it cannot serve streams."));
    await dialog.getByLabel('Listen port').fill('15432');
    await dialog.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await dialog.getByLabel('Port', { exact: true }).fill('5432');
    await dialog.getByLabel('TLS server names (SNI)').fill('db.e2e.test');
    await dialog.getByLabel('PROXY protocol').selectOption('v2');
    browser.expectHttpError(409, /^\/api\/v1\/routes$/);
    await dialog.getByRole('button', { name: 'Create stream' }).click();
    // 409 node_lacks_module, on the Server field.
    await visible(dialog.getByText(/This server's Caddy has no layer4 module \(streams need a Caddy built with layer4\)/));
    await browser.screenshot('17-stream-refused-no-layer4');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await hidden(dialog);
    await visible(page.getByText('No streams yet.'));

    // A local route claiming the central proxy host's domain is not served; the controller shows why, live.
    await open(page, '/404-hosts', '404 hosts');
    const clash = await agent!.localRoutes.add({ kind: 'dead', domains: [DOMAIN], tls: 'off' });
    const local = page.locator('tbody tr').filter({ hasText: DOMAIN });
    await visible(local.getByRole('note'), 20_000);
    await poll(() => text(local.getByRole('note'))).toMatch(new RegExp(`domain ${DOMAIN.replace(/\./g, '\\.')} conflicts with route`));
    await browser.screenshot('17b-local-route-last-error');
    expect(await agent!.localRoutes.remove(clash.route.id)).toBe(true);
    await hidden(local);
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

  it('shows an agent-local route appear and go live, on the server detail and the hosts list (SSE routes)', async () => {
    // A local route changes no revision: only the `routes` event tells the dashboard. A list also refreshes once
    // on the first `node` event after it mounts (heartbeats, every second here), so let that pass first.
    const settle = () => page.waitForTimeout(2500);
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    const region = page.getByRole('region', { name: 'Routes on this server' });
    await poll(() => text(region)).toContain(DOMAIN);
    await markDocument(page);
    await settle();
    const local = await agent!.localRoutes.add({ kind: 'dead', domains: ['agent-local.e2e.test'], tls: 'off' });
    await poll(() => text(region)).toContain('agent-local.e2e.test');
    await poll(() => text(region)).toContain('Agent-local');
    await browser.screenshot('28-server-detail-local-route');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: '404 hosts' }).click();
    const localRow = page.locator('tbody tr').filter({ hasText: 'agent-local.e2e.test' });
    await visible(localRow);
    await settle();
    expect(await agent!.localRoutes.remove(local.route.id)).toBe(true);
    await visible(page.getByText('No 404 hosts yet.'));
    expect(await documentMark(page)).toBe(1);
    browser.assertClean();
  });

  it('filters the hosts list with the server selector, in the URL and across a reload', async () => {
    await env.api('POST', '/routes', { kind: 'proxy', nodeId: null, domains: [LOCAL_DOMAIN], upstreams: [{ host: '127.0.0.1', port: 9 }], tls: 'off' });
    await open(page, '/proxy-hosts', 'Proxy hosts');
    const rows = page.locator('tbody tr');
    await poll(() => rows.count()).toBe(2);

    const selector = page.getByRole('combobox', { name: 'Server', exact: true });
    await selector.selectOption(nodeId);
    await poll(() => page.url()).toMatch(new RegExp(`[?&]node=${nodeId}`));
    await poll(() => rows.count()).toBe(1);
    await poll(() => text(rows.first())).toContain(DOMAIN);

    await page.reload();
    await visible(page.getByRole('heading', { level: 1, name: 'Proxy hosts' }));
    await poll(() => selector.inputValue()).toBe(nodeId);
    await poll(() => rows.count()).toBe(1);
    await poll(() => text(rows.first())).toContain(DOMAIN);
    await browser.screenshot('18-proxy-hosts-filtered');

    // The filter follows in-app navigation and applies to the overview.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await poll(() => page.url()).toMatch(new RegExp(`/\\?node=${nodeId}$`));
    await visible(page.getByText('Showing e2e-node.'));

    await selector.selectOption('local');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Proxy hosts' }).click();
    await poll(() => rows.count()).toBe(1);
    await poll(() => text(rows.first())).toContain(LOCAL_DOMAIN);

    await selector.selectOption('');
    await poll(() => page.url()).not.toMatch(/node=/);
    await poll(() => rows.count()).toBe(2);
    browser.assertClean();
  });

  it('shows the server detail with its routes and events, then Offline live when the agent stops', async () => {
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    await poll(() => text(page.getByRole('region', { name: 'Routes on this server' }))).toContain(DOMAIN);
    await poll(() => text(page.getByRole('region', { name: 'Recent events' }))).toContain('enrolled server e2e-node');
    await browser.screenshot('19-server-detail');

    // A tls 'internal' host makes the node's Caddy issue a certificate from its local CA; the agent reports it.
    const secure = (await env.api('POST', '/routes', { kind: 'proxy', nodeId, domains: ['secure.e2e.test'], upstreams: [{ host: '127.0.0.1', port: env.upstream.port }], tls: 'internal' })) as { id: string };
    const certs = page.getByRole('table', { name: 'Certificates' });
    await poll(() => text(certs), 30_000).toContain('secure.e2e.test');
    const certRow = certs.locator('tbody tr').filter({ hasText: 'secure.e2e.test' });
    await poll(() => text(certRow)).toMatch(/Caddy Local Authority/);
    await poll(() => text(certRow)).toContain("Caddy's internal CA");
    // Freshly issued (Caddy renews with a third of the lifetime left): not flagged.
    await poll(() => certRow.getAttribute('data-expiry')).toBe('ok');
    await poll(() => text(page.getByRole('region', { name: 'Details' }))).toMatch(/\d+ modules/);
    await certs.scrollIntoViewIfNeeded();
    await browser.screenshot('19b-server-certificates');
    await env.api('DELETE', `/routes/${secure.id}`);

    await open(page, '/servers', 'Servers');
    const nodeRow = row(page, 'node-id', nodeId);
    await visible(nodeRow.locator('[data-status="online"]'));
    // Marks this document: if the page reloaded, the mark would be gone.
    await markDocument(page);
    await agent!.stop();
    await visible(nodeRow.locator('[data-status="offline"]'), 15_000);
    expect(await documentMark(page)).toBe(1);
    await poll(() => nodeRow.getAttribute('class')).toMatch(/row-bad/);
    await browser.screenshot('20-servers-offline');

    await open(page, '/', 'Overview');
    await poll(() => text(page.getByRole('region', { name: 'Needs attention' }))).toContain('e2e-node');
    await browser.screenshot('21-overview');
    browser.assertClean();
  });

  it('revokes the node through the confirmation dialog', async () => {
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke e2e-node?' });
    await poll(() => text(confirm)).toContain('its key stops working');
    await browser.screenshot('22-revoke-confirm');
    await confirm.getByRole('button', { name: 'Revoke agent key' }).click();
    await hidden(confirm);
    await visible(page.getByText('agent key revoked').first());
    await visible(page.getByText('This server can no longer connect.'));
    await poll(() => page.getByRole('button', { name: 'Revoke', exact: true }).count()).toBe(0);
    await poll(() => text(page.getByRole('region', { name: 'Recent events' }))).toContain('revoked server e2e-node');
    await poll(() => text(page.getByRole('region', { name: 'Details' }))).toContain('Agent key revoked');
    await browser.screenshot('23-server-revoked');
    const node = (await env.api('GET', `/nodes/${nodeId}`)) as { status: string; lastError: string };
    expect(node).toMatchObject({ status: 'offline', lastError: 'agent key revoked', revokedAt: expect.any(String) });
    browser.assertClean();
  });

  it('moves the node to another site from its detail page', async () => {
    const orgs = (await env.api('GET', '/organizations')) as { id: string; name: string }[];
    const site2 = (await env.api('POST', '/sites', { name: 'E2E Site 2', organizationId: orgs.find((o) => o.name === 'E2E Org')!.id })) as { id: string };
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    const details = page.getByRole('region', { name: 'Details' });
    await poll(() => text(details)).toContain('E2E Tenant / E2E Org / E2E Site');

    await page.getByRole('button', { name: 'Move to site' }).click();
    const dialog = page.getByRole('dialog', { name: 'Move e2e-node to another site?' });
    await poll(() => text(dialog)).toContain('is in E2E Tenant / E2E Org / E2E Site.');
    const move = dialog.getByRole('button', { name: /^Move/ });
    expect(await move.isDisabled()).toBe(true);
    // The current site is not offered.
    const choices = await dialog.getByLabel('New site').locator('option').allTextContents();
    expect(choices).not.toContain('E2E Tenant / E2E Org / E2E Site');
    await dialog.getByLabel('New site').selectOption({ label: 'E2E Tenant / E2E Org / E2E Site 2' });
    await browser.screenshot('29-move-to-site');
    await dialog.getByRole('button', { name: 'Move to E2E Site 2' }).click();
    await hidden(dialog);
    await poll(() => text(details)).toContain('E2E Tenant / E2E Org / E2E Site 2');
    await poll(() => text(page.getByRole('region', { name: 'Recent events' }))).toContain('changed server e2e-node');
    await browser.screenshot('30-server-moved');

    const node = (await env.api('GET', `/nodes/${nodeId}`)) as { siteId: string };
    expect(node.siteId).toBe(site2.id);
    const routes = (await env.api('GET', `/routes?nodeId=${nodeId}`)) as { siteId: string }[];
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(r.siteId).toBe(site2.id);
    // The servers list shows the new site too.
    await page.getByRole('link', { name: 'Servers', exact: true }).first().click();
    await poll(() => text(row(page, 'node-id', nodeId))).toContain('E2E Site 2');
    browser.assertClean();
  });

  // ── end of AGENT steps ────────────────────────────────────────────────────────────────────────────────

  it('renders every page at phone width (390 px) without console errors', async () => {
    const phone = await env.launchBrowser({ width: 390, height: 844 });
    try {
      const p = phone.page;
      await p.goto('/');
      await signIn(p);
      // The navigation sits behind the menu button on a phone.
      await hidden(p.getByRole('navigation', { name: 'Main' }));
      await p.getByRole('button', { name: 'Menu' }).click();
      await visible(p.getByRole('navigation', { name: 'Main' }));
      await phone.screenshot('phone-menu');
      for (const [path, heading, shot] of [
        ['/', 'Overview', 'phone-overview'],
        ['/servers', 'Servers', 'phone-servers'],
        [`/servers/${nodeId}`, 'e2e-node', 'phone-server-detail'],
        ['/proxy-hosts', 'Proxy hosts', 'phone-proxy-hosts'],
        ['/redirection-hosts', 'Redirection hosts', 'phone-redirection-hosts'],
        ['/streams', 'Streams', 'phone-streams'],
        ['/404-hosts', '404 hosts', 'phone-404-hosts'],
        ['/sites', 'Sites', 'phone-sites'],
        ['/audit', 'Audit log', 'phone-audit'],
        ['/access', 'Users & API tokens', 'phone-access'],
      ] as const) {
        await open(p, path, heading);
        await p.waitForLoadState('networkidle');
        // Nothing may be wider than the screen.
        const overflow = await horizontalOverflow(p);
        expect(overflow, `${path} is wider than the phone screen`).toBeLessThanOrEqual(0);
        await phone.screenshot(shot);
      }
      await p.goto('/proxy-hosts');
      await p.getByRole('button', { name: 'Add proxy host' }).first().click();
      await p.getByRole('dialog').waitFor();
      await phone.screenshot('phone-proxy-form');

      // A site's enrollment tokens (opened by ?site=, as the server detail links them) and the move dialog.
      await p.goto(`/sites?site=${siteId}`);
      const panel = p.getByRole('region', { name: 'Enrollment tokens of site E2E Site', exact: true });
      await poll(() => panel.locator('tbody tr').count()).toBe(3);
      const overflow = await horizontalOverflow(p);
      expect(overflow, '/sites with tokens is wider than the phone screen').toBeLessThanOrEqual(0);
      // ?site= scrolled the site into view; the full-page shot reads better from the top (sticky header).
      await p.evaluate(() => window.scrollTo(0, 0));
      await phone.screenshot('phone-sites-tokens');
      await p.goto(`/servers/${nodeId}`);
      await p.getByRole('button', { name: 'Move to site' }).click();
      await p.getByRole('dialog', { name: 'Move e2e-node to another site?' }).getByLabel('New site').waitFor();
      await phone.screenshot('phone-move-to-site');
      phone.assertClean();
    } finally {
      await phone.close();
    }
  });
});
