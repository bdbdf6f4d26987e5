export type CaddyAdminEndpoint = { socketPath: string } | { host: string; port: number };

function tcpEndpoint(host: string, port: string, original: string): CaddyAdminEndpoint {
  const n = Number(port);
  if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) throw new Error(`invalid Caddy admin address "${original}"`);
  // A wildcard listen (':2019', '0.0.0.0:2019') is reached over loopback, which Caddy always allows.
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return { host: bare === '' || bare === '0.0.0.0' || bare === '::' ? '127.0.0.1' : bare, port: n };
}

/**
 * Accepts every spelling an operator is likely to hand us: a URL (`http://127.0.0.1:2019`), Caddy's own
 * admin `listen` syntax (`127.0.0.1:2019`, `unix//run/caddy/admin.sock`) so the agent can pass the same
 * string it renders into the config, and `unix:/path` / `unix:///path`.
 */
export function parseAdminEndpoint(target: string): CaddyAdminEndpoint {
  if (target.startsWith('unix/')) return { socketPath: target.slice('unix/'.length) };
  if (target.startsWith('unix:')) return { socketPath: target.slice('unix:'.length).replace(/^\/\/(?=\/)/, '') };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    const url = new URL(target);
    if (url.protocol !== 'http:') throw new Error(`Caddy admin URL must use http: "${target}"`);
    return tcpEndpoint(url.hostname, url.port || '80', target);
  }
  const m = /^(.*):([^:\]]*)$/.exec(target.startsWith('tcp/') ? target.slice(4) : target);
  if (!m) throw new Error(`invalid Caddy admin address "${target}"`);
  return tcpEndpoint(m[1] ?? '', m[2] ?? '', target);
}

export function describeEndpoint(endpoint: CaddyAdminEndpoint): string {
  if ('socketPath' in endpoint) return `unix:${endpoint.socketPath}`;
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `http://${host}:${endpoint.port}`;
}
