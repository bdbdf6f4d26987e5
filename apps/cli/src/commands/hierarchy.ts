/** `caddyfleet tenants|orgs|sites …`: the tenant → organization → site hierarchy, and site enrollment tokens. */
import { Command, Option } from 'commander';
import { isLoopbackUrl, type Organization, type Site, type Tenant } from '@caddyfleet/protocol';
import { withApiOptions, type CliContext } from '../context';
import { parsePositiveInt } from '../parse';
import { renderKeyValue, renderTable } from '../output';

interface Level<T> {
  command: string;
  path: 'tenants' | 'organizations' | 'sites';
  label: string;
  headers: string[];
  row: (item: T) => string[];
  /** The parent: option name, query/body field and help. */
  parent?: { flag: string; attr: string; field: 'tenantId' | 'organizationId'; describe: string };
}

const tenants: Level<Tenant> = {
  command: 'tenants',
  path: 'tenants',
  label: 'tenant',
  headers: ['ID', 'NAME', 'CREATED'],
  row: (t) => [t.id, t.name, t.createdAt],
};
const orgs: Level<Organization> = {
  command: 'orgs',
  path: 'organizations',
  label: 'organization',
  headers: ['ID', 'NAME', 'TENANT', 'CREATED'],
  row: (o) => [o.id, o.name, o.tenantId, o.createdAt],
  parent: { flag: '--tenant <id>', attr: 'tenant', field: 'tenantId', describe: 'tenant id' },
};
const sites: Level<Site> = {
  command: 'sites',
  path: 'sites',
  label: 'site',
  headers: ['ID', 'NAME', 'ORGANIZATION', 'CREATED'],
  row: (s) => [s.id, s.name, s.organizationId, s.createdAt],
  parent: { flag: '--org <id>', attr: 'org', field: 'organizationId', describe: 'organization id' },
};

function registerLevel<T extends { id: string }>(program: Command, ctx: CliContext, level: Level<T>): Command {
  const group = withApiOptions(program.command(level.command).description(`manage ${level.path}`));
  const { parent } = level;

  const list = group.command('list').alias('ls').description(`list ${level.path}`);
  if (parent) list.addOption(new Option(parent.flag, `only those of this ${parent.describe}`));
  list.action(async (opts: Record<string, string | undefined>, cmd: Command) => {
    const { client, print } = ctx.api(cmd);
    const query = parent ? { [parent.field]: opts[parent.attr] } : undefined;
    const items = await client.get<T[]>(`/${level.path}`, query);
    print.list(items, level.headers, level.row, `no ${level.path}`);
  });

  const add = group.command('add').description(`create a ${level.label}`).argument('<name>', `name of the ${level.label}`);
  if (parent) add.addOption(new Option(parent.flag, `the ${parent.describe} it belongs to`).makeOptionMandatory());
  add.action(async (name: string, opts: Record<string, string | undefined>, cmd: Command) => {
    const { client, print } = ctx.api(cmd);
    const body: Record<string, unknown> = { name };
    if (parent) body[parent.field] = opts[parent.attr];
    const created = await client.post<T>(`/${level.path}`, body);
    print.result(created, () => renderTable(level.headers, [level.row(created)]));
  });

  group
    .command('rm')
    .alias('delete')
    .description(`delete an empty ${level.label}`)
    .argument('<id>', `${level.label} id`)
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      await client.delete(`/${level.path}/${encodeURIComponent(id)}`);
      print.result({ id, deleted: true }, () => `deleted ${level.label} ${id}\n`);
    });
  return group;
}

export function registerHierarchy(program: Command, ctx: CliContext): void {
  registerLevel(program, ctx, tenants);
  registerLevel(program, ctx, orgs);
  const sitesCmd = registerLevel(program, ctx, sites);

  sitesCmd
    .command('token')
    .description('create a single-use enrollment token for a new agent in this site (the secret is shown only once)')
    .argument('<site-id>', 'site id')
    .addOption(new Option('--ttl <seconds>', 'lifetime of the token in seconds (server default: 3600)').argParser(parsePositiveInt))
    .action(async (siteId: string, opts: { ttl?: number }, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const body = opts.ttl === undefined ? {} : { ttlSeconds: opts.ttl };
      const created = await client.post<{ id: string; token: string; expiresAt: string; command: string; publicUrl: string }>(
        `/sites/${encodeURIComponent(siteId)}/enrollment-tokens`,
        body,
      );
      print.result({ ...created, siteId }, () =>
        renderKeyValue([
          ['Token', created.token],
          ['Token id', created.id],
          ['Site', siteId],
          ['Expires', created.expiresAt],
        ]) +
          '\nThe token can be used once and is shown only now. On the new host (Debian/Ubuntu, x86-64), run as root:\n\n' +
          `  ${created.command}\n` +
          (isLoopbackUrl(created.publicUrl)
            ? `\nwarning: ${created.publicUrl} is a loopback address that other hosts cannot reach; start the controller with --public-url URL (the address agents use) and create a new token.\n`
            : ''),
      );
    });
}
