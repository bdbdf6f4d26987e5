import { EventEmitter } from 'node:events';
import type { Db, Dialect } from '../db/connect';
import type { Route, UserRole } from '@caddyfleet/protocol';

/** Who is acting: written into the audit log and checked for write permission. */
export interface Actor {
  kind: 'user' | 'token' | 'agent' | 'system';
  id: string;
  /** Shown in the audit log, e.g. `admin` or `admin (token ci)`. */
  label: string;
  role: UserRole;
}

export const SYSTEM_ACTOR: Actor = { kind: 'system', id: 'system', label: 'system', role: 'admin' };

/** What one revision of a node changed: a central route added or replaced (`upsert`), or dropped (`remove`). */
export interface RouteChange {
  nodeId: string;
  revision: number;
  upsert?: Route;
  remove?: string;
}

export interface FleetEvents {
  /** A node's desired revision moved; emitted after the transaction committed. */
  revision: [nodeId: string, revision: number];
  /** The change behind each revision, emitted (after commit) before the `revision` events of the same write. */
  'route-change': [change: RouteChange];
  /** A node's row changed (status, counts, …): for live dashboards. */
  node: [nodeId: string];
  /** Routes of a node changed without a new revision (problems reported by its agent, local routes). */
  routes: [nodeId: string];
  /** A node's agent key was revoked. */
  revoked: [nodeId: string];
}

export interface ServiceContext {
  db: Db;
  dialect: Dialect;
  events: EventEmitter<FleetEvents>;
  now(): Date;
  /** False for `caddyfleet server --no-local-node`: the local node then serves nothing and is no route target. */
  localNodeEnabled: boolean;
}

export const LOCAL_NODE_ID = 'local';

export function iso(d: Date): string {
  return d.toISOString();
}
