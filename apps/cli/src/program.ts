/**
 * Builds the `caddyfleet` command tree. Kept apart from main.ts so tests can run it with their own argv and
 * streams: `await buildProgram(io).parseAsync(argv, { from: 'user' })`, then `formatError(err)` on failure.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { waitForStopSignal } from '@caddyfleet/agent/stop-signals';
import { ApiError } from './api-client';
import { registerHierarchy } from './commands/hierarchy';
import { registerLogin } from './commands/login';
import { registerNodes } from './commands/nodes';
import { registerAgent } from './commands/agent';
import { registerRoleCommands } from './commands/role';
import { registerRoutes } from './commands/routes';
import { registerTokens } from './commands/tokens';
import { registerUsers } from './commands/users';
import { createContext, type CliIO } from './context';
import { CliError } from './errors';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/** Resolves on the first SIGINT, SIGTERM or SIGHUP; a second SIGINT or SIGTERM while shutting down exits at once. */
export function waitForSignal(): Promise<string> {
  return waitForStopSignal((again) => {
    process.stderr.write(`caddyfleet: ${again} received again, exiting without waiting\n`);
    process.exit(130);
  });
}

export function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, waitForShutdown: waitForSignal };
}

export function buildProgram(io: Partial<CliIO> = {}): Command {
  const ctx = createContext({ ...defaultIO(), ...io });
  const program = new Command('caddyfleet');
  program
    .description('caddyfleet: a control plane for Caddy. Run a role (standalone, server) or talk to a controller\'s API.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.io.stdout.write(s),
      writeErr: (s) => void ctx.io.stderr.write(s),
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showHelpAfterError('(add --help for usage)');

  program.commandsGroup('Roles:');
  registerRoleCommands(program, ctx);
  registerAgent(program, ctx);
  program.commandsGroup('API commands (options --url, --token, --json; see `caddyfleet routes --help`):');
  registerLogin(program, ctx);
  registerHierarchy(program, ctx);
  registerNodes(program, ctx);
  registerRoutes(program, ctx);
  registerTokens(program, ctx);
  registerUsers(program, ctx);

  program.addHelpText(
    'after',
    `
Environment:
  Every role option has a CADDYFLEET_* variable (see \`caddyfleet standalone --help\`);
  API commands read CADDYFLEET_URL, CADDYFLEET_TOKEN and CADDYFLEET_JSON.
  CADDYFLEET_DEBUG=1 adds the stack trace to an error message.

Examples:
  CADDYFLEET_ADMIN_PASSWORD=… caddyfleet standalone --data-dir ./data
  eval "$(caddyfleet login --password-stdin < password-file)"
  caddyfleet routes add proxy --domain app.example.com --upstream 127.0.0.1:3000
  caddyfleet routes list --json
`,
  );
  return program;
}

/** Readable lines for an error: its message only; the stack trace with CADDYFLEET_DEBUG=1. */
export function formatError(err: unknown, debug = process.env.CADDYFLEET_DEBUG === '1'): string {
  if (err instanceof ApiError) {
    let out = `error (${err.status} ${err.code}): ${err.message}\n`;
    out += formatDetails(err.details, err.message);
    if (err.hint) out += `hint: ${err.hint}\n`;
    return out;
  }
  if (err instanceof CliError) return `error: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`;
  if (err instanceof Error) return `error: ${err.message}\n${debug && err.stack ? err.stack.split('\n').slice(1).join('\n') + '\n' : ''}`;
  return `error: ${String(err)}\n`;
}

/** Details as indented lines; a single validation issue already spelled out in the message is not repeated. */
function formatDetails(details: unknown, message: string): string {
  if (details === undefined || details === null) return '';
  if (Array.isArray(details)) {
    const lines = details.map((d) => {
      const item = d as { path?: unknown; message?: unknown } | null;
      if (typeof item?.message === 'string') return `${typeof item.path === 'string' && item.path ? `${item.path}: ` : ''}${item.message}`;
      return JSON.stringify(d);
    });
    if (lines.length === 1 && message.endsWith(lines[0]!)) return '';
    return lines.map((l) => `  - ${l}\n`).join('');
  }
  if (typeof details === 'object') {
    return Object.entries(details as Record<string, unknown>)
      .map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`)
      .join('');
  }
  return `  ${String(details)}\n`;
}

/** The exit code for an error: commander's help/version exits keep theirs (0), usage errors are 2. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof CliError) return err.exitCode;
  return 1;
}

/**
 * Runs the CLI with `argv` (user arguments only, without `node` and the script) and returns the exit code.
 * Errors are printed to io.stderr; commander prints its own usage errors.
 */
export async function runCli(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (!(err instanceof CommanderError)) stderr.write(formatError(err));
    return exitCodeOf(err);
  }
}
