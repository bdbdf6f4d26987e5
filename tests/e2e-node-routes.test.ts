/**
 * End-to-end: how the dashboard shows what a node can and cannot serve, live (headless Chromium, real controller
 * in-process, a real agent with a managed /usr/bin/caddy on 127.0.0.2/127.0.0.3 enrolled through the API,
 * tests/helpers/dashboard-session.ts, serving the proxy host app.e2e.test made through the API).
 *
 * Flow: the stream form refuses a server whose Caddy lacks layer4 (409 node_lacks_module on the Server field), and
 * a local route that clashes with a central one shows its lastError live → an agent-local route appears and
 * disappears live (SSE `routes`) → the header's server selector filters the hosts list and survives a reload.
 *
 * Screenshots go to test-results/screenshots/; any browser console error fails the test (tests/helpers/browser.ts).
 * Missing Chromium or Caddy: fails under CI=true, skips locally.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RunningAgent } from '@caddyfleet/agent';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { documentMark, hidden, markDocument, open, poll, text, visible, type DashboardEnv } from './helpers/dashboard';
import { addServedProxyHost, useDashboardSession } from './helpers/dashboard-session';
import { requireCaddy } from './helpers/fleet-agent';

const DOMAIN = 'app.e2e.test';
const LOCAL_DOMAIN = 'local.e2e.test';

// Both throw under CI=true when missing (never skip in CI); locally they warn and the suite skips.
const browserReady = hasChromium();
const caddyReady = requireCaddy();

describe.skipIf(!browserReady || !caddyReady)('dashboard node routes, live (Chromium, real controller, real agent)', () => {
  const session = useDashboardSession({ signIn: true, agent: true });
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;
  let agent: RunningAgent;
  let nodeId = '';

  beforeAll(async () => {
    ({ env, browser, page, agent, nodeId } = session);
    await addServedProxyHost(session, DOMAIN);
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
});
