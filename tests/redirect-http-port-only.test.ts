/**
 * "Redirect the HTTP port only" for redirection hosts, end to end on both real Caddys (Debian's 2.6.2 and the
 * layer4 build): a controller (in this process), a real agent process managing the Caddy on its own loopback
 * address, routes created with the CLI (`routes add redirect --http-port-only`, which is `tls: off`). The node's
 * HTTP port answers that name with the redirect (status, Location keeping the path); its HTTPS port leaves that
 * name alone (no certificate: the handshake for its SNI fails, as nothing serves it there) while it serves another
 * proxy host with Caddy's internal CA — so HTTPS is up. Traffic only to 127.0.0.0/8.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import tls from 'node:tls';
import type { Route } from '@caddyfleet/protocol';
import { caddyFlavors } from './helpers/caddy-bins';
import { okJson, runCli, show } from './helpers/cli';
import { FleetAgent, FleetController, startUpstream, waitFor, type Upstream } from './helpers/fleet';

type Handshake = { san: string } | { error: string };

/** A TLS handshake with `servername` on ip:port: the certificate's names, or the error that ended it (5 s bound). */
function handshake(ip: string, port: number, servername: string): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: ip, port, servername, rejectUnauthorized: false, timeout: 5000 });
    socket.once('secureConnect', () => {
      const san = socket.getPeerCertificate().subjectaltname ?? '';
      socket.destroy();
      resolve({ san });
    });
    socket.once('error', (err) => resolve({ error: err.message }));
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ error: 'timed out' });
    });
  });
}

/** GET https://<host><path> through ip:port (SNI and Host `host`, the internal CA not verified); 5 s bound. */
function httpsGet(ip: string, port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: ip, port, path, servername: host, headers: { Host: host }, rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET https://${host}${path} via ${ip}:${port} timed out`)));
    req.on('error', reject);
  });
}

for (const [i, flavor] of caddyFlavors().entries()) {
  describe.skipIf(!flavor.bin)(`redirection host on the HTTP port only (${flavor.label})`, () => {
    let ctl: FleetController;
    let node: FleetAgent;
    let upstream: Upstream;
    let env: Record<string, string>;
    const oldName = `old-${flavor.label}.test`;
    const appName = `app-${flavor.label}.test`;

    beforeAll(async () => {
      upstream = await startUpstream('app');
      ctl = await FleetController.start();
      node = await FleetAgent.enroll(ctl, { ip: `127.0.0.${60 + i}`, name: `redirect-${flavor.label}`, caddyBin: flavor.bin! });
      await ctl.waitStatus(node.nodeId, 'online');
      const { token } = await ctl.ok<{ token: string }>('POST', '/tokens', { name: `cli-${flavor.label}` });
      env = { CADDYFLEET_URL: ctl.url, CADDYFLEET_TOKEN: token };
    });

    afterAll(async () => {
      await node?.dispose();
      await ctl?.dispose();
      await upstream?.close();
    });

    it('refuses --http-port-only with a contradicting --tls, and creates nothing', async () => {
      const add = ['routes', 'add', 'redirect', '--node', node.nodeId, '--domain', oldName, '--to', 'https://new.example.com'];
      for (const mode of ['auto', 'internal']) {
        const r = await runCli([...add, '--http-port-only', '--tls', mode], { env });
        expect(r.code, show(r)).toBe(2);
        expect(r.stderr).toContain(`--http-port-only means --tls off; it cannot be combined with --tls ${mode}`);
      }
      expect(await ctl.ok<Route[]>('GET', `/routes?nodeId=${node.nodeId}`)).toEqual([]);
    });

    it("answers on the node's HTTP port with the redirect, and leaves that name alone on its HTTPS port", async () => {
      const redirect = await okJson<Route>(
        ['routes', 'add', 'redirect', '--node', node.nodeId, '--domain', oldName, '--to', 'https://new.example.com/base', '--status', '308', '--http-port-only'],
        env,
      );
      expect(redirect.tls).toBe('off');
      const proxy = await okJson<Route>(['routes', 'add', 'proxy', '--node', node.nodeId, '--domain', appName, '--upstream', `127.0.0.1:${upstream.port}`, '--tls', 'internal'], env);
      expect(proxy.tls).toBe('internal');
      await ctl.waitInSync(node.nodeId);

      const shown = await runCli(['routes', 'show', redirect.id], { env });
      expect(shown.stdout).toMatch(/^HTTP port only: +yes$/m);

      const plain = await node.get(oldName, '/some/path?x=1');
      expect(plain.status).toBe(308);
      expect(plain.headers.location).toBe('https://new.example.com/base/some/path?x=1');

      // HTTPS is up on this node: the internal-CA host is served there (its certificate is issued after the load).
      const served = await waitFor(
        async () => {
          const r = await httpsGet(node.ip, node.httpsPort, appName, '/hello').catch(() => null);
          return r?.status === 200 ? r : null;
        },
        { timeoutMs: 20_000, intervalMs: 200, description: `${appName} served over HTTPS on ${node.ip}:${node.httpsPort}` },
      );
      expect(served.body).toBe(`app ${appName}/hello`);
      const app = await handshake(node.ip, node.httpsPort, appName);
      expect(app).toEqual({ san: `DNS:${appName}` });

      // …but it has no certificate for the redirect's name: nothing answers that name there, least of all a redirect.
      const old = await handshake(node.ip, node.httpsPort, oldName);
      // Caddy ends a handshake for a name it holds no certificate for with an internal_error alert (80).
      expect(old, 'no certificate for the HTTP-port-only name').toHaveProperty('error');
      expect((old as { error: string }).error).toMatch(/alert internal error/);
      await expect(httpsGet(node.ip, node.httpsPort, oldName, '/some/path')).rejects.toThrow(/alert internal error/);
    });
  });
}
