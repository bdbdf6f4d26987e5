/**
 * Flags for a proxy host's options (`routes add proxy …`), turned into the API's `options` object. Values are
 * only shaped here; the controller validates them and names the field of any problem.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ProxyOptions } from '@caddyfleet/protocol';
import { UsageError } from '../errors';
import { collect, formatHostPort, parseHostPort, parsePositiveInt, type HostPort } from '../parse';

type Repeat<T> = (value: string, previous: T[] | undefined) => T[];
const repeat =
  <T>(parse: (value: string) => T): Repeat<T> =>
  (value, previous) => [...(previous ?? []), parse(value)];

/** `Name: value` (or `Name=value`). */
export function parseHeader(value: string): [string, string] {
  const m = /^([^:=\s]+)\s*[:=]\s?(.*)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected "Name: value", got ${JSON.stringify(value)}`);
  return [m[1]!, m[2]!];
}

/** `/api=127.0.0.1:3001` or `/api=10.0.0.2:80,10.0.0.3:80`. */
export function parseLocation(value: string): { path: string; upstreams: HostPort[] } {
  const i = value.indexOf('=');
  if (i < 1) throw new InvalidArgumentError(`expected PATH=HOST:PORT[,HOST:PORT…], e.g. /api=127.0.0.1:3001 (got ${JSON.stringify(value)})`);
  return { path: value.slice(0, i), upstreams: collect(value.slice(i + 1), undefined).map(parseHostPort) };
}

/** `user:$2a$14$…` (the hash from `caddy hash-password`; quote it in the shell). */
export function parseBasicAuth(value: string): { username: string; passwordHash: string } {
  const i = value.indexOf(':');
  if (i < 1) throw new InvalidArgumentError(`expected USER:BCRYPT_HASH, e.g. alice:'$2a$14$…' (got ${JSON.stringify(value)})`);
  return { username: value.slice(0, i), passwordHash: value.slice(i + 1) };
}

export interface ProxyOptionFlags {
  upstreamHttps?: boolean;
  skipVerify?: boolean;
  lb?: string;
  healthPath?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthStatus?: number;
  passiveMaxFails?: number;
  passiveFailDuration?: number;
  location?: { path: string; upstreams: HostPort[] }[];
  hsts?: boolean;
  /** commander's --no-force-https: false when given. */
  forceHttps?: boolean;
  requestHeader?: [string, string][];
  removeRequestHeader?: string[];
  responseHeader?: [string, string][];
  removeResponseHeader?: string[];
  basicAuth?: { username: string; passwordHash: string }[];
  allow?: string[];
  deny?: string[];
  maintenance?: boolean;
}

export function addProxyOptionFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--upstream-https', 'talk HTTPS to the upstreams'))
    .addOption(new Option('--skip-verify', 'with --upstream-https: accept a self-signed upstream certificate'))
    .addOption(new Option('--lb <policy>', 'load-balancing policy over several upstreams').choices(['round_robin', 'least_conn', 'ip_hash', 'first', 'random']))
    .addOption(new Option('--health-path <path>', 'active health check: request this path on every upstream, take failing ones out'))
    .addOption(new Option('--health-interval <seconds>', 'with --health-path: seconds between checks (server default 30)').argParser(parsePositiveInt))
    .addOption(new Option('--health-timeout <seconds>', 'with --health-path: seconds before a check fails (server default 5)').argParser(parsePositiveInt))
    .addOption(new Option('--health-status <code>', 'with --health-path: the status a healthy upstream answers (default: any 2xx)').argParser(parsePositiveInt))
    .addOption(new Option('--passive-max-fails <n>', 'passive health check: take an upstream out after N failed requests').argParser(parsePositiveInt))
    .addOption(new Option('--passive-fail-duration <seconds>', 'with --passive-max-fails: how long it stays out (server default 30)').argParser(parsePositiveInt))
    .addOption(new Option('--location <path=host:port>', 'custom location: requests under PATH go to their own upstreams, reached like the main ones (--upstream-https, --lb) (repeatable)').argParser(repeat(parseLocation)))
    .addOption(new Option('--hsts', 'send Strict-Transport-Security (needs --tls auto or internal)'))
    .addOption(new Option('--no-force-https', 'with TLS: also serve plain HTTP instead of redirecting it to HTTPS'))
    .addOption(new Option('--request-header <name: value>', 'set a header on requests to the upstream (repeatable)').argParser(repeat(parseHeader)))
    .addOption(new Option('--remove-request-header <name>', 'remove a header from requests (repeatable)').argParser(collect))
    .addOption(new Option('--response-header <name: value>', 'set a header on responses (repeatable)').argParser(repeat(parseHeader)))
    .addOption(new Option('--remove-response-header <name>', 'remove a header from responses (repeatable)').argParser(collect))
    .addOption(new Option('--basic-auth <user:hash>', 'require HTTP basic auth; HASH from `caddy hash-password` (repeatable)').argParser(repeat(parseBasicAuth)))
    .addOption(new Option('--allow <cidr>', 'only these client addresses may pass (repeatable)').argParser(collect))
    .addOption(new Option('--deny <cidr>', 'refuse these client addresses with 403 (repeatable)').argParser(collect))
    .addOption(new Option('--maintenance', 'answer 503 with a maintenance page instead of proxying'));
}

function headerOps(set: [string, string][] | undefined, remove: string[] | undefined) {
  if (!set?.length && !remove?.length) return undefined;
  return { ...(set?.length ? { set: Object.fromEntries(set) } : {}), ...(remove?.length ? { remove } : {}) };
}

/** Flags that only shape another flag's check: given alone they would be dropped without a word. */
function requireParents(f: ProxyOptionFlags): void {
  const needs: [unknown, string, boolean, string][] = [
    [f.healthInterval, '--health-interval', !!f.healthPath, '--health-path'],
    [f.healthTimeout, '--health-timeout', !!f.healthPath, '--health-path'],
    [f.healthStatus, '--health-status', !!f.healthPath, '--health-path'],
    [f.passiveFailDuration, '--passive-fail-duration', f.passiveMaxFails !== undefined, '--passive-max-fails'],
  ];
  for (const [value, flag, hasParent, parent] of needs) {
    if (value !== undefined && !hasParent) throw new UsageError(`${flag} needs ${parent} (it configures that check)`);
  }
}

/** The `options` body field, or undefined when no option flag was given. */
export function proxyOptionsFrom(f: ProxyOptionFlags): Record<string, unknown> | undefined {
  requireParents(f);
  const request = headerOps(f.requestHeader, f.removeRequestHeader);
  const response = headerOps(f.responseHeader, f.removeResponseHeader);
  const active = f.healthPath
    ? {
        path: f.healthPath,
        ...(f.healthInterval !== undefined ? { intervalSeconds: f.healthInterval } : {}),
        ...(f.healthTimeout !== undefined ? { timeoutSeconds: f.healthTimeout } : {}),
        ...(f.healthStatus !== undefined ? { expectStatus: f.healthStatus } : {}),
      }
    : undefined;
  const passive =
    f.passiveMaxFails !== undefined
      ? { maxFails: f.passiveMaxFails, ...(f.passiveFailDuration !== undefined ? { failDurationSeconds: f.passiveFailDuration } : {}) }
      : undefined;
  const o: Record<string, unknown> = {
    ...(f.upstreamHttps ? { upstreamScheme: 'https' } : {}),
    ...(active || passive ? { healthChecks: { ...(active ? { active } : {}), ...(passive ? { passive } : {}) } } : {}),
    ...(f.skipVerify ? { skipVerify: true } : {}),
    ...(f.lb ? { loadBalancing: f.lb } : {}),
    ...(f.location?.length ? { locations: f.location } : {}),
    ...(f.hsts ? { hsts: true } : {}),
    ...(f.forceHttps === false ? { forceHttps: false } : {}),
    ...(request || response ? { headers: { ...(request ? { request } : {}), ...(response ? { response } : {}) } } : {}),
    ...(f.basicAuth?.length ? { basicAuth: f.basicAuth } : {}),
    ...(f.allow?.length || f.deny?.length ? { access: { ...(f.allow?.length ? { allow: f.allow } : {}), ...(f.deny?.length ? { deny: f.deny } : {}) } } : {}),
    ...(f.maintenance ? { maintenance: true } : {}),
  };
  return Object.keys(o).length ? o : undefined;
}

/** `routes show` lines for the options that are set. */
export function optionPairs(o: ProxyOptions | undefined): [string, string][] {
  if (!o) return [];
  const pairs: [string, string][] = [];
  const hdr = (ops: { set?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined) =>
    [...Object.entries(ops?.set ?? {}).map(([k, v]) => `${k}: ${v}`), ...(ops?.remove ?? []).map((k) => `-${k}`)].join('; ');
  if (o.upstreamScheme === 'https') pairs.push(['Upstream TLS', o.skipVerify ? 'https (certificate not verified)' : 'https']);
  if (o.loadBalancing) pairs.push(['Load balancing', o.loadBalancing]);
  const hc = o.healthChecks;
  if (hc?.active) pairs.push(['Health check', `GET ${hc.active.path} every ${hc.active.intervalSeconds}s${hc.active.expectStatus ? `, expect ${hc.active.expectStatus}` : ''}`]);
  if (hc?.passive) pairs.push(['Passive check', `out for ${hc.passive.failDurationSeconds}s after ${hc.passive.maxFails} failed request(s)`]);
  for (const l of o.locations ?? []) pairs.push([`Location ${l.path}`, l.upstreams.map(formatHostPort).join(', ')]);
  if (o.forceHttps === false) pairs.push(['Force HTTPS', 'no (plain HTTP served too)']);
  if (o.hsts) pairs.push(['HSTS', 'yes']);
  if (o.headers?.request) pairs.push(['Request headers', hdr(o.headers.request)]);
  if (o.headers?.response) pairs.push(['Response headers', hdr(o.headers.response)]);
  if (o.basicAuth?.length) pairs.push(['Basic auth users', o.basicAuth.map((u) => u.username).join(', ')]);
  if (o.access?.allow?.length) pairs.push(['Allow', o.access.allow.join(', ')]);
  if (o.access?.deny?.length) pairs.push(['Deny', o.access.deny.join(', ')]);
  if (o.maintenance) pairs.push(['Maintenance', 'on (503)']);
  return pairs;
}
