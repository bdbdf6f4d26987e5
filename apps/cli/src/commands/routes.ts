/** `caddyfleet routes …`: proxy, redirect, stream and dead routes. */
import { Command, Option } from 'commander';
import { ROUTE_KINDS, type Route } from '@caddyfleet/protocol';
import { withApiOptions, type CliContext } from '../context';
import { collect, collectHostPort, formatHostPort, parseListen, type HostPort } from '../parse';
import { dash, renderKeyValue, renderTable, yesNo } from '../output';

export const ROUTE_HEADERS = ['ID', 'KIND', 'DOMAINS/LISTEN', 'UPSTREAMS/TARGET', 'NODE', 'TLS', 'ENABLED', 'SCOPE', 'ORIGIN'];

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

export function routeRow(r: Route): string[] {
  return [r.id, r.kind, dash(where(r)), dash(target(r)), r.nodeId ?? 'local', r.tls, yesNo(r.enabled), r.scope, r.origin];
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

const nodeOption = () => new Option('--node <id>', 'node that serves the route: a node id, or "local" for the controller\'s local node (default)');
const tlsOption = () => new Option('--tls <mode>', 'TLS: auto (ACME), internal (local CA) or off (plain HTTP); server default: auto').choices(['auto', 'internal', 'off']);
const domainOption = () =>
  new Option('--domain <host>', 'domain to serve, repeatable (or comma-separated); *.example.com allowed').argParser(collect).makeOptionMandatory();
const upstreamOption = (example: string) =>
  new Option('--upstream <host:port>', `upstream, repeatable (e.g. ${example}; IPv6 as [::1]:80)`).argParser(collectHostPort).makeOptionMandatory();
const disabledOption = () => new Option('--disabled', 'create the route disabled');

interface CommonAdd {
  node?: string;
  disabled?: boolean;
  tls?: string;
}

/** The fields every kind shares; only what the user gave is sent (the server applies its defaults). */
function common(opts: CommonAdd): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (opts.node !== undefined) body.nodeId = opts.node === 'local' ? null : opts.node;
  if (opts.disabled) body.enabled = false;
  if (opts.tls !== undefined) body.tls = opts.tls;
  return body;
}

export function registerRoutes(program: Command, ctx: CliContext): void {
  const group = withApiOptions(program.command('routes').description('list and manage routes (proxy, redirect, stream, dead)'));

  const create = async (cmd: Command, body: Record<string, unknown>) => {
    const { client, print } = ctx.api(cmd);
    const route = await client.post<Route>('/routes', body);
    print.result(route, () => renderTable(ROUTE_HEADERS, [routeRow(route)]));
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
      print.list(routes, ROUTE_HEADERS, routeRow, 'no routes');
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
        print.result(route, () => renderTable(ROUTE_HEADERS, [routeRow(route)]));
      });
  }

  const add = group.command('add').description('create a route: add proxy|redirect|stream|dead [options]');

  add
    .command('proxy')
    .description('reverse-proxy domains to upstreams')
    .addOption(domainOption())
    .addOption(upstreamOption('127.0.0.1:3000'))
    .addOption(nodeOption())
    .addOption(tlsOption())
    .addOption(disabledOption())
    .addHelpText('after', '\nExample:\n  caddyfleet routes add proxy --domain app.example.com --upstream 127.0.0.1:3000 --upstream 127.0.0.1:3001\n')
    .action(async (opts: CommonAdd & { domain: string[]; upstream: HostPort[] }, cmd: Command) =>
      create(cmd, { kind: 'proxy', domains: opts.domain, upstreams: opts.upstream, ...common(opts) }),
    );

  add
    .command('redirect')
    .description('redirect domains to a URL')
    .addOption(domainOption())
    .addOption(new Option('--to <url>', 'absolute http(s) URL to redirect to').makeOptionMandatory())
    .addOption(new Option('--status <code>', 'HTTP status (server default: 301)').choices(['301', '302', '307', '308']))
    .addOption(new Option('--no-preserve-path', 'redirect every path to the target as is, instead of appending the request path'))
    .addOption(nodeOption())
    .addOption(tlsOption())
    .addOption(disabledOption())
    .addHelpText('after', '\nExample:\n  caddyfleet routes add redirect --domain old.example.com --to https://new.example.com --status 308\n')
    .action(async (opts: CommonAdd & { domain: string[]; to: string; status?: string; preservePath: boolean }, cmd: Command) => {
      const redirect: Record<string, unknown> = { to: opts.to };
      if (opts.status !== undefined) redirect.status = Number(opts.status);
      if (cmd.getOptionValueSource('preservePath') === 'cli') redirect.preservePath = opts.preservePath;
      await create(cmd, { kind: 'redirect', domains: opts.domain, redirect, ...common(opts) });
    });

  add
    .command('stream')
    .description('forward a TCP or UDP port to upstreams (layer 4)')
    .addOption(new Option('--listen <port[/proto]>', 'port to listen on, with optional protocol: 5432, 5432/tcp or 53/udp').argParser(parseListen).makeOptionMandatory())
    .addOption(upstreamOption('db.internal:5432'))
    .addOption(nodeOption())
    .addOption(disabledOption())
    .addHelpText('after', '\nExample:\n  caddyfleet routes add stream --listen 5432/tcp --upstream 10.0.0.5:5432\n')
    .action(async (opts: CommonAdd & { listen: ReturnType<typeof parseListen>; upstream: HostPort[] }, cmd: Command) =>
      create(cmd, { kind: 'stream', listen: opts.listen, upstreams: opts.upstream, ...common(opts) }),
    );

  add
    .command('dead')
    .description('answer requests for domains with a 404 page (a parked or retired domain)')
    .addOption(domainOption())
    .addOption(nodeOption())
    .addOption(tlsOption())
    .addOption(disabledOption())
    .addHelpText('after', '\nExample:\n  caddyfleet routes add dead --domain old.example.com\n')
    .action(async (opts: CommonAdd & { domain: string[] }, cmd: Command) => create(cmd, { kind: 'dead', domains: opts.domain, ...common(opts) }));
}
