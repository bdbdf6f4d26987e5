/**
 * The grouped config shape (one Caddy route per distinct handler, packages/caddy/src/host-map.ts) routes
 * exactly like one Caddy route per caddyfleet route: a generated 1,000-route table (proxies on shared upstream
 * sets, redirects of every status with and without the path, 404 hosts, multi-domain routes, wildcards that
 * shadow exact hosts of later routes, disabled routes, tls 'internal' hosts) is loaded into a real Caddy in
 * both shapes, and every host, in lower and upper case, plus hosts no route names, is requested through both:
 * status, body and Location must be the same. Only tls 'off' and 'internal': Caddy never contacts an ACME CA.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig, CaddyAdmin, type BuildOptions } from '@caddyfleet/caddy';
import { makeRoute } from '../apps/agent/test-support/fixtures';
import { freePort, requireBinary, sleep, spawnLogged, tempDir, type LoggedProcess, type TempDir } from './helpers/processes';

const CADDY = '/usr/bin/caddy';
const hasCaddy = requireBinary(CADDY, 'caddy');
const PATH = '/some/path?q=1';

interface Answer {
  status: number;
  body: string;
  location: string | null;
}

function get(agent: http.Agent, port: number, host: string, tls: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: PATH, headers: { Host: host }, agent, timeout: 5000 };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), location: res.headers.location ?? null }));
      res.on('error', reject);
    };
    const req = tls
      ? https.get({ ...options, servername: host.toLowerCase(), rejectUnauthorized: false, agent: agent as https.Agent }, onResponse)
      : http.get(options, onResponse);
    req.on('timeout', () => req.destroy(new Error(`GET ${host} timed out`)));
    req.on('error', reject);
  });
}

/** Four upstream sets; the two servers of a set answer alike, so Caddy's load balancing cannot change a body. */
async function startUpstreams() {
  const servers: http.Server[] = [];
  const sets: { host: string; port: number }[][] = [];
  for (let set = 0; set < 4; set++) {
    const members: { host: string; port: number }[] = [];
    for (let k = 0; k < (set % 2 === 0 ? 2 : 1); k++) {
      const server = http.createServer((req, res) => res.end(`set${set} host=${req.headers.host} url=${req.url}`));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      members.push({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    }
    sets.push(members);
  }
  return {
    sets,
    close: () => Promise.all(servers.map((s) => (s.closeAllConnections(), new Promise((r) => s.close(r))))),
  };
}

/** The generated table, in a shuffled id order so that wildcards land before and after the hosts they cover. */
function table(sets: { host: string; port: number }[][]): Route[] {
  let seed = 11;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    // The high bits: the low bits of this generator repeat with a short period.
    return Math.floor((seed / 2 ** 31) * n);
  };
  const statuses = [301, 302, 307, 308] as const;
  const routes: Route[] = [];
  for (let i = 0; i < 1000; i++) {
    const id = `rt_${String(rand(1_000_000)).padStart(6, '0')}_${i}`;
    const zone = `z${i % 10}.diff.test`;
    const domains = [`h${i}.${zone}`];
    if (i % 9 === 0) domains.push(`www.h${i}.${zone}`);
    if (i % 97 === 0) domains.push(`*.${zone}`);
    if (i % 113 === 5) domains.push(`*.w${i}.${zone}`, `x.w${i}.${zone}`);
    const tls: Route['tls'] = i % 50 === 3 ? 'internal' : 'off';
    const enabled = i % 71 !== 0;
    const slot = i % 10;
    if (slot < 6) routes.push(makeRoute(id, { domains, upstreams: sets[rand(sets.length)]!, tls, enabled }));
    else if (slot < 9) {
      const to = `https://target${rand(30)}.example.org${rand(3) === 0 ? '/base/' : rand(2) ? '/x' : ''}`;
      routes.push(makeRoute(id, { kind: 'redirect', domains, upstreams: [], redirect: { to, status: statuses[rand(4)]!, preservePath: rand(2) === 0 }, tls, enabled }));
    } else routes.push(makeRoute(id, { kind: 'dead', domains, upstreams: [], tls, enabled }));
  }
  return routes;
}

describe.skipIf(!hasCaddy)('grouped config shape vs one route per caddyfleet route (real Caddy, 1,000 routes)', () => {
  let dir: TempDir;
  let proc: LoggedProcess | undefined;
  let admin: CaddyAdmin;
  let ups: Awaited<ReturnType<typeof startUpstreams>>;
  let httpPort = 0;
  let httpsPort = 0;
  let routes: Route[];
  let opts: BuildOptions;

  beforeAll(async () => {
    dir = await tempDir('caddyfleet-shape-');
    ups = await startUpstreams();
    const adminPort = await freePort();
    httpPort = await freePort();
    httpsPort = await freePort();
    const adminListen = `127.0.0.1:${adminPort}`;
    await writeFile(join(dir.path, 'initial.json'), JSON.stringify({ admin: { listen: adminListen } }));
    proc = spawnLogged(CADDY, ['run', '--config', join(dir.path, 'initial.json')], {
      name: 'caddy',
      env: { ...process.env, XDG_CONFIG_HOME: join(dir.path, 'config'), XDG_DATA_HOME: join(dir.path, 'data'), HOME: dir.path },
    });
    admin = new CaddyAdmin(adminListen, { timeoutMs: 30_000 });
    for (let i = 0; i < 100 && !(await admin.ping()); i++) await sleep(100);
    routes = table(ups.sets);
    opts = { httpListen: `127.0.0.1:${httpPort}`, httpsListen: `127.0.0.1:${httpsPort}`, adminListen, layer4: false, storageDir: join(dir.path, 'storage') };
  });

  afterAll(async () => {
    await proc?.stop();
    await ups?.close();
    await dir?.cleanup();
  });

  /** Every name of the table in both cases, a name under each wildcard, and names nobody serves. */
  function probes(): { host: string; tls: boolean }[] {
    const out: { host: string; tls: boolean }[] = [];
    for (const r of routes) {
      for (const d of r.domains) {
        const host = d.startsWith('*.') ? `any${d.slice(1)}` : d;
        out.push({ host, tls: false }, { host: host.toUpperCase(), tls: false });
        if (r.tls === 'internal') out.push({ host, tls: true });
      }
    }
    out.push({ host: 'nobody.diff.test', tls: false }, { host: 'a.b.z1.diff.test', tls: false }, { host: '127.0.0.1', tls: false });
    return out;
  }

  async function answers(shape: 'grouped' | 'per-route'): Promise<Map<string, Answer>> {
    const { config } = buildCaddyConfig(routes, { ...opts, hostRouting: shape });
    await admin.load(config);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });
    try {
      // Listeners and internal certificates come up with the load; wait (bounded) for a TLS host to answer.
      const tlsHost = routes.find((r) => r.tls === 'internal' && r.enabled)!.domains[0]!;
      for (let i = 0; i < 100; i++) {
        const ok = await get(tlsAgent, httpsPort, tlsHost, true).then(() => true, () => false);
        if (ok) break;
        await sleep(100);
      }
      const out = new Map<string, Answer>();
      const list = probes();
      for (let i = 0; i < list.length; i += 16) {
        await Promise.all(
          list.slice(i, i + 16).map(async ({ host, tls }) => {
            out.set(`${tls ? 'https' : 'http'}://${host}`, await get(tls ? tlsAgent : agent, tls ? httpsPort : httpPort, host, tls));
          }),
        );
      }
      return out;
    } finally {
      agent.destroy();
      tlsAgent.destroy();
    }
  }

  it('serves every host of the table identically in both shapes', async () => {
    const grouped = buildCaddyConfig(routes, { ...opts, hostRouting: 'grouped' }).config;
    const perRoute = buildCaddyConfig(routes, { ...opts, hostRouting: 'per-route' }).config;
    const count = (c: typeof grouped) => Object.values(c.apps.http.servers).reduce((n, s) => n + s.routes.length, 0);
    expect(count(grouped)).toBeLessThan(count(perRoute) / 4);

    const reference = await answers('per-route');
    const candidate = await answers('grouped');
    expect(candidate.size).toBe(reference.size);
    const differences = [...reference].filter(([k, v]) => JSON.stringify(candidate.get(k)) !== JSON.stringify(v)).map(([k, v]) => ({ k, want: v, got: candidate.get(k) }));
    expect(differences.slice(0, 5)).toEqual([]);

    // The table really exercises what it claims to: every kind of answer occurs.
    const all = [...reference.values()];
    expect(all.some((a) => a.status === 200 && a.body.startsWith('set'))).toBe(true);
    for (const status of [301, 302, 307, 308, 404]) expect(all.some((a) => a.status === status), `status ${status}`).toBe(true);
    expect(all.some((a) => a.location?.endsWith(PATH))).toBe(true);
    expect([...reference].some(([k, a]) => k.startsWith('https://') && a.status === 200)).toBe(true);
    // Wildcards that come before an exact host of a later route take it, in both shapes.
    expect([...reference].filter(([k]) => /^http:\/\/any\./.test(k)).every(([, a]) => a.status !== 404 || a.body.includes('not served'))).toBe(true);
  }, 120_000);
});
