/** `caddyfleet login`: exchanges a username and password for an API token. Nothing is written to disk. */
import os from 'node:os';
import { Command, Option } from 'commander';
import { ApiClient } from '../api-client';
import { withApiOptions, type CliContext } from '../context';
import { CliError, UsageError } from '../errors';

interface LoginOptions {
  url: string;
  json?: boolean;
  username: string;
  password?: string;
  passwordStdin?: boolean;
  tokenName?: string;
}

const SESSION_COOKIE = 'cf_session';

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The `name=value` pair of the session cookie from the login response. */
function sessionCookieOf(headers: Headers): string | undefined {
  for (const header of headers.getSetCookie()) {
    const pair = header.split(';', 1)[0]?.trim();
    if (pair?.startsWith(`${SESSION_COOKIE}=`)) return pair;
  }
  return undefined;
}

/** Single-quotes a value for a POSIX shell when it contains anything beyond a safe set. */
function shellQuote(v: string): string {
  return /^[A-Za-z0-9_.:/=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function defaultTokenName(): string {
  return `cli-${os.hostname()}`.slice(0, 100);
}

export function registerLogin(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('login')
    .description('log in with a username and password and create an API token for the CLI (prints it; writes no files)')
    .addOption(new Option('--username <name>', 'user to log in as').default('admin'))
    .addOption(new Option('--password <password>', 'the password (visible in the process list; prefer --password-stdin)').conflicts('passwordStdin'))
    .addOption(new Option('--password-stdin', 'read the password from standard input'))
    .addOption(new Option('--token-name <name>', 'name of the API token to create').default(defaultTokenName(), 'cli-<hostname>'));
  withApiOptions(cmd, { token: false });
  cmd.addHelpText(
    'after',
    '\nExample:\n  printf %s "$PASSWORD" | caddyfleet login --password-stdin\n  eval "$(caddyfleet login --password-stdin < password-file)"   # sets CADDYFLEET_TOKEN in this shell\n',
  );
  cmd.action(async (_opts: LoginOptions, command: Command) => {
    const opts = command.optsWithGlobals<LoginOptions>();
    const { io } = ctx;
    let password: string;
    if (opts.passwordStdin) {
      password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
      if (!password) throw new UsageError('no password on standard input');
    } else if (opts.password !== undefined) {
      password = opts.password;
    } else {
      throw new UsageError('give the password with --password-stdin (recommended) or --password');
    }
    const print = ctx.printer(command);

    const anonymous = new ApiClient({ baseUrl: opts.url, fetch: io.fetch });
    const login = await anonymous.request<{ user: { id: string; username: string; role: string } }>('POST', '/auth/login', {
      body: { username: opts.username, password },
    });
    const cookie = sessionCookieOf(login.headers);
    if (!cookie) throw new CliError('the controller accepted the login but sent no session cookie');

    const session = new ApiClient({ baseUrl: opts.url, cookie, fetch: io.fetch });
    const name = opts.tokenName ?? defaultTokenName();
    const created = await session.post<{ id: string; token: string }>('/tokens', { name });
    // The session was only needed to create the token; end it (best effort).
    await session.request('POST', '/auth/logout').catch(() => undefined);

    const user = login.data.user;
    if (print.json) {
      print.result({ id: created.id, name, token: created.token, user, url: anonymous.baseUrl }, () => '');
      return;
    }
    // Explanations on stderr, the export line(s) on stdout: `eval "$(caddyfleet login …)"` works.
    io.stderr.write(
      `Logged in to ${anonymous.baseUrl} as ${user.username} (${user.role}). Created API token "${name}" (${created.id}).\n` +
        'The token is shown only once. Use it with:\n',
    );
    io.stdout.write(`export CADDYFLEET_TOKEN=${shellQuote(created.token)}\n`);
    if (command.getOptionValueSourceWithGlobals('url') === 'cli') {
      io.stdout.write(`export CADDYFLEET_URL=${shellQuote(anonymous.baseUrl)}\n`);
    }
  });
}
