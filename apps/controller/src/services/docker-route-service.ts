/**
 * Docker discovery on the controller. Each agent publishes every site it found in its containers' labels; they
 * are stored per discovering node (`docker_entries`), and each serving node's Docker routes are derived from all
 * entries aimed at it: one route per set of domains, with the upstreams of every container behind it, whatever
 * host they run on. Sites served by another node (`caddyfleet.node`) travel to it with its sync, so publishing
 * one moves that node's revision. Docker routes are read-only, never hold a domain against a central or local
 * route, and are marked stale (yet kept) while the node that found them is offline past the threshold.
 */
import type { Logger } from 'pino';
import { sourcedDockerEntrySchema, type DockerEntry, type SourcedDockerEntry } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import type { RouteTable } from '../db/schema';
import { audit } from './audit-service';
import type { ServiceContext } from './context';
import { dockerRouteRows, resolveNodeLabel, type SourceNode, type StoredEntry } from './docker-route-rows';
import { fixedChunks } from '../db/chunks';
import { bumpRevision } from './node-service';

export interface DockerRouteOptions {
  /** A discovering node offline for longer than this (since last seen) makes its routes stale. */
  staleAfterMs: number;
}

type NodeRow = { id: string; name: string; site_id: string; status: string; last_seen_at: string | null };

export class DockerRouteService {
  private staleNodes: Set<string> | null = null;
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: ServiceContext,
    private readonly log: Logger,
    private readonly opts: DockerRouteOptions,
  ) {}

  /** Replaces every entry `sourceNodeId` published before with `entries`. */
  async replace(sourceNodeId: string, agentLabel: string, entries: DockerEntry[]): Promise<void> {
    const bumped: [string, number][] = [];
    const touched = new Set<string>();
    let changed = false;
    await this.ctx.db.transaction().execute(async (trx) => {
      const nodes = await trx.selectFrom('nodes').select(['id', 'name', 'site_id', 'status', 'last_seen_at']).execute();
      const source = nodes.find((n) => n.id === sourceNodeId);
      if (!source) return;
      // An agent can only hand sites to nodes of its own organization: that is where its operators' fleet ends.
      const orgOf = new Map(
        (await trx.selectFrom('sites').select(['id', 'organization_id']).execute()).map((site) => [site.id, site.organization_id]),
      );
      const sameOrg = nodes.filter((n) => orgOf.get(n.site_id) === orgOf.get(source.site_id));
      const old = await trx.selectFrom('docker_entries').selectAll().where('source_node_id', '=', sourceNodeId).execute();
      const oldByKey = new Map(old.map((o) => [o.entry_key, o]));
      const now = this.ctx.now().toISOString();
      const rows = [];
      const seen = new Set<string>();
      for (const input of entries) {
        if (seen.has(input.key)) continue;
        seen.add(input.key);
        let entry = input;
        let target: string | null = sourceNodeId;
        if (!entry.local) {
          const resolved = resolveNodeLabel(entry.node ?? '', sameOrg);
          if ('id' in resolved) target = resolved.id;
          else {
            target = null;
            entry = { ...entry, upstreams: [], error: entry.error ? `${resolved.error}; ${entry.error}` : resolved.error };
          }
        }
        const previous = oldByKey.get(entry.key);
        const json = JSON.stringify(entry);
        rows.push({
          source_node_id: sourceNodeId,
          entry_key: entry.key,
          target_node_id: target,
          local: entry.local ? 1 : 0,
          entry: json,
          updated_at: previous && previous.entry === json && previous.target_node_id === target ? previous.updated_at : now,
        });
      }
      changed = old.length !== rows.length || rows.some((r) => r.updated_at === now);
      if (!changed) return;

      await trx.deleteFrom('docker_entries').where('source_node_id', '=', sourceNodeId).execute();
      for (const r of rows) await trx.insertInto('docker_entries').values(r).execute();

      // What other nodes serve for this one travels with their sync: a change there moves their revision.
      const remote = (list: { target_node_id: string | null; local: number; entry: string }[]) => {
        const byTarget = new Map<string, string[]>();
        for (const r of list) {
          if (r.local === 1 || r.target_node_id === null || !servable(r.entry)) continue;
          const forTarget = byTarget.get(r.target_node_id) ?? [];
          forTarget.push(r.entry);
          byTarget.set(r.target_node_id, forTarget);
        }
        return byTarget;
      };
      const before = remote(old);
      const after = remote(rows);
      for (const t of new Set([...before.keys(), ...after.keys()])) {
        if (JSON.stringify(before.get(t)?.sort() ?? []) !== JSON.stringify(after.get(t)?.sort() ?? [])) bumped.push([t, await bumpRevision(trx, t)]);
      }
      touched.add(sourceNodeId);
      for (const r of [...old, ...rows]) if (r.target_node_id) touched.add(r.target_node_id);
      await this.recomputeIn(trx, [...touched], nodes);
      const summary = (list: { entry: string }[]) => list.slice(0, 200).map((r) => summarize(JSON.parse(r.entry) as DockerEntry));
      await audit(trx, this.ctx, { kind: 'agent', id: sourceNodeId, label: agentLabel, role: 'viewer' }, 'update', 'docker-routes', sourceNodeId, summary(old), summary(rows));
    });
    for (const [nodeId, revision] of bumped) this.ctx.events.emit('revision', nodeId, revision);
    for (const nodeId of touched) this.ctx.events.emit('routes', nodeId);
  }

  /** Re-derives the Docker routes of these nodes soon (after central or local routes changed there). */
  schedule(...nodeIds: string[]): void {
    for (const id of nodeIds) this.pending.add(id);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      const ids = [...this.pending];
      this.pending.clear();
      this.running = this.running.then(() => this.recompute(ids)).catch((err: unknown) => this.log.error({ err, nodes: ids }, 'could not update Docker routes'));
    }, 20);
  }

  /** Stops the pending re-derivation and waits for a running one, before the database closes. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
    await this.running;
  }

  /** Re-derives every node's Docker routes (after a node was deleted). */
  recomputeAll(): Promise<void> {
    this.running = this.running.then(async () => {
      const targets = await this.ctx.db.selectFrom('docker_entries').select('target_node_id').distinct().execute();
      const holders = await this.ctx.db.selectFrom('routes').select('node_id').distinct().where('origin', '=', 'docker').execute();
      const sources = await this.ctx.db.selectFrom('docker_entries').select('source_node_id').distinct().execute();
      const ids = new Set<string>();
      for (const t of targets) if (t.target_node_id) ids.add(t.target_node_id);
      for (const h of holders) ids.add(h.node_id);
      for (const s of sources) ids.add(s.source_node_id);
      await this.recompute([...ids]);
    });
    return this.running.catch((err: unknown) => this.log.error({ err }, 'could not update Docker routes'));
  }

  /**
   * Marks the routes of nodes that went offline past the threshold stale, and unmarks them when the node is back;
   * called periodically by the hub. The first call after start derives everything once.
   */
  async checkStale(): Promise<void> {
    const sources = await this.ctx.db
      .selectFrom('nodes')
      .select(['id', 'status', 'last_seen_at'])
      .where('id', 'in', this.ctx.db.selectFrom('docker_entries').select('source_node_id'))
      .execute();
    const now = this.ctx.now().getTime();
    const stale = new Set(sources.filter((n) => this.isStale(n, now)).map((n) => n.id));
    const previous = this.staleNodes;
    this.staleNodes = stale;
    if (previous === null) return this.recomputeAll();
    const flipped = [...stale].filter((id) => !previous.has(id)).concat([...previous].filter((id) => !stale.has(id)));
    if (flipped.length === 0) return;
    const targets = await this.ctx.db.selectFrom('docker_entries').select('target_node_id').distinct().where('source_node_id', 'in', flipped).execute();
    this.schedule(...flipped, ...targets.flatMap((t) => (t.target_node_id ? [t.target_node_id] : [])));
  }

  private isStale(n: { status: string; last_seen_at: string | null }, now: number): boolean {
    if (n.status !== 'offline') return false;
    const seen = n.last_seen_at ? Date.parse(n.last_seen_at) : 0;
    return now - seen > this.opts.staleAfterMs;
  }

  private async recompute(nodeIds: string[]): Promise<void> {
    const ids = await this.involved(nodeIds);
    if (ids.length === 0) return;
    const changed: string[] = [];
    await this.ctx.db.transaction().execute(async (trx) => {
      changed.push(...(await this.recomputeIn(trx, ids)));
    });
    for (const id of changed) this.ctx.events.emit('routes', id);
  }

  /**
   * The nodes among `nodeIds` that hold Docker routes or that Docker entries are for; for the others there is
   * nothing to derive. Every agent that connects publishes its local routes, which schedules its node: without
   * this filter a fleet connecting would re-read every node's row for each of them.
   */
  private async involved(nodeIds: string[]): Promise<string[]> {
    const found = new Set<string>();
    for (const chunk of fixedChunks([...new Set(nodeIds)])) {
      const holders = await this.ctx.db.selectFrom('routes').select('node_id').distinct().where('origin', '=', 'docker').where('node_id', 'in', chunk).execute();
      for (const h of holders) found.add(h.node_id);
      const entries = await this.ctx.db
        .selectFrom('docker_entries')
        .select(['source_node_id', 'target_node_id'])
        .where((eb) => eb.or([eb('target_node_id', 'in', chunk), eb.and([eb('target_node_id', 'is', null), eb('source_node_id', 'in', chunk)])]))
        .execute();
      for (const e of entries) found.add(e.target_node_id ?? e.source_node_id);
    }
    return [...found];
  }

  /** Writes the Docker routes of `nodeIds`; returns the nodes whose rows changed. */
  private async recomputeIn(trx: Db, nodeIds: string[], nodeRows?: NodeRow[]): Promise<string[]> {
    const nodes = nodeRows ?? (await trx.selectFrom('nodes').select(['id', 'name', 'site_id', 'status', 'last_seen_at']).execute());
    const now = this.ctx.now();
    const sources = new Map<string, SourceNode>();
    for (const n of nodes) {
      const stale = this.staleNodes ? this.staleNodes.has(n.id) : this.isStale(n, now.getTime());
      sources.set(n.id, { name: n.name, stale, offlineSince: n.last_seen_at });
    }
    const changed: string[] = [];
    for (const nodeId of [...new Set(nodeIds)]) {
      const node = nodes.find((n) => n.id === nodeId);
      const previousRows = await trx.selectFrom('routes').selectAll().where('node_id', '=', nodeId).where('origin', '=', 'docker').execute();
      if (!node) {
        if (previousRows.length) await trx.deleteFrom('routes').where('node_id', '=', nodeId).where('origin', '=', 'docker').execute();
        continue;
      }
      const stored = await trx
        .selectFrom('docker_entries')
        .select(['source_node_id', 'entry'])
        .where((eb) => eb.or([eb('target_node_id', '=', nodeId), eb.and([eb('target_node_id', 'is', null), eb('source_node_id', '=', nodeId)])]))
        .execute();
      const entries: StoredEntry[] = stored.map((r) => ({ sourceNodeId: r.source_node_id, entry: JSON.parse(r.entry) as DockerEntry }));
      const domains = [...new Set(entries.flatMap((e) => e.entry.domains))];
      const held = new Map<string, { id: string; origin: string }>();
      if (domains.length) {
        const holders = await trx
          .selectFrom('route_domains')
          .innerJoin('routes', 'routes.id', 'route_domains.route_id')
          .select(['route_domains.domain', 'routes.id', 'routes.origin'])
          .where('route_domains.node_id', '=', nodeId)
          .where('route_domains.domain', 'in', domains)
          .where('routes.enabled', '=', 1)
          .execute();
        for (const h of holders) held.set(h.domain, { id: h.id, origin: h.origin });
      }
      const previous = new Map(previousRows.map((r) => [r.id, r]));
      const rows = dockerRouteRows({ id: node.id, siteId: node.site_id }, entries, sources, held, previous, now.toISOString());
      if (!sameRows(previousRows, rows)) {
        await writeRows(trx, nodeId, previousRows, rows);
        changed.push(nodeId);
      }
    }
    return changed;
  }
}

/** Sites other nodes found that `nodeId` serves, for its sync (only those that can be served), in a fixed order. */
export async function remoteDockerEntries(trx: Db, nodeId: string): Promise<SourcedDockerEntry[]> {
  const rows = await trx
    .selectFrom('docker_entries')
    .innerJoin('nodes', 'nodes.id', 'docker_entries.source_node_id')
    .select(['docker_entries.source_node_id', 'docker_entries.entry', 'nodes.name'])
    .where('docker_entries.target_node_id', '=', nodeId)
    .where('docker_entries.local', '=', 0)
    .orderBy('docker_entries.source_node_id')
    .orderBy('docker_entries.entry_key')
    .execute();
  const out: SourcedDockerEntry[] = [];
  for (const r of rows) {
    if (!servable(r.entry)) continue;
    const parsed = sourcedDockerEntrySchema.safeParse({ ...(JSON.parse(r.entry) as object), sourceNodeId: r.source_node_id, sourceNodeName: r.name });
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

function servable(entryJson: string): boolean {
  return (JSON.parse(entryJson) as DockerEntry).error === null;
}

function summarize(e: DockerEntry): string {
  const what = e.error ? `error: ${e.error.slice(0, 200)}` : e.kind === 'proxy' ? e.upstreams.map((u) => `${u.host}:${u.port}`).join(' ') : `→ ${e.redirect?.to}`;
  return `${e.containerName} ${e.label} ${e.domains.join(',')}${e.local ? '' : ` @${e.node}`} ${what}`;
}

const rowKey = (r: RouteTable) => JSON.stringify([r.id, r.kind, r.site_id, r.tls, r.spec, r.last_error, r.source ?? null]);

function sameRows(a: RouteTable[], b: RouteTable[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(rowKey));
  return b.every((r) => keys.has(rowKey(r)));
}

async function writeRows(trx: Db, nodeId: string, previous: RouteTable[], rows: RouteTable[]): Promise<void> {
  const keep = new Set(rows.map((r) => r.id));
  const gone = previous.filter((r) => !keep.has(r.id)).map((r) => r.id);
  if (gone.length) await trx.deleteFrom('routes').where('node_id', '=', nodeId).where('id', 'in', gone).execute();
  const had = new Set(previous.map((r) => r.id));
  for (const r of rows) {
    if (had.has(r.id)) await trx.updateTable('routes').set(r).where('id', '=', r.id).execute();
    else await trx.insertInto('routes').values(r).execute();
  }
}
