/** Shapes the agent reports about itself (`RunningAgent.status()`, `GET /status` of the local API). */
import type { DockerEntry, Route } from '@caddyfleet/protocol';

/** Docker discovery's own state (DockerDiscovery.status()): the daemon and what this node publishes. */
export interface DockerStatus {
  host: string;
  prefix: string;
  /** The event stream is open and the last list worked. */
  connected: boolean;
  lastError: string | null;
  lastListAt: string | null;
  containers: number;
  /** What this node publishes: one entry per site (with its problems). */
  entries: DockerEntry[];
}

/** Docker discovery as the agent sees it: the daemon, what it publishes, and the routes it serves from labels. */
export interface AgentDockerStatus extends DockerStatus {
  /** Docker routes this node serves or would serve (its own and other nodes' `caddyfleet.node` ones). */
  routes: { id: string; domains: string[]; upstreams: { host: string; port: number }[]; served: boolean; problems: string[]; containers: string[] }[];
}

export interface AgentStatusSnapshot {
  nodeId: string;
  name: string;
  controller: string;
  /** Connected and welcomed by the controller right now. */
  connected: boolean;
  lastConnectedAt: string | null;
  /** Why the controller connection is down (or why the agent stopped), if it is. */
  controllerError: string | null;
  caddy: {
    managed: boolean;
    adminListen: string;
    pid: number | null;
    version: string | null;
    layer4: boolean;
    restarts: number;
  };
  appliedRevision: number;
  /** Routes actually rendered into Caddy's config. */
  routeCount: number;
  certCount: number;
  localRouteCount: number;
  /** Unsupported routes and local routes that conflict with central ones. */
  routeErrors: { routeId: string; error: string }[];
  /** `POST /load` calls made since start. */
  loadCount: number;
  drift: { checks: number; repairs: number; lastRepairAt: string | null };
  /** Null when Docker discovery is off. */
  docker?: AgentDockerStatus | null;
}

/** A local route as listed by the local API: a full Route, with `lastError` when it is not served. */
export type LocalRouteView = Route;

export interface LocalRouteAddResult {
  route: LocalRouteView;
  /** Whether Caddy now serves the new config (false: Caddy was unreachable; it is applied when it is back). */
  applied: boolean;
  error?: string;
}
