/**
 * A route that its node's Caddy cannot serve for want of a module carries a note saying so in `lastError`: the
 * controller writes it for a disabled route when it is stored (`knownProblem`), the agent reports it for an
 * enabled one in its acks. When the node's agent comes back with another module list — its Caddy replaced by the
 * layer4 build, or by Debian's again — neither would happen by itself: nothing is stored, and an agent whose
 * applied revision is current gets no sync to ack. So the notes are brought in line with the new list here: a
 * stream no longer says it lacks layer4, or now says so. Only a note that is still what the old list implied, or
 * the agent's report of a Caddy without layer4 (a list unknown before), is touched: other problems are left alone.
 */
import { NO_LAYER4_REASON } from '@caddyfleet/caddy';
import type { RouteKind } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import { knownProblem } from './route-checks';
import type { RouteSpec } from './route-mapping';

const CHUNK = 500;

/** Rewrites the stale module notes of `node`'s central routes; returns how many routes changed. */
export async function refreshModuleNotes(
  db: Db,
  node: { id: string; name: string },
  modulesBefore: string | null,
  modulesNow: string | null,
): Promise<number> {
  if (modulesBefore === modulesNow) return 0;
  const rows = await db
    .selectFrom('routes')
    .select(['id', 'kind', 'spec', 'last_error'])
    .where('node_id', '=', node.id)
    .where('scope', '=', 'exclusive')
    .execute();
  // Grouped by (note now, new note), so each group is one UPDATE that re-checks the note on the row.
  const groups = new Map<string, { from: string | null; to: string | null; ids: string[] }>();
  for (const row of rows) {
    const spec = JSON.parse(row.spec) as RouteSpec;
    const needs = { kind: row.kind as RouteKind, sni: spec.sni, upstreams: spec.upstreams, options: spec.options };
    const implied = knownProblem(needs, { name: node.name, caddy_modules: modulesBefore });
    const to = knownProblem(needs, { name: node.name, caddy_modules: modulesNow });
    const from = row.last_error;
    if (from === to || (from !== implied && from !== NO_LAYER4_REASON)) continue;
    const key = JSON.stringify([from, to]);
    const group = groups.get(key) ?? { from, to, ids: [] };
    group.ids.push(row.id);
    groups.set(key, group);
  }
  let changed = 0;
  for (const { from, to, ids } of groups.values()) {
    for (let i = 0; i < ids.length; i += CHUNK) {
      // A note written meanwhile (an ack, an edit) is newer than this one: the row must still hold the old one.
      const result = await db
        .updateTable('routes')
        .set({ last_error: to })
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .where('last_error', from === null ? 'is' : '=', from)
        .executeTakeFirst();
      changed += Number(result.numUpdatedRows);
    }
  }
  return changed;
}
