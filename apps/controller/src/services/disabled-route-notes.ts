/**
 * A disabled route that its node's Caddy could not serve carries the controller's note about the missing module
 * (`knownProblem`), written when the route is stored. When the node's agent later reports another module list —
 * its Caddy replaced by a layer4 build, or by one without — the note is brought in line with the new list, so
 * that a stream parked on a node whose Caddy now has layer4 no longer says it lacks it (and the reverse). Only
 * notes that are still the controller's own for the old list are touched: whatever else a route carries is left.
 */
import type { RouteKind } from '@caddyfleet/protocol';
import type { Db } from '../db/connect';
import { knownProblem } from './route-checks';
import type { RouteSpec } from './route-mapping';

const CHUNK = 500;

/** Rewrites the stale notes of `node`'s disabled central routes; returns how many routes changed. */
export async function refreshDisabledRouteNotes(
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
    .where('enabled', '=', 0)
    .execute();
  // Grouped by (old note, new note), so each group is one UPDATE that re-checks both on the row.
  const groups = new Map<string, { from: string | null; to: string | null; ids: string[] }>();
  for (const row of rows) {
    const spec = JSON.parse(row.spec) as RouteSpec;
    const needs = { kind: row.kind as RouteKind, sni: spec.sni, upstreams: spec.upstreams, options: spec.options };
    const from = knownProblem(needs, { name: node.name, caddy_modules: modulesBefore });
    const to = knownProblem(needs, { name: node.name, caddy_modules: modulesNow });
    if (from === to || row.last_error !== from) continue;
    const key = JSON.stringify([from, to]);
    const group = groups.get(key) ?? { from, to, ids: [] };
    group.ids.push(row.id);
    groups.set(key, group);
  }
  let changed = 0;
  for (const { from, to, ids } of groups.values()) {
    for (let i = 0; i < ids.length; i += CHUNK) {
      // Enabled or edited meanwhile: that write decided the note already.
      const result = await db
        .updateTable('routes')
        .set({ last_error: to })
        .where('id', 'in', ids.slice(i, i + CHUNK))
        .where('enabled', '=', 0)
        .where('last_error', from === null ? 'is' : '=', from)
        .executeTakeFirst();
      changed += Number(result.numUpdatedRows);
    }
  }
  return changed;
}
