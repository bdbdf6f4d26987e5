/**
 * Turns a running container and its parsed labels into the entries the agent serves and publishes. The upstream
 * depends on who serves the site: this node reaches the container on its Docker network; another node
 * (`caddyfleet.node`) reaches it through this host's IP and the port Docker publishes for it.
 */
import { DOCKER_LIMITS, type DockerEntry } from '@caddyfleet/protocol';
import { parseLabels, quote, type LabelSite } from './labels';

/** What the agent keeps of a container from Docker's list (enough to rebuild its entries after a restart). */
export interface DiscoveredContainer {
  id: string;
  name: string;
  state: string;
  labels: Record<string, string>;
  /** `host`, `none`, `bridge`, a network name, or `container:<id>`. */
  networkMode: string;
  /** IPv4 address per attached network (empty strings left out). */
  networks: Record<string, string>;
  ports: { ip: string; privatePort: number; publicPort: number | null; type: string }[];
}

export interface Identity {
  /** This node's id and name: a `caddyfleet.node` naming either is served here. */
  nodeId: string;
  nodeName: string;
  /** This host's address as other nodes reach it; null when not known yet. */
  hostIp: string | null;
}

function cap(text: string): string {
  return text.length <= DOCKER_LIMITS.message ? text : text.slice(0, DOCKER_LIMITS.message - 1) + '…';
}

const ANY_ADDRESS = new Set(['', '0.0.0.0', '::']);

/** The entries of one container: one per site, plus one for problems that belong to no site. */
export function containerEntries(c: DiscoveredContainer, prefix: string, self: Identity): DockerEntry[] {
  const parsed = parseLabels(c.labels, prefix);
  const node = parsed.node;
  const local = node === null || node === self.nodeId || node === self.nodeName;
  const base = {
    containerId: c.id,
    containerName: c.name,
    state: c.state,
    node,
    local,
  };
  const entries: DockerEntry[] = [];
  if (parsed.errors.length) {
    entries.push({
      ...base,
      key: `${c.id.slice(0, 12)}/labels`,
      label: prefix,
      kind: 'proxy',
      domains: [],
      upstreams: [],
      redirect: null,
      tls: 'auto',
      error: cap(parsed.errors.join('; ')),
      warning: null,
    });
  }
  for (const site of parsed.sites) {
    const errors = [...site.errors];
    let upstreams: DockerEntry['upstreams'] = [];
    if (errors.length === 0 && site.upstream) {
      const found = local ? networkUpstream(c, site.upstream.port, parsed.ingressNetwork, prefix) : publishedUpstream(c, site.upstream.port, node!, self.hostIp);
      if ('error' in found) errors.push(`${site.label}.reverse_proxy: ${found.error}`);
      else upstreams = [found];
    }
    entries.push({
      ...base,
      key: `${c.id.slice(0, 12)}/${site.label}`,
      label: site.label,
      kind: site.redirect ? 'redirect' : 'proxy',
      domains: site.domains,
      upstreams: errors.length ? [] : upstreams,
      redirect: site.redirect,
      tls: site.tls,
      error: errors.length ? cap(errors.join('; ')) : null,
      warning: site.ignored.length ? cap(`ignored unsupported labels: ${site.ignored.join(', ')}`) : null,
    });
  }
  return entries;
}

type Found = { host: string; port: number } | { error: string };

/** The container's address on its network, for this node's own Caddy. */
function networkUpstream(c: DiscoveredContainer, port: number, ingress: string | null, prefix: string): Found {
  if (c.networkMode === 'host') return { host: '127.0.0.1', port };
  const names = Object.keys(c.networks).sort();
  if (ingress !== null) {
    const ip = c.networks[ingress];
    if (!ip) return { error: `${prefix}_ingress_network=${quote(ingress)}: the container has no address on that network (it is on ${names.join(', ') || 'no network'})` };
    return { host: ip, port };
  }
  if (names.length === 0) return { error: 'the container has no IP address on any network' };
  if (names.length > 1) return { error: `the container is on several networks (${names.join(', ')}): set ${prefix}_ingress_network to the one to proxy through` };
  return { host: c.networks[names[0]!]!, port };
}

/** This host's IP and the host port Docker publishes for `port`, for another node's Caddy. */
function publishedUpstream(c: DiscoveredContainer, port: number, node: string, hostIp: string | null): Found {
  if (hostIp === null) return { error: `this host's IP is not known yet (set --host-ip) to serve it on node ${quote(node)}` };
  if (c.networkMode === 'host') return { host: hostIp, port };
  const published = c.ports.filter((p) => p.privatePort === port && p.type === 'tcp' && p.publicPort !== null);
  if (published.length === 0) {
    return { error: `container port ${port} is not published; serving it on node ${quote(node)} needs -p HOST_PORT:${port}` };
  }
  const usable = published.find((p) => ANY_ADDRESS.has(p.ip) || p.ip === hostIp);
  if (!usable) {
    const where = [...new Set(published.map((p) => p.ip))].join(', ');
    return { error: `container port ${port} is published only on ${where}, not on this host's IP ${hostIp}; node ${quote(node)} cannot reach it` };
  }
  return { host: hostIp, port: usable.publicPort! };
}
