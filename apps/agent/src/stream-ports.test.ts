import { describe, expect, it } from 'vitest';
import type { Route } from '@caddyfleet/protocol';
import { streamPortsOf } from './stream-ports';

const base = (): Omit<Route, 'id' | 'kind' | 'listen' | 'enabled'> => ({
  domains: [],
  upstreams: [{ host: '127.0.0.1', port: 1 }],
  redirect: null,
  nodeId: 'n',
  siteId: 's',
  scope: 'exclusive',
  origin: 'central',
  tls: 'off',
  createdAt: '',
  updatedAt: '',
  revision: 1,
  lastError: null,
});
const stream = (id: string, port: number, protocol: 'tcp' | 'udp', enabled = true): Route => ({ ...base(), id, kind: 'stream', listen: { port, protocol }, enabled });

describe('streamPortsOf', () => {
  it('lists the served stream listeners once, sorted by port', () => {
    const routes: Route[] = [
      stream('a', 5432, 'tcp'),
      stream('b', 53, 'udp'),
      stream('c', 53, 'tcp'),
      stream('d', 6000, 'tcp', false),
      stream('e', 7000, 'tcp'),
      { ...base(), id: 'p', kind: 'proxy', domains: ['x.test'], listen: null, enabled: true },
    ];
    expect(streamPortsOf(routes, new Set(['e']))).toEqual(['53/tcp', '53/udp', '5432/tcp']);
    expect(streamPortsOf([], new Set())).toEqual([]);
  });
});
