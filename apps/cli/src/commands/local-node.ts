/**
 * The local node of `caddyfleet standalone` and `caddyfleet server`: an in-process agent with a managed Caddy, connected to the
 * controller like any other agent but with a key issued at every start instead of an enrollment.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { RunningController } from '@caddyfleet/controller';
import { CliError } from '../errors';

export interface LocalNodeFlags {
  caddyBin?: string;
  httpListen?: string;
  httpsListen?: string;
  dockerHost?: string;
  noDocker?: string;
  dockerLabelPrefix?: string;
  hostIp?: string;
}

export interface LocalNodePlan {
  caddyBin: string;
  httpListen: string;
  httpsListen: string;
  /** Docker discovery flags, checked by the agent's option loader. */
  docker?: Pick<LocalNodeFlags, 'dockerHost' | 'noDocker' | 'dockerLabelPrefix' | 'hostIp'>;
}

/** The variables the local node's Docker discovery reads besides its flags (the rest of the env is not its own). */
const LOCAL_NODE_ENV = [
  'CADDYFLEET_NO_DOCKER',
  'CADDYFLEET_DOCKER_HOST',
  'CADDYFLEET_DOCKER_LABEL_PREFIX',
  'CADDYFLEET_HOST_IP',
  'DOCKER_HOST',
  'DOCKER_LABEL_PREFIX',
  'HOST_IP',
];

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/** Checked before the controller starts, so a missing Caddy is reported first and clearly; nothing is installed. */
export function checkLocalNode(flags: LocalNodeFlags, mode: 'standalone' | 'server' = 'standalone'): LocalNodePlan {
  const wanted = flags.caddyBin ?? 'caddy';
  const caddyBin = wanted.includes('/') ? wanted : onPath(wanted);
  if (!caddyBin || !fs.existsSync(caddyBin)) {
    throw new CliError(
      [
        `Caddy was not found${flags.caddyBin ? ` at ${flags.caddyBin}` : ' on PATH'}; ${mode} mode runs it for its local node.`,
        `Install it from your OS packages (Debian/Ubuntu: apt-get install caddy), or pass --caddy-bin /path/to/caddy${mode === 'server' ? ', or run a server without a local node (--no-local-node)' : ''}.`,
        '`bash scripts/start.sh` does the install for you, saying so.',
      ].join('\n'),
      3,
    );
  }
  try {
    execFileSync(caddyBin, ['version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    throw new CliError(`${caddyBin} does not run (\`${caddyBin} version\` failed)`, 3);
  }
  const { dockerHost, noDocker, dockerLabelPrefix, hostIp } = flags;
  const docker = Object.fromEntries(Object.entries({ dockerHost, noDocker, dockerLabelPrefix, hostIp }).filter(([, v]) => v !== undefined));
  return { caddyBin, httpListen: flags.httpListen ?? ':80', httpsListen: flags.httpsListen ?? ':443', docker };
}

export async function startLocalNode(controller: RunningController, plan: LocalNodePlan) {
  const [{ startAgent }, { loadAgentOptions }, { issueLocalAgentKey, LOCAL_NODE_ID }] = await Promise.all([
    import('@caddyfleet/agent'),
    import('@caddyfleet/agent/options'),
    import('@caddyfleet/controller'),
  ]);
  const agentKey = await issueLocalAgentKey(controller.services.ctx);
  const options = loadAgentOptions(
    {
      controller: controller.url,
      stateDir: path.join(controller.config.dataDir, 'local-agent'),
      caddyBin: plan.caddyBin,
      httpListen: plan.httpListen,
      httpsListen: plan.httpsListen,
      name: 'local',
      logLevel: controller.config.logLevel,
      ...plan.docker,
    },
    Object.fromEntries(LOCAL_NODE_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])),
  );
  const agent = await startAgent(options, { credentials: { nodeId: LOCAL_NODE_ID, agentKey } });
  return { agent, caddyVersion: agent.status().caddy.version, stop: () => agent.stop() };
}
