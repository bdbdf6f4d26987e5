/** `caddyfleet tokens …`: API tokens for scripts. */
import { Command } from 'commander';
import { withApiOptions, type CliContext } from '../context';
import { ago, renderKeyValue } from '../output';

interface ApiToken {
  id: string;
  name: string;
  userId: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function registerTokens(program: Command, ctx: CliContext): void {
  const group = withApiOptions(program.command('tokens').description('manage API tokens (admins see everyone\'s, others their own)'));

  group
    .command('list')
    .alias('ls')
    .description('list API tokens (never their secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const tokens = await client.get<ApiToken[]>('/tokens');
      const now = new Date();
      print.list(tokens, ['ID', 'NAME', 'USER', 'CREATED', 'LAST USED'], (t) => [t.id, t.name, t.userId, t.createdAt, ago(t.lastUsedAt, now)], 'no API tokens');
    });

  group
    .command('add')
    .description('create an API token for the signed-in user (the secret is shown only once)')
    .argument('<name>', 'a name to recognise the token by')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const created = await client.post<{ id: string; token: string }>('/tokens', { name });
      print.result({ ...created, name }, () =>
        renderKeyValue([
          ['Token', created.token],
          ['Token id', created.id],
          ['Name', name],
        ]) + `\nThe token is shown only now. Use it with:\n  export CADDYFLEET_TOKEN=${created.token}\n`,
      );
    });

  group
    .command('rm')
    .alias('revoke')
    .description('revoke an API token')
    .argument('<id>', 'token id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      await client.delete(`/tokens/${encodeURIComponent(id)}`);
      print.result({ id, deleted: true }, () => `revoked API token ${id}\n`);
    });
}
