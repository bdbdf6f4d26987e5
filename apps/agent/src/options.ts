/**
 * Agent options: one table (flag name → env variable + help text) that the CLI turns into flags, and one
 * loader that validates everything up front. Kept free of heavy imports (only zod, node:os, node:path) so the
 * CLI can build `caddyfleet agent --help` without loading the agent.
 */
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseAdminEndpoint } from '@caddyfleet/caddy';
import { nameSchema } from '@caddyfleet/protocol';
import { AgentConfigError } from './errors';

/** Every agent option, its env variable and its help text (defaults are stated in the text). */
export const AGENT_OPTIONS = {
  controller: { env: 'CADDYFLEET_CONTROLLER', describe: 'controller URL, e.g. https://fleet.example.com (remembered in the state dir after enrollment)' },
  // Not CADDYFLEET_TOKEN: the API commands of the CLI use that one for API tokens.
  token: {
    env: 'CADDYFLEET_ENROLLMENT_TOKEN',
    describe: 'single-use enrollment token (first run only); "-" reads it from standard input. Other users can see command lines in ps: prefer --token-file or -',
  },
  tokenFile: { env: 'CADDYFLEET_ENROLLMENT_TOKEN_FILE', describe: 'file holding the enrollment token (first run only), instead of --token' },
  // A node provisioned over SSH gets its identity from the controller instead of enrolling: both go together.
  nodeId: { env: 'CADDYFLEET_NODE_ID', describe: 'node id issued by the controller (with the agent key; set by SSH provisioning instead of enrolling)' },
  agentKey: { env: 'CADDYFLEET_AGENT_KEY', describe: 'pre-shared agent key of --node-id (keep it in the 0600 config file: a flag is visible in the process list)' },
  stateDir: { env: 'CADDYFLEET_STATE_DIR', describe: 'directory for the agent key, the last applied config and local routes (created 0700)' },
  caddyBin: { env: 'CADDYFLEET_CADDY_BIN', describe: 'Caddy binary to start and supervise (admin API on a unix socket in the state dir)' },
  caddyAdmin: { env: 'CADDYFLEET_CADDY_ADMIN', describe: 'admin endpoint of an existing Caddy instead: http://127.0.0.1:2019 or unix:/path/admin.sock' },
  httpListen: { env: 'CADDYFLEET_HTTP_LISTEN', describe: 'plain HTTP listener [host]:port (default :80)' },
  httpsListen: { env: 'CADDYFLEET_HTTPS_LISTEN', describe: 'HTTPS listener [host]:port (default :443)' },
  name: { env: 'CADDYFLEET_NODE_NAME', describe: 'node name shown in the controller (default: the host name)' },
  hostIp: { env: 'CADDYFLEET_HOST_IP', describe: "IP address to bind listeners without a host to, e.g. 127.0.0.2; also this host's IP in caddyfleet.node upstreams" },
  driftCheckSeconds: { env: 'CADDYFLEET_DRIFT_CHECK_SECONDS', describe: "how often to compare Caddy's running config with the applied one; 0 disables (default 30)" },
  logLevel: { env: 'CADDYFLEET_LOG_LEVEL', describe: 'fatal|error|warn|info|debug|trace|silent (default info)' },
  reconnectMinMs: { env: 'CADDYFLEET_RECONNECT_MIN_MS', describe: 'first reconnect backoff ceiling in ms (default 1000)' },
  reconnectMaxMs: { env: 'CADDYFLEET_RECONNECT_MAX_MS', describe: 'largest reconnect backoff in ms (default 60000)' },
  keepCaddy: {
    env: 'CADDYFLEET_KEEP_CADDY',
    describe: 'true: stopping the agent leaves its managed Caddy serving, and the next agent adopts it (restarts without downtime; default false)',
  },
  dockerHost: { env: 'CADDYFLEET_DOCKER_HOST', describe: 'Docker daemon to watch for labelled containers: unix:///path or tcp://host:port (default unix:///var/run/docker.sock when it exists)' },
  noDocker: { env: 'CADDYFLEET_NO_DOCKER', describe: 'do not watch Docker for labelled containers' },
  dockerLabelPrefix: { env: 'CADDYFLEET_DOCKER_LABEL_PREFIX', describe: 'prefix of the caddy-docker-proxy style labels to read (default caddy)' },
} as const;
export type AgentOptionName = keyof typeof AGENT_OPTIONS;

/** Options that are flags without a value (`--no-docker`); their variables take true/false. */
export const BOOLEAN_AGENT_OPTIONS: ReadonlySet<AgentOptionName> = new Set(['noDocker']);

/**
 * Variable names of the multi-host Docker proxy plan (and Docker's own DOCKER_HOST), read when the
 * `CADDYFLEET_*` variable is not set. AGENT_MODE is only checked: this is the agent.
 */
export const AGENT_ENV_ALIASES: Partial<Record<AgentOptionName, string>> = {
  controller: 'CADDY_SERVER_URL',
  token: 'CADDY_API_TOKEN',
  name: 'AGENT_ID',
  hostIp: 'HOST_IP',
  dockerHost: 'DOCKER_HOST',
  dockerLabelPrefix: 'DOCKER_LABEL_PREFIX',
};
export const AGENT_MODE_ENV = 'AGENT_MODE';
const AGENT_MODE_VALUES = ['agent', 'true', '1', 'yes'];

/** The daemon watched when no --docker-host is given, if its socket exists. */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Unix socket paths are limited to 108 bytes on Linux (107 usable); the longest one we create is caddy/admin.sock. */
const MAX_SOCKET_PATH = 107;
const LONGEST_SOCKET_SUFFIX = '/caddy/admin.sock';

const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/]*)):(\d{1,5})$/;

/** Same grammar as the Caddy builder's listen addresses (`:80`, `127.0.0.2:8080`, `[::1]:8443`). */
export function parseListen(address: string): { host: string; port: number } | null {
  const m = LISTEN.exec(address.startsWith('tcp/') ? address.slice(4) : address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2] ?? '', port };
}

const listenSchema = z.string().refine((v) => parseListen(v) !== null, 'must look like [HOST]:PORT, e.g. :80 or 127.0.0.2:8080');

const ipSchema = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

const controllerSchema = z
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
    if (url.search || url.hash) ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment' });
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
  })
  // One canonical spelling (no trailing slash) so paths can be appended and agent.json compared.
  .transform((v) => v.replace(/\/+$/, ''));

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

const caddyAdminSchema = z.string().superRefine((v, ctx) => {
  let endpoint;
  try {
    endpoint = parseAdminEndpoint(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return;
  }
  // The admin API has no authentication: only an endpoint no other host can reach is acceptable.
  if ('host' in endpoint && !isLoopbackHost(endpoint.host)) {
    ctx.addIssue({ code: 'custom', message: 'must be a loopback address (127.0.0.0/8, ::1, localhost) or a unix socket' });
  }
});

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const dockerHostSchema = z
  .string()
  .max(1024)
  .superRefine((v, ctx) => {
    if (v.startsWith('unix://') ? v.length > 'unix://'.length && v[7] === '/' : v.startsWith('/')) return;
    if (/^(tcp|http):\/\//.test(v)) {
      try {
        const url = new URL(v.replace(/^tcp:/, 'http:'));
        if (url.hostname && !url.pathname.replace(/\/$/, '') && !url.search) return;
      } catch {
        /* reported below */
      }
    }
    const tls = /^(https|ssh|npipe):/.test(v) ? ' (TLS, SSH and named pipes are not supported: use a unix socket, or an SSH tunnel to one)' : '';
    ctx.addIssue({ code: 'custom', message: `must be unix:///path/to/docker.sock or tcp://host:port${tls}` });
  });

const optionsSchema = z
  .object({
    controller: controllerSchema.optional(),
    token: z.string().min(10, 'is too short to be an enrollment token').max(200).optional(),
    nodeId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'is not a node id').optional(),
    agentKey: z.string().regex(/^cfa_[A-Za-z0-9_-]{20,100}$/, 'is not an agent key (cfa_…)').optional(),
    stateDir: z
      .string({ error: 'is required' })
      .min(1, 'is required')
      .transform((v) => path.resolve(v))
      .refine((v) => Buffer.byteLength(v + LONGEST_SOCKET_SUFFIX) <= MAX_SOCKET_PATH, {
        message: `is too long: unix sockets are created inside it and their path must stay under ${MAX_SOCKET_PATH} bytes`,
      }),
    caddyBin: z.string().min(1).optional(),
    caddyAdmin: caddyAdminSchema.optional(),
    httpListen: listenSchema,
    httpsListen: listenSchema,
    name: nameSchema,
    hostIp: ipSchema.optional(),
    driftCheckSeconds: int(0, 86_400),
    logLevel: z.enum(LOG_LEVELS),
    reconnectMinMs: int(1, 3_600_000),
    reconnectMaxMs: int(1, 3_600_000),
    keepCaddy: bool,
    dockerHost: dockerHostSchema.optional(),
    noDocker: bool,
    // No dots or underscores: they separate the prefix from directives and site numbers in label names.
    dockerLabelPrefix: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'must be letters, digits and inner hyphens, e.g. caddy'),
    agentMode: z
      .string()
      .optional()
      .refine((v) => v === undefined || AGENT_MODE_VALUES.includes(v.toLowerCase()), {
        message: `asks for another role; this is the agent (${AGENT_MODE_VALUES.join(', ')}); run \`caddyfleet server\` for the main server`,
      }),
  })
  .superRefine((o, ctx) => {
    if ((o.nodeId === undefined) !== (o.agentKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [o.nodeId === undefined ? 'nodeId' : 'agentKey'], message: 'the node id and the agent key go together' });
    }
    if (o.caddyBin === undefined && o.caddyAdmin === undefined) {
      ctx.addIssue({ code: 'custom', path: ['caddyBin'], message: 'give either --caddy-bin (Caddy managed by the agent) or --caddy-admin (an existing Caddy)' });
    }
    if (o.caddyBin !== undefined && o.caddyAdmin !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['caddyAdmin'], message: 'give either --caddy-bin or --caddy-admin, not both' });
    }
    const http = parseListen(o.httpListen);
    const https = parseListen(o.httpsListen);
    if (http && https && http.port === https.port) {
      ctx.addIssue({ code: 'custom', path: ['httpsListen'], message: `must use a different port than the HTTP listener (both use ${http.port})` });
    }
    if (o.reconnectMinMs > o.reconnectMaxMs) {
      ctx.addIssue({ code: 'custom', path: ['reconnectMinMs'], message: 'must not be larger than reconnectMaxMs' });
    }
  })
  .transform((o) => ({
    ...o,
    httpListen: bindTo(o.httpListen, o.hostIp),
    httpsListen: bindTo(o.httpsListen, o.hostIp),
  }));

export type AgentOptions = z.output<typeof optionsSchema>;

/** `:80` + host IP 127.0.0.2 → `127.0.0.2:80`; an address that names its host is left alone. */
function bindTo(listen: string, hostIp: string | undefined): string {
  const parsed = parseListen(listen);
  if (!hostIp || !parsed || parsed.host !== '') return listen;
  return hostIp.includes(':') ? `[${hostIp}]:${parsed.port}` : `${hostIp}:${parsed.port}`;
}

/**
 * The enrollment token from --token, from standard input (`--token -`) or from --token-file. The last two keep
 * it out of the process list, where every local user can read command lines.
 */
function readToken(token: string | undefined, file: string | undefined, readStdin: () => string): string | undefined {
  if (token !== undefined && file !== undefined) throw new AgentConfigError('invalid agent options:\n  give the enrollment token with --token or --token-file, not both');
  let text: string;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AgentConfigError(`invalid agent options:\n  ${AGENT_OPTIONS.tokenFile.env} (--token-file): cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (token === '-') {
    text = readStdin();
  } else {
    return token;
  }
  const value = text.trim();
  if (!value) throw new AgentConfigError(`invalid agent options:\n  the enrollment token ${file !== undefined ? `file ${file}` : 'on standard input'} is empty`);
  return value;
}

/** Default node name: the host name, cut to what the controller accepts. */
function defaultName(): string {
  return osHostname().trim().slice(0, 100) || 'agent';
}

export type AgentFlags = Partial<Record<AgentOptionName, string | number | boolean | undefined>>;

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/**
 * Builds the agent options from explicit values (CLI flags) first, then `CADDYFLEET_*` env, then defaults.
 * Throws AgentConfigError listing every bad option as `ENV (--flag): problem`.
 */
export function loadAgentOptions(
  flags: AgentFlags = {},
  env: NodeJS.ProcessEnv = process.env,
  readStdin: () => string = () => readFileSync(0, 'utf8'),
): AgentOptions {
  const pick = (name: AgentOptionName): string | undefined => {
    const alias = AGENT_ENV_ALIASES[name];
    const fromEnv = (key: string | undefined) => (key === undefined || env[key] === '' ? undefined : env[key]);
    const v = flags[name] ?? fromEnv(AGENT_OPTIONS[name].env) ?? fromEnv(alias);
    return v === '' || v === undefined ? undefined : String(v);
  };
  const raw = {
    controller: pick('controller'),
    token: readToken(pick('token'), pick('tokenFile'), readStdin),
    nodeId: pick('nodeId'),
    agentKey: pick('agentKey'),
    stateDir: pick('stateDir'),
    caddyBin: pick('caddyBin'),
    caddyAdmin: pick('caddyAdmin'),
    httpListen: pick('httpListen') ?? ':80',
    httpsListen: pick('httpsListen') ?? ':443',
    name: pick('name') ?? defaultName(),
    hostIp: pick('hostIp'),
    driftCheckSeconds: pick('driftCheckSeconds') ?? '30',
    logLevel: pick('logLevel') ?? 'info',
    reconnectMinMs: pick('reconnectMinMs') ?? '1000',
    reconnectMaxMs: pick('reconnectMaxMs') ?? '60000',
    keepCaddy: pick('keepCaddy') ?? 'false',
    dockerHost: pick('dockerHost'),
    noDocker: pick('noDocker') ?? 'false',
    dockerLabelPrefix: pick('dockerLabelPrefix') ?? 'caddy',
    agentMode: env[AGENT_MODE_ENV] || undefined,
  };
  const parsed = optionsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const where =
        key === 'agentMode' ? AGENT_MODE_ENV :
        key in AGENT_OPTIONS ? `${AGENT_OPTIONS[key as AgentOptionName].env} (--${kebab(key)})` : key || 'options';
      return `  ${where}: ${i.message}`;
    });
    throw new AgentConfigError(`invalid agent options:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The Docker daemon to watch, or null when discovery is off (`--no-docker`, or no daemon given and no default socket). */
export function dockerHostOf(opts: Pick<AgentOptions, 'dockerHost' | 'noDocker'>, exists: (p: string) => boolean): string | null {
  if (opts.noDocker) return null;
  if (opts.dockerHost) return opts.dockerHost;
  return exists(DEFAULT_DOCKER_SOCKET) ? `unix://${DEFAULT_DOCKER_SOCKET}` : null;
}
