/**
 * Stream hosts end to end: a controller (in this process) and a real agent process managing the layer4 Caddy of
 * scripts/build-caddy.sh on 127.0.0.3. Routes go through the API; traffic goes to the node's address. Covers
 * TCP and UDP echo, several upstreams, SNI-shared ports, the 409s (a port the node's HTTP/HTTPS listeners or
 * another stream hold), moving, disabling and deleting, the node's reported modules, and the certificates view.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetNode, Route } from '@caddyfleet/protocol';
import { layer4Flavor } from './helpers/caddy-bins';
import { FleetAgent, FleetController, waitFor } from './helpers/fleet';
import { freePortExcept } from './helpers/caddy-run';
import { tempDir, type TempDir } from './helpers/processes';
import { retry, selfSigned, tcpEcho, tcpExchange, tlsGreeter, tlsRead, udpEcho, udpExchange, type StreamServer } from './helpers/stream-servers';

const flavor = layer4Flavor();
const IP = '127.0.0.3';

/** A free UDP port on `host` that is none of `not` (bounded retries). */
async function freeUdpPort(host: string, not: number[]): Promise<number> {
  const { createSocket } = await import('node:dgram');
  for (let i = 0; i < 20; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, host, resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    if (!not.includes(port)) return port;
  }
  throw new Error(`no free udp port on ${host}`);
}

describe.skipIf(!flavor.bin)(`stream hosts end to end on the layer4 Caddy (${flavor.label})`, () => {
  let ctl: FleetController;
  let node: FleetAgent;
  let certs: TempDir;
  const servers: StreamServer[] = [];
  const up = <T extends StreamServer>(s: T): T => (servers.push(s), s);
  const stream = (listen: { port: number; protocol?: 'tcp' | 'udp' }, upstreamPorts: number[], extra: Record<string, unknown> = {}) => ({
    kind: 'stream',
    nodeId: node.nodeId,
    listen: { protocol: 'tcp', ...listen },
    upstreams: upstreamPorts.map((port) => ({ host: '127.0.0.1', port })),
    ...extra,
  });
  /** A port for a stream on the node's address: free, and not one of the node's HTTP/HTTPS listener ports. */
  const freePort = (host: string) => freePortExcept([node.httpPort, node.httpsPort], host);
  /** Waits until the node applied everything the controller holds for it. */
  const synced = () => ctl.waitInSync(node.nodeId);

  beforeAll(async () => {
    certs = await tempDir('cf-stream-e2e-certs-');
    ctl = await FleetController.start();
    node = await FleetAgent.enroll(ctl, { ip: IP, name: 'edge-l4', caddyBin: flavor.bin! });
    await ctl.waitStatus(node.nodeId, 'online');
  });

  afterAll(async () => {
    await node?.dispose();
    await ctl?.dispose();
    await Promise.all(servers.map((s) => s.close()));
    await certs?.cleanup();
  });

  it("shows the node's Caddy version, modules and listeners as its agent reported them", async () => {
    const n: FleetNode = await ctl.node(node.nodeId);
    expect(n.caddyVersion).toMatch(/^v2\.11\.9/);
    expect(n.caddyModules).toEqual(expect.arrayContaining(['layer4', 'layer4.handlers.proxy', 'layer4.matchers.tls', 'http.handlers.rate_limit']));
    expect(n.listeners).toEqual({ http: node.httpPort, https: node.httpsPort });
  });

  it('serves a TCP stream with several upstreams and a UDP stream on the route ports', async () => {
    const a = up(await tcpEcho('A'));
    const b = up(await tcpEcho('B'));
    const u = up(await udpEcho('U'));
    const tcpPort = await freePort(IP);
    const udpPort = await freeUdpPort(IP, [node.httpsPort]);
    const tcp = await ctl.createRoute(stream({ port: tcpPort }, [a.port, b.port]));
    const udp = await ctl.createRoute(stream({ port: udpPort, protocol: 'udp' }, [u.port]));
    await synced();
    const replies = new Set<string>();
    await retry(() => tcpExchange(tcpPort, 'x', IP));
    for (let i = 0; i < 4; i++) replies.add((await tcpExchange(tcpPort, 'x', IP)).reply);
    expect(replies).toEqual(new Set(['A:x', 'B:x']));
    expect(await retry(() => udpExchange(udpPort, 'dgram', IP))).toBe('U:dgram');
    for (const r of [tcp, udp]) expect((await ctl.route(r.id)).lastError).toBeNull();
    await ctl.waitNode(node.nodeId, (n) => n.routeCount === 2, 'routeCount 2');
    await ctl.deleteRoute(tcp.id);
    await ctl.deleteRoute(udp.id);
    await synced();
    await expect(tcpExchange(tcpPort, 'x', IP)).rejects.toThrow();
  });

  it("refuses a stream on the node's HTTP or HTTPS listener port, or on a port another stream holds (409 listen_conflict)", async () => {
    const echo = up(await tcpEcho('E'));
    for (const [listen, holder] of [
      [{ port: node.httpPort, protocol: 'tcp' }, /HTTP listener/],
      [{ port: node.httpsPort, protocol: 'tcp' }, /HTTPS listener/],
      [{ port: node.httpsPort, protocol: 'udp' }, /HTTP\/3/],
    ] as const) {
      const r = await ctl.api('POST', '/routes', stream(listen, [echo.port]));
      expect(r.status, JSON.stringify(listen)).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'listen_conflict', details: { port: listen.port, protocol: listen.protocol } });
      expect(r.body.error.message).toMatch(holder);
    }
    const port = await freePort(IP);
    const first = await ctl.createRoute(stream({ port }, [echo.port]));
    const again = await ctl.api('POST', '/routes', stream({ port }, [echo.port]));
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'listen_conflict', details: { routeId: first.id } });
    // A stream routed by server name cannot share a port that a catch-all stream holds either.
    const named = await ctl.api('POST', '/routes', stream({ port }, [echo.port], { sni: ['x.stream.test'] }));
    expect(named.status).toBe(409);
    // The same port over UDP is another socket: allowed.
    const udp = await ctl.createRoute(stream({ port, protocol: 'udp' }, [echo.port]));
    await ctl.deleteRoute(first.id);
    await ctl.deleteRoute(udp.id);
  });

  it('routes two TLS passthrough streams on one port by server name; a repeated name or a catch-all there is a 409', async () => {
    const a = up(await tlsGreeter('upstream-a', selfSigned(certs.path, 'a.stream.test')));
    const b = up(await tlsGreeter('upstream-b', selfSigned(certs.path, 'b.stream.test')));
    const port = await freePort(IP);
    const ra = await ctl.createRoute(stream({ port }, [a.port], { sni: ['a.stream.test'] }));
    const rb = await ctl.createRoute(stream({ port }, [b.port], { sni: ['b.stream.test'] }));
    expect(rb.sni).toEqual(['b.stream.test']);
    await synced();
    expect(await retry(() => tlsRead(port, 'a.stream.test', IP))).toEqual({ text: 'upstream-a', peerCN: 'a.stream.test' });
    expect(await tlsRead(port, 'b.stream.test', IP)).toEqual({ text: 'upstream-b', peerCN: 'b.stream.test' });

    const dup = await ctl.api('POST', '/routes', stream({ port }, [b.port], { sni: ['c.stream.test', 'a.stream.test'] }));
    expect(dup.status).toBe(409);
    expect(dup.body.error).toMatchObject({ code: 'listen_conflict', details: { sni: 'a.stream.test', routeId: ra.id } });
    const catchAll = await ctl.api('POST', '/routes', stream({ port }, [b.port]));
    expect(catchAll.status).toBe(409);
    // Renaming b onto a's name is refused the same way; renaming it to a free name works.
    expect((await ctl.api('PATCH', `/routes/${rb.id}`, { sni: ['a.stream.test'] })).status).toBe(409);
    await ctl.patchRoute(rb.id, { sni: ['c.stream.test'] });
    await synced();
    expect(await retry(() => tlsRead(port, 'c.stream.test', IP))).toEqual({ text: 'upstream-b', peerCN: 'b.stream.test' });
    await expect(tlsRead(port, 'b.stream.test', IP)).rejects.toThrow(/closed before the handshake/);
    await ctl.deleteRoute(ra.id);
    await ctl.deleteRoute(rb.id);
  });

  it('moves a stream to another port, disables it, enables it and deletes it', async () => {
    const echo = up(await tcpEcho('M'));
    const first = await freePort(IP);
    const second = await freePort(IP);
    const route: Route = await ctl.createRoute(stream({ port: first }, [echo.port], { proxyProtocol: null }));
    await synced();
    expect((await retry(() => tcpExchange(first, 'one', IP))).reply).toBe('M:one');

    await ctl.patchRoute(route.id, { listen: { port: second, protocol: 'tcp' } });
    await synced();
    expect((await retry(() => tcpExchange(second, 'two', IP))).reply).toBe('M:two');
    await expect(tcpExchange(first, 'gone', IP)).rejects.toThrow();
    // The old port is free for another stream now.
    const other = await ctl.createRoute(stream({ port: first }, [echo.port]));
    await ctl.deleteRoute(other.id);

    await ctl.patchRoute(route.id, { enabled: false });
    await synced();
    await expect(tcpExchange(second, 'off', IP)).rejects.toThrow();
    await ctl.patchRoute(route.id, { enabled: true });
    await synced();
    expect((await retry(() => tcpExchange(second, 'on', IP))).reply).toBe('M:on');

    await ctl.deleteRoute(route.id);
    await synced();
    await expect(tcpExchange(second, 'deleted', IP)).rejects.toThrow();
  });

  it("lists the certificates the node's Caddy holds, soonest expiry first, and counts them", async () => {
    const echo = up(await tcpEcho('unused'));
    const names = ['one.cert.test', 'two.cert.test'];
    const routes: Route[] = [];
    for (const d of names) routes.push(await ctl.createRoute({ kind: 'proxy', nodeId: node.nodeId, domains: [d], upstreams: [{ host: '127.0.0.1', port: echo.port }], tls: 'internal' }));
    await synced();
    const view = await waitFor(
      async () => {
        const v = await ctl.ok<{ nodeId: string; reportedAt: string | null; certificates: { subjects: string[]; issuer: string; notBefore: string; notAfter: string; kind: string }[] }>(
          'GET',
          `/nodes/${node.nodeId}/certificates`,
        );
        return v.certificates.length === 2 ? v : null;
      },
      { timeoutMs: 20_000, description: 'two certificates reported' },
    );
    expect(view.nodeId).toBe(node.nodeId);
    expect(view.reportedAt).not.toBeNull();
    expect(view.certificates.flatMap((c) => c.subjects).sort()).toEqual(names);
    for (const c of view.certificates) {
      expect(c.kind).toBe('internal');
      expect(c.issuer).toMatch(/Caddy Local Authority/);
      expect(Date.parse(c.notAfter)).toBeGreaterThan(Date.now());
      expect(Date.parse(c.notBefore)).toBeLessThan(Date.parse(c.notAfter));
    }
    const order = view.certificates.map((c) => c.notAfter);
    expect([...order].sort()).toEqual(order);
    await ctl.waitNode(node.nodeId, (n) => n.certCount === 2, 'certCount 2');
    expect((await ctl.api('GET', '/nodes/nope/certificates')).status).toBe(404);
    for (const r of routes) await ctl.deleteRoute(r.id);
  });
});
