export interface HostPort {
  /** Empty string means all interfaces. IPv6 addresses are kept without brackets. */
  host: string;
  port: number;
}

/** `host:port` as Caddy expects it in `listen` and `dial`: IPv6 hosts go in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses a listen address such as `:80`, `127.0.0.2:8080` or `[::1]:8443`. An optional `tcp/` network
 * prefix is accepted. Throws on anything else: listen addresses come from the operator, and a bad one
 * should stop the agent at start-up rather than produce a config Caddy rejects on every sync.
 */
export function parseListenAddress(address: string): HostPort {
  const bare = address.startsWith('tcp/') ? address.slice(4) : address;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/]*)):(\d{1,5})$/.exec(bare);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid listen address "${address}": expected host:port or :port`);
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Caddy's admin `listen` is either a unix socket (`unix//path`) or a TCP address; only the latter has a port. */
export function adminTcpPort(adminListen: string): number | null {
  if (adminListen.startsWith('unix/')) return null;
  try {
    return parseListenAddress(adminListen).port;
  } catch {
    return null;
  }
}
