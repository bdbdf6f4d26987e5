import { describe, expect, it } from 'vitest';
import { hasDiscoveryLabels, parseLabels } from './labels';

const site = (labels: Record<string, string>, prefix = 'caddy') => {
  const parsed = parseLabels(labels, prefix);
  expect(parsed.sites).toHaveLength(1);
  return parsed.sites[0]!;
};

describe('parseLabels: caddy-docker-proxy dialect', () => {
  it('reads a site address and {{upstreams PORT}}', () => {
    const s = site({ caddy: 'app.example.com', 'caddy.reverse_proxy': '{{upstreams 8080}}' });
    expect(s).toMatchObject({ label: 'caddy', domains: ['app.example.com'], tls: 'auto', upstream: { scheme: 'http', port: 8080 }, errors: [], ignored: [] });
  });

  it('defaults the upstream port to 80 and accepts an explicit http scheme', () => {
    expect(site({ caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams}}' }).upstream).toEqual({ scheme: 'http', port: 80 });
    expect(site({ caddy: 'a.test', 'caddy.reverse_proxy': '{{ upstreams http 3000 }}' }).upstream).toEqual({ scheme: 'http', port: 3000 });
  });

  it('splits several addresses on spaces and commas, lower-cases and de-duplicates them', () => {
    const s = site({ caddy: 'A.test, b.test  c.test,a.test', 'caddy.reverse_proxy': '{{upstreams 80}}' });
    expect(s.domains).toEqual(['a.test', 'b.test', 'c.test']);
  });

  it('serves http:// addresses without TLS', () => {
    expect(site({ caddy: 'http://a.test http://b.test', 'caddy.reverse_proxy': '{{upstreams 80}}' }).tls).toBe('off');
    expect(site({ caddy: 'https://a.test', 'caddy.reverse_proxy': '{{upstreams 80}}' }).tls).toBe('auto');
  });

  it('refuses a mix of http:// and TLS addresses in one label', () => {
    expect(site({ caddy: 'http://a.test b.test', 'caddy.reverse_proxy': '{{upstreams 80}}' }).errors[0]).toMatch(/mixes http:\/\/ and TLS/);
  });

  it('reads caddy.tls=internal and reports any other tls value as ignored', () => {
    expect(site({ caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddy.tls': 'internal' }).tls).toBe('internal');
    const s = site({ caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddy.tls': 'me@example.com' });
    expect(s.tls).toBe('auto');
    expect(s.ignored[0]).toMatch(/caddy\.tls="me@example.com"/);
    expect(site({ caddy: 'http://a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddy.tls': 'internal' }).errors[0]).toMatch(/contradicts/);
  });

  it('reads numbered sites, each with its own directives, in order', () => {
    const parsed = parseLabels(
      {
        caddy_1: 'two.test',
        'caddy_1.reverse_proxy': '{{upstreams 81}}',
        caddy_0: 'one.test',
        'caddy_0.reverse_proxy': '{{upstreams 80}}',
        caddy: 'zero.test',
        'caddy.redir': 'https://one.test',
      },
      'caddy',
    );
    expect(parsed.sites.map((s) => [s.label, s.domains[0], s.upstream?.port ?? s.redirect?.to])).toEqual([
      ['caddy', 'zero.test', 'https://one.test'],
      ['caddy_0', 'one.test', 80],
      ['caddy_1', 'two.test', 81],
    ]);
  });

  it('reads redir with {uri}, statuses and words', () => {
    expect(site({ caddy: 'old.test', 'caddy.redir': 'https://new.test{uri}' }).redirect).toEqual({ to: 'https://new.test', status: 302, preservePath: true });
    expect(site({ caddy: 'old.test', 'caddy.redir': 'https://new.test/x permanent' }).redirect).toEqual({ to: 'https://new.test/x', status: 301, preservePath: false });
    expect(site({ caddy: 'old.test', 'caddy.redir': 'https://new.test 308' }).redirect?.status).toBe(308);
    expect(site({ caddy: 'old.test', 'caddy.redir': 'https://new.test 303' }).errors[0]).toMatch(/status must be/);
    expect(site({ caddy: 'old.test', 'caddy.redir': '/path https://new.test 301' }).errors[0]).toMatch(/TARGET \[STATUS\]/);
  });

  it('lets redir win over reverse_proxy, as Caddy orders them, and says so', () => {
    const s = site({ caddy: 'a.test', 'caddy.redir': 'https://b.test', 'caddy.reverse_proxy': '{{upstreams 80}}' });
    expect(s.redirect).not.toBeNull();
    expect(s.upstream).toBeNull();
    expect(s.ignored[0]).toMatch(/caddy\.reverse_proxy .*redir takes precedence/);
  });

  it('names unsupported directives and keeps the site', () => {
    const s = site({ caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', 'caddy.encode': 'gzip', 'caddy.reverse_proxy.lb_policy': 'first' });
    expect(s.errors).toEqual([]);
    expect(s.ignored).toEqual(['caddy.encode', 'caddy.reverse_proxy.lb_policy']);
  });

  it('uses a custom prefix and ignores caddy labels then', () => {
    const labels = { cf: 'a.test', 'cf.reverse_proxy': '{{upstreams 80}}', caddy: 'b.test', 'caddy.reverse_proxy': '{{upstreams 80}}' };
    expect(parseLabels(labels, 'cf').sites.map((s) => s.domains)).toEqual([['a.test']]);
    expect(hasDiscoveryLabels({ caddy: 'x' }, 'cf')).toBe(false);
    expect(hasDiscoveryLabels({ 'cf_2.reverse_proxy': 'x' }, 'cf')).toBe(true);
    expect(hasDiscoveryLabels({ caddyserver: 'x' }, 'caddy')).toBe(false);
  });

  it('reads caddy_ingress_network and caddyfleet.node', () => {
    const parsed = parseLabels({ caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}}', caddy_ingress_network: 'front', 'caddyfleet.node': 'edge-1' }, 'caddy');
    expect(parsed).toMatchObject({ ingressNetwork: 'front', node: 'edge-1', errors: [] });
  });
});

describe('parseLabels: invalid input is reported, never rendered', () => {
  it.each([
    ['a placeholder in the address', { caddy: 'a.test{http.request.host}', 'caddy.reverse_proxy': '{{upstreams 80}}' }, /placeholders/],
    ['a placeholder after the upstreams', { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 80}} {env.SECRET}' }, /only \{\{upstreams/],
    ['a literal upstream', { caddy: 'a.test', 'caddy.reverse_proxy': 'backend:8080' }, /only \{\{upstreams/],
    ['a placeholder in a redirect', { caddy: 'a.test', 'caddy.redir': 'https://x.test/{path}' }, /placeholders/],
    ['a bad domain', { caddy: 'bad_domain!', 'caddy.reverse_proxy': '{{upstreams 80}}' }, /not a valid RFC 1123 label/],
    ['an address with a port', { caddy: 'a.test:8443', 'caddy.reverse_proxy': '{{upstreams 80}}' }, /ports and paths/],
    ['a port out of range', { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams 70000}}' }, /not between 1 and 65535/],
    ['an https upstream', { caddy: 'a.test', 'caddy.reverse_proxy': '{{upstreams https 8443}}' }, /over https are not supported/],
    ['a site with nothing to serve', { caddy: 'a.test' }, /nothing to serve/],
    ['a redirect to a relative path', { caddy: 'a.test', 'caddy.redir': '/elsewhere' }, /absolute URL/],
    ['an IDN address', { caddy: 'bücher.test', 'caddy.reverse_proxy': '{{upstreams 80}}' }, /punycode/],
  ])('%s', (_what, labels, message) => {
    const s = site(labels);
    expect(s.errors.join('; ')).toMatch(message);
  });

  it('keeps a bad site from spoiling the good one next to it', () => {
    const parsed = parseLabels({ caddy_0: 'bad_host!', 'caddy_0.reverse_proxy': '{{upstreams 80}}', caddy_1: 'ok.test', 'caddy_1.reverse_proxy': '{{upstreams 80}}' }, 'caddy');
    expect(parsed.sites.map((s) => s.errors.length)).toEqual([1, 0]);
  });

  it('reports directives without a site address, a bad node label, unknown caddyfleet labels and a bad network', () => {
    const parsed = parseLabels({ 'caddy.email': 'me@example.com', 'caddyfleet.node': '{env.X}', 'caddyfleet.other': '1', caddy_ingress_network: 'bad net', caddy_x: 'y' }, 'caddy');
    expect(parsed.sites).toEqual([]);
    expect(parsed.node).toBeNull();
    expect(parsed.errors.join('\n')).toMatch(/caddy\.email without a caddy=ADDRESS label/);
    expect(parsed.errors.join('\n')).toMatch(/caddyfleet\.node="\{env\.X\}" must be a node name or id/);
    expect(parsed.errors.join('\n')).toMatch(/unknown label caddyfleet\.other/);
    expect(parsed.errors.join('\n')).toMatch(/caddy_ingress_network="bad net" is not a Docker network name/);
    expect(parsed.errors.join('\n')).toMatch(/unknown label caddy_x/);
  });

  it('bounds label sizes and site counts, and quotes control characters harmlessly', () => {
    expect(site({ caddy: 'a.test', 'caddy.reverse_proxy': `{{upstreams 80}}${' '.repeat(5000)}` }).errors[0]).toMatch(/longer than 4096/);
    const many: Record<string, string> = {};
    for (let i = 0; i < 120; i++) {
      many[`caddy_${i}`] = `s${i}.test`;
      many[`caddy_${i}.reverse_proxy`] = '{{upstreams 80}}';
    }
    const parsed = parseLabels(many, 'caddy');
    expect(parsed.sites).toHaveLength(100);
    expect(parsed.errors[0]).toMatch(/more than 100 sites/);
    expect(site({ caddy: 'a.test', 'caddy.reverse_proxy': 'x\u0000\u001b[31m' }).errors[0]).not.toMatch(/[\u0000-\u001f]/);
  });
});
