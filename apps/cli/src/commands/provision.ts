/**
 * `caddyfleet nodes provision` and `caddyfleet nodes reprovision`: install a server over SSH through the
 * controller and follow the run live. The SSH secret is read from a file or stdin, sent to the controller once,
 * and never written anywhere.
 */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { FleetNode, ProvisionJob } from '@caddyfleet/protocol';
import type { ApiClient } from '../api-client';
import type { CliContext } from '../context';
import { CliError, UsageError } from '../errors';
import type { Writer } from '../output';
import { parseSshTarget, type SshTargetArg } from '../parse';
import { readSse } from '../sse';

interface SecretOptions {
  ssh: SshTargetArg;
  identity?: string;
  passwordStdin?: boolean;
  passphraseStdin?: boolean;
  hostKey?: string;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const MAX_RECONNECTS = 5;

async function readLines(stream: NodeJS.ReadableStream): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
}

/** The `ssh` body: target, and a key from --identity and/or a password (also used for sudo) from stdin. */
async function sshBody(opts: SecretOptions, stdin: NodeJS.ReadableStream): Promise<Record<string, unknown>> {
  if (!opts.identity && !opts.passwordStdin) throw new UsageError('give --identity FILE (a private key) or --password-stdin');
  if (opts.passphraseStdin && !opts.identity) throw new UsageError('--passphrase-stdin goes with --identity');
  const body: Record<string, unknown> = { host: opts.ssh.host, user: opts.ssh.user };
  if (opts.ssh.port !== undefined) body.port = opts.ssh.port;
  if (opts.identity) {
    try {
      body.privateKey = await readFile(opts.identity, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --identity ${opts.identity}: ${(err as Error).message}`);
    }
  }
  if (opts.passwordStdin || opts.passphraseStdin) {
    // One line each, in this order: the password, then the key's passphrase.
    const lines = await readLines(stdin);
    let i = 0;
    if (opts.passwordStdin) {
      const pw = lines[i++] ?? '';
      if (!pw) throw new UsageError('--password-stdin: standard input is empty');
      body.password = pw;
    }
    if (opts.passphraseStdin) {
      const pp = lines[i] ?? '';
      if (!pp) throw new UsageError('--passphrase-stdin: no passphrase line on standard input');
      body.passphrase = pp;
    }
  }
  return body;
}

/**
 * Prints the run's output as it happens and resolves with its final status. A dropped stream is resumed after
 * the last line seen (a bounded number of times).
 */
export async function followProvisioning(client: ApiClient, nodeId: string, out: Writer, opts: { color: boolean; quiet: boolean }, fetchImpl: typeof fetch = fetch): Promise<{ status: string; error: string | null }> {
  let after = 0;
  for (let attempt = 0; attempt <= MAX_RECONNECTS; attempt++) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const auth = client.authHeaders();
    Object.assign(headers, auth);
    let res: Response;
    try {
      res = await fetchImpl(client.urlOf(`/nodes/${encodeURIComponent(nodeId)}/provisioning/stream`, { after }), { headers });
    } catch (err) {
      if (attempt === MAX_RECONNECTS) throw new CliError(`lost the controller while following the provisioning of ${nodeId}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (!res.ok || !res.body) throw new CliError(`cannot follow the provisioning of ${nodeId}: HTTP ${res.status} ${await res.text().catch(() => '')}`);
    for await (const ev of readSse(res.body)) {
      if (ev.event === 'line') {
        const line = JSON.parse(ev.data) as { seq: number; text: string };
        after = line.seq;
        if (!opts.quiet) out.write(`${opts.color ? line.text : line.text.replace(ANSI, '')}\n`);
      } else if (ev.event === 'done') {
        return JSON.parse(ev.data) as { status: string; error: string | null };
      }
    }
  }
  throw new CliError(`the stream of node ${nodeId}'s provisioning kept ending before the run did; see \`caddyfleet nodes provisioning ${nodeId}\``);
}

function addSshOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ssh <user@host[:port]>', 'SSH login (root, or a user who may sudo)').argParser(parseSshTarget).makeOptionMandatory())
    .addOption(new Option('--identity <file>', 'private key file to log in with'))
    .addOption(new Option('--password-stdin', 'read the SSH password from standard input (also used for sudo)'))
    .addOption(new Option('--passphrase-stdin', "read the --identity key's passphrase from standard input (after the password line, if any)"))
    .addOption(new Option('--host-key <SHA256:…>', 'expected SSH host key fingerprint (ssh-keygen -lf); without it the key is trusted on first use'));
}

async function runAndFollow(ctx: CliContext, cmd: Command, path: string, body: Record<string, unknown>): Promise<void> {
  const { client, print } = ctx.api(cmd);
  const started = await client.post<{ node: FleetNode; job: ProvisionJob }>(path, body);
  const { node } = started;
  const err = ctx.io.stderr;
  if (!print.json) err.write(`provisioning node ${node.id} (${node.name}) at ${started.job.target}\n`);
  const color = Boolean((ctx.io.stdout as { isTTY?: boolean }).isTTY);
  const done = await followProvisioning(client, node.id, ctx.io.stdout, { color, quiet: print.json }, ctx.io.fetch);
  if (print.json) print.result(await client.get<ProvisionJob>(`/nodes/${encodeURIComponent(node.id)}/provisioning`), () => '');
  if (done.status !== 'succeeded') throw new CliError(`provisioning of node ${node.id} failed: ${done.error ?? 'unknown error'}`);
  if (!print.json) err.write(`node ${node.id} (${node.name}) is online\n`);
}

export function registerProvision(group: Command, ctx: CliContext): void {
  addSshOptions(
    group
      .command('provision')
      .description('add a server over SSH: install Caddy and the agent, harden the host, wait until it is online (streams the output)')
      .requiredOption('--name <name>', 'node name')
      .requiredOption('--site <id>', 'site the node belongs to'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  caddyfleet nodes provision --name edge-1 --site site_… --ssh root@203.0.113.7 --identity ~/.ssh/id_ed25519\n' +
        '  printf %s "$PW" | caddyfleet nodes provision --name edge-2 --site site_… --ssh ops@203.0.113.8:2222 --password-stdin\n',
    )
    .action(async (opts: SecretOptions & { name: string; site: string }, cmd: Command) => {
      const body: Record<string, unknown> = { name: opts.name, siteId: opts.site, ssh: await sshBody(opts, ctx.io.stdin) };
      if (opts.hostKey) body.hostKeySha256 = opts.hostKey;
      await runAndFollow(ctx, cmd, '/nodes/provision', body);
    });

  addSshOptions(
    group
      .command('reprovision')
      .description('re-run provisioning on a node over SSH: keeps its id and routes, upgrades the agent, re-applies the hardening')
      .argument('<id>', 'node id'),
  ).action(async (id: string, opts: SecretOptions, cmd: Command) => {
    const body: Record<string, unknown> = { ssh: await sshBody(opts, ctx.io.stdin) };
    if (opts.hostKey) body.hostKeySha256 = opts.hostKey;
    await runAndFollow(ctx, cmd, `/nodes/${encodeURIComponent(id)}/provision`, body);
  });

  group
    .command('provisioning')
    .description("show a node's running or last provisioning run: steps and log")
    .argument('<id>', 'node id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { client, print } = ctx.api(cmd);
      const job = await client.get<ProvisionJob>(`/nodes/${encodeURIComponent(id)}/provisioning`);
      print.result(job, () => {
        const steps = job.steps.map((s) => `  ${s.status.padEnd(9)} ${s.name.padEnd(20)} ${s.message ?? ''}`.trimEnd()).join('\n');
        return `${job.kind} of ${job.nodeId} at ${job.target}: ${job.status}${job.error ? ` (${job.error})` : ''}\n${steps}\n\n${job.log.replace(ANSI, '')}\n`;
      });
    });
}
