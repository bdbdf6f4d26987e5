/** buildCaddyConfig for stream routes: the layer4 app, port clashes, routing by TLS server name, PROXY protocol. */
import { describe, it, expect } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { buildCaddyConfig } from './build-config';
import { NO_LAYER4_REASON } from './layer4';
import { opts, route, stream } from '../test-support/build-fixtures';

describe('buildCaddyConfig: stream routes', () => {
  it('reports stream routes as unsupported without the layer4 module and renders no layer4 app', () => {
    const { config, served, unsupported } = buildCaddyConfig([stream('s2', 6000), stream('s1', 5432), route('p')], opts);
    expect(served).toBe(1);
    expect(config.apps).not.toHaveProperty('layer4');
    expect(unsupported).toEqual([
      { routeId: 's1', reason: NO_LAYER4_REASON },
      { routeId: 's2', reason: NO_LAYER4_REASON },
    ]);
    expect(NO_LAYER4_REASON).toBe('stream routes need the layer4 Caddy module, which this Caddy does not have');
  });

  it('renders one layer4 server per stream port with tcp and udp listeners and proxy upstreams', () => {
    const tcp = route('db', { kind: 'stream', domains: [], listen: { port: 5432, protocol: 'tcp' }, upstreams: [{ host: '127.0.0.19', port: 5432 }, { host: 'fd00::9', port: 5433 }], tls: 'off' });
    const udp = route('dns', { kind: 'stream', domains: [], listen: { port: 5353, protocol: 'udp' }, upstreams: [{ host: '127.0.0.53', port: 53 }], tls: 'off' });
    const { config, unsupported, served } = buildCaddyConfig([tcp, udp], { ...opts, layer4: true });
    expect(unsupported).toEqual([]);
    expect(served).toBe(2);
    expect(config.apps.layer4).toEqual({
      servers: {
        stream_udp_5353: { listen: ['udp/:5353'], routes: [{ handle: [{ handler: 'proxy', upstreams: [{ dial: ['udp/127.0.0.53:53'] }] }] }] },
        stream_tcp_5432: {
          listen: ['tcp/:5432'],
          routes: [
            {
              handle: [
                {
                  handler: 'proxy',
                  upstreams: [{ dial: ['127.0.0.19:5432'] }, { dial: ['[fd00::9]:5433'] }],
                  load_balancing: { selection: { policy: 'round_robin' } },
                },
              ],
            },
          ],
        },
      },
    });
  });

  it('binds stream listeners to the host of httpListen', () => {
    const { config } = buildCaddyConfig([stream('s', 5432)], { ...opts, layer4: true, httpListen: '127.0.0.2:18080', httpsListen: '127.0.0.2:18443' });
    expect(config.apps.layer4?.servers.stream_tcp_5432?.listen).toEqual(['tcp/127.0.0.2:5432']);
    const v6 = buildCaddyConfig([stream('s', 5432, 'udp')], { ...opts, layer4: true, httpListen: '[::1]:8080', httpsListen: '[::1]:8443' });
    expect(v6.config.apps.layer4?.servers.stream_udp_5432?.listen).toEqual(['udp/[::1]:5432']);
  });

  it('reports stream routes whose port is already taken instead of breaking the whole config', () => {
    const routes = [stream('a', 5432), stream('b', 5432), stream('c', 5432, 'udp'), stream('d', 80), stream('e', 443, 'udp'), stream('f', 2019)];
    const { config, unsupported, served } = buildCaddyConfig(routes, { ...opts, layer4: true, adminListen: '127.0.0.1:2019' });
    expect(served).toBe(2);
    expect(Object.keys(config.apps.layer4?.servers ?? {})).toEqual(['stream_tcp_5432', 'stream_udp_5432']);
    expect(unsupported).toEqual([
      { routeId: 'b', reason: 'tcp port 5432 is already used by route a' },
      { routeId: 'd', reason: 'tcp port 80 is already used by the HTTP server' },
      { routeId: 'e', reason: 'udp port 443 is already used by HTTP/3 on the HTTPS server' },
      { routeId: 'f', reason: 'tcp port 2019 is already used by the Caddy admin API' },
    ]);
  });

  it('routes several streams on one tcp port by TLS server name, in route id order', () => {
    const sni = (id: string, names: string[], extra: Partial<Route> = {}) => route(id, { ...stream(id, 8443), sni: names, ...extra });
    const { config, unsupported, served } = buildCaddyConfig(
      [sni('b', ['b.example.com']), sni('a', ['a.example.com', '*.a.example.com'], { proxyProtocol: 'v2' })],
      { ...opts, layer4: true },
    );
    expect(unsupported).toEqual([]);
    expect(served).toBe(2);
    expect(config.apps.layer4).toEqual({
      servers: {
        stream_tcp_8443: {
          listen: ['tcp/:8443'],
          routes: [
            {
              match: [{ tls: { sni: ['a.example.com', '*.a.example.com'] } }],
              handle: [{ handler: 'proxy', upstreams: [{ dial: ['127.0.0.19:5432'] }], proxy_protocol: 'v2' }],
            },
            { match: [{ tls: { sni: ['b.example.com'] } }], handle: [{ handler: 'proxy', upstreams: [{ dial: ['127.0.0.19:5432'] }] }] },
          ],
        },
      },
    });
  });

  it('sends a PROXY protocol header when asked, and not otherwise', () => {
    const { config } = buildCaddyConfig([route('p1', { ...stream('p1', 7000), proxyProtocol: 'v1' }), stream('p0', 7001)], { ...opts, layer4: true });
    expect(config.apps.layer4?.servers.stream_tcp_7000?.routes[0]?.handle[0]?.proxy_protocol).toBe('v1');
    expect(config.apps.layer4?.servers.stream_tcp_7001?.routes[0]?.handle[0]).not.toHaveProperty('proxy_protocol');
  });

  it('reports a stream that repeats a server name, or takes a port that streams share by name, or the reverse', () => {
    const named = (id: string, port: number, names: string[]) => route(id, { ...stream(id, port), sni: names });
    const routes = [named('a', 9000, ['x.test']), named('b', 9000, ['y.test', 'x.test']), stream('c', 9000), stream('d', 9001), named('e', 9001, ['z.test'])];
    const { config, unsupported, served } = buildCaddyConfig(routes, { ...opts, layer4: true });
    expect(served).toBe(2);
    expect(Object.keys(config.apps.layer4?.servers ?? {})).toEqual(['stream_tcp_9000', 'stream_tcp_9001']);
    expect(unsupported).toEqual([
      { routeId: 'b', reason: 'server name x.test on tcp port 9000 is already used by route a' },
      { routeId: 'c', reason: 'tcp port 9000 is already used by route a (routed by server name)' },
      { routeId: 'e', reason: 'tcp port 9001 is already used by route d' },
    ]);
  });

  it('ignores server names on udp streams (the API refuses them)', () => {
    const { config } = buildCaddyConfig([route('u', { ...stream('u', 5300, 'udp'), sni: ['x.test'] })], { ...opts, layer4: true });
    expect(config.apps.layer4?.servers.stream_udp_5300?.routes[0]).not.toHaveProperty('match');
  });

  it('omits the layer4 app when layer4 is available but no stream route is rendered', () => {
    expect(buildCaddyConfig([route('p')], { ...opts, layer4: true }).config.apps).not.toHaveProperty('layer4');
  });
});
