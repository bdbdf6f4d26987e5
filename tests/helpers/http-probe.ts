/**
 * Plain HTTP GETs to a Caddy on a loopback address with an explicit Host header, and the texts of Caddy's
 * own 404 answers. No keep-alive, every request bounded.
 */
import http from 'node:http';

export interface HttpReply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GET http://<ip>:<port><path> with `Host: host`; no keep-alive; rejects after `timeoutMs` (default 3000). */
export function httpGet(ip: string, port: number, host: string, path = '/', timeoutMs = 3000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, path, headers: { Host: host }, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    const hard = setTimeout(() => req.destroy(new Error(`GET http://${host}${path} via ${ip}:${port}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(hard));
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}${path} via ${ip}:${port}: idle for ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Text of Caddy's 404 for a dead route and for a host no route serves (packages/caddy/src/http-handlers.ts). */
export const DEAD_TEXT = 'This site is not served here.';
export const UNKNOWN_HOST_TEXT = 'No site is configured for this host name.';

/** Caddy's 404 for a host that no route serves. */
export const isUnknownHost = (r: HttpReply): boolean => r.status === 404 && r.body.includes(UNKNOWN_HOST_TEXT);
