/**
 * Upstream health end to end, on both real Caddys (Debian's 2.6.2 and the layer4 build): a controller (in this
 * process), a real agent process managing the Caddy, a proxy host with active health checks over two upstreams on
 * 127.0.0.1 — one answering `/healthz`, one a closed port. The API (route and route list) and the CLI must show the
 * dead one unhealthy and the live one healthy, Caddy must send requests only to the live one, the dead one must
 * turn healthy once it answers, and everything must be unknown while the node is offline. The local node of
 * `caddyfleet standalone` (Debian's Caddy) reports too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Route } from '@caddyfleet/protocol';
import { caddyFlavors } from './helpers/caddy-bins';
import { parseTable, runCli, show } from './helpers/cli';
import { FleetAgent, FleetController, requireCaddy, waitFor } from './helpers/fleet';
import { freePort } from './helpers/processes';
import { Standalone } from './helpers/standalone';

/** Caddy refreshes its verdicts every 10 s; the agent polls every 5 s. */
const HEALTH_TIMEOUT_MS = 40_000;

interface Backend {
  port: number;
  close(): Promise<void>;
}

/** Answers `/healthz` with 200 and anything else with `backend <name>`. */
async function backend(name: string, port = 0): Promise<Backend> {
  const server = http.createServer((req, res) => res.end(req.url === '/healthz' ? 'ok' : `backend ${name}`));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

const healthOf = (r: Route) => new Map((r.upstreamHealth ?? []).map((u) => [u.port, u.healthy]));

for (const [i, flavor] of caddyFlavors().entries()) {
  describe.skipIf(!flavor.bin)(`upstream health reported by the agent (${flavor.label})`, () => {
    let ctl: FleetController;
    let node: FleetAgent;
    let live: Backend;
    let revived: Backend | null = null;
    let deadPort: number;
    let route: Route;
    let cliEnv: Record<string, string>;
    const domain = `shop-${flavor.label}.test`;

    /** The HEALTH cell of the route in `caddyfleet routes list`. */
    const listedHealth = async () => {
      const list = await runCli(['routes', 'list', '--node', node.nodeId], { env: cliEnv });
      expect(list.code, show(list)).toBe(0);
      const [headers, ...rows] = parseTable(list.stdout);
      return rows.find((r) => r[0] === route.id)?.[headers!.indexOf('HEALTH')];
    };

    /** Polls GET /routes/:id until `pred` holds for its upstream health, reported after `since` (bounded). */
    const waitHealth = (pred: (h: Map<number, boolean | null>) => boolean, description: string, since = '') => {
      let last: Route | null = null;
      return waitFor(
        async () => {
          last = await ctl.route(route.id);
          const fresh = (last.upstreamHealth ?? []).every((u) => (u.checkedAt ?? '') >= since);
          return fresh && pred(healthOf(last)) ? last : null;
        },
        { timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: 500, description },
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nlast upstreamHealth: ${JSON.stringify((last as Route | null)?.upstreamHealth)}\n${node.describe()}`);
      });
    };

    beforeAll(async () => {
      live = await backend('live');
      deadPort = await freePort('127.0.0.1');
      ctl = await FleetController.start();
      node = await FleetAgent.enroll(ctl, { ip: `127.0.0.${18 + i}`, name: `health-${flavor.label}`, caddyBin: flavor.bin! });
      await ctl.waitStatus(node.nodeId, 'online');
    });

    afterAll(async () => {
      await node?.dispose();
      await ctl?.dispose();
      await live?.close();
      await revived?.close();
    });

    it('shows a closed port unhealthy and a live upstream healthy, in the route, the list and the CLI', async () => {
      const started = Date.now();
      route = await ctl.createRoute({
        kind: 'proxy',
        nodeId: node.nodeId,
        domains: [domain],
        upstreams: [
          { host: '127.0.0.1', port: live.port },
          { host: '127.0.0.1', port: deadPort },
        ],
        options: { loadBalancing: 'round_robin', healthChecks: { active: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1 } } },
      });
      await ctl.waitInSync(node.nodeId);
      const seen = await waitHealth((h) => h.get(live.port) === true && h.get(deadPort) === false, `${deadPort} unhealthy and ${live.port} healthy`);
      console.log(`[measure] ${flavor.label}: closed port reported unhealthy ${Date.now() - started} ms after the route was created`);
      for (const u of seen.upstreamHealth!) {
        expect(u).toMatchObject({ host: '127.0.0.1', location: null });
        expect(u.checkedAt).not.toBeNull();
        expect(typeof u.fails).toBe('number');
      }

      const list = await ctl.ok<Route[]>('GET', `/routes?nodeId=${node.nodeId}`);
      expect(healthOf(list.find((r) => r.id === route.id)!)).toEqual(new Map([[live.port, true], [deadPort, false]]));

      // Caddy's verdict is what routes traffic: round robin sends nothing to the unhealthy one.
      for (let n = 0; n < 6; n++) expect((await node.get(domain)).body).toBe('backend live');

      const { token } = await ctl.ok<{ token: string }>('POST', '/tokens', { name: `cli-${flavor.label}` });
      cliEnv = { CADDYFLEET_URL: ctl.url, CADDYFLEET_TOKEN: token };
      const cli = await runCli(['routes', 'show', route.id], { env: cliEnv });
      expect(cli.code, show(cli)).toBe(0);
      expect(cli.stdout).toMatch(new RegExp(`Upstream health:\\s+127\\.0\\.0\\.1:${live.port} healthy; 127\\.0\\.0\\.1:${deadPort} unhealthy`));
      expect(await listedHealth(), 'the HEALTH column of routes list').toBe('1/2 healthy');
    });

    it('turns the upstream healthy once it answers its health checks', async () => {
      const started = Date.now();
      revived = await backend('revived', deadPort);
      await waitHealth((h) => h.get(live.port) === true && h.get(deadPort) === true, `${deadPort} healthy again`);
      console.log(`[measure] ${flavor.label}: revived upstream reported healthy ${Date.now() - started} ms after it started answering`);
      const bodies = new Set<string>();
      for (let n = 0; n < 6; n++) bodies.add((await node.get(domain)).body);
      expect(bodies).toEqual(new Set(['backend live', 'backend revived']));
    });

    it('is unknown while the node is offline, and reported again by its new Caddy when it is back', async () => {
      await node.stop();
      await ctl.waitStatus(node.nodeId, 'offline');
      const offline = await ctl.route(route.id);
      expect([...healthOf(offline).values()]).toEqual([null, null]);
      expect(await listedHealth()).toBe('unknown');
      // The last report stays visible, dated.
      expect(offline.upstreamHealth!.every((u) => u.checkedAt !== null && u.fails !== null)).toBe(true);
      const restarted = new Date().toISOString();
      await node.start();
      await ctl.waitStatus(node.nodeId, 'online');
      await waitHealth((h) => h.get(live.port) === true && h.get(deadPort) === true, 'healthy again, as reported after the restart', restarted);
    });
  });
}

describe.skipIf(!requireCaddy())("upstream health of the standalone controller's local node", () => {
  let s: Standalone;
  let live: Backend;

  beforeAll(async () => {
    live = await backend('live');
    s = await Standalone.start({ ip: '127.0.0.20' });
  });
  afterAll(async () => {
    await s?.dispose();
    await live?.close();
  });

  it('shows the closed port unhealthy and the live upstream healthy', async () => {
    const deadPort = await freePort('127.0.0.1');
    const route = await s.ok<Route>('POST', '/routes', {
      kind: 'proxy',
      domains: ['local-shop.test'],
      tls: 'off',
      upstreams: [
        { host: '127.0.0.1', port: live.port },
        { host: '127.0.0.1', port: deadPort },
      ],
      options: { healthChecks: { active: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1 } } },
    });
    expect(route.nodeId).toBeNull();
    let last: Route | null = null;
    await waitFor(
      async () => {
        last = await s.ok<Route>('GET', `/routes/${route.id}`);
        const h = healthOf(last);
        return h.get(live.port) === true && h.get(deadPort) === false;
      },
      { timeoutMs: HEALTH_TIMEOUT_MS, intervalMs: 500, description: 'the local node reports the closed port unhealthy' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlast upstreamHealth: ${JSON.stringify((last as Route | null)?.upstreamHealth)}\n${s.output().slice(-4000)}`);
    });
  });
});
