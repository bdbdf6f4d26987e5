/**
 * buildCaddyConfig + CaddyAdmin against both real Caddys (Debian's 2.6.2 without layer4, and the layer4 build of
 * scripts/build-caddy.sh; see helpers/caddy-bins.ts): the same HTTP routes must behave the same on both, and the
 * stream route is reported as unsupported on the first and rendered on the second. Every request goes to
 * 127.0.0.1 with an explicit Host header; only tls 'off' and 'internal' routes are used, so Caddy never tries to
 * reach an ACME server.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig, CaddyAdmin, CaddyLoadError, NO_LAYER4_REASON, type BuildOptions, type CaddyConfig } from '@caddyfleet/caddy';
import { makeRoute } from '../apps/agent/test-support/fixtures';
import { caddyFlavors } from './helpers/caddy-bins';
import { distinctFreePorts, startCaddy, stopCaddy, type RunningCaddy } from './helpers/caddy-run';
import { freePort } from './helpers/processes';
import { retry } from './helpers/stream-servers';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function collect(res: http.IncomingMessage, resolve: (r: Reply) => void, reject: (e: Error) => void) {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
  res.on('error', reject);
}

function httpGet(port: number, host: string, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { Host: host }, agent: false, timeout: 5000 }, (res) =>
      collect(res, resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}${path} timed out`)));
    req.on('error', reject);
  });
}

function httpsGet(port: number, host: string, path = '/'): Promise<Reply & { issuer: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path, servername: host, headers: { Host: host }, rejectUnauthorized: false, agent: false, timeout: 5000 },
      (res) => {
        const issuer = String((res.socket as TLSSocket).getPeerCertificate().issuer?.CN ?? '');
        collect(res, (r) => resolve({ ...r, issuer }), reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET https://${host}${path} timed out`)));
    req.on('error', reject);
  });
}

/** Bounded retry (50 x 100 ms) for things Caddy does asynchronously after /load. */
const eventually = <T>(fn: () => Promise<T>): Promise<T> => retry(fn, 50, 100);

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A plain upstream that reports what it received, plus a WebSocket echo on the same port. */
async function startUpstream() {
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(`upstream saw host=${req.headers.host} url=${req.url}`);
  });
  const wss = new WebSocketServer({ server });
  const upgradeHosts: string[] = [];
  wss.on('connection', (socket, req) => {
    upgradeHosts.push(String(req.headers.host));
    socket.on('message', (data) => socket.send(`echo:${String(data)}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    upgradeHosts,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Throws under CI=true when a Caddy is missing (the file fails); locally it warns and that Caddy's suites skip.
for (const flavor of caddyFlavors()) {
  const CADDY = flavor.bin ?? '';

  describe.skipIf(!flavor.bin)(`Caddy builder against a real Caddy (TCP admin, ${flavor.label})`, () => {
    let caddy: RunningCaddy | undefined;
    let upstream: Awaited<ReturnType<typeof startUpstream>> | undefined;
    let httpPort = 0;
    let httpsPort = 0;
    let loaded: CaddyConfig;
    let unsupported: { routeId: string; reason: string }[];
    let served: number;

    beforeAll(async () => {
      upstream = await startUpstream();
      const [adminPort, http, https] = await distinctFreePorts(3);
      caddy = await startCaddy(CADDY, () => `127.0.0.1:${adminPort!}`);
      httpPort = http!;
      httpsPort = https!;
      const to = { host: '127.0.0.1', port: upstream.port };
      const routes: Route[] = [
        makeRoute('proxy', { upstreams: [to] }),
        makeRoute('secure', { upstreams: [to], tls: 'internal' }),
        makeRoute('keep', { kind: 'redirect', redirect: { to: 'https://target.example.org/base/', status: 301, preservePath: true } }),
        makeRoute('exact', { kind: 'redirect', redirect: { to: 'https://target.example.org/landing', status: 302, preservePath: false } }),
        makeRoute('temp', { kind: 'redirect', redirect: { to: 'http://target.example.org', status: 307, preservePath: true } }),
        makeRoute('dead', { kind: 'dead' }),
        makeRoute('disabled', { upstreams: [to], enabled: false }),
        makeRoute('stream', { kind: 'stream', domains: [], listen: { port: await freePort(), protocol: 'tcp' }, upstreams: [to] }),
      ];
      const opts: BuildOptions = {
        httpListen: `127.0.0.1:${httpPort}`,
        httpsListen: `127.0.0.1:${httpsPort}`,
        adminListen: `127.0.0.1:${adminPort}`,
        layer4: flavor.layer4,
        storageDir: join(caddy.dir.path, 'storage'),
      };
      ({ config: loaded, unsupported, served } = buildCaddyConfig(routes, opts));
      await caddy.admin.load(loaded);
      // Listeners come up as part of /load, but give a slow machine a bounded moment.
      await eventually(() => httpGet(httpPort, 'proxy.test'));
    });

    afterAll(async () => {
      await stopCaddy(caddy);
      await upstream?.close();
    });

    it('reports what it did not render: the stream route unless this Caddy has layer4', () => {
      expect(served).toBe(flavor.layer4 ? 7 : 6);
      expect(unsupported).toEqual(flavor.layer4 ? [] : [{ routeId: 'stream', reason: NO_LAYER4_REASON }]);
    });

    it('holds exactly the loaded config', async () => {
      expect(await caddy!.admin.getConfig()).toEqual(loaded);
    });

    it('proxies to the upstream with the original Host and URI', async () => {
      const res = await httpGet(httpPort, 'proxy.test', '/some/path?q=1');
      expect(res.status).toBe(200);
      expect(res.body).toBe('upstream saw host=proxy.test url=/some/path?q=1');
    });

    it('passes a WebSocket upgrade through the proxy', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/socket`, { headers: { Host: 'proxy.test' } });
      try {
        await within(5000, 'websocket open', once(ws, 'open'));
        ws.send('hello');
        const [data] = await within(5000, 'websocket echo', once(ws, 'message'));
        expect(String(data)).toBe('echo:hello');
        expect(upstream!.upgradeHosts).toContain('proxy.test');
      } finally {
        ws.terminate();
      }
    });

    it('redirects with the configured status and Location, preserving the path when asked', async () => {
      const keep = await httpGet(httpPort, 'keep.test', '/a/b?c=d');
      expect(keep.status).toBe(301);
      expect(keep.headers.location).toBe('https://target.example.org/base/a/b?c=d');

      const exact = await httpGet(httpPort, 'exact.test', '/a/b?c=d');
      expect(exact.status).toBe(302);
      expect(exact.headers.location).toBe('https://target.example.org/landing');

      const temp = await httpGet(httpPort, 'temp.test', '/');
      expect(temp.status).toBe(307);
      expect(temp.headers.location).toBe('http://target.example.org/');
    });

    it('answers 404 for dead hosts, disabled routes and unknown hosts', async () => {
      for (const host of ['dead.test', 'disabled.test', 'unknown.test']) {
        const res = await httpGet(httpPort, host);
        expect(res.status, host).toBe(404);
        expect(res.body, host).toContain('404 Not Found');
      }
    });

    it("serves a tls 'internal' route over HTTPS with a certificate from Caddy's local CA", async () => {
      // Caddy issues the certificate in the background right after /load.
      const res = await eventually(() => httpsGet(httpsPort, 'secure.test', '/tls'));
      expect(res.status).toBe(200);
      expect(res.body).toBe('upstream saw host=secure.test url=/tls');
      expect(res.issuer).toMatch(/Caddy Local Authority/);
    });

    it("redirects HTTP to HTTPS for tls 'internal' hosts, and not for tls 'off' hosts", async () => {
      const res = await httpGet(httpPort, 'secure.test', '/x?y=1');
      expect(res.status).toBe(308);
      expect(res.headers.location).toBe(`https://secure.test:${httpsPort}/x?y=1`);
      expect((await httpGet(httpPort, 'proxy.test')).status).toBe(200);
    });

    it('re-applies an identical config (Cache-Control: must-revalidate)', async () => {
      // Caddy logs "config is unchanged" when it skips a load and "autosaved config" when it applies one.
      const count = (msg: string) => caddy!.proc.output().split(msg).length - 1;
      const applied = count('autosaved config');
      const skipped = count('config is unchanged');
      await caddy!.admin.load(loaded);
      await eventually(async () => expect(count('autosaved config')).toBe(applied + 1));
      expect(count('config is unchanged')).toBe(skipped);
      expect((await httpGet(httpPort, 'proxy.test')).status).toBe(200);
    });

    it("rejects an invalid config with Caddy's message and keeps serving the previous one", async () => {
      const broken = structuredClone(loaded);
      broken.apps.http.servers.srv_http!.routes.unshift({ handle: [{ handler: 'no_such_handler_xyz' }] });
      const err = await caddy!.admin.load(broken).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CaddyLoadError);
      expect((err as CaddyLoadError).status).toBe(400);
      expect((err as CaddyLoadError).message).toMatch(/unknown module: http\.handlers\.no_such_handler_xyz/);
      expect((await httpGet(httpPort, 'proxy.test')).body).toContain('upstream saw host=proxy.test');
      expect(await caddy!.admin.getConfig()).toEqual(loaded);
    });
  });

  describe.skipIf(!flavor.bin)(`Caddy builder against a real Caddy (unix socket admin, ${flavor.label})`, () => {
    let caddy: RunningCaddy | undefined;
    let socketListen = '';

    beforeAll(async () => {
      caddy = await startCaddy(CADDY, (dir) => (socketListen = `unix/${join(dir, 'admin.sock')}`));
    });

    afterAll(async () => {
      await stopCaddy(caddy);
    });

    it('loads, reads back, serves and stops through the unix socket', async () => {
      expect(socketListen).toMatch(/^unix\/\/.+\/admin\.sock$/);
      const admin = caddy!.admin;
      expect(admin.endpoint).toHaveProperty('socketPath');
      expect(await admin.ping()).toBe(true);

      const httpPort = await freePort();
      const httpsPort = await freePort();
      const { config } = buildCaddyConfig([makeRoute('gone', { kind: 'dead' })], {
        httpListen: `127.0.0.1:${httpPort}`,
        httpsListen: `127.0.0.1:${httpsPort}`,
        adminListen: socketListen,
        layer4: flavor.layer4,
      });
      await admin.load(config);
      expect(await admin.getConfig()).toEqual(config);
      expect((await eventually(() => httpGet(httpPort, 'gone.test'))).status).toBe(404);

      // The same socket, spelled as a URL-ish target, works too.
      expect(await new CaddyAdmin(`unix:${socketListen.slice('unix/'.length)}`).ping()).toBe(true);

      await admin.stop();
      const exit = await within(10_000, 'caddy exit after POST /stop', caddy!.proc.exited);
      expect(exit.code).toBe(0);
      expect(await admin.ping()).toBe(false);
    });
  });

}

describe('CaddyAdmin without a Caddy', () => {
  it('reports an unreachable admin API as a CaddyAdminError, not a load error', async () => {
    const admin = new CaddyAdmin(`http://127.0.0.1:${await freePort()}`, { timeoutMs: 2000 });
    expect(await admin.ping()).toBe(false);
    const err = await admin.load({}).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'CaddyAdminError', status: null });
    expect(err).not.toBeInstanceOf(CaddyLoadError);
  });

  it('times out on an admin endpoint that never answers', async () => {
    const silent = http.createServer(() => {
      /* never respond */
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const admin = new CaddyAdmin(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, { timeoutMs: 300 });
      await expect(admin.getConfig()).rejects.toThrow(/timed out after 300 ms/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
