/**
 * The proxy host options as form text (one entry per line, like the CLI's flags) ↔ the API's `options` object.
 * Parsing only shapes the text; `routeCreateSchema` validates the result and its issues land on these fields.
 */
import type { ProxyOptions } from '@caddyfleet/protocol';

export interface ProxyOptionsState {
  upstreamScheme: 'http' | 'https';
  skipVerify: boolean;
  loadBalancing: '' | NonNullable<ProxyOptions['loadBalancing']>;
  /** Active health check path ('' = none) and its interval in seconds. */
  healthPath: string;
  healthInterval: string;
  /** Passive health check: failed requests before an upstream is taken out ('' = none). */
  passiveMaxFails: string;
  /** Health check settings the form does not show, kept as they were (API/CLI-set timeout, status, duration). */
  healthExtra: { active: { timeoutSeconds?: number; expectStatus?: number }; passive: { failDurationSeconds?: number } };
  /** `/api = 10.0.0.2:80, 10.0.0.3:80` per line. */
  locationsText: string;
  hsts: boolean;
  forceHttps: boolean;
  /** `Name: value` to set, `-Name` to remove, per line. */
  requestHeadersText: string;
  responseHeadersText: string;
  /** `user:$2a$…` per line. */
  basicAuthText: string;
  allowText: string;
  denyText: string;
  maintenance: boolean;
}

export const EMPTY_OPTIONS: ProxyOptionsState = {
  upstreamScheme: 'http',
  skipVerify: false,
  loadBalancing: '',
  healthPath: '',
  healthInterval: '',
  passiveMaxFails: '',
  healthExtra: { active: {}, passive: {} },
  locationsText: '',
  hsts: false,
  forceHttps: true,
  requestHeadersText: '',
  responseHeadersText: '',
  basicAuthText: '',
  allowText: '',
  denyText: '',
  maintenance: false,
};

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

const hostPort = (u: { host: string; port: number }) => `${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}`;

function headersText(ops: { set?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined): string {
  return [...Object.entries(ops?.set ?? {}).map(([k, v]) => `${k}: ${v}`), ...(ops?.remove ?? []).map((k) => `-${k}`)].join('\n');
}

export function optionsState(o: ProxyOptions | undefined): ProxyOptionsState {
  if (!o) return EMPTY_OPTIONS;
  return {
    upstreamScheme: o.upstreamScheme ?? 'http',
    skipVerify: o.skipVerify ?? false,
    loadBalancing: o.loadBalancing ?? '',
    healthPath: o.healthChecks?.active?.path ?? '',
    healthInterval: o.healthChecks?.active ? String(o.healthChecks.active.intervalSeconds) : '',
    passiveMaxFails: o.healthChecks?.passive ? String(o.healthChecks.passive.maxFails) : '',
    healthExtra: {
      active: {
        ...(o.healthChecks?.active ? { timeoutSeconds: o.healthChecks.active.timeoutSeconds } : {}),
        ...(o.healthChecks?.active?.expectStatus ? { expectStatus: o.healthChecks.active.expectStatus } : {}),
      },
      passive: o.healthChecks?.passive ? { failDurationSeconds: o.healthChecks.passive.failDurationSeconds } : {},
    },
    locationsText: (o.locations ?? []).map((l) => `${l.path} = ${l.upstreams.map(hostPort).join(', ')}`).join('\n'),
    hsts: o.hsts ?? false,
    forceHttps: o.forceHttps ?? true,
    requestHeadersText: headersText(o.headers?.request),
    responseHeadersText: headersText(o.headers?.response),
    basicAuthText: (o.basicAuth ?? []).map((u) => `${u.username}:${u.passwordHash}`).join('\n'),
    allowText: (o.access?.allow ?? []).join('\n'),
    denyText: (o.access?.deny ?? []).join('\n'),
    maintenance: o.maintenance ?? false,
  };
}

/** `host:port` or `[v6]:port`; a malformed one keeps its text as the host so validation names it. */
function parseHostPort(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: text, port: Number.NaN };
}

function headerOps(text: string) {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const l of lines(text)) {
    if (l.startsWith('-')) remove.push(l.slice(1).trim());
    else {
      const i = l.indexOf(':');
      // A line without a colon becomes a header name with an invalid character, so the field shows the problem.
      if (i < 0) set[l] = '';
      else set[l.slice(0, i).trim()] = l.slice(i + 1).trim();
    }
  }
  if (!Object.keys(set).length && !remove.length) return undefined;
  return { ...(Object.keys(set).length ? { set } : {}), ...(remove.length ? { remove } : {}) };
}

/** The `options` body field, or null when nothing is set. */
export function optionsInput(s: ProxyOptionsState): Record<string, unknown> | null {
  const locations = lines(s.locationsText).map((l) => {
    const i = l.indexOf('=');
    const path = i < 0 ? l : l.slice(0, i).trim();
    const ups = i < 0 ? [] : l.slice(i + 1).split(',').map((u) => u.trim()).filter(Boolean).map(parseHostPort);
    return { path, upstreams: ups };
  });
  const basicAuth = lines(s.basicAuthText).map((l) => {
    const i = l.indexOf(':');
    return i < 0 ? { username: l, passwordHash: '' } : { username: l.slice(0, i), passwordHash: l.slice(i + 1) };
  });
  const request = headerOps(s.requestHeadersText);
  const response = headerOps(s.responseHeadersText);
  const allow = lines(s.allowText);
  const num = (t: string) => (/^\d+$/.test(t.trim()) ? Number(t.trim()) : Number.NaN);
  // Kept from the route being edited: the form shows only the path, interval and max fails.
  const active = s.healthPath.trim()
    ? { path: s.healthPath.trim(), ...(s.healthInterval.trim() ? { intervalSeconds: num(s.healthInterval) } : {}), ...s.healthExtra.active }
    : undefined;
  const passive = s.passiveMaxFails.trim() ? { maxFails: num(s.passiveMaxFails), ...s.healthExtra.passive } : undefined;
  const deny = lines(s.denyText);
  const o: Record<string, unknown> = {
    ...(s.upstreamScheme === 'https' ? { upstreamScheme: 'https' } : {}),
    ...(s.skipVerify ? { skipVerify: true } : {}),
    ...(s.loadBalancing ? { loadBalancing: s.loadBalancing } : {}),
    ...(active || passive ? { healthChecks: { ...(active ? { active } : {}), ...(passive ? { passive } : {}) } } : {}),
    ...(locations.length ? { locations } : {}),
    ...(s.hsts ? { hsts: true } : {}),
    ...(!s.forceHttps ? { forceHttps: false } : {}),
    ...(request || response ? { headers: { ...(request ? { request } : {}), ...(response ? { response } : {}) } } : {}),
    ...(basicAuth.length ? { basicAuth } : {}),
    ...(allow.length || deny.length ? { access: { ...(allow.length ? { allow } : {}), ...(deny.length ? { deny } : {}) } } : {}),
    ...(s.maintenance ? { maintenance: true } : {}),
  };
  return Object.keys(o).length ? o : null;
}

/** Where an issue under `options.…` is shown. */
export function optionsField(parts: string[]): string {
  const [, key, sub] = parts;
  if (key === 'headers') return sub === 'response' ? 'options.headers.response' : 'options.headers.request';
  if (key === 'access') return sub === 'deny' ? 'options.access.deny' : 'options.access.allow';
  if (key === 'healthChecks') return sub === 'passive' ? 'options.healthChecks.passive' : 'options.healthChecks';
  return `options.${key ?? ''}`;
}
