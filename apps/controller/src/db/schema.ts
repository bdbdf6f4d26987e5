import type { Generated } from 'kysely';

/** Times are ISO-8601 strings and booleans 0/1 integers in both dialects, so one set of queries serves both. */
export interface TenantTable { id: string; name: string; created_at: string; updated_at: string }
export interface OrganizationTable { id: string; tenant_id: string; name: string; created_at: string; updated_at: string }
export interface SiteTable { id: string; organization_id: string; name: string; created_at: string; updated_at: string }

export interface NodeTable {
  id: string;
  site_id: string;
  name: string;
  hostname: string;
  is_local: number;
  status: string;
  caddy_version: string | null;
  agent_version: string | null;
  last_seen_at: string | null;
  route_count: number;
  cert_count: number;
  desired_revision: number;
  applied_revision: number;
  last_error: string | null;
  agent_key_hash: string | null;
  revoked_at: string | null;
  /** Host key seen when the node was first provisioned over SSH (trust on first use). */
  ssh_host_key_sha256: string | null;
  /** JSON array of the Caddy module ids the agent reported; null = unknown. */
  caddy_modules: string | null;
  http_port: number | null;
  https_port: number | null;
  /** JSON array of the certificates the agent reported (protocol `certificateSchema`). */
  certificates: string | null;
  certificates_at: string | null;
  /** JSON array of the upstreams the agent last reported (protocol `upstreamReportSchema`); null = never. */
  upstream_health: string | null;
  upstream_health_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface RouteTable {
  id: string;
  kind: string;
  node_id: string;
  site_id: string;
  scope: string;
  origin: string;
  enabled: number;
  tls: string;
  /** JSON of the kind-specific fields: domains, upstreams, redirect, listen. */
  spec: string;
  revision: number;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  /** Docker routes: JSON array of the containers behind it (DockerSource); null otherwise. */
  source?: string | null;
}

/** One site found in a container's labels by the agent of `source_node_id` (the entry JSON as it published it). */
export interface DockerEntryTable {
  source_node_id: string;
  entry_key: string;
  target_node_id: string | null;
  local: number;
  entry: string;
  updated_at: string;
}

/** One row per served domain, so a unique index refuses the same domain twice on one node even under races. */
export interface RouteDomainTable { route_id: string; node_id: string; domain: string }
/** One row per TLS server name of a stream routed by SNI, or one row with `sni` '' for a stream taking the whole port. */
export interface RouteListenTable { route_id: string; node_id: string; port: number; protocol: string; sni: Generated<string> }

export interface EnrollmentTokenTable {
  id: string;
  site_id: string;
  token_hash: string;
  expires_at: string;
  used_at: string | null;
  used_by_node_id: string | null;
  revoked_at: string | null;
  created_by: string;
  created_at: string;
}

export interface RevokedAgentTokenTable { key_hash: string; node_id: string; revoked_at: string; revoked_by: string }

export interface UserTable { id: string; username: string; password_hash: string; role: string; created_at: string }

export interface ApiTokenTable {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: string;
  last_used_at: string | null;
}

export interface SessionTable { id_hash: string; user_id: string; created_at: string; expires_at: string }

export interface AuditTable {
  seq: Generated<number>;
  id: string;
  at: string;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  before_json: string | null;
  after_json: string | null;
}

/** One provisioning run; `steps` is JSON, `log` the capped output. Never any credential. */
export interface ProvisioningJobTable {
  id: string;
  node_id: string;
  kind: string;
  status: string;
  steps: string;
  log: string;
  target: string;
  host_key_sha256: string | null;
  error: string | null;
  started_at: string;
  ended_at: string | null;
  created_by: string;
}

export interface Database {
  tenants: TenantTable;
  organizations: OrganizationTable;
  sites: SiteTable;
  nodes: NodeTable;
  routes: RouteTable;
  docker_entries: DockerEntryTable;
  route_domains: RouteDomainTable;
  route_listens: RouteListenTable;
  enrollment_tokens: EnrollmentTokenTable;
  revoked_agent_tokens: RevokedAgentTokenTable;
  users: UserTable;
  api_tokens: ApiTokenTable;
  sessions: SessionTable;
  audit_log: AuditTable;
  provisioning_jobs: ProvisioningJobTable;
}
