/**
 * caddy-docker-proxy's label dialect, for the part of it caddyfleet serves: `caddy=ADDRESSES`,
 * `caddy.reverse_proxy={{upstreams [http|https] [PORT]}}`, `caddy.redir=TARGET [STATUS]`, `caddy.tls=internal`,
 * numbered sites `caddy_N…`, `caddy_ingress_network=NET`, plus `caddyfleet.node=NODE`. Values go through the
 * same validators as API input. Anything else is never ignored silently: a site carries the labels it did not
 * use as a warning (and is served without them), and a label that makes a site unservable is its error.
 */
import { domainSchema, hasUnsafeChars, redirectUrlSchema, type RouteCreate } from '@caddyfleet/protocol';

export const NODE_LABEL = 'caddyfleet.node';
/** Labels longer than this are refused (a Caddyfile snippet pasted into a label is not something we render). */
export const MAX_LABEL_VALUE = 4096;
/** Sites per container; `caddy_0` … `caddy_99` is far more than any real service declares. */
export const MAX_SITES = 100;

type Tls = RouteCreate['tls'];
type RedirectStatus = 301 | 302 | 307 | 308;

export interface LabelSite {
  /** The site's label, e.g. `caddy` or `caddy_1`. */
  label: string;
  domains: string[];
  tls: Tls;
  upstream: { scheme: 'http' | 'https'; port: number } | null;
  redirect: { to: string; status: RedirectStatus; preservePath: boolean } | null;
  /** Problems that keep the site from being served. */
  errors: string[];
  /** Labels of this site that were not used. */
  ignored: string[];
}

export interface ParsedLabels {
  sites: LabelSite[];
  /** `caddyfleet.node`: the node that should serve this container's sites, when not this one. */
  node: string | null;
  /** `<prefix>_ingress_network`: the network whose address is the upstream. */
  ingressNetwork: string | null;
  /** Problems not tied to one site (a bad `caddyfleet.node`, directives without a site address, …). */
  errors: string[];
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A label value as quoted in messages: bounded and printable. */
export function quote(value: string, max = 120): string {
  const printable = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return JSON.stringify(printable.length > max ? printable.slice(0, max) + '…' : printable);
}

/** True when the container has any label this prefix (or caddyfleet) cares about. */
export function hasDiscoveryLabels(labels: Record<string, string>, prefix: string): boolean {
  const re = siteLabelRegex(prefix);
  return Object.keys(labels).some((k) => re.test(k));
}

function siteLabelRegex(prefix: string): RegExp {
  return new RegExp(`^${escapeRe(prefix)}(?:_\\d+)?(?:\\.|$)`);
}

interface SiteLabels {
  label: string;
  address: string | null;
  directives: [string, string][];
}

export function parseLabels(labels: Record<string, string>, prefix: string): ParsedLabels {
  const out: ParsedLabels = { sites: [], node: null, ingressNetwork: null, errors: [] };
  const siteRe = new RegExp(`^(${escapeRe(prefix)}(?:_(\\d{1,9}))?)(?:\\.(.+))?$`);
  const ingressKey = `${prefix}_ingress_network`;
  const sites = new Map<string, SiteLabels>();

  for (const key of Object.keys(labels).sort()) {
    const value = labels[key]!;
    if (key === NODE_LABEL) {
      out.node = checkNode(value, out.errors);
      continue;
    }
    if (key === ingressKey) {
      out.ingressNetwork = checkNetwork(value, key, out.errors);
      continue;
    }
    if (key.startsWith('caddyfleet.')) {
      out.errors.push(`unknown label ${key} (caddyfleet reads only ${NODE_LABEL})`);
      continue;
    }
    const m = siteRe.exec(key);
    if (!m) {
      if (key.startsWith(`${prefix}_`)) out.errors.push(`unknown label ${key}`);
      continue;
    }
    const [, label, , directive] = m as unknown as [string, string, string | undefined, string | undefined];
    let site = sites.get(label);
    if (!site) {
      if (sites.size >= MAX_SITES) {
        out.errors.push(`more than ${MAX_SITES} sites; ${label} and later ones are left out`);
        continue;
      }
      site = { label, address: null, directives: [] };
      sites.set(label, site);
    }
    if (directive === undefined) site.address = value;
    else site.directives.push([directive, value]);
  }

  const byIndex = (a: string, b: string) => siteOrder(a) - siteOrder(b);
  for (const label of [...sites.keys()].sort(byIndex)) {
    const site = sites.get(label)!;
    if (site.address === null) {
      const names = site.directives.map(([d]) => `${label}.${d}`).join(', ');
      out.errors.push(`${names} without a ${label}=ADDRESS label (global options are not supported)`);
      continue;
    }
    out.sites.push(parseSite(site));
  }
  return out;
}

function siteOrder(label: string): number {
  const m = /_(\d+)$/.exec(label);
  return m ? Number(m[1]) : -1;
}

function checkNode(value: string, errors: string[]): string | null {
  const v = value.trim();
  if (v === '' || v.length > 100 || hasUnsafeChars(v)) {
    errors.push(`${NODE_LABEL}=${quote(value)} must be a node name or id (at most 100 characters, no braces)`);
    return null;
  }
  return v;
}

function checkNetwork(value: string, key: string, errors: string[]): string | null {
  const v = value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(v)) {
    errors.push(`${key}=${quote(value)} is not a Docker network name`);
    return null;
  }
  return v;
}

function parseSite(site: SiteLabels): LabelSite {
  const { label } = site;
  const out: LabelSite = { label, domains: [], tls: 'auto', upstream: null, redirect: null, errors: [], ignored: [] };
  const address = site.address!;
  if (address.length > MAX_LABEL_VALUE) out.errors.push(`${label} is longer than ${MAX_LABEL_VALUE} characters`);
  else parseAddresses(label, address, out);

  let tlsInternal = false;
  let proxyLabel: string | null = null;
  for (const [directive, value] of site.directives) {
    const key = `${label}.${directive}`;
    if (value.length > MAX_LABEL_VALUE) {
      out.errors.push(`${key} is longer than ${MAX_LABEL_VALUE} characters`);
      continue;
    }
    switch (directive) {
      case 'reverse_proxy':
        proxyLabel = key;
        out.upstream = parseUpstreams(key, value, out.errors);
        break;
      case 'redir':
        out.redirect = parseRedir(key, value, out.errors);
        break;
      case 'tls':
        if (value.trim() === 'internal') tlsInternal = true;
        else out.ignored.push(`${key}=${quote(value, 60)} (only "internal" is supported)`);
        break;
      default:
        out.ignored.push(key);
    }
  }

  if (tlsInternal) {
    if (out.tls === 'off') out.errors.push(`${label}.tls=internal contradicts the http:// addresses of ${label}`);
    else out.tls = 'internal';
  }
  if (out.redirect && proxyLabel) {
    out.ignored.push(`${proxyLabel} (${label}.redir takes precedence, as in Caddy)`);
    out.upstream = null;
  }
  if (!out.redirect && !out.upstream && out.errors.length === 0) {
    out.errors.push(`nothing to serve: add ${label}.reverse_proxy={{upstreams PORT}} or ${label}.redir=URL`);
  }
  return out;
}

function parseAddresses(label: string, value: string, out: LabelSite): void {
  const parts = value.split(/[\s,]+/).filter(Boolean);
  if (parts.length === 0) {
    out.errors.push(`${label} has no site address`);
    return;
  }
  let plain = 0;
  const domains = new Set<string>();
  for (const part of parts) {
    let host = part;
    const scheme = /^(https?):\/\//i.exec(part);
    if (scheme) {
      host = part.slice(scheme[0].length);
      if (scheme[1]!.toLowerCase() === 'http') plain++;
    }
    if (/[:/]/.test(host) && !hasUnsafeChars(host)) {
      out.errors.push(`${label}: address ${quote(part)}: ports and paths in site addresses are not supported (caddyfleet serves on the node's listeners)`);
      continue;
    }
    const parsed = domainSchema.safeParse(host);
    if (!parsed.success) {
      out.errors.push(`${label}: address ${quote(part)}: ${parsed.error.issues[0]?.message ?? 'invalid domain'}`);
      continue;
    }
    domains.add(parsed.data);
  }
  if (domains.size > 100) out.errors.push(`${label} lists more than 100 addresses`);
  if (plain > 0 && plain < parts.length) {
    out.errors.push(`${label} mixes http:// and TLS addresses; put them on separate numbered labels (${label}_0, ${label}_1)`);
  }
  out.domains = [...domains].slice(0, 100);
  if (plain > 0 && plain === parts.length) out.tls = 'off';
}

const UPSTREAMS = /^\{\{\s*upstreams(?:\s+(https?))?(?:\s+(\d{1,5}))?\s*\}\}$/;

function parseUpstreams(key: string, value: string, errors: string[]): LabelSite['upstream'] {
  const m = UPSTREAMS.exec(value.trim());
  if (!m) {
    errors.push(`${key}=${quote(value)}: only {{upstreams [http|https] [PORT]}} is supported`);
    return null;
  }
  const scheme = (m[1] ?? 'http') as 'http' | 'https';
  const port = m[2] === undefined ? (scheme === 'https' ? 443 : 80) : Number(m[2]);
  if (port < 1 || port > 65535) {
    errors.push(`${key}=${quote(value)}: port ${port} is not between 1 and 65535`);
    return null;
  }
  if (scheme === 'https') {
    errors.push(`${key}=${quote(value)}: upstreams over https are not supported yet; use {{upstreams ${port}}} for plain HTTP`);
    return null;
  }
  return { scheme, port };
}

const STATUS_WORDS: Record<string, RedirectStatus> = { permanent: 301, temporary: 302, '301': 301, '302': 302, '307': 307, '308': 308 };

function parseRedir(key: string, value: string, errors: string[]): LabelSite['redirect'] {
  const parts = value.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0 || parts.length > 2) {
    errors.push(`${key}=${quote(value)}: expected TARGET [STATUS] (matchers are not supported)`);
    return null;
  }
  let to = parts[0]!;
  // caddy-docker-proxy users write https://new.example.com{uri} to keep the path: that is our preservePath.
  const preservePath = to.endsWith('{uri}');
  if (preservePath) to = to.slice(0, -'{uri}'.length);
  const url = redirectUrlSchema.safeParse(to);
  if (!url.success) {
    errors.push(`${key}=${quote(value)}: ${url.error.issues[0]?.message ?? 'invalid target'}`);
    return null;
  }
  let status: RedirectStatus = 302;
  if (parts[1] !== undefined) {
    const s = STATUS_WORDS[parts[1].toLowerCase()];
    if (s === undefined) {
      errors.push(`${key}=${quote(value)}: status must be 301, 302, 307, 308, permanent or temporary`);
      return null;
    }
    status = s;
  }
  return { to, status, preservePath };
}
