/**
 * The set-up every dashboard end-to-end file shares (tests/e2e-*.test.ts), as vitest hooks: the web build, a
 * controller (DashboardEnv) and headless Chromium at 1280×900 in beforeAll, all closed in afterAll.
 *
 *   const s = useDashboardSession();                        // s.env, s.browser, s.page; not signed in
 *   const s = useDashboardSession({ signIn: true });        // signed in as admin on the Overview
 *   const s = useDashboardSession({ signIn: true, agent: true });
 *     // and the real agent "e2e-node" (managed /usr/bin/caddy on 127.0.0.2/.3) enrolled through the API in the
 *     // site "E2E Tenant / E2E Org / E2E Site": s.agent, s.nodeId, s.siteId
 *
 * Call it inside the describe; read the fields in hooks and tests only (they are set by beforeAll).
 */
import { afterAll, beforeAll } from 'vitest';
import type { Page } from 'playwright-core';
import type { RunningAgent } from '@caddyfleet/agent';
import type { BrowserSession } from './browser';
import { DashboardEnv, ensureWebBuilt, signIn } from './dashboard';
import { waitFor } from './processes';

export interface DashboardSession {
  env: DashboardEnv;
  browser: BrowserSession;
  page: Page;
  /** With `agent: true` only. */
  agent: RunningAgent;
  nodeId: string;
  siteId: string;
}

/** Names of the tenant, organization and site the agent of `agent: true` enrolls in, and of its node. */
export const E2E_SITE = { tenant: 'E2E Tenant', organization: 'E2E Org', site: 'E2E Site', node: 'e2e-node' } as const;

export function useDashboardSession(opts: { signIn?: boolean; agent?: boolean } = {}): DashboardSession {
  const s = { nodeId: '', siteId: '' } as DashboardSession;

  beforeAll(async () => {
    await ensureWebBuilt();
    s.env = await DashboardEnv.start();
    s.browser = await s.env.launchBrowser({ width: 1280, height: 900 });
    s.page = s.browser.page;
    if (opts.signIn) {
      await s.page.goto('/');
      await signIn(s.page, 'admin');
    }
    if (opts.agent) {
      const tenant = (await s.env.api('POST', '/tenants', { name: E2E_SITE.tenant })) as { id: string };
      const org = (await s.env.api('POST', '/organizations', { name: E2E_SITE.organization, tenantId: tenant.id })) as { id: string };
      const site = (await s.env.api('POST', '/sites', { name: E2E_SITE.site, organizationId: org.id })) as { id: string };
      const { token } = (await s.env.api('POST', `/sites/${site.id}/enrollment-tokens`, {})) as { token: string };
      s.siteId = site.id;
      s.agent = await s.env.startAgent(token, E2E_SITE.node);
      s.nodeId = s.agent.nodeId;
    }
  });

  afterAll(async () => {
    await s.browser?.close().catch(() => {});
    await s.env?.close();
  });

  return s;
}

/**
 * Creates a proxy host for `domain` on the node through the API (TLS off, to the env's upstream) and waits until
 * the node's Caddy serves it: the state a test finds after the route form made one.
 */
export async function addServedProxyHost(s: DashboardSession, domain: string): Promise<{ id: string }> {
  const route = (await s.env.api('POST', '/routes', {
    kind: 'proxy',
    nodeId: s.nodeId,
    domains: [domain],
    upstreams: [{ host: '127.0.0.1', port: s.env.upstream.port }],
    tls: 'off',
  })) as { id: string };
  await waitFor(async () => (await s.env.caddyGet(domain))?.status === 200, { timeoutMs: 20_000, description: `${domain} served by the node's Caddy` });
  return route;
}
