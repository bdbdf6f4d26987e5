/**
 * Route form state ↔ the API's input shape. Validation uses `routeCreateSchema` from @caddyfleet/protocol,
 * the very schema the controller applies, and every issue (client or server) is placed on its field.
 */
import { routeCreateSchema, suggestedTls, type RouteCreate } from '@caddyfleet/protocol';
import { ApiError } from '../api/client';
import type { Route, RouteKind } from '../api/types';
import { EMPTY_OPTIONS, optionsField, optionsInput, optionsState, type ProxyOptionsState } from './proxyOptionsForm';

export interface UpstreamRow {
  key: number;
  host: string;
  port: string;
}

export interface RouteFormState {
  /** '' = the controller's local server (nodeId null). */
  nodeId: string;
  domainsText: string;
  upstreams: UpstreamRow[];
  redirectTo: string;
  redirectStatus: '301' | '302' | '307' | '308';
  preservePath: boolean;
  listenPort: string;
  listenProtocol: 'tcp' | 'udp';
  /** Stream: TLS server names, one per line ('' = the stream takes every connection on its port). */
  sniText: string;
  /** Stream: PROXY protocol version sent to the upstream ('' = none). */
  proxyProtocol: '' | 'v1' | 'v2';
  tls: 'auto' | 'internal' | 'off';
  enabled: boolean;
  /** Proxy host options, as form text. */
  options: ProxyOptionsState;
}

let rowKey = 0;
export function newUpstream(host = '', port = ''): UpstreamRow {
  rowKey += 1;
  return { key: rowKey, host, port };
}

export function initialState(kind: RouteKind, route: Route | null, defaultNodeId: string): RouteFormState {
  if (route) {
    return {
      nodeId: route.nodeId ?? '',
      domainsText: route.domains.join('\n'),
      upstreams: route.upstreams.length ? route.upstreams.map((u) => newUpstream(u.host, String(u.port))) : [newUpstream()],
      redirectTo: route.redirect?.to ?? '',
      redirectStatus: String(route.redirect?.status ?? 301) as RouteFormState['redirectStatus'],
      preservePath: route.redirect?.preservePath ?? true,
      listenPort: route.listen ? String(route.listen.port) : '',
      listenProtocol: route.listen?.protocol ?? 'tcp',
      sniText: (route.sni ?? []).join('\n'),
      proxyProtocol: route.proxyProtocol ?? '',
      tls: route.tls,
      enabled: route.enabled,
      options: optionsState(route.options),
    };
  }
  return {
    nodeId: defaultNodeId,
    domainsText: '',
    upstreams: [newUpstream()],
    redirectTo: '',
    redirectStatus: '301',
    preservePath: true,
    listenPort: '',
    listenProtocol: 'tcp',
    sniText: '',
    proxyProtocol: '',
    tls: kind === 'stream' ? 'off' : 'auto',
    enabled: true,
    options: EMPTY_OPTIONS,
  };
}

/**
 * New domains typed into a new route's form: until the user picks a TLS mode, it follows the names (plain HTTP
 * for names no public CA issues for, such as *.localhost, *.test or an IP address; automatic HTTPS otherwise).
 */
export function withDomains(s: RouteFormState, domainsText: string, tlsChosen: boolean): RouteFormState {
  const next = { ...s, domainsText };
  if (!tlsChosen) next.tls = suggestedTls(splitDomains(domainsText));
  return next;
}

/** Domains typed one per line (commas and spaces also separate them). */
export function splitDomains(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((d) => d.trim())
    .filter(Boolean);
}

function portValue(s: string): number | undefined {
  const t = s.trim();
  if (!t) return undefined;
  return /^\d+$/.test(t) ? Number(t) : Number.NaN;
}

export function toInput(kind: RouteKind, s: RouteFormState): Record<string, unknown> {
  const common = { kind, nodeId: s.nodeId || null, enabled: s.enabled };
  const upstreams = s.upstreams.map((u) => ({ host: u.host.trim(), port: portValue(u.port) }));
  switch (kind) {
    case 'proxy':
      return { ...common, domains: splitDomains(s.domainsText), upstreams, tls: s.tls, options: optionsInput(s.options) };
    case 'redirect':
      return {
        ...common,
        domains: splitDomains(s.domainsText),
        redirect: { to: s.redirectTo.trim(), status: Number(s.redirectStatus), preservePath: s.preservePath },
        tls: s.tls,
      };
    case 'stream':
      return {
        ...common,
        listen: { port: portValue(s.listenPort), protocol: s.listenProtocol },
        upstreams,
        sni: splitDomains(s.sniText),
        proxyProtocol: s.proxyProtocol || null,
      };
    case 'dead':
      return { ...common, domains: splitDomains(s.domainsText), tls: s.tls };
  }
}

/** Form field keys errors can land on; `upstreams.N.host|port` address one row. */
export type FieldKey = string;
export type RouteErrors = Record<FieldKey, string>;

/** Maps an API/zod path ("domains.2", "upstreams.0.port", "redirect.to") to the form field that shows it. */
export function fieldOf(path: string): FieldKey {
  const parts = path.split('.');
  const [head] = parts;
  if (head === 'domains') return 'domains';
  if (head === 'upstreams') return parts.length >= 3 ? `upstreams.${parts[1]}.${parts[2]}` : 'upstreams';
  if (head === 'redirect') return parts[1] === 'status' ? 'redirect.status' : parts[1] === 'preservePath' ? 'redirect.preservePath' : 'redirect.to';
  if (head === 'listen') return parts[1] === 'protocol' ? 'listen.protocol' : 'listen.port';
  if (head === 'sni' || head === 'proxyProtocol') return head;
  if (head === 'options') return optionsField(parts);
  if (head === 'nodeId' || head === 'tls' || head === 'enabled') return head;
  return '_form';
}

function add(errors: RouteErrors, key: FieldKey, message: string): void {
  errors[key] = errors[key] ? `${errors[key]}; ${message}` : message;
}

function friendly(message: string, code: string, expected?: unknown): string {
  if (code === 'invalid_type' && expected === 'number') return 'enter a port (1–65535)';
  if ((code === 'too_big' || code === 'too_small') && /expected number/i.test(message)) return 'enter a port (1–65535)';
  if (code === 'invalid_type' && expected === 'string') return 'required';
  return message;
}

/** "line 2: " for a listed entry (options.locations.1…), "X-Name: " for a header (options.headers.request.set.X-Name). */
function optionContext(path: string[]): string {
  if (path[1] === 'headers' && path[3] === 'set' && path[4]) return `${path[4]}: `;
  const n = path.slice(2).find((p) => /^\d+$/.test(p));
  return n === undefined ? '' : `line ${Number(n) + 1}: `;
}

export function validate(kind: RouteKind, s: RouteFormState): { data: RouteCreate } | { errors: RouteErrors } {
  const parsed = routeCreateSchema.safeParse(toInput(kind, s));
  if (parsed.success) return { data: parsed.data };
  const errors: RouteErrors = {};
  const domains = splitDomains(s.domainsText);
  for (const issue of parsed.error.issues) {
    const path = issue.path.map(String).join('.');
    const key = fieldOf(path);
    let message = friendly(issue.message, issue.code, 'expected' in issue ? issue.expected : undefined);
    // "domains.3" → say which line.
    const lines = key === 'sni' ? splitDomains(s.sniText) : domains;
    const index = key === 'domains' || key === 'sni' ? Number(issue.path[1]) : Number.NaN;
    const domain = Number.isNaN(index) ? undefined : lines[index];
    if (domain !== undefined && !message.includes(domain)) message = `${domain}: ${message}`;
    else if (!Number.isNaN(index) && domain === undefined) message = `line ${index + 1}: ${message}`;
    if (key.startsWith('options.')) message = `${optionContext(issue.path.map(String))}${message}`;
    add(errors, key, message);
  }
  return { errors };
}

/** Server answers placed on fields: 409 domain_conflict → domains, listen_conflict → port, 400 details → their paths. */
export function serverErrors(err: unknown): RouteErrors {
  const errors: RouteErrors = {};
  if (!(err instanceof ApiError)) {
    errors._form = err instanceof Error ? err.message : String(err);
    return errors;
  }
  const d = (typeof err.details === 'object' && err.details !== null ? err.details : {}) as { domain?: unknown; port?: unknown; protocol?: unknown; sni?: unknown; module?: unknown; routeId?: unknown };
  if (err.status === 409 && err.code === 'domain_conflict') {
    errors.domains =
      typeof d.domain === 'string'
        ? `${d.domain} is already served on this server by another route. Choose another domain or server, or change that route first.`
        : err.message;
  } else if (err.status === 409 && err.code === 'node_lacks_module') {
    errors.nodeId =
      typeof d.module === 'string'
        ? `This server's Caddy has no ${d.module} module${d.module.startsWith('layer4') ? ' (streams need a Caddy built with layer4)' : ''}. Choose another server.`
        : err.message;
  } else if (err.status === 409 && err.code === 'listen_conflict' && typeof d.sni === 'string') {
    errors.sni = `${d.sni} is already routed on ${String(d.protocol ?? 'tcp').toUpperCase()} port ${String(d.port)} of this server by another stream.`;
  } else if (err.status === 409 && err.code === 'listen_conflict') {
    errors['listen.port'] =
      typeof d.port === 'number' && typeof d.routeId === 'string'
        ? `${String(d.protocol ?? 'tcp').toUpperCase()} port ${d.port} is already used on this server by another stream.`
        : err.message.replace(/on this node/, 'on this server').replace(/the node's/, "the server's");
  }
  else if (err.fieldDetails.length) for (const d of err.fieldDetails) add(errors, fieldOf(d.path), d.message);
  else errors._form = err.message;
  return errors;
}

/** PATCH body for an edit: only the fields this kind accepts (the controller refuses others). */
export function patchBody(data: RouteCreate): Record<string, unknown> {
  const common = { nodeId: data.nodeId, enabled: data.enabled };
  switch (data.kind) {
    case 'proxy':
      return { ...common, domains: data.domains, upstreams: data.upstreams, tls: data.tls, options: data.options ?? null };
    case 'redirect':
      return { ...common, domains: data.domains, redirect: data.redirect, tls: data.tls };
    case 'stream':
      return { ...common, listen: data.listen, upstreams: data.upstreams, sni: data.sni ?? [], proxyProtocol: data.proxyProtocol ?? null };
    case 'dead':
      return { ...common, domains: data.domains, tls: data.tls };
  }
}

/** POST body: what the user chose (server fills scope/origin). */
export function createBody(data: RouteCreate): Record<string, unknown> {
  const { scope: _scope, ...rest } = data;
  return rest;
}
