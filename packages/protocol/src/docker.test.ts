import { describe, expect, it } from 'vitest';
import { dockerEntrySchema, dockerRouteId, mergeDockerEntries, sourcedDockerEntrySchema, type SourcedDockerEntry } from './docker';
import { agentFrameSchema, controllerFrameSchema } from './agent';

let seq = 0;
function entry(over: Partial<SourcedDockerEntry> = {}): SourcedDockerEntry {
  seq++;
  return {
    key: `c${seq}/caddy`,
    containerId: `${seq}`.padStart(12, 'a'),
    containerName: `web-${seq}`,
    state: 'running',
    label: 'caddy',
    node: null,
    local: true,
    kind: 'proxy',
    domains: ['app.test'],
    upstreams: [{ host: `10.200.1.${seq}`, port: 80 }],
    redirect: null,
    tls: 'auto',
    error: null,
    warning: null,
    sourceNodeId: 'n1',
    sourceNodeName: 'host-1',
    ...over,
  };
}

describe('dockerEntrySchema', () => {
  const { sourceNodeId: _s, sourceNodeName: _n, ...base } = entry();

  it('accepts a servable entry and lower-cases its domains', () => {
    const parsed = dockerEntrySchema.parse({ ...base, domains: ['App.Test'] });
    expect(parsed.domains).toEqual(['app.test']);
  });

  it.each([
    ['a placeholder in a domain', { domains: ['{env.X}.test'] }],
    ['a placeholder in the node label', { node: 'a{b}' }],
    ['an upstream with a placeholder', { upstreams: [{ host: '{http.request.host}', port: 80 }] }],
    ['a servable proxy without upstreams', { upstreams: [] }],
    ['a servable entry without domains', { domains: [] }],
    ['a bad container id', { containerId: 'XYZ' }],
    ['an unknown field', { extra: 1 }],
  ])('refuses %s', (_what, over) => {
    expect(dockerEntrySchema.safeParse({ ...base, ...over }).success).toBe(false);
  });

  it('accepts an entry that only reports an error', () => {
    expect(dockerEntrySchema.safeParse({ ...base, domains: [], upstreams: [], error: 'bad label' }).success).toBe(true);
  });

  it('is what the docker-routes frame carries, and sync frames may carry sourced entries', () => {
    expect(agentFrameSchema.safeParse({ type: 'docker-routes', routes: [base] }).success).toBe(true);
    const sync = { type: 'sync', revision: 1, routes: [], dockerRoutes: [entry()] };
    expect(controllerFrameSchema.safeParse(sync).success).toBe(true);
    expect(sourcedDockerEntrySchema.safeParse({ ...base }).success).toBe(false);
  });
});

describe('mergeDockerEntries', () => {
  it('makes one route with every upstream when several containers share the domains', () => {
    const a = entry({ containerName: 'b-web' });
    const b = entry({ containerName: 'a-web', sourceNodeId: 'n2', sourceNodeName: 'host-2' });
    const views = mergeDockerEntries('t', [a, b]);
    expect(views).toHaveLength(1);
    const v = views[0]!;
    expect(v.served).toBe(true);
    expect(v.id).toBe(dockerRouteId('t', ['app.test']));
    // Fixed order: node id first, so n1's container comes first whatever the arrival order.
    expect(v.upstreams).toEqual([...a.upstreams, ...b.upstreams]);
    expect(mergeDockerEntries('t', [b, a])).toEqual(views);
  });

  it('gives the same route the same id on the agent and the controller, and another node another id', () => {
    expect(dockerRouteId('t', ['b.test', 'a.test'])).toBe(dockerRouteId('t', ['a.test', 'b.test']));
    expect(dockerRouteId('t', ['a.test'])).not.toBe(dockerRouteId('u', ['a.test']));
    expect(dockerRouteId('t', ['a.test'])).toMatch(/^dk_[0-9a-f]{16}$/);
  });

  it('does not repeat an upstream two entries share', () => {
    const up = [{ host: '127.0.0.3', port: 8080 }];
    const [v] = mergeDockerEntries('t', [entry({ upstreams: up }), entry({ upstreams: up })]);
    expect(v!.upstreams).toEqual(up);
  });

  it('reports an entry with an error on its own and serves the rest', () => {
    const bad = entry({ error: 'caddy.reverse_proxy: not supported', domains: ['app.test'], upstreams: [] });
    const good = entry();
    const views = mergeDockerEntries('t', [bad, good]);
    expect(views.filter((v) => v.served)).toHaveLength(1);
    const failed = views.find((v) => !v.served)!;
    expect(failed.problems[0]).toContain('caddy.reverse_proxy: not supported');
    expect(failed.id).not.toBe(views.find((v) => v.served)!.id);
  });

  it('keeps the first of two containers that disagree on TLS and reports the other', () => {
    const views = mergeDockerEntries('t', [entry({ containerName: 'a', tls: 'internal' }), entry({ containerName: 'b', tls: 'auto' })]);
    expect(views.map((v) => v.served)).toEqual([true, false]);
    expect(views[1]!.problems[0]).toMatch(/TLS auto instead of internal/);
  });

  it('refuses a partial overlap of domains between two groups', () => {
    const views = mergeDockerEntries('t', [entry({ containerName: 'a', domains: ['a.test', 'b.test'] }), entry({ containerName: 'b', domains: ['b.test'] })]);
    expect(views.map((v) => v.served)).toEqual([true, false]);
    expect(views[1]!.problems[0]).toMatch(/domain b.test is already published by container a/);
  });

  it('carries warnings of served entries as problems without stopping them', () => {
    const [v] = mergeDockerEntries('t', [entry({ warning: 'ignored unsupported labels: caddy.encode' })]);
    expect(v!.served).toBe(true);
    expect(v!.problems[0]).toMatch(/caddy.encode/);
  });

  it('merges redirects with the same target', () => {
    const redirect = { to: 'https://new.test', status: 302 as const, preservePath: true };
    const views = mergeDockerEntries('t', [entry({ kind: 'redirect', upstreams: [], redirect }), entry({ kind: 'redirect', upstreams: [], redirect })]);
    expect(views).toHaveLength(1);
    expect(views[0]!.entries).toHaveLength(2);
  });
});
