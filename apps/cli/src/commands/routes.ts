/** `caddyfleet routes …`: proxy, redirect, stream and dead routes. */
import { Command, Option } from 'commander';
import { ROUTE_KINDS, type FleetNode, type Route } from '@caddyfleet/protocol';
import type { ApiClient } from '../api-client';
import { registerAddKinds } from './route-add';
import { withApiOptions, type CliContext } from '../context';
import { formatHostPort } from '../parse';
import { dash, renderKeyValue, renderTable, yesNo } from '../output';

export const ROUTE_HEADERS = ['ID', 'KIND', 'DOMAINS/LISTEN', 'UPSTREAMS/TARGET', 'NODE', 'TLS', 'ENABLED', 'SCOPE', 'ORIGIN', 'PROBLEM'];

/** Node id → name, for tables (ids are for scripts; people read names). */
export async function nodeNames(client: ApiClient): Promise<Map<string, string>> {
  return new Map((await client.get<FleetNode[]>('/nodes')).map((n) => [n.id, n.name]));
}

const listenText = (l: Route['listen']) => (l ? `${l.port}/${l.protocol}` : '');
const redirectText = (r: Route['redirect']) => (r ? `${r.status} ${r.to}${r.preservePath ? '' : ' (path dropped)'}` : '');

function where(r: Route): string {
  return r.kind === 'stream' ? listenText(r.listen) : r.domains.join(',');
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

function routeDetails(r: Route): string {
  const pairs: [string, string][] = [
    ['ID', r.id],
    ['Kind', r.kind],
  ];
  if (r.kind === 'stream') pairs.push(['Listen', listenText(r.listen)]);
  else pairs.push(['Domains', r.domains.join(', ')]);
  if (r.kind === 'proxy' || r.kind === 'stream') pairs.push(['Upstreams', r.upstreams.map(formatHostPort).join(', ')]);
  if (r.kind === 'redirect' && r.redirect) {
    pairs.push(['Redirect to', r.redirect.to], ['Status', String(r.redirect.status)], ['Preserve path', yesNo(r.redirect.preservePath)]);
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
    const names = print.json ? new Map<string, string>() : await nodeNames(client);
    print.result(route, () => withWarning(route, renderTable(ROUTE_HEADERS, [routeRow(route, names)])));
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
      const routes = await client.get<Route[]>('/routes', { nodeId: opts.node, siteId: opts.site, kind: opts.kind });
      const names = print.json ? new Map<string, string>() : await nodeNames(client);
      print.list(routes, ROUTE_HEADERS, (r) => routeRow(r, names), 'no routes');
    });

  group
    .command('show')
    .description('show one route')
    .argument('<id>', 'route id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const route = await client.get<Route>(`/routes/${encodeURIComponent(id)}`);
      print.result(route, () => routeDetails(route));
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
        const names = print.json ? new Map<string, string>() : await nodeNames(client);
        print.result(route, () => withWarning(route, renderTable(ROUTE_HEADERS, [routeRow(route, names)])));
      });
  }

  const add = group.command('add').description('create a route: add proxy|redirect|stream|dead [options]');
  registerAddKinds(add, 'caddyfleet routes', true, create);
}
