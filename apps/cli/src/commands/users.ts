/** `caddyfleet users …` and `caddyfleet sessions …`: accounts after they exist, and signed-in sessions. */
import { Command, Option } from 'commander';
import type { ApiClient } from '../api-client';
import { withApiOptions, type CliContext } from '../context';
import { UsageError } from '../errors';
import { ago } from '../output';
import { readAll } from './login';

interface User {
  id: string;
  username: string;
  role: string;
  createdAt: string;
}

interface Session {
  id: string;
  userId: string;
  username: string;
  createdAt: string;
  expiresAt: string;
  current: boolean;
}

/** A user id as given, or the id of the user with that name. */
async function userId(client: ApiClient, idOrName: string): Promise<string> {
  if (/^usr_[0-9a-f]+$/.test(idOrName)) return idOrName;
  const user = (await client.get<User[]>('/users')).find((u) => u.username === idOrName);
  if (!user) throw new UsageError(`no user named ${idOrName}`, 'list them with `caddyfleet users list`');
  return user.id;
}

/** Lines of standard input (without line ends); `count` lines are required. */
async function stdinLines(stream: NodeJS.ReadableStream, count: number, what: string): Promise<string[]> {
  const lines = (await readAll(stream)).split(/\r?\n/);
  const wanted = lines.slice(0, count);
  if (wanted.length < count || wanted.some((l) => l === '')) throw new UsageError(`expected ${what} on standard input`);
  return wanted;
}

export function registerUsers(program: Command, ctx: CliContext): void {
  const users = withApiOptions(program.command('users').description('manage users (admins), change your own password'));

  users
    .command('list')
    .alias('ls')
    .description('list users')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const list = await client.get<User[]>('/users');
      print.list(list, ['ID', 'USERNAME', 'ROLE', 'CREATED'], (u) => [u.id, u.username, u.role, u.createdAt], 'no users');
    });

  users
    .command('add')
    .description('add a user; the password is read from standard input')
    .argument('<username>', 'letters, digits, dot, dash and underscore')
    .addOption(new Option('--role <role>', 'admin or viewer').choices(['admin', 'viewer']).default('viewer'))
    .requiredOption('--password-stdin', 'read the password (12+ characters) from standard input')
    .action(async (username: string, opts: { role: string }, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const [password] = await stdinLines(ctx.io.stdin, 1, 'the password');
      const user = await client.post<User>('/users', { username, password, role: opts.role });
      print.result(user, () => `added ${user.role} ${user.username} (${user.id})\n`);
    });

  users
    .command('passwd')
    .description('change your own password: standard input holds the current password, then the new one, one per line; your other sessions end')
    .requiredOption('--password-stdin', 'read both passwords from standard input')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const [currentPassword, newPassword] = await stdinLines(ctx.io.stdin, 2, 'the current and the new password, one per line');
      const res = await client.post<{ endedSessions: number }>('/auth/password', { currentPassword, newPassword });
      print.result(res, () => `password changed; ${res.endedSessions} other session(s) ended (API tokens stay valid)\n`);
    });

  users
    .command('reset-password')
    .description("set another user's password (read from standard input); all of their sessions end")
    .argument('<user>', 'user id or username')
    .requiredOption('--password-stdin', 'read the new password from standard input')
    .action(async (who: string, _o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const id = await userId(client, who);
      const [password] = await stdinLines(ctx.io.stdin, 1, 'the new password');
      const user = await client.patch<User>(`/users/${encodeURIComponent(id)}`, { password });
      print.result(user, () => `password of ${user.username} reset; their sessions ended\n`);
    });

  users
    .command('role')
    .description("change a user's role")
    .argument('<user>', 'user id or username')
    .argument('<role>', 'admin or viewer')
    .action(async (who: string, role: string, _o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      if (role !== 'admin' && role !== 'viewer') throw new UsageError('the role is admin or viewer');
      const user = await client.patch<User>(`/users/${encodeURIComponent(await userId(client, who))}`, { role });
      print.result(user, () => `${user.username} is now ${user.role}\n`);
    });

  users
    .command('rm')
    .description('remove a user with their sessions and API tokens (not the last admin)')
    .argument('<user>', 'user id or username')
    .action(async (who: string, _o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const id = await userId(client, who);
      await client.delete(`/users/${encodeURIComponent(id)}`);
      print.result({ id, deleted: true }, () => `removed user ${who}\n`);
    });

  const sessions = withApiOptions(program.command('sessions').description('signed-in dashboard sessions (admins see all, others their own)'));
  sessions
    .command('list')
    .alias('ls')
    .description('list sessions')
    .action(async (_o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const list = await client.get<Session[]>('/sessions');
      const now = new Date();
      print.list(list, ['ID', 'USER', 'SIGNED IN', 'EXPIRES'], (s) => [s.id, s.username, ago(s.createdAt, now), s.expiresAt], 'no sessions');
    });
  sessions
    .command('revoke')
    .alias('rm')
    .description('end a session (its dashboard is signed out and its live updates stop)')
    .argument('<id>', 'session id (ses_…)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      await client.delete(`/sessions/${encodeURIComponent(id)}`);
      print.result({ id, deleted: true }, () => `ended session ${id}\n`);
    });
}
