/**
 * End to end through the public HTTP API: a real controller (SQLite, listening on 127.0.0.1), a real agent
 * with a managed Caddy. Enrollment with a token from the API, a route created through the API served by the
 * agent's Caddy, a local route mirrored to the controller, and revocation stopping the agent for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, startController, type RunningController } from '../apps/controller/src/index';
import { loadAgentOptions, startAgent, type RunningAgent } from '@caddyfleet/agent';
import { bodyOf, captureLogger, startUpstream, type Upstream } from '../apps/agent/test-support/fixtures';
import { freePort, requireBinary, sleep, tempDir, waitFor, type TempDir } from './helpers/processes';

const CADDY = '/usr/bin/caddy';
const hasCaddy = requireBinary(CADDY, 'caddy');
const PASSWORD = 'agent-e2e-admin-password';

describe.skipIf(!hasCaddy)('agent ↔ real controller', () => {
  let dir: TempDir;
  let controller: RunningController;
  let agent: RunningAgent | undefined;
  let upstream: Upstream;
  let cookie = '';
  let httpPort = 0;

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${controller.url}/api/v1${path}`, {
      method,
      headers: { cookie, 'x-requested-with': 'test', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (method === 'POST' && path === '/auth/login') cookie = String(res.headers.get('set-cookie')).split(';')[0]!;
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  async function ok(method: string, path: string, body?: unknown): Promise<any> {
    const res = await api(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-agent-e2e-');
    upstream = await startUpstream('E');
    const config = loadConfig(
      'server',
      { listen: '127.0.0.1:0', dataDir: join(dir.path, 'controller'), adminPassword: PASSWORD, logLevel: 'silent', heartbeatSeconds: '1' },
      {},
    );
    controller = await startController(config, { announce: () => {} });
    await ok('POST', '/auth/login', { username: 'admin', password: PASSWORD });
  });

  afterAll(async () => {
    await agent?.stop();
    await controller?.close();
    await upstream?.close();
    await dir?.cleanup();
  });

  it('enrolls, serves a route created through the API, mirrors local routes, and stops when revoked', async () => {
    const tenant = await ok('POST', '/tenants', { name: 'T' });
    const org = await ok('POST', '/organizations', { name: 'O', tenantId: tenant.id });
    const site = await ok('POST', '/sites', { name: 'S', organizationId: org.id });
    const { token } = await ok('POST', `/sites/${site.id}/enrollment-tokens`, {});

    httpPort = await freePort();
    const logs = captureLogger();
    const opts = loadAgentOptions(
      {
        controller: controller.url,
        token,
        stateDir: join(dir.path, 'agent'),
        caddyBin: CADDY,
        name: 'e2e-node',
        httpListen: `127.0.0.1:${httpPort}`,
        httpsListen: `127.0.0.1:${await freePort()}`,
        reconnectMinMs: 100,
        reconnectMaxMs: 1000,
      },
      {},
    );
    agent = await startAgent(opts, { logger: logs.log });
    const nodeId = agent.nodeId;
    await waitFor(async () => (await ok('GET', `/nodes/${nodeId}`)).status === 'online', { timeoutMs: 15_000, description: 'node online' });

    const route = await ok('POST', '/routes', {
      kind: 'proxy',
      nodeId,
      domains: ['e2e.test'],
      upstreams: [{ host: '127.0.0.1', port: upstream.port }],
      tls: 'off',
    });
    expect(await waitFor(() => bodyOf(httpPort, 'e2e.test'), { timeoutMs: 15_000, description: 'e2e.test served' })).toBe('E e2e.test/');
    const node = await waitFor(
      async () => {
        const n = await ok('GET', `/nodes/${nodeId}`);
        return n.appliedRevision > 0 && n.appliedRevision === n.desiredRevision ? n : null;
      },
      { timeoutMs: 15_000, description: 'applied revision reported' },
    );
    expect(node).toMatchObject({ name: 'e2e-node', agentVersion: expect.any(String), caddyVersion: expect.stringMatching(/^v?2\./) });
    await waitFor(async () => (await ok('GET', `/nodes/${nodeId}`)).routeCount === 1, { timeoutMs: 10_000, description: 'routeCount 1' });

    const local = await agent.localRoutes.add({ kind: 'dead', domains: ['local-e2e.test'], tls: 'off' });
    const mirrored = await waitFor(
      async () => ((await ok('GET', `/routes?nodeId=${nodeId}`)) as { scope: string; origin: string; domains: string[] }[]).find((r) => r.scope === 'local_only'),
      { timeoutMs: 10_000, description: 'local route mirrored' },
    );
    expect(mirrored).toMatchObject({ origin: 'local', domains: ['local-e2e.test'] });
    expect(local.applied).toBe(true);

    await ok('POST', `/nodes/${nodeId}/revoke`);
    const done = await Promise.race([agent.done, sleep(10_000).then(() => null)]);
    expect(done?.reason).toBe('agent key revoked by the controller; enroll again with a new token');
    expect(route.id).toBeTruthy();
  });

  it('enrolls again on the same state dir when given a new token after its node was revoked', async () => {
    await agent?.stop();
    const stateDir = join(dir.path, 'agent');
    const before = JSON.parse(readFileSync(join(stateDir, 'agent.json'), 'utf8')) as { nodeId: string };
    const site = (await ok('GET', `/nodes/${before.nodeId}`)).siteId as string;
    const { token } = await ok('POST', `/sites/${site}/enrollment-tokens`, {});
    const logs = captureLogger();
    const opts = loadAgentOptions(
      {
        controller: controller.url,
        token,
        stateDir,
        caddyBin: CADDY,
        name: 'e2e-node-again',
        httpListen: `127.0.0.1:${httpPort}`,
        httpsListen: `127.0.0.1:${await freePort()}`,
        reconnectMinMs: 100,
        reconnectMaxMs: 1000,
      },
      {},
    );
    agent = await startAgent(opts, { logger: logs.log });
    const current = agent;
    const nodeId = await waitFor(() => (current.nodeId !== before.nodeId ? current.nodeId : null), { timeoutMs: 15_000, description: 'enrolled again' });
    await waitFor(async () => (await ok('GET', `/nodes/${nodeId}`)).status === 'online', { timeoutMs: 15_000, description: 'new node online' });
    expect(JSON.parse(readFileSync(join(stateDir, 'agent.json'), 'utf8')).nodeId).toBe(nodeId);
    // Its local routes come along under the new node.
    await waitFor(async () => ((await ok('GET', `/routes?nodeId=${nodeId}`)) as { domains: string[] }[]).some((r) => r.domains.includes('local-e2e.test')), {
      timeoutMs: 10_000,
      description: 'local route under the new node',
    });
    // The revoked node's central route is gone: the new node has none yet.
    await waitFor(async () => (await bodyOf(httpPort, 'e2e.test')) === null, { timeoutMs: 10_000, description: "the old node's route no longer served" });

    // The token is spent now: a second refusal ends the agent.
    await ok('DELETE', `/nodes/${nodeId}`);
    const done = await Promise.race([current.done, sleep(10_000).then(() => null)]);
    expect(done?.reason).toMatch(/agent key/);
  });
});
