/**
 * Proxy host options rendered by buildCaddyConfig, against both real Caddys (Debian's 2.6.2 and the layer4 build):
 * request/response headers, basic auth (bcrypt hashes from `caddy hash-password`), IP allow/deny (requests from
 * two loopback source addresses), the maintenance page, custom locations, load-balancing policies, HTTPS
 * upstreams with and without skip-verify, and HSTS. Upstreams listen on 127.0.0.1; requests carry a Host header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ProxyOptions, Route } from '@caddyfleet/protocol';
import { buildCaddyConfig } from '@caddyfleet/caddy';
import { makeRoute } from '../apps/agent/test-support/fixtures';
import { caddyFlavors } from './helpers/caddy-bins';
import { distinctFreePorts, startCaddy, stopCaddy, type RunningCaddy } from './helpers/caddy-run';
import { freePort, tempDir, type TempDir } from './helpers/processes';
import { retry, selfSigned } from './helpers/stream-servers';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, host: string, path = '/', opts: { localAddress?: string; auth?: string; headers?: Record<string, string>; tls?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const lib = opts.tls ? https : http;
    const req = lib.get(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        timeout: 10_000,
        headers: { Host: host, ...(opts.headers ?? {}), ...(opts.auth ? { Authorization: `Basic ${Buffer.from(opts.auth).toString('base64')}` } : {}) },
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        ...(opts.tls ? { servername: host, rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${host}${path} timed out`)));
    req.on('error', reject);
  });
}

interface Echo {
  port: number;
  close(): Promise<void>;
}

/**
 * Answers JSON `{who, url, headers}` and sets `X-Upstream-Secret` (which a route can remove). `sick` answers its
 * health path `/healthz` with 503 (and everything else normally), as an app whose dependency is down would.
 */
async function echoUpstream(who: string, tlsCreds?: { key: string; cert: string }, sick = false): Promise<Echo> {
  const handler: http.RequestListener = (req, res) => {
    if (req.url === '/healthz') {
      res.statusCode = sick ? 503 : 200;
      res.end(sick ? 'unhealthy' : 'ok');
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('X-Upstream-Secret', 'leaked');
    res.end(JSON.stringify({ who, url: req.url, headers: req.headers }));
  };
  const server = tlsCreds ? https.createServer(tlsCreds, handler) : http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const who = (r: Reply) => (JSON.parse(r.body) as { who: string }).who;

for (const flavor of caddyFlavors()) {
  describe.skipIf(!flavor.bin)(`proxy host options on a real Caddy (${flavor.label})`, () => {
    let caddy: RunningCaddy | undefined;
    let dir: TempDir;
    let a: Echo;
    let b: Echo;
    let secure: Echo;
    let sick: Echo;
    let deadPort = 0;
    let httpPort = 0;
    let httpsPort = 0;
    const PASSWORD = 'correct horse battery';
    let hash = '';

    const proxy = (id: string, options: ProxyOptions, fields: Partial<Route> = {}): Route =>
      makeRoute(id, { upstreams: [{ host: '127.0.0.1', port: a.port }], options, ...fields });

    beforeAll(async () => {
      dir = await tempDir('caddyfleet-proxy-options-');
      [a, b] = await Promise.all([echoUpstream('A'), echoUpstream('B')]);
      secure = await echoUpstream('S', selfSigned(dir.path, 'upstream.test'));
      sick = await echoUpstream('SICK', undefined, true);
      deadPort = await freePort();
      hash = execFileSync(flavor.bin!, ['hash-password', '--plaintext', PASSWORD], { encoding: 'utf8', timeout: 30_000 }).trim();
      const [adminPort, http, https] = await distinctFreePorts(3);
      caddy = await startCaddy(flavor.bin!, () => `127.0.0.1:${adminPort!}`);
      httpPort = http!;
      httpsPort = https!;
      const routes: Route[] = [
        proxy('headers', {
          headers: {
            request: { set: { 'X-Added': 'by caddyfleet' }, remove: ['X-Drop'] },
            response: { set: { 'X-Served-By': 'caddyfleet' }, remove: ['X-Upstream-Secret'] },
          },
        }),
        proxy('auth', { basicAuth: [{ username: 'alice', passwordHash: hash }] }),
        proxy('allow', { access: { allow: ['127.0.0.1/32'], deny: ['127.0.0.9'] } }),
        proxy('deny', { access: { deny: ['127.0.0.5/32'] } }),
        proxy('maint', { maintenance: true }),
        proxy('loc', { locations: [{ path: '/api', upstreams: [{ host: '127.0.0.1', port: b.port }] }] }),
        proxy('first', { loadBalancing: 'first' }, { upstreams: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }] }),
        proxy('rr', { loadBalancing: 'round_robin' }, { upstreams: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: b.port }] }),
        proxy('tlsup', { upstreamScheme: 'https', skipVerify: true }, { upstreams: [{ host: '127.0.0.1', port: secure.port }] }),
        proxy('tlsstrict', { upstreamScheme: 'https' }, { upstreams: [{ host: '127.0.0.1', port: secure.port }] }),
        proxy('hsts', { hsts: true }, { tls: 'internal' }),
        proxy('both', { forceHttps: false }, { tls: 'internal' }),
        proxy('active', { loadBalancing: 'round_robin', healthChecks: { active: { path: '/healthz', intervalSeconds: 1, timeoutSeconds: 1 } } }, { upstreams: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: sick.port }] }),
        proxy('nocheck', { loadBalancing: 'round_robin' }, { upstreams: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: sick.port }] }),
        proxy('passive', { loadBalancing: 'round_robin', healthChecks: { passive: { maxFails: 1, failDurationSeconds: 60 } } }, { upstreams: [{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: deadPort }] }),
      ];
      const built = buildCaddyConfig(routes, {
        httpListen: `127.0.0.1:${httpPort}`,
        httpsListen: `127.0.0.1:${httpsPort}`,
        adminListen: `127.0.0.1:${adminPort}`,
        layer4: flavor.layer4,
        storageDir: join(caddy.dir.path, 'storage'),
      });
      expect(built.unsupported).toEqual([]);
      await caddy.admin.load(built.config);
      await retry(() => request(httpPort, 'headers.test'));
    });

    afterAll(async () => {
      await stopCaddy(caddy);
      await Promise.all([a?.close(), b?.close(), secure?.close(), sick?.close()]);
      await dir?.cleanup();
    });

    it('sets and removes request headers towards the upstream and response headers towards the client', async () => {
      const r = await request(httpPort, 'headers.test', '/h', { headers: { 'X-Drop': 'please', 'X-Keep': 'yes' } });
      expect(r.status).toBe(200);
      const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
      expect(seen['x-added']).toBe('by caddyfleet');
      expect(seen['x-drop']).toBeUndefined();
      expect(seen['x-keep']).toBe('yes');
      expect(r.headers['x-served-by']).toBe('caddyfleet');
      expect(r.headers['x-upstream-secret']).toBeUndefined();
      // Without options, the upstream's header goes through: the removal above is the option's doing.
      expect((await request(httpPort, 'first.test')).headers['x-upstream-secret']).toBe('leaked');
    });

    it('asks for basic auth: 401 without or with wrong credentials, 200 with the right ones', async () => {
      const none = await request(httpPort, 'auth.test');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm="restricted"/);
      expect((await request(httpPort, 'auth.test', '/', { auth: 'alice:wrong password' })).status).toBe(401);
      expect((await request(httpPort, 'auth.test', '/', { auth: `bob:${PASSWORD}` })).status).toBe(401);
      const ok = await request(httpPort, 'auth.test', '/', { auth: `alice:${PASSWORD}` });
      expect(ok.status).toBe(200);
      expect(who(ok)).toBe('A');
    });

    it('allows and denies by client address (two loopback source addresses)', async () => {
      expect((await request(httpPort, 'allow.test', '/', { localAddress: '127.0.0.1' })).status).toBe(200);
      const outside = await request(httpPort, 'allow.test', '/', { localAddress: '127.0.0.5' });
      expect(outside.status).toBe(403);
      expect(outside.body).toContain('403 Forbidden');
      expect((await request(httpPort, 'deny.test', '/', { localAddress: '127.0.0.5' })).status).toBe(403);
      expect((await request(httpPort, 'deny.test', '/', { localAddress: '127.0.0.1' })).status).toBe(200);
    });

    it('serves a 503 maintenance page instead of proxying', async () => {
      const r = await request(httpPort, 'maint.test');
      expect(r.status).toBe(503);
      expect(r.body).toContain('Down for maintenance');
      expect(r.headers['x-upstream-secret']).toBeUndefined();
    });

    it('routes a custom location to its own upstream, the rest to the main one', async () => {
      expect(who(await request(httpPort, 'loc.test', '/api'))).toBe('B');
      const deep = await request(httpPort, 'loc.test', '/api/v1/items?x=1');
      expect(who(deep)).toBe('B');
      expect((JSON.parse(deep.body) as { url: string }).url).toBe('/api/v1/items?x=1');
      expect(who(await request(httpPort, 'loc.test', '/apiary'))).toBe('A');
      expect(who(await request(httpPort, 'loc.test', '/'))).toBe('A');
    });

    it('balances by the chosen policy: first always takes the first upstream, round robin alternates', async () => {
      for (let i = 0; i < 4; i++) expect(who(await request(httpPort, 'first.test'))).toBe('A');
      const seen: string[] = [];
      for (let i = 0; i < 4; i++) seen.push(who(await request(httpPort, 'rr.test')));
      for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
    });

    it('talks HTTPS to an upstream: 502 for a self-signed certificate unless skip-verify is on', async () => {
      const skip = await request(httpPort, 'tlsup.test');
      expect(skip.status).toBe(200);
      expect(who(skip)).toBe('S');
      expect((await request(httpPort, 'tlsstrict.test')).status).toBe(502);
    });

    it('takes an upstream failing its active health check out of rotation', async () => {
      // Without a check, round robin keeps sending every other request to the sick upstream.
      const control: string[] = [];
      for (let i = 0; i < 4; i++) control.push(who(await request(httpPort, 'nocheck.test')));
      expect(control).toContain('SICK');
      // With one, once the first check ran (interval 1 s), only the healthy upstream gets requests.
      await retry(async () => {
        for (let i = 0; i < 4; i++) if (who(await request(httpPort, 'active.test')) !== 'A') throw new Error('sick upstream still in rotation');
      }, 50, 200);
      for (let i = 0; i < 6; i++) expect(who(await request(httpPort, 'active.test'))).toBe('A');
    });

    it('takes an upstream out after a failed request (passive health check)', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await request(httpPort, 'passive.test')).status);
      // The dead upstream fails at most one request, then is skipped for the fail duration.
      expect(statuses.filter((s) => s !== 200).length).toBeLessThanOrEqual(1);
      expect(statuses.slice(-4)).toEqual([200, 200, 200, 200]);
    });

    it('redirects HTTP to HTTPS by default, and serves both when force HTTPS is off', async () => {
      const forced = await request(httpPort, 'hsts.test', '/x');
      expect(forced.status).toBe(308);
      expect(forced.headers.location).toBe(`https://hsts.test:${httpsPort}/x`);
      const plain = await request(httpPort, 'both.test', '/x');
      expect(plain.status).toBe(200);
      expect(who(plain)).toBe('A');
      const secure = await retry(() => request(httpsPort, 'both.test', '/x', { tls: true }), 50, 100);
      expect(secure.status).toBe(200);
    });

    it('sends HSTS on HTTPS responses', async () => {
      const r = await retry(() => request(httpsPort, 'hsts.test', '/', { tls: true }), 50, 100);
      expect(r.status).toBe(200);
      expect(r.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    });
  });
}
