/**
 * Stream (layer 4) routes rendered by buildCaddyConfig and served by the layer4 Caddy of scripts/build-caddy.sh
 * (helpers/caddy-bins.ts): TCP and UDP echo through a stream, round robin over several upstreams, TLS
 * passthrough routed by server name on one shared port, and the PROXY protocol header the upstream receives.
 * Listeners and upstreams are all on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig, type BuildOptions } from '@caddyfleet/caddy';
import { makeRoute } from '../apps/agent/test-support/fixtures';
import { layer4Flavor } from './helpers/caddy-bins';
import { distinctFreePorts, freePortExcept, startCaddy, stopCaddy, type RunningCaddy } from './helpers/caddy-run';
import { tempDir, type TempDir } from './helpers/processes';
import {
  proxyHeaderRecorder,
  retry,
  selfSigned,
  tcpEcho,
  tcpExchange,
  tlsGreeter,
  tlsRead,
  udpEcho,
  udpExchange,
  type StreamServer,
} from './helpers/stream-servers';

const flavor = layer4Flavor();

const stream = (id: string, port: number, upstreams: number[], fields: Partial<Route> = {}): Route =>
  makeRoute(id, {
    kind: 'stream',
    domains: [],
    listen: { port, protocol: 'tcp' },
    upstreams: upstreams.map((p) => ({ host: '127.0.0.1', port: p })),
    ...fields,
  });

/** A free UDP port on 127.0.0.1 that is none of `not` (bind 0, read, close; bounded retries). */
async function freeUdpPort(not: number[]): Promise<number> {
  const { createSocket } = await import('node:dgram');
  for (let i = 0; i < 20; i++) {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    if (!not.includes(port)) return port;
  }
  throw new Error('no free udp port on 127.0.0.1');
}

describe.skipIf(!flavor.bin)(`stream routes on the layer4 Caddy (${flavor.label})`, () => {
  let caddy: RunningCaddy | undefined;
  let certs: TempDir;
  const servers: StreamServer[] = [];
  let opts: BuildOptions;
  let reserved: number[] = [];
  /** A port for a stream: free, and not one of this Caddy's own listeners. */
  const freePort = () => freePortExcept(reserved);
  const up = <T extends StreamServer>(s: T): T => (servers.push(s), s);

  const load = async (routes: Route[]) => {
    const built = buildCaddyConfig(routes, opts);
    await caddy!.admin.load(built.config);
    return built;
  };

  beforeAll(async () => {
    certs = await tempDir('caddyfleet-stream-certs-');
    const [adminPort, httpPort, httpsPort] = await distinctFreePorts(3);
    reserved = [adminPort!, httpPort!, httpsPort!];
    caddy = await startCaddy(flavor.bin!, () => `127.0.0.1:${adminPort}`);
    opts = {
      httpListen: `127.0.0.1:${httpPort}`,
      httpsListen: `127.0.0.1:${httpsPort}`,
      adminListen: `127.0.0.1:${adminPort}`,
      layer4: true,
      storageDir: join(caddy.dir.path, 'storage'),
    };
  });

  afterAll(async () => {
    await stopCaddy(caddy);
    await Promise.all(servers.map((s) => s.close()));
    await certs?.cleanup();
  });

  it('proxies TCP to the upstream both ways (echo)', async () => {
    const echo = up(await tcpEcho('A'));
    const port = await freePort();
    const { served, unsupported } = await load([stream('tcp1', port, [echo.port])]);
    expect({ served, unsupported }).toEqual({ served: 1, unsupported: [] });
    const { reply } = await retry(() => tcpExchange(port, 'hello over tcp'));
    expect(reply).toBe('A:hello over tcp');
  });

  it('proxies UDP datagrams and their replies (echo)', async () => {
    const echo = up(await udpEcho('U'));
    const port = await freeUdpPort(reserved);
    await load([stream('udp1', port, [echo.port], { listen: { port, protocol: 'udp' } })]);
    expect(await retry(() => udpExchange(port, 'hello over udp'))).toBe('U:hello over udp');
  });

  it('spreads connections over several upstreams in turn', async () => {
    const a = up(await tcpEcho('A'));
    const b = up(await tcpEcho('B'));
    const port = await freePort();
    await load([stream('rr', port, [a.port, b.port])]);
    await retry(() => tcpExchange(port, 'warm-up'));
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await tcpExchange(port, 'x')).reply);
    expect(new Set(seen)).toEqual(new Set(['A:x', 'B:x']));
    // Round robin: never the same upstream twice in a row.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).not.toBe(seen[i - 1]);
  });

  it('routes two TLS passthrough streams on one port by server name, and drops unknown names', async () => {
    const a = up(await tlsGreeter('upstream-a', selfSigned(certs.path, 'a.stream.test')));
    const b = up(await tlsGreeter('upstream-b', selfSigned(certs.path, 'b.stream.test')));
    const port = await freePort();
    const { served, config } = await load([
      stream('sni_a', port, [a.port], { sni: ['a.stream.test'] }),
      stream('sni_b', port, [b.port], { sni: ['b.stream.test', '*.b.stream.test'] }),
    ]);
    expect(served).toBe(2);
    expect(Object.keys(config.apps.layer4!.servers)).toEqual([`stream_tcp_${port}`]);

    const ra = await retry(() => tlsRead(port, 'a.stream.test'));
    expect(ra).toEqual({ text: 'upstream-a', peerCN: 'a.stream.test' });
    const rb = await tlsRead(port, 'b.stream.test');
    expect(rb).toEqual({ text: 'upstream-b', peerCN: 'b.stream.test' });
    expect((await tlsRead(port, 'x.b.stream.test')).text).toBe('upstream-b');
    // The upstream terminated TLS itself and saw the client's server name: passthrough, not termination.
    expect(a.servernames).toContain('a.stream.test');
    await expect(tlsRead(port, 'nobody.stream.test')).rejects.toThrow();
  });

  it.each(['v1', 'v2'] as const)('sends a PROXY protocol %s header with the client address to the upstream', async (version) => {
    const rec = up(await proxyHeaderRecorder());
    const port = await freePort();
    await load([stream(`pp_${version}`, port, [rec.port], { proxyProtocol: version })]);
    const { reply, localPort } = await retry(() => tcpExchange(port, 'payload'));
    expect(reply).toBe('ok');
    const header = rec.received.at(-1)!;
    if (version === 'v1') {
      expect(header.toString('latin1')).toMatch(new RegExp(`^PROXY TCP4 127\\.0\\.0\\.1 127\\.0\\.0\\.1 ${localPort} ${port}\\r\\n`));
    } else {
      // v2: 12-byte signature, version/command 0x21 (v2, PROXY), family 0x11 (TCP over IPv4), then the addresses.
      expect(header.subarray(0, 12)).toEqual(Buffer.from('0d0a0d0a000d0a515549540a', 'hex'));
      expect(header[12]).toBe(0x21);
      expect(header[13]).toBe(0x11);
      expect([...header.subarray(16, 20)]).toEqual([127, 0, 0, 1]);
      expect(header.readUInt16BE(24)).toBe(localPort);
      expect(header.readUInt16BE(26)).toBe(port);
    }
  });

  it('stops serving a stream that is removed, and serves a moved port at once', async () => {
    const echo = up(await tcpEcho('M'));
    const first = await freePort();
    const second = await freePort();
    await load([stream('mv', first, [echo.port])]);
    expect((await retry(() => tcpExchange(first, 'one'))).reply).toBe('M:one');
    await load([stream('mv', second, [echo.port])]);
    expect((await retry(() => tcpExchange(second, 'two'))).reply).toBe('M:two');
    await expect(tcpExchange(first, 'gone')).rejects.toThrow();
    await load([stream('mv', second, [echo.port], { enabled: false })]);
    await expect(tcpExchange(second, 'off')).rejects.toThrow();
  });
});
