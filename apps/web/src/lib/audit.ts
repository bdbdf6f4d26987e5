import type { AuditEntry } from '../api/types';

const VERB: Record<string, string> = {
  create: 'created',
  update: 'changed',
  delete: 'deleted',
  revoke: 'revoked',
  enroll: 'enrolled',
  login: 'logged in',
  provision: 'provisioned over SSH',
};

const ENTITY: Record<string, string> = {
  route: 'route',
  node: 'server',
  site: 'site',
  tenant: 'tenant',
  organization: 'organization',
  enrollment_token: 'enrollment token',
  api_token: 'API token',
  user: 'user',
};

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : null);

/** A short name for the entity, from its before/after snapshot ("app.example.com", "web-1"). */
export function entityName(e: AuditEntry): string {
  const o = asObj(e.after) ?? asObj(e.before);
  if (o) {
    if (Array.isArray(o.domains) && o.domains.length) return o.domains.join(', ');
    const listen = asObj(o.listen);
    if (listen && typeof listen.port === 'number') return `${String(listen.protocol ?? 'tcp')}/${listen.port}`;
    if (typeof o.name === 'string') return o.name;
    if (typeof o.username === 'string') return o.username;
  }
  return e.entityId;
}

export function describeAudit(e: AuditEntry): string {
  if (e.action === 'local-routes') return describeLocalRoutes(e);
  const verb = VERB[e.action] ?? e.action;
  const kind = ENTITY[e.entityType] ?? e.entityType.replace(/_/g, ' ');
  const o = asObj(e.after) ?? asObj(e.before);
  const routeKind = e.entityType === 'route' && typeof o?.kind === 'string' ? `${o.kind === 'dead' ? '404' : o.kind} ` : '';
  return `${verb} ${routeKind}${kind} ${entityName(e)}`;
}

/** An agent's local-routes changes, summarised per frame (or per minute for a busy agent). */
function describeLocalRoutes(e: AuditEntry): string {
  const counts = asObj(asObj(e.after)?.counts) ?? {};
  const n = (k: string) => (typeof counts[k] === 'number' ? (counts[k] as number) : 0);
  const parts = [`${n('created')} added`, `${n('updated')} changed`, `${n('deleted')} removed`].filter((p) => !p.startsWith('0 '));
  const frames = asObj(e.after)?.frames;
  return `changed local routes on server ${e.entityId}: ${parts.join(', ') || 'none'}${typeof frames === 'number' && frames > 1 ? ` (${frames} updates)` : ''}`;
}

/** The fields that differ between before and after, for "what changed". */
export function auditChanges(e: AuditEntry): { field: string; before: string; after: string }[] {
  const b = asObj(e.before) ?? {};
  const a = asObj(e.after) ?? {};
  const skip = new Set(['updatedAt', 'createdAt', 'revision', 'id']);
  const out: { field: string; before: string; after: string }[] = [];
  for (const field of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (skip.has(field)) continue;
    const before = show(b[field]);
    const after = show(a[field]);
    if (before !== after) out.push({ field, before, after });
  }
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return '—';
  if (v === null) return 'none';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => (asObj(x) && 'host' in asObj(x)! ? `${String(asObj(x)!.host)}:${String(asObj(x)!.port)}` : show(x))).join(', ');
  return JSON.stringify(v);
}

/** Whether an entry concerns a node (the node itself, or a route on it); `local` matches nodeId null. */
export function auditTouchesNode(e: AuditEntry, nodeId: string): boolean {
  if (e.entityId === nodeId) return true;
  for (const snap of [asObj(e.before), asObj(e.after)]) {
    if (!snap || !('nodeId' in snap)) continue;
    if ((snap.nodeId ?? 'local') === nodeId) return true;
  }
  return false;
}
