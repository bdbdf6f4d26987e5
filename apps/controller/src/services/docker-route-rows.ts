/**
 * Turns the Docker entries served by one node into its `routes` rows (origin docker, scope local_only), with
 * the merge the agent applies too (packages/protocol docker.ts): the same ids, upstreams and problems on both
 * sides. Pure apart from the inputs it is handed.
 */
import { dockerConflict, mergeDockerEntries, type DockerEntry, type DockerSource, type SourcedDockerEntry } from '@caddyfleet/protocol';
import type { RouteTable } from '../db/schema';
import { apiNodeId } from './route-mapping';

const MAX_ERROR = 8192;

export interface SourceNode {
  name: string;
  /** Offline past the threshold: its containers may have changed without us knowing. */
  stale: boolean;
  offlineSince: string | null;
}

export interface TargetNode {
  id: string;
  siteId: string;
}

export interface StoredEntry {
  sourceNodeId: string;
  entry: DockerEntry;
}

function cap(text: string): string {
  return text.length <= MAX_ERROR ? text : text.slice(0, MAX_ERROR - 1) + '…';
}

/**
 * The docker route rows of `target`. `held` maps a domain to the enabled central or local route that holds it on
 * that node; `previous` (by id) keeps creation times, and update times of rows that did not change.
 */
export function dockerRouteRows(
  target: TargetNode,
  entries: StoredEntry[],
  sources: Map<string, SourceNode>,
  held: Map<string, { id: string; origin: string }>,
  previous: Map<string, RouteTable>,
  now: string,
): RouteTable[] {
  const sourced: SourcedDockerEntry[] = entries.map(({ sourceNodeId, entry }) => ({
    ...entry,
    sourceNodeId,
    sourceNodeName: sources.get(sourceNodeId)?.name ?? sourceNodeId,
  }));
  const rows: RouteTable[] = [];
  for (const view of mergeDockerEntries(target.id, sourced)) {
    if (view.served) {
      const lost = view.domains.find((d) => held.has(d));
      if (lost !== undefined) {
        view.served = false;
        view.problems.unshift(dockerConflict(lost, held.get(lost)!));
      }
    }
    const staleNodes = [...new Set(view.entries.map((e) => e.sourceNodeId))].filter((id) => sources.get(id)?.stale);
    for (const id of staleNodes) {
      const s = sources.get(id)!;
      view.problems.push(`stale: node ${s.name} is offline${s.offlineSince ? ` (last seen ${s.offlineSince})` : ''}; it is still served, but its containers may have changed`);
    }
    const sourceList: DockerSource[] = view.entries.map((e) => ({
      nodeId: apiNodeId(e.sourceNodeId),
      nodeName: e.sourceNodeName,
      containerId: e.containerId,
      containerName: e.containerName,
      state: e.state,
      stale: sources.get(e.sourceNodeId)?.stale ?? false,
    }));
    const spec = JSON.stringify({ domains: view.domains, upstreams: view.kind === 'proxy' ? view.upstreams : [], redirect: view.redirect, listen: null });
    const lastError = view.problems.length ? cap(view.problems.join('; ')) : null;
    const source = JSON.stringify(sourceList);
    const prev = previous.get(view.id);
    const same = prev && prev.spec === spec && prev.kind === view.kind && prev.tls === view.tls && prev.last_error === lastError && prev.source === source;
    rows.push({
      id: view.id,
      kind: view.kind,
      node_id: target.id,
      site_id: target.siteId,
      scope: 'local_only',
      origin: 'docker',
      enabled: 1,
      tls: view.tls,
      spec,
      revision: 0,
      last_error: lastError,
      created_at: prev?.created_at ?? now,
      updated_at: same ? prev.updated_at : now,
      source,
    });
  }
  return rows;
}

export type NodeRef = { id: string; name: string };

/** The node a `caddyfleet.node` label names: its id, else its name (unique); otherwise why not. */
export function resolveNodeLabel(label: string, nodes: NodeRef[]): { id: string } | { error: string } {
  const byId = nodes.find((n) => n.id === label);
  if (byId) return { id: byId.id };
  let named = nodes.filter((n) => n.name === label);
  if (named.length === 0) named = nodes.filter((n) => n.name.toLowerCase() === label.toLowerCase());
  if (named.length === 1) return { id: named[0]!.id };
  if (named.length > 1) return { error: `caddyfleet.node=${label} matches ${named.length} nodes; use the node id instead` };
  return { error: `caddyfleet.node=${label}: no node of this organization has that name or id` };
}
