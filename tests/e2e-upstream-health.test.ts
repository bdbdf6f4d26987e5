/**
 * End to end in headless Chromium: the proxy hosts list shows each upstream's health as the node's agent reports
 * it from its real Caddy (/usr/bin/caddy, managed by the in-process agent). A proxy host with active health checks
 * over a live upstream and a closed port on 127.0.0.1: the closed one gets the `unhealthy` badge, the live one
 * `healthy`, without reloading the page; a host without health checks shows no verdict. Screenshot:
 * test-results/screenshots/upstream-health.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { DashboardEnv, documentMark, ensureWebBuilt, markDocument, open, row, signIn, visible } from './helpers/dashboard';
import { requireCaddy } from './helpers/fleet';
import { freePort, waitFor } from './helpers/processes';

const ready = hasChromium() && requireCaddy();

describe.skipIf(!ready)('dashboard upstream health (Chromium, real controller, agent and Caddy)', () => {
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;
  let nodeId: string;

  beforeAll(async () => {
    await ensureWebBuilt();
    env = await DashboardEnv.start();
    const site = ((await env.api('GET', '/nodes/local')) as { siteId: string }).siteId;
    const { token } = (await env.api('POST', `/sites/${site}/enrollment-tokens`, {})) as { token: string };
    nodeId = (await env.startAgent(token, 'health-edge')).nodeId;
    await waitFor(async () => ((await env.api('GET', `/nodes/${nodeId}`)) as { status: string }).status === 'online', {
      timeoutMs: 20_000,
      description: 'health-edge online',
    });
    browser = await env.launchBrowser({ width: 1280, height: 800 });
    page = browser.page;
    await page.goto('/');
    await signIn(page, 'admin');
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('marks the upstream whose health checks fail unhealthy and the live one healthy', async () => {
    const live = env.upstream.port;
    const dead = await freePort('127.0.0.1');
    const checked = (await env.api('POST', '/routes', {
      kind: 'proxy',
      nodeId,
      domains: ['shop.health.test'],
      tls: 'off',
      upstreams: [
        { host: '127.0.0.1', port: live },
        { host: '127.0.0.1', port: dead },
      ],
      options: { healthChecks: { active: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1 } } },
    })) as { id: string };
    const unchecked = (await env.api('POST', '/routes', {
      kind: 'proxy',
      nodeId,
      domains: ['plain.health.test'],
      tls: 'off',
      upstreams: [{ host: '127.0.0.1', port: live }],
    })) as { id: string };

    await open(page, `/proxy-hosts?node=${encodeURIComponent(nodeId)}`, 'Proxy hosts');
    await markDocument(page);
    const upstream = (port: number) => row(page, 'route-id', checked.id).locator(`li[data-upstream="127.0.0.1:${port}"]`);
    // Caddy refreshes its verdicts every 10 s and the agent reports within 5 s: the page follows by itself.
    await waitFor(async () => (await upstream(dead).getAttribute('data-health')) === 'unhealthy' && (await upstream(live).getAttribute('data-health')) === 'healthy', {
      timeoutMs: 40_000,
      intervalMs: 250,
      description: 'the dead upstream unhealthy and the live one healthy in the list',
    });
    expect(await documentMark(page), 'updated live, without a reload').toBe(1);

    const badge = upstream(dead).getByText('unhealthy', { exact: true });
    await visible(badge);
    expect(await badge.getAttribute('title')).toMatch(/health checks failed/);
    await visible(upstream(live).getByText('healthy', { exact: true }));
    const plain = row(page, 'route-id', unchecked.id).locator(`li[data-upstream="127.0.0.1:${live}"]`);
    expect(await plain.getAttribute('data-health')).toBe('unchecked');
    expect(await plain.locator('.badge').count()).toBe(0);
    await browser.screenshot('upstream-health');
    browser.assertClean();
  });
});
