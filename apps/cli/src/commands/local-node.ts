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
}

export interface LocalNodePlan {
  caddyBin: string;
  httpListen: string;
  httpsListen: string;
}

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
  return { caddyBin, httpListen: flags.httpListen ?? ':80', httpsListen: flags.httpsListen ?? ':443' };
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
    },
    {},
  );
  const agent = await startAgent(options, { credentials: { nodeId: LOCAL_NODE_ID, agentKey } });
  return { agent, caddyVersion: agent.status().caddy.version, stop: () => agent.stop() };
}
