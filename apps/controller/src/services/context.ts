import { EventEmitter } from 'node:events';
import type { Db, Dialect } from '../db/connect';
import type { DatabaseHealth } from '../db/health';
import type { Route, UserRole } from '@caddyfleet/protocol';

/** Who is acting: written into the audit log and checked for write permission. */
export interface Actor {
  kind: 'user' | 'token' | 'agent' | 'system';
  id: string;
  /** Shown in the audit log, e.g. `admin` or `admin (token ci)`. */
  label: string;
  role: UserRole;
  /** The user behind a session or an API token. */
  userId?: string;
  /** SHA-256 of the session secret, when a session cookie authenticated the request. */
  session?: string;
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
  /** A node's agent said hello (its online status is written by then). */
  connected: [nodeId: string];
  /** Sessions (by hash), API tokens (by id) or every credential of users (by id) stopped being valid. */
  credentials: [ended: EndedCredentials];
}

export interface EndedCredentials {
  sessions?: string[];
  tokens?: string[];
  users?: string[];
}

/** Whether `actor` authenticated with one of the credentials that just ended. */
export function actorEnded(actor: Actor, ended: EndedCredentials): boolean {
  if (actor.session && ended.sessions?.includes(actor.session)) return true;
  if (actor.kind === 'token' && ended.tokens?.includes(actor.id)) return true;
  return actor.userId !== undefined && ended.users?.includes(actor.userId) === true;
}

export interface ServiceContext {
  db: Db;
  dialect: Dialect;
  events: EventEmitter<FleetEvents>;
  /** Whether the database answers; /healthz reports it and the hub waits for its return. */
  health: DatabaseHealth;
  now(): Date;
  /** False for `caddyfleet server --no-local-node`: the local node then serves nothing and is no route target. */
  localNodeEnabled: boolean;
  /** Central routes one node may hold (`--max-routes-per-node`); LIMITS.routesPerNode when unset. */
  routesPerNode?: number;
}

export const LOCAL_NODE_ID = 'local';

export function iso(d: Date): string {
  return d.toISOString();
}
