/**
 * `caddyfleet agent`: run an agent; `caddyfleet agent routes …`: manage that agent's local_only routes through
 * its unix-socket API. Options come from the agent's own option table, like the controller's roles.
 */
import { Command, Option } from 'commander';
import type { Route } from '@caddyfleet/protocol';
import { loadAgentOptions } from '@caddyfleet/agent/options';
import { addAgentOptions, agentFlags, agentOption } from '@caddyfleet/agent/flags';
import { AgentConfigError } from '@caddyfleet/agent/errors';
import { LocalApiClient, LocalApiError } from '@caddyfleet/agent/local-api-client';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { Printer, renderTable } from '../output';
import { registerAddKinds } from './route-add';
import { ROUTE_HEADERS, routeRow } from './routes';

export { agentFlags, agentOption };

export function registerAgent(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('agent')
    .description('run an agent on this host: enroll once, then keep the local Caddy serving this node\'s routes');
  addAgentOptions(cmd);
  cmd.addHelpText(
    'after',
    '\nExample (the token is read from a file or standard input, so that it never shows in the process list):\n' +
      '  caddyfleet agent --controller https://fleet.example.com --token-file /root/enrollment-token --state-dir /var/lib/caddyfleet-agent --caddy-bin /usr/bin/caddy\n' +
      '  printf %s "$TOKEN" | caddyfleet agent --controller https://fleet.example.com --token - --state-dir /var/lib/caddyfleet-agent --caddy-bin /usr/bin/caddy\n',
  );
  cmd.action(async (opts: Record<string, unknown>) => {
    const shutdown = ctx.io.waitForShutdown();
    let options;
    try {
      options = loadAgentOptions(agentFlags(opts));
    } catch (err) {
      if (err instanceof AgentConfigError) throw new CliError(err.message, 2);
      throw err;
    }
    const { startAgent } = await import('@caddyfleet/agent');
    const agent = await startAgent(options);
    ctx.io.stdout.write(`caddyfleet agent running as node ${agent.nodeId}\n`);
    const outcome = await Promise.race([shutdown.then((signal) => ({ reason: 'stopped', signal })), agent.done]);
    await agent.stop();
    if (outcome.reason !== 'stopped') throw new CliError(`agent stopped: ${outcome.reason}`);
    ctx.io.stderr.write('caddyfleet agent: stopped\n');
  });

  const routes = cmd
    .command('routes')
    .description('manage this host\'s local_only routes (served here, shown read-only on the controller)')
    .addOption(new Option('--json', 'print raw JSON instead of tables'))
    .addHelpText('after', '\nThe agent is found through its --state-dir (or CADDYFLEET_STATE_DIR), which holds its agent.sock.\n');
  const local = (c: Command) => {
    const { stateDir, json } = c.optsWithGlobals<{ stateDir?: string; json?: boolean }>();
    if (!stateDir) throw new CliError('--state-dir (or CADDYFLEET_STATE_DIR) is required: the agent\'s state directory', 2);
    return { client: LocalApiClient.forStateDir(stateDir), print: new Printer(ctx.io.stdout, json === true) };
  };
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof LocalApiError) throw new CliError(err.status ? `error (${err.status} ${err.code}): ${err.message}` : err.message);
      throw err;
    }
  };
  routes
    .command('list')
    .alias('ls')
    .description('list local routes')
    .action(async (_o: unknown, c: Command) => {
      const { client, print } = local(c);
      const list = await wrap(() => client.list());
      print.list(list, ROUTE_HEADERS, (r: Route) => routeRow(r), 'no local routes');
    });
  routes
    .command('rm')
    .description('delete a local route')
    .argument('<id>', 'local route id (loc_…)')
    .action(async (id: string, _o: unknown, c: Command) => {
      const { client, print } = local(c);
      await wrap(() => client.remove(id));
      print.result({ id, deleted: true }, () => `deleted local route ${id}\n`);
    });
  const add = routes.command('add').description('add a local route: add proxy|redirect|stream|dead [options]');
  registerAddKinds(add, 'caddyfleet agent routes --state-dir DIR', false, async (c, body) => {
    const { client, print } = local(c);
    const result = await wrap(() => client.add(body as never));
    print.result(result, () => {
      const note = result.applied ? '' : `note: not applied yet (${result.error ?? 'Caddy unreachable'}); it will be when Caddy is back\n`;
      const problem = result.route.lastError ? `warning: ${result.route.lastError}\n` : '';
      return renderTable(ROUTE_HEADERS, [routeRow(result.route)]) + problem + note;
    });
  });
}
