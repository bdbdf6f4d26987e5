/** Parsers for option values. They only shape input into the API body; the server validates it. */
import { InvalidArgumentError } from 'commander';

export interface HostPort {
  host: string;
  port: number;
}

function parsePort(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new InvalidArgumentError(`${what}: port must be a number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** `host:port`, `1.2.3.4:80` or `[::1]:80`. The host is not validated here (the controller does it). */
export function parseHostPort(value: string): HostPort {
  const v = value.trim();
  // A URL where HOST:PORT belongs is the usual slip (NPM's forms take a scheme); say so rather than blame IPv6.
  const url = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)/i.exec(v);
  if (url) {
    const hint = /^https$/i.test(url[1]!) ? '; for an HTTPS upstream of a proxy host add --upstream-https' : '';
    throw new InvalidArgumentError(`write HOST:PORT without a scheme, e.g. ${url[2] || '127.0.0.1:3000'} (got ${JSON.stringify(v)})${hint}`);
  }
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(v);
  if (bracketed) return { host: bracketed[1]!, port: parsePort(bracketed[2]!, v) };
  const i = v.lastIndexOf(':');
  if (i < 0) throw new InvalidArgumentError(`${JSON.stringify(v)} has no port; write HOST:PORT, e.g. 127.0.0.1:3000`);
  const host = v.slice(0, i);
  if (host.includes(':')) throw new InvalidArgumentError(`write IPv6 addresses in brackets, e.g. [::1]:80 (got ${JSON.stringify(v)})`);
  if (host === '') throw new InvalidArgumentError(`${JSON.stringify(v)} has no host; write HOST:PORT`);
  return { host, port: parsePort(v.slice(i + 1), v) };
}

/** Formats an upstream back into `host:port`, bracketing IPv6 addresses. */
export function formatHostPort(u: HostPort): string {
  return `${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}`;
}

/** `5432`, `5432/tcp` or `53/udp`; the protocol is left out of the body when not given (server default: tcp). */
export function parseListen(value: string): { port: number; protocol?: 'tcp' | 'udp' } {
  const m = /^:?(\d{1,5})(?:\/(tcp|udp))?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected PORT, PORT/tcp or PORT/udp, e.g. 5432/tcp (got ${JSON.stringify(value)})`);
  const out: { port: number; protocol?: 'tcp' | 'udp' } = { port: Number(m[1]) };
  if (m[2]) out.protocol = m[2].toLowerCase() as 'tcp' | 'udp';
  return out;
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value.trim());
}

/** argParser for repeatable options: `--domain a --domain b` (a comma-separated list also works). */
export function collect(value: string, previous: string[] | undefined): string[] {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return [...(previous ?? []), ...(parts.length ? parts : [value])];
}

/** argParser for repeatable `host:port` options. */
export function collectHostPort(value: string, previous: HostPort[] | undefined): HostPort[] {
  return [...(previous ?? []), ...collect(value, undefined).map(parseHostPort)];
}

export interface SshTargetArg {
  user: string;
  host: string;
  port?: number;
}

/** `USER@HOST`, `USER@HOST:PORT` or `USER@[v6]:PORT`, for `nodes provision --ssh`. */
export function parseSshTarget(value: string): SshTargetArg {
  const v = value.trim();
  const at = v.indexOf('@');
  if (at <= 0) throw new InvalidArgumentError(`expected USER@HOST[:PORT], e.g. root@203.0.113.7 (got ${JSON.stringify(v)})`);
  const user = v.slice(0, at);
  const rest = v.slice(at + 1);
  if (rest === '') throw new InvalidArgumentError(`${JSON.stringify(v)} has no host; write USER@HOST[:PORT]`);
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracketed) return bracketed[2] === undefined ? { user, host: bracketed[1]! } : { user, host: bracketed[1]!, port: parsePort(bracketed[2], v) };
  const parts = rest.split(':');
  if (parts.length > 2) throw new InvalidArgumentError(`write IPv6 addresses in brackets, e.g. root@[2001:db8::7]:22 (got ${JSON.stringify(v)})`);
  return parts.length === 2 ? { user, host: parts[0]!, port: parsePort(parts[1]!, v) } : { user, host: rest };
}
