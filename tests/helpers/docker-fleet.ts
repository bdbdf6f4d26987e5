/**
 * What the Docker discovery tests share: label sets in caddy-docker-proxy's dialect, and waits on the
 * controller's Docker routes (`GET /routes?origin=docker`) and on an agent's view of them.
 */
import type { Route } from '@caddyfleet/protocol';
import type { FleetAgent } from './fleet-agent';
import { waitFor } from './processes';

/** A controller's API: the in-process FleetController or a standalone process. */
export interface Api {
  ok<T = any>(method: string, path: string, body?: unknown): Promise<T>;
}

/** `caddy=http://DOMAIN` + `caddy.reverse_proxy={{upstreams PORT}}` (plain HTTP: tests never get certificates). */
export function proxyLabels(domain: string, port = 80, extra: Record<string, string> = {}, prefix = 'caddy'): Record<string, string> {
  return { [prefix]: `http://${domain}`, [`${prefix}.reverse_proxy`]: `{{upstreams ${port}}}`, ...extra };
}

export async function dockerRoutes(ctl: Api): Promise<Route[]> {
  return ctl.ok<Route[]>('GET', '/routes?origin=docker');
}

/** Polls the controller's Docker routes until `pred` finds one; returns it. */
export async function waitDockerRoute(ctl: Api, pred: (r: Route) => boolean, description: string, timeoutMs = 15_000): Promise<Route> {
  let last: Route[] = [];
  return waitFor(
    async () => {
      last = await dockerRoutes(ctl);
      return last.find(pred) ?? null;
    },
    { timeoutMs, intervalMs: 100, description },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nDocker routes were: ${JSON.stringify(last, null, 1)}`);
  });
}

/** Polls until no Docker route on the controller serves `domain`. */
export async function waitNoDockerRoute(ctl: Api, domain: string, timeoutMs = 15_000): Promise<void> {
  let last: Route[] = [];
  await waitFor(
    async () => {
      last = await dockerRoutes(ctl);
      return !last.some((r) => r.domains.includes(domain));
    },
    { timeoutMs, intervalMs: 100, description: `no Docker route for ${domain}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nDocker routes were: ${JSON.stringify(last, null, 1)}`);
  });
}

/** The agent's own view of a Docker route by domain (from its local API), once `pred` holds. */
export async function waitAgentDockerRoute(
  agent: FleetAgent,
  domain: string,
  pred: (r: { served: boolean; upstreams: { host: string; port: number }[]; problems: string[] }) => boolean,
  description: string,
  timeoutMs = 15_000,
) {
  return waitFor(
    async () => {
      const s = await agent.status();
      const r = s.docker?.routes.find((x) => x.domains.includes(domain));
      return r && pred(r) ? r : null;
    },
    { timeoutMs, intervalMs: 100, description: `${agent.name}: ${description}` },
  );
}

/** Requests `domain` through the agent until every answer in a row of `n` is 200 with body `text`. */
export async function servedOnlyBy(agent: FleetAgent, domain: string, text: string, n = 10): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await agent.get(domain);
    if (r.status !== 200 || r.body.trim() !== text) throw new Error(`${domain} answer ${i + 1}/${n}: ${r.status} ${r.body.slice(0, 100)} (expected ${text})`);
  }
}
