import { describe, expect, it } from 'vitest';
import { NO_LAYER4_REASON } from '@caddyfleet/caddy';
import { ConflictError } from '../errors';
import { checkModules, knownProblem, type NodeFacts } from './route-checks';

const node = (modules: string[] | null): NodeFacts => ({
  id: 'n1',
  name: 'edge',
  site_id: 's1',
  caddy_modules: modules === null ? null : JSON.stringify(modules),
  http_port: 80,
  https_port: 443,
});
const HTTP = ['http.handlers.reverse_proxy', 'http.handlers.static_response'];
const L4 = [...HTTP, 'layer4', 'layer4.handlers.proxy'];
const stream = { kind: 'stream' as const, upstreams: [{}] };

function refusal(n: NodeFacts, route: Parameters<typeof checkModules>[1]): ConflictError | null {
  try {
    checkModules(n, route);
    return null;
  } catch (err) {
    if (err instanceof ConflictError) return err;
    throw err;
  }
}

describe('what a node lacks, from its module list', () => {
  it('refuses an enabled route needing a module the list lacks, naming it', () => {
    const err = refusal(node(HTTP), { ...stream, enabled: true });
    expect(err).toMatchObject({ status: 409, code: 'node_lacks_module', details: { module: 'layer4', nodeId: 'n1' } });
    expect(err!.message).toBe('the Caddy of node edge has no module layer4, which this stream route needs (stream routes need a Caddy built with caddy-l4: scripts/build-caddy.sh)');
    expect(refusal(node(L4), { ...stream, sni: ['a.test'], enabled: true })).toMatchObject({ details: { module: 'layer4.matchers.tls' } });
    expect(refusal(node(HTTP), { kind: 'proxy', enabled: true })).toBeNull();
  });

  it('accepts what the list has, any route where it is unknown, and a disabled route anywhere', () => {
    expect(refusal(node(L4), { ...stream, enabled: true })).toBeNull();
    expect(refusal(node(null), { ...stream, sni: ['a.test'], enabled: true })).toBeNull();
    expect(refusal(node(HTTP), { ...stream, enabled: false })).toBeNull();
  });

  it('notes the problem at once where the list shows it, in the words the agent would use for layer4', () => {
    expect(knownProblem(stream, node(HTTP))).toBe(NO_LAYER4_REASON);
    expect(knownProblem({ ...stream, sni: ['a.test'] }, node(L4))).toMatch(/^the Caddy of node edge has no module layer4\.matchers\.tls, which this stream route needs/);
    expect(knownProblem({ kind: 'dead' }, node(['http.handlers.reverse_proxy']))).toMatch(/no module http\.handlers\.static_response, which this dead route needs$/);
  });

  it('notes nothing where the node can serve it or its modules are unknown (its agent reports those)', () => {
    expect(knownProblem(stream, node(L4))).toBeNull();
    expect(knownProblem({ kind: 'proxy' }, node(HTTP))).toBeNull();
    expect(knownProblem(stream, node(null))).toBeNull();
    expect(knownProblem(stream, { name: 'edge', caddy_modules: 'not json' })).toBeNull();
  });
});
