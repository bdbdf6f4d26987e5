import { describe, expect, it } from 'vitest';
import { dockerEntrySchema } from '@caddyfleet/protocol';
import { containerEntries, type DiscoveredContainer, type Identity } from './resolve';

const self: Identity = { nodeId: 'nd_b', nodeName: 'host-b', hostIp: '127.0.0.3' };

function container(over: Partial<DiscoveredContainer> = {}): DiscoveredContainer {
  return {
    id: 'abcdef0123456789'.repeat(4),
    name: 'web-1',
    state: 'running',
    labels: { caddy: 'app.test', 'caddy.reverse_proxy': '{{upstreams 80}}' },
    networkMode: 'front',
    networks: { front: '10.200.5.2' },
    ports: [],
    ...over,
  };
}

const one = (c: DiscoveredContainer, identity = self) => {
  const entries = containerEntries(c, 'caddy', identity);
  for (const e of entries) expect(dockerEntrySchema.safeParse(e).success, JSON.stringify(e)).toBe(true);
  expect(entries).toHaveLength(1);
  return entries[0]!;
};

describe('containerEntries: served on this node', () => {
  it('proxies to the container address on its only network', () => {
    expect(one(container())).toMatchObject({ local: true, node: null, kind: 'proxy', domains: ['app.test'], upstreams: [{ host: '10.200.5.2', port: 80 }], error: null, key: 'abcdef012345/caddy' });
  });

  it('uses caddy_ingress_network to choose among several networks, and says when it is needed', () => {
    const c = container({ networks: { front: '10.200.5.2', back: '10.200.5.130' } });
    expect(one(c).error).toMatch(/several networks \(back, front\): set caddy_ingress_network/);
    expect(one({ ...c, labels: { ...c.labels, caddy_ingress_network: 'back' } }).upstreams).toEqual([{ host: '10.200.5.130', port: 80 }]);
    expect(one({ ...c, labels: { ...c.labels, caddy_ingress_network: 'other' } }).error).toMatch(/no address on that network \(it is on back, front\)/);
  });

  it('proxies to 127.0.0.1 for a host-network container, and reports a container without address', () => {
    expect(one(container({ networkMode: 'host', networks: {} })).upstreams).toEqual([{ host: '127.0.0.1', port: 80 }]);
    expect(one(container({ networkMode: 'none', networks: {} })).error).toMatch(/no IP address/);
  });

  it('treats caddyfleet.node naming this node (by name or id) as local', () => {
    expect(one(container({ labels: { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddyfleet.node': 'host-b' } })).local).toBe(true);
    expect(one(container({ labels: { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddyfleet.node': 'nd_b' } })).local).toBe(true);
  });

  it('publishes one entry per site and one more for problems of no site', () => {
    const entries = containerEntries(
      container({ labels: { caddy_0: 'a.test', 'caddy_0.reverse_proxy': '{{upstreams 80}}', caddy_1: 'b.test', 'caddy_1.redir': 'https://a.test', 'caddyfleet.bogus': 'x' } }),
      'caddy',
      self,
    );
    expect(entries.map((e) => [e.key.split('/')[1], e.kind, e.error === null])).toEqual([
      ['labels', 'proxy', false],
      ['caddy_0', 'proxy', true],
      ['caddy_1', 'redirect', true],
    ]);
  });

  it('carries ignored labels as a warning', () => {
    expect(one(container({ labels: { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddy.encode': 'gzip' } })).warning).toBe('ignored unsupported labels: caddy.encode');
  });
});

describe('containerEntries: served on another node (caddyfleet.node)', () => {
  const labels = { caddy: 'app.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddyfleet.node': 'host-a' };
  const port = (ip: string, publicPort: number | null = 18080, privatePort = 80) => ({ ip, privatePort, publicPort, type: 'tcp' });

  it('uses this host IP and the published port', () => {
    expect(one(container({ labels, ports: [port('0.0.0.0')] }))).toMatchObject({ local: false, node: 'host-a', upstreams: [{ host: '127.0.0.3', port: 18080 }] });
    expect(one(container({ labels, ports: [port('127.0.0.3', 18081)] })).upstreams).toEqual([{ host: '127.0.0.3', port: 18081 }]);
  });

  it('says when the port is not published', () => {
    expect(one(container({ labels })).error).toMatch(/container port 80 is not published; .*-p HOST_PORT:80/);
    expect(one(container({ labels, ports: [port('0.0.0.0', 18080, 81)] })).error).toMatch(/not published/);
  });

  it('says when the port is published only on another address', () => {
    expect(one(container({ labels, ports: [port('127.0.0.1')] })).error).toMatch(/published only on 127.0.0.1, not on this host's IP 127.0.0.3/);
  });

  it('needs this host IP', () => {
    expect(one(container({ labels, ports: [port('0.0.0.0')] }), { ...self, hostIp: null }).error).toMatch(/host's IP is not known/);
  });

  it('needs no port for a redirect', () => {
    expect(one(container({ labels: { caddy: 'old.test', 'caddy.redir': 'https://new.test', 'caddyfleet.node': 'host-a' } }))).toMatchObject({ kind: 'redirect', local: false, error: null });
  });
});
