/**
 * `caddyfleet-agent uninstall [--purge]`: stops the agent and the Caddy it left running, removes the unit, the
 * binary, the config and the node's identity. Caddy's package and its certificates stay unless --purge, which
 * also removes the state dir and the agent's user. Each step tolerates what an earlier, partial run removed.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CaddyAdmin } from '@caddyfleet/caddy';
import type { Say } from './console';
import { INSTALL } from './paths';
import { InstallError, lookupUser, mustRun, run } from './system';

/** What the agent keeps in its state dir, relative to it; `data` (certificates) and local routes are not here. */
const IDENTITY_AND_RUNTIME = [
  'agent.json',
  'applied.json',
  'agent.sock',
  'caddy/admin.sock',
  'caddy/caddy.pid',
  'caddy/bootstrap.json',
  'caddy/config',
];

const CADDY_DIR = path.join(INSTALL.stateDir, 'caddy');
const BOOTSTRAP = path.join(CADDY_DIR, 'bootstrap.json');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 100) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

/** The managed Caddy's PID, if the pid file names a live process that runs our bootstrap config. */
async function ourCaddyPid(): Promise<number | null> {
  let pid: number;
  try {
    pid = Number((await readFile(path.join(CADDY_DIR, 'caddy.pid'), 'utf8')).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return argv.includes(BOOTSTRAP) ? pid : null;
  } catch {
    return null;
  }
}

/** The agent leaves Caddy serving when it stops (KillMode=process, keep-caddy): stop it through its admin API, else by PID. */
async function stopManagedCaddy(say: Say): Promise<void> {
  const pid = await ourCaddyPid();
  const socket = path.join(CADDY_DIR, 'admin.sock');
  if (pid === null && !existsSync(socket)) return;
  let asked = false;
  if (existsSync(socket)) {
    try {
      await new CaddyAdmin(`unix/${socket}`, { timeoutMs: 3000 }).stop();
      asked = true;
    } catch {
      // Not answering (already gone, or hung): signals below.
    }
  }
  if (pid === null) {
    if (asked) say('stopped the Caddy the agent left running');
    return;
  }
  if (asked && (await waitGone(pid, 5000))) {
    say(`stopped the Caddy the agent left running (pid ${pid})`);
    return;
  }
  for (const [sig, ms] of [['SIGTERM', 5000], ['SIGKILL', 2000]] as const) {
    try {
      process.kill(pid, sig);
    } catch {
      break;
    }
    if (await waitGone(pid, ms)) break;
  }
  if (alive(pid)) throw new InstallError(`Caddy (pid ${pid}) did not stop; stop it and run uninstall again`);
  say(`stopped the Caddy the agent left running (pid ${pid})`);
}

export async function uninstall(opts: { purge: boolean }, say: Say): Promise<void> {
  if (process.getuid?.() !== 0) throw new InstallError('must run as root (try: sudo caddyfleet-agent uninstall)');
  const hasSystemd = existsSync('/run/systemd/system');
  if (hasSystemd && (existsSync(INSTALL.unitFile) || (await run('systemctl', ['cat', INSTALL.unitName])).code === 0)) {
    // disable --now stops the unit; with KillMode=process only the agent process is stopped.
    await run('systemctl', ['disable', '--now', '--quiet', INSTALL.unitName]);
    say(`stopped and disabled ${INSTALL.unitName}`);
  }
  await stopManagedCaddy(say);

  for (const file of [INSTALL.unitFile, INSTALL.binary]) {
    if (existsSync(file)) {
      await rm(file, { force: true });
      say(`removed ${file}`);
    }
  }
  if (hasSystemd) await mustRun('systemctl', ['daemon-reload']);
  if (existsSync(INSTALL.configDir)) {
    await rm(INSTALL.configDir, { recursive: true, force: true });
    say(`removed ${INSTALL.configDir}`);
  }

  if (opts.purge) {
    if (existsSync(INSTALL.stateDir)) {
      await rm(INSTALL.stateDir, { recursive: true, force: true });
      say(`removed ${INSTALL.stateDir} (agent key, applied config, local routes, certificates)`);
    }
    if (await lookupUser(INSTALL.user)) {
      await mustRun('userdel', [INSTALL.user]);
      say(`removed user ${INSTALL.user}`);
    }
  } else if (existsSync(INSTALL.stateDir)) {
    for (const rel of IDENTITY_AND_RUNTIME) await rm(path.join(INSTALL.stateDir, rel), { recursive: true, force: true });
    say(`removed the node's identity and applied config from ${INSTALL.stateDir}; kept Caddy's certificates (caddy/data) and local routes (--purge removes them and the user ${INSTALL.user})`);
  }
  say(`the caddy package stays installed and caddy.service stays disabled (\`systemctl enable --now caddy\` to use the package's own Caddy again)`);
  say('uninstalled; delete the node on the controller if it is not coming back');
}
