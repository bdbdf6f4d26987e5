/** `caddyfleet nodes …`: the servers of the fleet (agents and the controller's local node). */
import { Command, Option } from 'commander';
import type { z } from 'zod';
import { nodeSync, type FleetNode, type NodeDeleted, type Route, type nodeCertificatesSchema } from '@caddyfleet/protocol';
import { withApiOptions, type CliContext } from '../context';
import { ago, dash, renderKeyValue, renderTable, yesNo } from '../output';
import { registerProvision } from './provision';

export const NODE_HEADERS = ['ID', 'NAME', 'HOSTNAME', 'STATUS', 'CADDY', 'LAST SEEN', 'ROUTES', 'CERTS', 'IN SYNC', 'PROBLEMS'];

/** Routes a node cannot serve as it was told to (unsupported there, local conflicts), per node id. */
function problemsByNode(routes: Route[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of routes) if (r.lastError) out.set(r.nodeId ?? 'local', (out.get(r.nodeId ?? 'local') ?? 0) + 1);
  return out;
}

function problemText(n: FleetNode, routeProblems: number | undefined): string {
  const parts: string[] = [];
  if (n.lastError) parts.push(n.lastError);
  if (routeProblems) parts.push(`${routeProblems} route${routeProblems === 1 ? '' : 's'} not served (see routes list)`);
  return dash(parts.join('; '));
}

export function inSync(n: Pick<FleetNode, 'appliedRevision' | 'desiredRevision' | 'lastSeenAt'>): string {
  if (nodeSync(n) === 'never_connected') return 'never connected';
  return `${yesNo(n.appliedRevision >= n.desiredRevision)} (${n.appliedRevision}/${n.desiredRevision})`;
}

export function nodeRow(n: FleetNode, now = new Date(), routeProblems?: number): string[] {
  return [
    n.id,
    n.name,
    n.hostname,
    n.status,
    dash(n.caddyVersion),
    ago(n.lastSeenAt, now),
    String(n.routeCount),
    String(n.certCount),
    inSync(n),
    problemText(n, routeProblems),
  ];
}

function nodeDetails(n: FleetNode): string {
  return renderKeyValue([
    ['ID', n.id],
    ['Name', n.name],
    ['Site', n.siteId],
    ['Hostname', n.hostname],
    ['Local node', yesNo(n.isLocal)],
    ['Status', n.status],
    ['Caddy', dash(n.caddyVersion)],
    ['Caddy modules', n.caddyModules ? `${n.caddyModules.length} (layer4: ${yesNo(n.caddyModules.includes('layer4'))})` : 'unknown'],
    ['Listeners', n.listeners ? `http ${n.listeners.http}, https ${n.listeners.https}` : 'unknown'],
    ['Agent', dash(n.agentVersion)],
    ['Last seen', n.lastSeenAt ? `${n.lastSeenAt} (${ago(n.lastSeenAt)})` : 'never'],
    ['Routes', String(n.routeCount)],
    ['Certificates', String(n.certCount)],
    ['In sync', `${inSync(n)}  applied/desired revision`],
    ['Last error', dash(n.lastError)],
    ['Created', n.createdAt],
    ['Updated', n.updatedAt],
  ]);
}

export function registerNodes(program: Command, ctx: CliContext): void {
  const group = withApiOptions(program.command('nodes').description('list and manage nodes (servers running an agent, and the local node)'));

  group
    .command('list')
    .alias('ls')
    .description('list nodes')
    .addOption(new Option('--site <id>', 'only the nodes of this site'))
    .action(async (opts: { site?: string }, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const nodes = await client.get<FleetNode[]>('/nodes', { siteId: opts.site });
      const problems = print.json ? new Map<string, number>() : problemsByNode(await client.get<Route[]>('/routes', { siteId: opts.site }));
      const now = new Date();
      print.list(nodes, NODE_HEADERS, (n) => nodeRow(n, now, problems.get(n.id)), 'no nodes');
    });

  group
    .command('show')
    .description('show one node')
    .argument('<id>', 'node id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const node = await client.get<FleetNode>(`/nodes/${encodeURIComponent(id)}`);
      print.result(node, () => nodeDetails(node));
    });

  group
    .command('certs')
    .alias('certificates')
    .description("the certificates the node's Caddy holds, soonest expiry first")
    .argument('<id>', 'node id ("local" for the controller\'s local node)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const view = await client.get<z.infer<typeof nodeCertificatesSchema>>(`/nodes/${encodeURIComponent(id)}/certificates`);
      const empty = view.reportedAt ? 'no certificates' : 'no certificates reported yet';
      print.result(view, () =>
        view.certificates.length === 0
          ? empty + '\n'
          : renderTable(
              ['NAMES', 'ISSUER', 'KIND', 'NOT AFTER'],
              view.certificates.map((c) => [c.subjects.join(','), c.issuer, c.kind, c.notAfter]),
            ),
      );
    });

  group
    .command('revoke')
    .description("revoke a node's agent key and disconnect it (the node must enroll again)")
    .argument('<id>', 'node id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const node = await client.post<FleetNode>(`/nodes/${encodeURIComponent(id)}/revoke`);
      print.result(node, () => `revoked the agent key of node ${id}\n` + renderTable(NODE_HEADERS, [nodeRow(node)]));
    });

  group
    .command('rm')
    .alias('delete')
    .description('delete a node: its routes move to the local node, its agent key is revoked; prints the commands that remove the agent from the host')
    .argument('<id>', 'node id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const result = await client.delete<NodeDeleted>(`/nodes/${encodeURIComponent(id)}`);
      print.result({ id, deleted: true, ...result }, () => {
        const moved = result.reassignedRoutes.map((r) => `  ${r.id}  ${r.domains.join(', ') || (r.listen ? `${r.listen.port}/${r.listen.protocol}` : '')}${r.enabled ? '' : `  (disabled: ${r.lastError ?? ''})`}`);
        return (
          `deleted node ${id}\n` +
          (moved.length ? `${moved.length} route(s) moved to the local node:\n${moved.join('\n')}\n` : '') +
          `to remove the agent from the host, run there:\n${result.uninstall.map((c) => `  ${c}`).join('\n')}\n`
        );
      });
    });

  registerProvision(group, ctx);
}
