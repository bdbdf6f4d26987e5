/**
 * The four `add` subcommands (proxy, redirect, stream, dead), shared by `caddyfleet routes add` (central API) and
 * `caddyfleet agent routes add` (an agent's local API): same flags, same request body.
 */
import { Command, Option } from 'commander';
import { collect, collectHostPort, parseListen, type HostPort } from '../parse';
import { UsageError } from '../errors';
import { addProxyOptionFlags, proxyOptionsFrom, type ProxyOptionFlags } from './proxy-options';

const nodeOption = () =>
  new Option('--node <id>', 'node that serves the route: a node id, or "local" for the controller\'s local node (default)');
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

/**
 * A redirection host on the HTTP port only is one with TLS off (Caddy's HTTPS server then leaves its names alone);
 * the flag says so in the words people look for, so it must not contradict --tls.
 */
export function redirectTls(opts: { tls?: string; httpPortOnly?: boolean }): string | undefined {
  if (!opts.httpPortOnly) return opts.tls;
  if (opts.tls !== undefined && opts.tls !== 'off') {
    throw new UsageError(`--http-port-only means --tls off; it cannot be combined with --tls ${opts.tls}`);
  }
  return 'off';
}

export type CreateRoute = (cmd: Command, body: Record<string, unknown>) => Promise<void>;

/** Adds `proxy|redirect|stream|dead` under `add`; `withNode` offers --node (only the central API has nodes). */
export function registerAddKinds(add: Command, prefix: string, withNode: boolean, create: CreateRoute): void {
  const kind = (name: string, description: string) => {
    const cmd = add.command(name).description(description);
    return withNode ? cmd.addOption(nodeOption()) : cmd;
  };
  addProxyOptionFlags(
    kind('proxy', 'reverse-proxy domains to upstreams').addOption(domainOption()).addOption(upstreamOption('127.0.0.1:3000')).addOption(tlsOption()).addOption(disabledOption()),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  ${prefix} add proxy --domain app.example.com --upstream 127.0.0.1:3000 --upstream 127.0.0.1:3001 --lb least_conn\n` +
        `  ${prefix} add proxy --domain admin.example.com --upstream 127.0.0.1:8443 --upstream-https --skip-verify \\\n` +
        `      --basic-auth "alice:$(caddy hash-password --plaintext 'a long password')" --allow 10.0.0.0/8 --hsts\n`,
    )
    .action(async (opts: CommonAdd & ProxyOptionFlags & { domain: string[]; upstream: HostPort[] }, cmd: Command) => {
      const options = proxyOptionsFrom(opts);
      await create(cmd, { kind: 'proxy', domains: opts.domain, upstreams: opts.upstream, ...(options ? { options } : {}), ...common(opts) });
    });

  kind('redirect', 'redirect domains to a URL')
    .addOption(domainOption())
    .addOption(new Option('--to <url>', 'absolute http(s) URL to redirect to').makeOptionMandatory())
    .addOption(new Option('--status <code>', 'HTTP status (server default: 301)').choices(['301', '302', '307', '308']))
    .addOption(new Option('--no-preserve-path', 'redirect every path to the target as is, instead of appending the request path'))
    .addOption(tlsOption())
    .addOption(
      new Option('--http-port-only', "answer only on Caddy's HTTP port and leave HTTPS for these domains alone (e.g. to a TLS-passthrough stream); same as --tls off"),
    )
    .addOption(disabledOption())
    .addHelpText(
      'after',
      `\nExamples:\n  ${prefix} add redirect --domain old.example.com --to https://new.example.com --status 308\n` +
        `  ${prefix} add redirect --domain git.example.com --to https://git.example.com --http-port-only\n`,
    )
    .action(async (opts: CommonAdd & { domain: string[]; to: string; status?: string; preservePath: boolean; httpPortOnly?: boolean }, cmd: Command) => {
      const redirect: Record<string, unknown> = { to: opts.to };
      if (opts.status !== undefined) redirect.status = Number(opts.status);
      if (cmd.getOptionValueSource('preservePath') === 'cli') redirect.preservePath = opts.preservePath;
      await create(cmd, { kind: 'redirect', domains: opts.domain, redirect, ...common({ ...opts, tls: redirectTls(opts) }) });
    });

  kind('stream', 'forward a TCP or UDP port to upstreams (layer 4; needs Caddy with the layer4 module)')
    .addOption(new Option('--listen <port[/proto]>', 'port to listen on, with optional protocol: 5432, 5432/tcp or 53/udp').argParser(parseListen).makeOptionMandatory())
    .addOption(upstreamOption('db.internal:5432'))
    .addOption(
      new Option('--sni <name>', 'TCP only: take only TLS connections for this server name (repeatable); streams with different names share a port').argParser(collect),
    )
    .addOption(new Option('--proxy-protocol <version>', "send a PROXY protocol header with the client's address to the upstream").choices(['v1', 'v2']))
    .addOption(disabledOption())
    .addHelpText(
      'after',
      `\nExamples:\n  ${prefix} add stream --listen 5432/tcp --upstream 10.0.0.5:5432\n` +
        `  ${prefix} add stream --listen 443 --sni git.example.com --upstream 10.0.0.7:443 --proxy-protocol v2\n`,
    )
    .action(async (opts: CommonAdd & { listen: ReturnType<typeof parseListen>; upstream: HostPort[]; sni?: string[]; proxyProtocol?: string }, cmd: Command) =>
      create(cmd, {
        kind: 'stream',
        listen: opts.listen,
        upstreams: opts.upstream,
        ...(opts.sni ? { sni: opts.sni } : {}),
        ...(opts.proxyProtocol ? { proxyProtocol: opts.proxyProtocol } : {}),
        ...common(opts),
      }),
    );

  kind('dead', 'answer requests for domains with a 404 page (a parked or retired domain)')
    .addOption(domainOption())
    .addOption(tlsOption())
    .addOption(disabledOption())
    .addHelpText('after', `\nExample:\n  ${prefix} add dead --domain old.example.com\n`)
    .action(async (opts: CommonAdd & { domain: string[] }, cmd: Command) => create(cmd, { kind: 'dead', domains: opts.domain, ...common(opts) }));
}
