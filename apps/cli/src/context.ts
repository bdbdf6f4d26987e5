/** What every command gets: the I/O streams and helpers to read the shared API options. */
import { Command, Option } from 'commander';
import { ApiClient, DEFAULT_URL } from './api-client';
import { Printer, type Writer } from './output';

export interface CliIO {
  stdout: Writer;
  stderr: Writer;
  /** Read by `login --password-stdin`. */
  stdin: NodeJS.ReadableStream;
  /** Environment for options commander does not read itself (CADDYFLEET_JSON). Commander reads process.env. */
  env: NodeJS.ProcessEnv;
  /** Resolves when a role command should shut down (default: first SIGINT, SIGTERM or SIGHUP). */
  waitForShutdown: () => Promise<string>;
  fetch?: typeof fetch;
}

export interface ApiOptions {
  url: string;
  token?: string;
  json?: boolean;
}

export interface CliContext {
  io: CliIO;
  /** The API client and printer for the command being run, from its (inherited) --url/--token/--json. */
  api(cmd: Command): { client: ApiClient; print: Printer; opts: ApiOptions };
  printer(cmd: Command): Printer;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());

export function createContext(io: CliIO): CliContext {
  const printer = (cmd: Command) => {
    const opts = cmd.optsWithGlobals<Partial<ApiOptions>>();
    return new Printer(io.stdout, opts.json === true || truthy(io.env.CADDYFLEET_JSON));
  };
  return {
    io,
    printer,
    api(cmd) {
      const opts = cmd.optsWithGlobals<ApiOptions>();
      const client = new ApiClient({ baseUrl: opts.url, token: opts.token, fetch: io.fetch });
      return { client, print: printer(cmd), opts };
    },
  };
}

/**
 * Adds the options shared by all API commands to a top-level command group (`routes`, `nodes`, …). They are
 * defined on each group rather than on the program so that they work anywhere after the group name
 * (`caddyfleet routes list --json`) without clashing with role options (`caddyfleet agent --token`).
 */
export function withApiOptions(cmd: Command, { token = true }: { token?: boolean } = {}): Command {
  cmd.addOption(new Option('--url <url>', 'controller URL').env('CADDYFLEET_URL').default(DEFAULT_URL).helpGroup('API options:'));
  if (token) {
    cmd.addOption(
      new Option('--token <token>', 'API token, sent as "Authorization: Bearer …" (create one with `caddyfleet login`)')
        .env('CADDYFLEET_TOKEN')
        .helpGroup('API options:'),
    );
  }
  cmd.addOption(new Option('--json', 'print raw JSON instead of tables (env: CADDYFLEET_JSON=1)').helpGroup('API options:'));
  return cmd;
}
