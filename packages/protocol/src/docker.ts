/**
 * Docker discovery: what an agent publishes about the labelled containers of its host, and the one pure merge
 * both the agent (to serve) and the controller (to show) apply to it, so both sides agree on which routes exist,
 * their ids, their upstreams and their problems.
 */
import { z } from 'zod';
import { LIMITS } from './limits';
import { redirectSpecSchema, tlsModeSchema, upstreamSchema, type Upstream } from './routes';
import { domainSchema, hasUnsafeChars } from './validators';

export const DOCKER_LIMITS = {
  /** Sites one node may publish in a `docker-routes` frame (a host runs far fewer labelled containers). */
  entriesPerNode: 1000,
  message: 2048,
} as const;

export const containerIdSchema = z.string().regex(/^[0-9a-f]{12,64}$/, 'is not a container id');
export const containerNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'is not a container name');

const entryShape = {
  /** Unique per discovering node: container id and the label the site came from. */
  key: z.string().min(1).max(100).regex(/^[A-Za-z0-9_.:/-]+$/),
  containerId: containerIdSchema,
  containerName: containerNameSchema,
  state: z.string().min(1).max(40).regex(/^[a-z]+$/),
  /** The site's label: `caddy`, `caddy_0`, … (with the node's prefix). */
  label: z.string().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/),
  /** The `caddyfleet.node` label (a node name or id), or null: served by the node that found it. */
  node: z
    .string()
    .min(1)
    .max(100)
    .refine((v) => !hasUnsafeChars(v), 'must not contain braces or control characters')
    .nullable(),
  /** The discovering node serves it itself (upstream on the container's network) rather than another node. */
  local: z.boolean(),
  kind: z.enum(['proxy', 'redirect']),
  domains: z.array(domainSchema).max(LIMITS.domainsPerRoute),
  upstreams: z.array(upstreamSchema).max(LIMITS.upstreamsPerRoute),
  redirect: redirectSpecSchema.nullable(),
  tls: tlsModeSchema,
  /** Why the site cannot be served at all (bad address, unpublished port, …): then it is only reported. */
  error: z.string().min(1).max(DOCKER_LIMITS.message).nullable(),
  /** Labels that were ignored (unsupported directives); the site is served without them. */
  warning: z.string().min(1).max(DOCKER_LIMITS.message).nullable(),
};

type EntryFields = { error: string | null; domains: string[]; kind: string; upstreams: unknown[]; redirect: unknown };
function servable(e: EntryFields, ctx: z.RefinementCtx): void {
  if (e.error !== null) return;
  if (e.domains.length === 0) ctx.addIssue({ code: 'custom', path: ['domains'], message: 'an entry without error needs a domain' });
  if (e.kind === 'proxy' && e.upstreams.length === 0) ctx.addIssue({ code: 'custom', path: ['upstreams'], message: 'a proxy entry without error needs an upstream' });
  if (e.kind === 'redirect' && e.redirect === null) ctx.addIssue({ code: 'custom', path: ['redirect'], message: 'a redirect entry without error needs a target' });
}

/** One site of one container, as the discovering agent publishes it (`docker-routes` frame). */
export const dockerEntrySchema = z.strictObject(entryShape).superRefine(servable);
export type DockerEntry = z.infer<typeof dockerEntrySchema>;

/** An entry with the node that found it: what the controller sends a node that serves it for another one. */
export const sourcedDockerEntrySchema = z
  .strictObject({ ...entryShape, sourceNodeId: z.string().min(1).max(64), sourceNodeName: z.string().max(200) })
  .superRefine(servable);
export type SourcedDockerEntry = z.infer<typeof sourcedDockerEntrySchema>;

/** A route made of the entries that share its domains on one serving node. */
export interface DockerRouteView {
  id: string;
  kind: 'proxy' | 'redirect';
  domains: string[];
  upstreams: Upstream[];
  redirect: DockerEntry['redirect'];
  tls: DockerEntry['tls'];
  /** Contributing entries, in merge order; the first one decides kind, TLS and redirect. */
  entries: SourcedDockerEntry[];
  /** False when nothing of it can be served; `problems` then says why. */
  served: boolean;
  problems: string[];
}

/** FNV-1a, twice with different offsets: a short stable id without node:crypto (this package runs in browsers too). */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Id of the route serving `domains` on `targetNodeId`: the same on the agent and the controller. */
export function dockerRouteId(targetNodeId: string, domains: string[]): string {
  return `dk_${hash64(`${targetNodeId}\n${[...domains].sort().join(',')}`)}`;
}

/** Id of an entry that cannot join a route (invalid labels, or a clash with another container's site). */
export function dockerEntryRouteId(targetNodeId: string, entry: Pick<SourcedDockerEntry, 'sourceNodeId' | 'key'>): string {
  return `dk_${hash64(`${targetNodeId}\n${entry.sourceNodeId}\n${entry.key}`)}`;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function who(e: SourcedDockerEntry): string {
  return `container ${e.containerName} on ${e.sourceNodeName}`;
}

function failed(targetNodeId: string, e: SourcedDockerEntry, problem: string): DockerRouteView {
  return {
    id: dockerEntryRouteId(targetNodeId, e),
    kind: e.kind,
    domains: e.domains,
    upstreams: [],
    redirect: e.redirect,
    tls: e.tls,
    entries: [e],
    served: false,
    problems: [`${who(e)}: ${problem}`],
  };
}

/**
 * Groups the entries served by one node into routes: entries with the same set of domains become one route
 * whose upstreams are all of theirs (load-balanced); an entry that disagrees with the first one of its group
 * (kind, TLS, redirect), or whose domains partly overlap another group's, is reported instead of served.
 * Entries are taken in a fixed order (node id, container name, key), so the result does not depend on arrival.
 */
export function mergeDockerEntries(targetNodeId: string, entries: SourcedDockerEntry[]): DockerRouteView[] {
  const sorted = [...entries].sort((x, y) => cmp(x.sourceNodeId, y.sourceNodeId) || cmp(x.containerName, y.containerName) || cmp(x.key, y.key));
  const out: DockerRouteView[] = [];
  const groups = new Map<string, DockerRouteView>();
  for (const e of sorted) {
    if (e.error !== null || e.domains.length === 0) {
      out.push(failed(targetNodeId, e, e.error ?? 'no valid domain'));
      continue;
    }
    const domains = [...new Set(e.domains)].sort();
    const key = domains.join(',');
    const group = groups.get(key);
    if (!group) {
      const view: DockerRouteView = {
        id: dockerRouteId(targetNodeId, domains),
        kind: e.kind,
        domains,
        upstreams: [],
        redirect: e.redirect,
        tls: e.tls,
        entries: [e],
        served: true,
        problems: [],
      };
      if (e.kind === 'proxy') addUpstreams(view, e.upstreams);
      if (e.warning) view.problems.push(`${who(e)}: ${e.warning}`);
      groups.set(key, view);
      out.push(view);
      continue;
    }
    const first = group.entries[0]!;
    const differs =
      e.kind !== group.kind ? `kind ${e.kind} instead of ${group.kind}` :
      e.tls !== group.tls ? `TLS ${e.tls} instead of ${group.tls}` :
      JSON.stringify(e.redirect) !== JSON.stringify(group.redirect) ? 'another redirect target' :
      null;
    if (differs) {
      out.push(failed(targetNodeId, e, `same domains as ${who(first)} but ${differs}; only the first is served`));
      continue;
    }
    group.entries.push(e);
    if (e.kind === 'proxy') addUpstreams(group, e.upstreams);
    if (e.warning) group.problems.push(`${who(e)}: ${e.warning}`);
  }

  // A domain belongs to the first group that has it; a later group sharing only part of it is not served.
  const owner = new Map<string, DockerRouteView>();
  for (const view of out) {
    if (!view.served) continue;
    const taken = view.domains.find((d) => owner.has(d));
    if (taken !== undefined) {
      view.served = false;
      view.problems.unshift(`domain ${taken} is already published by ${who(owner.get(taken)!.entries[0]!)} with other domains; give both the same domains or use distinct ones`);
      continue;
    }
    for (const d of view.domains) owner.set(d, view);
  }
  return out;
}

/** What both the agent and the controller say of a Docker route that loses a domain to a central or local route. */
export function dockerConflict(domain: string, owner: { id: string; origin: string }): string {
  return `domain ${domain} is served by ${owner.origin} route ${owner.id}; central and local routes win over Docker labels`;
}

function addUpstreams(view: DockerRouteView, upstreams: Upstream[]): void {
  for (const u of upstreams) {
    if (view.upstreams.some((x) => x.host === u.host && x.port === u.port)) continue;
    if (view.upstreams.length >= LIMITS.upstreamsPerRoute) {
      if (!view.problems.some((p) => p.startsWith('more than'))) view.problems.push(`more than ${LIMITS.upstreamsPerRoute} upstreams; the rest are left out`);
      return;
    }
    view.upstreams.push(u);
  }
}
