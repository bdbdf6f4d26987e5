/** `caddyfleet routes …`: proxy, redirect, stream and dead routes. */
import { Command, Option } from 'commander';
import { ROUTE_KINDS, routeServing, type FleetNode, type Route } from '@caddyfleet/protocol';
import type { ApiClient } from '../api-client';
import { optionPairs } from './proxy-options';
import { registerAddKinds } from './route-add';
import { withApiOptions, type CliContext } from '../context';
import { UsageError } from '../errors';
import { formatHostPort } from '../parse';
import { dash, renderKeyValue, renderTable, yesNo } from '../output';

export const ROUTE_HEADERS = ['ID', 'KIND', 'DOMAINS/LISTEN', 'UPSTREAMS/TARGET', 'NODE', 'TLS', 'ENABLED', 'SCOPE', 'ORIGIN', 'PROBLEM'];
/** The API's listing adds whether each route is really served, which needs the nodes. */
export const SERVED_ROUTE_HEADERS = [...ROUTE_HEADERS, 'STATUS', 'HEALTH'];

type NodesById = Map<string, FleetNode>;

async function nodesById(client: ApiClient): Promise<NodesById> {
  return new Map((await client.get<FleetNode[]>('/nodes')).map((n) => [n.id, n]));
}

/** Node id → name, for tables (ids are for scripts; people read names). */
export async function nodeNames(client: ApiClient): Promise<Map<string, string>> {
  return new Map([...(await nodesById(client))].map(([id, n]) => [id, n.name]));
}

function servedRow(r: Route, nodes: NodesById): string[] {
  const node = nodes.get(r.nodeId ?? 'local');
  const serving = routeServing(r, node);
  const names = new Map([...nodes].map(([id, n]) => [id, n.name]));
  // The reason of a problem is in PROBLEM already.
  return [...routeRow(r, names), serving.state === 'problem' ? 'not served' : serving.text, dash(upstreamHealthSummary(r))];
}

const listenText = (l: Route['listen']) => (l ? `${l.port}/${l.protocol}` : '');
const redirectText = (r: Route['redirect']) => (r ? `${r.status} ${r.to}${r.preservePath ? '' : ' (path dropped)'}` : '');

function where(r: Route): string {
  if (r.kind === 'stream') return r.sni?.length ? `${listenText(r.listen)} sni=${r.sni.join(',')}` : listenText(r.listen);
  return r.domains.join(',');
}
function target(r: Route): string {
  if (r.kind === 'redirect') return redirectText(r.redirect);
  if (r.kind === 'dead') return '(dead end)';
  return r.upstreams.map(formatHostPort).join(',');
}

export function routeRow(r: Route, names: Map<string, string> = new Map()): string[] {
  const node = r.nodeId === null ? (names.get('local') ?? 'local') : (names.get(r.nodeId) ?? r.nodeId);
  return [r.id, r.kind, dash(where(r)), dash(target(r)), node, r.tls, yesNo(r.enabled), r.scope, r.origin, dash(r.lastError)];
}

/** A route the node cannot serve says so when it is created or changed, not only in a later listing. */
function withWarning(r: Route, table: string): string {
  return r.lastError ? `${table}warning: ${r.lastError}\n` : table;
}

/** Each upstream with Caddy's verdict: `10.0.0.5:80 healthy; /api → 10.0.0.7:80 unhealthy (3 failed requests)`. */
export function upstreamHealthText(r: Route): string {
  const checks = r.options?.healthChecks;
  if (!checks?.active && !checks?.passive) return 'not checked (no health checks)';
  return (r.upstreamHealth ?? [])
    .map((u) => {
      const verdict = u.healthy === null ? 'unknown' : u.healthy ? 'healthy' : 'unhealthy';
      const fails = u.fails ? ` (${u.fails} failed request${u.fails === 1 ? '' : 's'})` : '';
      return `${u.location ? `${u.location} → ` : ''}${formatHostPort(u)} ${verdict}${fails}`;
    })
    .join('; ');
}

/**
 * Caddy's verdicts in a table cell: `2/3 healthy`, `unknown` while nothing is known, `1/2 healthy, 1 unknown`;
 * empty when the route has no health checks (Caddy then judges nothing).
 */
export function upstreamHealthSummary(r: Route): string {
  const checks = r.options?.healthChecks;
  if (!r.upstreamHealth?.length || (!checks?.active && !checks?.passive)) return '';
  const total = r.upstreamHealth.length;
  const healthy = r.upstreamHealth.filter((u) => u.healthy === true).length;
  const unknown = r.upstreamHealth.filter((u) => u.healthy === null).length;
  if (unknown === total) return 'unknown';
  return `${healthy}/${total} healthy${unknown ? `, ${unknown} unknown` : ''}`;
}

function routeDetails(r: Route): string {
  const pairs: [string, string][] = [
    ['ID', r.id],
    ['Kind', r.kind],
  ];
  if (r.kind === 'stream') pairs.push(['Listen', listenText(r.listen)], ['TLS server names', r.sni?.join(', ') || 'any (whole port)'], ['PROXY protocol', r.proxyProtocol ?? 'off']);
  else pairs.push(['Domains', r.domains.join(', ')]);
  if (r.kind === 'proxy' || r.kind === 'stream') pairs.push(['Upstreams', r.upstreams.map(formatHostPort).join(', ')]);
  if (r.kind === 'proxy') pairs.push(...optionPairs(r.options));
  if (r.upstreamHealth) pairs.push(['Upstream health', upstreamHealthText(r)]);
  if (r.kind === 'redirect' && r.redirect) {
    pairs.push(
      ['Redirect to', r.redirect.to],
      ['Status', String(r.redirect.status)],
      ['Preserve path', yesNo(r.redirect.preservePath)],
      ['HTTP port only', yesNo(r.tls === 'off')],
    );
  }
  pairs.push(
    ['Node', r.nodeId ?? 'local'],
    ['Problem', dash(r.lastError)],
    ['Site', r.siteId],
    ['TLS', r.tls],
    ['Enabled', yesNo(r.enabled)],
    ['Scope', r.scope],
    ['Origin', r.origin],
    ['Revision', String(r.revision)],
    ['Created', r.createdAt],
    ['Updated', r.updatedAt],
  );
  return renderKeyValue(pairs);
}

export function registerRoutes(program: Command, ctx: CliContext): void {
  const group = withApiOptions(program.command('routes').description('list and manage routes (proxy, redirect, stream, dead)'));

  const create = async (cmd: Command, body: Record<string, unknown>) => {
    const { client, print } = ctx.api(cmd);
    const route = await client.post<Route>('/routes', body);
    const nodes = print.json ? new Map() : await nodesById(client);
    print.result(route, () => withWarning(route, renderTable(SERVED_ROUTE_HEADERS, [servedRow(route, nodes)])));
  };

  group
    .command('list')
    .alias('ls')
    .description('list routes')
    .addOption(new Option('--node <id>', 'only the routes of this node ("local" for the local node)'))
    .addOption(new Option('--site <id>', 'only the routes of this site'))
    .addOption(new Option('--kind <kind>', 'only routes of this kind').choices(ROUTE_KINDS))
    .action(async (opts: { node?: string; site?: string; kind?: string }, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const [routes, nodes] = await Promise.all([
        client.get<Route[]>('/routes', { nodeId: opts.node, siteId: opts.site, kind: opts.kind }),
        print.json ? new Map<string, FleetNode>() : nodesById(client),
      ]);
      print.list(routes, SERVED_ROUTE_HEADERS, (r: Route) => servedRow(r, nodes), 'no routes');
    });

  group
    .command('show')
    .description('show one route')
    .argument('<id>', 'route id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const [route, nodes] = await Promise.all([client.get<Route>(`/routes/${encodeURIComponent(id)}`), nodesById(client)]);
      print.result(route, () => routeDetails(route) + renderKeyValue([['Status', routeServing(route, nodes.get(route.nodeId ?? 'local')).text]]));
    });

  group
    .command('rm')
    .alias('delete')
    .description('delete a route')
    .argument('<id>', 'route id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      await client.delete(`/routes/${encodeURIComponent(id)}`);
      print.result({ id, deleted: true }, () => `deleted route ${id}\n`);
    });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    group
      .command(name)
      .description(`${name} a route`)
      .argument('<id>', 'route id')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const { client, print } = ctx.api(cmd);
        const route = await client.patch<Route>(`/routes/${encodeURIComponent(id)}`, { enabled });
        const nodes = print.json ? new Map() : await nodesById(client);
        print.result(route, () => withWarning(route, renderTable(SERVED_ROUTE_HEADERS, [servedRow(route, nodes)])));
      });
  }

  group
    .command('maintenance')
    .description('switch the maintenance page (503) of a proxy host on or off')
    .argument('<id>', 'route id')
    .argument('<state>', 'on or off')
    .action(async (id: string, state: string, _opts: unknown, cmd: Command) => {
      if (state !== 'on' && state !== 'off') throw new UsageError(`state must be on or off, got ${JSON.stringify(state)}`);
      const { client, print } = ctx.api(cmd);
      const path = `/routes/${encodeURIComponent(id)}`;
      const current = await client.get<Route>(path);
      const { maintenance: _m, ...rest } = current.options ?? {};
      const options = state === 'on' ? { ...rest, maintenance: true } : Object.keys(rest).length ? rest : null;
      const route = await client.patch<Route>(path, { options });
      print.result(route, () => renderTable(ROUTE_HEADERS, [routeRow(route)]));
    });

  const add = group.command('add').description('create a route: add proxy|redirect|stream|dead [options]');
  registerAddKinds(add, 'caddyfleet routes', true, create);
}
