import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { LIMITS } from '@caddyfleet/protocol';

/** Every controller option, its env variable and its default. The CLI and README are generated from this table. */
export const CONTROLLER_OPTIONS = {
  listen: { env: 'CADDYFLEET_LISTEN', describe: 'address:port the API and dashboard listen on' },
  dataDir: { env: 'CADDYFLEET_DATA_DIR', describe: 'directory for the SQLite file, its backups and local state' },
  databaseUrl: { env: 'CADDYFLEET_DATABASE_URL', describe: 'postgres://… to use PostgreSQL instead of SQLite' },
  adminPassword: { env: 'CADDYFLEET_ADMIN_PASSWORD', describe: 'password of the first `admin` user (generated and printed once when unset)' },
  logLevel: { env: 'CADDYFLEET_LOG_LEVEL', describe: 'fatal|error|warn|info|debug|trace|silent' },
  trustProxy: { env: 'CADDYFLEET_TRUST_PROXY', describe: 'trust X-Forwarded-* headers (true when behind a TLS-terminating proxy)' },
  loginMaxAttempts: { env: 'CADDYFLEET_LOGIN_MAX_ATTEMPTS', describe: 'failed logins per user and address before backoff (an address may fail 4× as often over all users)' },
  loginWindowSeconds: { env: 'CADDYFLEET_LOGIN_WINDOW_SECONDS', describe: 'login rate-limit window' },
  sessionTtlHours: { env: 'CADDYFLEET_SESSION_TTL_HOURS', describe: 'lifetime of a dashboard session' },
  heartbeatSeconds: { env: 'CADDYFLEET_HEARTBEAT_SECONDS', describe: 'agent heartbeat interval' },
  offlineAfterMissed: { env: 'CADDYFLEET_OFFLINE_AFTER_MISSED', describe: 'missed heartbeats before a node is marked offline' },
  localNode: { env: 'CADDYFLEET_LOCAL_NODE', describe: 'server only: run the local node with its own managed Caddy (false = agents only; routes to it are refused)' },
  caddyArtifact: { env: 'CADDYFLEET_CADDY_ARTIFACT', describe: 'a Caddy binary (linux x86_64, e.g. built with the layer4 module) that SSH provisioning uploads instead of installing the OS package' },
  publicUrl: { env: 'CADDYFLEET_PUBLIC_URL', describe: 'URL agents and browsers reach this controller at, e.g. https://fleet.example.com (used in install commands; default: the URL of each request)' },
  agentArtifact: { env: 'CADDYFLEET_AGENT_ARTIFACT', describe: 'the agent executable served at /downloads/caddyfleet-agent-linux-x64 (default: dist/ of this repository, built by `npm run build`)' },
  auditRetentionDays: { env: 'CADDYFLEET_AUDIT_RETENTION_DAYS', describe: 'audit log entries older than this many days are deleted' },
  auditMaxRows: { env: 'CADDYFLEET_AUDIT_MAX_ROWS', describe: 'the audit log keeps at most this many entries (the oldest go first)' },
  maxRoutesPerNode: { env: 'CADDYFLEET_MAX_ROUTES_PER_NODE', describe: `central routes one node may hold (409 too_many_routes beyond; at most 20000)` },
} as const;
export type ControllerOptionName = keyof typeof CONTROLLER_OPTIONS;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must look like HOST:PORT, e.g. 127.0.0.1:8080')
  .refine((v) => !/:\d+$/.test(v) || Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Where `npm run build` puts the agent executable. */
export const DEFAULT_AGENT_ARTIFACT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/caddyfleet-agent-linux-x64');

/**
 * An absolute http(s) URL without query, fragment or credentials, spelled without a trailing slash so paths can
 * be appended. It is pasted into shell commands and scripts, so characters a shell would interpret are refused.
 */
export const SHELL_SAFE_URL = /^[A-Za-z0-9._~:/@%+,=[\]-]+$/;

export const publicUrlSchema = z
  .string()
  .max(2048)
  .superRefine((v, ctx) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute URL such as https://fleet.example.com' });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must use http or https' });
    if (url.search || url.hash || v.includes('?') || v.includes('#')) ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment' });
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
    if (!SHELL_SAFE_URL.test(v)) ctx.addIssue({ code: 'custom', message: 'must not contain spaces, quotes or characters a shell treats specially (& ; ( ) * ! $ …)' });
  })
  .transform((v) => v.replace(/\/+$/, ''));

const configSchema = z.object({
  mode: z.enum(['standalone', 'server']),
  listen,
  dataDir: z.string().min(1),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL (leave unset for the embedded SQLite file)')
    .optional(),
  adminPassword: z.string().min(12, 'must be at least 12 characters').max(1024).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  trustProxy: bool,
  loginMaxAttempts: int(1, 1000),
  loginWindowSeconds: int(1, 86400),
  sessionTtlHours: int(1, 24 * 365),
  heartbeatSeconds: int(1, 3600),
  offlineAfterMissed: int(1, 100),
  localNode: bool,
  caddyArtifact: z
    .string()
    .min(1)
    .transform((v) => path.resolve(v))
    .optional(),
  publicUrl: publicUrlSchema.optional(),
  agentArtifact: z.string().min(1).transform((v) => path.resolve(v)),
  auditRetentionDays: int(1, 36_500),
  auditMaxRows: int(1000, 1_000_000_000),
  // A full sync of 20,000 routes (about 7 MB) stays well inside the 16 MiB frame limit.
  maxRoutesPerNode: int(1, 20_000),
});
export type ControllerConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

type Raw = Partial<Record<ControllerOptionName, string | undefined>>;

/**
 * Builds the controller config from explicit options (CLI flags), then `CADDYFLEET_*` env, then defaults,
 * and fails fast with one readable line per bad option.
 */
export function loadConfig(mode: 'standalone' | 'server', flags: Raw = {}, env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const pick = (name: ControllerOptionName): string | undefined => {
    const v = flags[name] ?? env[CONTROLLER_OPTIONS[name].env];
    return v === '' ? undefined : v;
  };
  const raw = {
    mode,
    listen: pick('listen') ?? (mode === 'standalone' ? '127.0.0.1:8080' : '0.0.0.0:8080'),
    dataDir: path.resolve(pick('dataDir') ?? 'data'),
    databaseUrl: pick('databaseUrl'),
    adminPassword: pick('adminPassword'),
    logLevel: pick('logLevel') ?? 'info',
    trustProxy: pick('trustProxy') ?? 'false',
    loginMaxAttempts: pick('loginMaxAttempts') ?? '5',
    loginWindowSeconds: pick('loginWindowSeconds') ?? '900',
    sessionTtlHours: pick('sessionTtlHours') ?? '168',
    heartbeatSeconds: pick('heartbeatSeconds') ?? '10',
    offlineAfterMissed: pick('offlineAfterMissed') ?? '3',
    // Standalone is the controller plus its local node by definition; only a server may run without one.
    localNode: mode === 'standalone' ? 'true' : (pick('localNode') ?? 'true'),
    caddyArtifact: pick('caddyArtifact'),
    publicUrl: pick('publicUrl'),
    agentArtifact: pick('agentArtifact') ?? DEFAULT_AGENT_ARTIFACT,
    auditRetentionDays: pick('auditRetentionDays') ?? '90',
    auditMaxRows: pick('auditMaxRows') ?? '1000000',
    maxRoutesPerNode: pick('maxRoutesPerNode') ?? String(LIMITS.routesPerNode),
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const envName = key in CONTROLLER_OPTIONS ? CONTROLLER_OPTIONS[key as ControllerOptionName].env : key;
      return `  ${envName} (--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}): ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}
