/**
 * `caddyfleet-agent`: the self-contained agent (a Node single executable built by scripts/build-agent.mjs).
 * `run` (the default) runs the agent with the same options as `caddyfleet agent`; `install` and `uninstall`
 * set it up as a systemd service on a Debian/Ubuntu host.
 */
import { Command, CommanderError, Option } from 'commander';
import { createSay } from '../install/console';
import { install } from '../install/install';
import { readTokenFrom } from '../install/token-input';
import { uninstall } from '../install/uninstall';
import { AGENT_VERSION } from '../version';
import { addAgentOptions, agentFlags } from './agent-flags';
import { describeError, EXIT_CONFIG } from './exit';
import { runAgent } from './run';

function buildProgram(): Command {
  const program = new Command('caddyfleet-agent');
  program
    .description('caddyfleet agent: keeps this host\'s Caddy serving the routes the controller assigns to this node')
    .version(AGENT_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)');

  const runCmd = program
    .command('run', { isDefault: true })
    .description('run the agent (the default command): enroll on first start, then keep Caddy serving this node\'s routes');
  addAgentOptions(runCmd).action(async (opts: Record<string, unknown>) => {
    process.exitCode = await runAgent(agentFlags(opts));
  });

  const installCmd = program
    .command('install')
    .description('as root on Debian/Ubuntu: install Caddy if missing, this binary, a config and a hardened systemd unit; enroll; start')
    .addHelpText('after', '\nThe token is best passed in the environment or on stdin: --token is visible in the process list.\n' +
      'Example:\n  CADDYFLEET_ENROLLMENT_TOKEN=cfe_… caddyfleet-agent install --controller https://fleet.example.com\n');
  addAgentOptions(installCmd, ['controller', 'token', 'caddyBin', 'name', 'httpListen', 'httpsListen'])
    .addOption(new Option('--token-stdin', 'read the enrollment token from stdin'))
    .addOption(new Option('--node-id <id>', 'SSH provisioning: the node id the controller created (with --agent-key-stdin, instead of a token)'))
    .addOption(new Option('--agent-key-stdin', "read that node's pre-shared agent key from stdin"))
    .addOption(new Option('--no-start', 'write the binary, config and unit, but do not start the service'))
    .addOption(new Option('--wait <seconds>', 'how long to wait for the agent to connect').default('60'))
    .action(async (opts: { controller?: string; token?: string; tokenStdin?: boolean; name?: string; httpListen?: string; httpsListen?: string; wait: string; nodeId?: string; agentKeyStdin?: boolean; caddyBin?: string; start: boolean }) => {
      const say = createSay();
      if (opts.token && opts.tokenStdin) throw new CommanderError(2, 'usage', 'give the token with --token (or CADDYFLEET_ENROLLMENT_TOKEN) or --token-stdin, not both');
      if ((opts.nodeId === undefined) !== (opts.agentKeyStdin !== true)) throw new CommanderError(2, 'usage', '--node-id and --agent-key-stdin go together');
      if (opts.nodeId && (opts.token || opts.tokenStdin)) throw new CommanderError(2, 'usage', 'give an enrollment token or --node-id with --agent-key-stdin, not both');
      if (opts.token && installCmd.getOptionValueSource('token') === 'cli') {
        say('warning: --token is visible in the process list; prefer CADDYFLEET_ENROLLMENT_TOKEN or --token-stdin');
      }
      const wait = Number(opts.wait);
      if (!Number.isInteger(wait) || wait < 0 || wait > 3600) throw new CommanderError(2, 'usage', '--wait must be a whole number of seconds (0-3600)');
      await install(
        {
          controller: opts.controller,
          caddyBin: opts.caddyBin,
          token: opts.token,
          readToken: opts.tokenStdin ? () => readTokenFrom(process.stdin) : undefined,
          name: opts.name,
          httpListen: opts.httpListen,
          httpsListen: opts.httpsListen,
          waitSeconds: wait,
          nodeId: opts.nodeId,
          readAgentKey: opts.agentKeyStdin ? () => readTokenFrom(process.stdin) : undefined,
          start: opts.start,
        },
        say,
      );
    });

  program
    .command('uninstall')
    .description('as root: stop and remove the service, the binary, the config and the node\'s key (Caddy\'s package and certificates stay)')
    .addOption(new Option('--purge', 'also remove the state dir (certificates, local routes) and the caddyfleet-agent user'))
    .action(async (opts: { purge?: boolean }) => {
      await uninstall({ purge: opts.purge === true }, createSay());
    });

  program
    .command('version')
    .description('print the version')
    .action(() => {
      process.stdout.write(`caddyfleet-agent ${AGENT_VERSION} (Node.js ${process.version}, ${process.platform}-${process.arch})\n`);
    });
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'usage') process.stderr.write(`caddyfleet-agent: error: ${err.message}\n`);
      // Commander printed help, the version, or its own usage error already.
      return err.exitCode;
    }
    const { message, code } = describeError(err);
    process.stderr.write(`caddyfleet-agent: error: ${message}\n`);
    return code === EXIT_CONFIG ? EXIT_CONFIG : 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Nothing should be left running once a command has finished; if something is, do not hang.
  setTimeout(() => process.exit(code), 5_000).unref();
});
