/**
 * `caddyfleet standalone` and `caddyfleet server`: run the controller. The options are generated from the
 * controller's own option table so that flags, env variables and descriptions never drift apart.
 */
import { Command, Option } from 'commander';
// The light config module only (zod + path); the server itself is imported when a role command runs, so that
// API commands do not pay for loading Fastify and the database drivers.
import { CONTROLLER_OPTIONS, ConfigError, loadConfig, type ControllerOptionName } from '@caddyfleet/controller/config';
import { AGENT_OPTIONS } from '@caddyfleet/agent/options';
import { agentFlags, agentOption } from '@caddyfleet/agent/flags';
import type { CliContext } from '../context';
import { startLocalNode, type LocalNodeFlags } from './local-node';
import { CliError } from '../errors';

/** Value placeholders for --help; options added to CONTROLLER_OPTIONS later fall back to `<value>`. */
const METAVARS: Partial<Record<ControllerOptionName, string>> = {
  listen: '<host:port>',
  dataDir: '<dir>',
  databaseUrl: '<url>',
  adminPassword: '<password>',
  logLevel: '<level>',
  trustProxy: '[bool]',
  loginMaxAttempts: '<n>',
  loginWindowSeconds: '<seconds>',
  sessionTtlHours: '<hours>',
  heartbeatSeconds: '<seconds>',
  offlineAfterMissed: '<n>',
  publicUrl: '<url>',
  agentArtifact: '<file>',
  auditRetentionDays: '<days>',
  auditMaxRows: '<n>',
  maxRoutesPerNode: '<n>',
};

/** The agent options that make sense for the controller's own local node in standalone mode. */
const LOCAL_NODE_OPTIONS = ['caddyBin', 'httpListen', 'httpsListen'] as const;
/** Docker discovery of the local node. */
const LOCAL_NODE_DOCKER_OPTIONS = ['dockerHost', 'noDocker', 'dockerLabelPrefix', 'hostIp'] as const;

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** Bounded wait for the controller to close; a hung close must not keep a stopped service alive forever. */
const CLOSE_TIMEOUT_MS = 15_000;

const ROLES = {
  standalone: 'run the controller with its built-in local node, for one host (listens on 127.0.0.1:8080 by default)',
  server: 'run the controller for a fleet of agents (listens on 0.0.0.0:8080 by default)',
} as const;

export function registerRoleCommands(program: Command, ctx: CliContext): void {
  for (const [mode, description] of Object.entries(ROLES) as ['standalone' | 'server', string][]) {
    const cmd = program.command(mode).description(description);
    for (const [name, spec] of Object.entries(CONTROLLER_OPTIONS) as [ControllerOptionName, { env: string; describe: string }][]) {
      if (name === 'localNode') continue;
      cmd.addOption(new Option(`--${kebab(name)} ${METAVARS[name] ?? '<value>'}`, spec.describe).env(spec.env));
    }
    if (mode === 'server') {
      // Read from CADDYFLEET_LOCAL_NODE by loadConfig; commander would treat any value of a negatable option's env as "off".
      cmd.addOption(new Option('--no-local-node', `run no local node: agents only, routes to the local node are refused (${CONTROLLER_OPTIONS.localNode.env}=false)`));
    }
    for (const name of LOCAL_NODE_OPTIONS) {
      const spec = AGENT_OPTIONS[name];
      cmd.addOption(new Option(`--${kebab(name)} <value>`, `local node: ${spec.describe}`).env(spec.env));
    }
    for (const name of LOCAL_NODE_DOCKER_OPTIONS) cmd.addOption(agentOption(name, `local node: ${AGENT_OPTIONS[name].describe}`));
    cmd.action(async (opts: Record<string, string | boolean | undefined>) => runController(ctx, mode, opts));
  }
}

async function runController(ctx: CliContext, mode: 'standalone' | 'server', opts: Record<string, string | boolean | undefined>): Promise<void> {
  const { io } = ctx;
  // Listen for the stop signal from the start: a SIGTERM during start-up must still shut down cleanly.
  const shutdown = io.waitForShutdown();
  const flags: Partial<Record<ControllerOptionName, string>> = {};
  for (const name of Object.keys(CONTROLLER_OPTIONS) as ControllerOptionName[]) {
    const v = opts[name];
    // `--trust-proxy` alone means true.
    if (v !== undefined) flags[name] = typeof v === 'boolean' ? String(v) : v;
  }
  // Commander sets localNode=true by default for `--no-local-node`; only an explicit flag may override the env.
  if (opts.localNode === false) flags.localNode = 'false';
  else delete flags.localNode;
  let config;
  try {
    config = loadConfig(mode, flags);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  const [{ startController }, { logDestination }] = await Promise.all([import('@caddyfleet/controller'), import('@caddyfleet/agent/logger')]);
  const localFlags: LocalNodeFlags = {};
  for (const name of LOCAL_NODE_OPTIONS) if (typeof opts[name] === 'string') localFlags[name] = opts[name];
  const dockerFlags = agentFlags(opts);
  for (const name of LOCAL_NODE_DOCKER_OPTIONS) if (dockerFlags[name] !== undefined) localFlags[name] = String(dockerFlags[name]);
  const local = config.localNode ? await import('./local-node').then((m) => m.checkLocalNode(localFlags, mode)) : null;
  let controller;
  try {
    controller = await startController(config, { logDestination: logDestination(1, false) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new CliError(`cannot listen on ${config.listen}: the address is already in use`);
    if (e.code === 'EACCES') throw new CliError(`cannot listen on ${config.listen}: permission denied`);
    if (e.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${config.listen}: no such local address`);
    throw err;
  }
  io.stdout.write(`caddyfleet controller listening on ${controller.url}\n`);
  let localNode: Awaited<ReturnType<typeof startLocalNode>> | null = null;
  if (local) {
    try {
      localNode = await startLocalNode(controller, local);
    } catch (err) {
      await controller.close();
      throw err;
    }
    io.stdout.write(`caddyfleet local node: Caddy ${localNode.caddyVersion ?? ''} serving HTTP on ${local.httpListen}, HTTPS on ${local.httpsListen}\n`);
  }

  const signal = await shutdown;
  io.stderr.write(`caddyfleet: ${signal} received, shutting down\n`);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CLOSE_TIMEOUT_MS);
  });
  const stopAll = async () => {
    await localNode?.stop();
    await controller.close();
  };
  const result = await Promise.race([stopAll().then(() => 'closed' as const), timedOut]);
  clearTimeout(timer);
  if (result === 'timeout') throw new CliError(`the controller did not stop within ${CLOSE_TIMEOUT_MS / 1000} s`);
  io.stderr.write('caddyfleet: stopped\n');
}
