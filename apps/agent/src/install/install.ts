/**
 * `caddyfleet-agent install`: turns a Debian/Ubuntu host into a node. Everything that can be refused (not root,
 * wrong system, bad options, missing or bad token) is checked before anything on the host changes; the first
 * change is the enrollment's identity in the state dir, so that a later failure can be fixed by running install
 * again without a new token. Each step says what it did; running it again upgrades and keeps the identity.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { isSea } from 'node:sea';
import { Backoff } from '../backoff';
import { enroll, reportableHostname } from '../enroll';
import { AgentConfigError } from '../errors';
import { loadAgentOptions } from '../options';
import { StateStore } from '../state';
import { AGENT_VERSION } from '../version';
import { previousSettings, renderConfigEnv, type InstallSettings } from './config-env';
import type { Say } from './console';
import { writeFileAtomic } from '../atomic-file';
import { installExecutable } from './files';
import { osSupport, parseOsRelease } from './os-release';
import { INSTALL } from './paths';
import { InstallError, lookupUser, mustRun, run, unitIs } from './system';
import { renderUnit } from './unit-file';
import { waitForConnected } from './wait-online';

export interface InstallRequest {
  controller?: string;
  /** A Caddy binary of the operator's own; default /usr/bin/caddy, installed from the OS packages when missing. */
  caddyBin?: string;
  /** From --token or CADDYFLEET_ENROLLMENT_TOKEN. */
  token?: string;
  /** Reads the token from stdin when no token was given otherwise (called only when enrollment needs it). */
  readToken?: () => Promise<string>;
  name?: string;
  httpListen?: string;
  httpsListen?: string;
  waitSeconds?: number;
  /** SSH provisioning: the node id the controller created, with its key read by `readAgentKey` (never argv). */
  nodeId?: string;
  readAgentKey?: () => Promise<string>;
  /** False: write everything but do not start the service (the provisioner starts it itself). */
  start?: boolean;
}

export async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Root, a supported system, systemd as init, and the single executable (install copies itself). */
export async function checkHost(): Promise<string> {
  if (process.getuid?.() !== 0) throw new InstallError('must run as root (try: sudo caddyfleet-agent install …)');
  const osText = (await readOptional('/etc/os-release')) ?? (await readOptional('/usr/lib/os-release'));
  const os = osSupport(parseOsRelease(osText ?? ''));
  if (!os.supported) throw new InstallError(`this installer supports Debian and Ubuntu (Caddy from apt, systemd); this host runs ${os.name}`);
  if (!existsSync('/run/systemd/system')) throw new InstallError('systemd is not running on this host: the agent is installed as a systemd service');
  if (!isSea()) {
    throw new InstallError('install copies this executable to /usr/local/bin: run it from the built agent (dist/caddyfleet-agent-linux-x64 after `npm run build`), not from source');
  }
  return os.name;
}

/** Request, then the earlier install's config.env, then defaults; validated by the agent's own option loader. */
export function resolveSettings(req: InstallRequest, previous: Partial<InstallSettings>): InstallSettings & { configEnv: string } {
  const controller = req.controller ?? previous.controller;
  if (!controller) throw new AgentConfigError('--controller URL is required (the controller this agent connects to)');
  const opts = loadAgentOptions(
    {
      controller,
      name: req.name ?? previous.name,
      httpListen: req.httpListen ?? previous.httpListen,
      httpsListen: req.httpsListen ?? previous.httpsListen,
      stateDir: INSTALL.stateDir,
      caddyBin: req.caddyBin ?? previous.caddyBin ?? INSTALL.caddyBin,
      nodeId: previous.identity?.nodeId,
      agentKey: previous.identity?.agentKey,
    },
    {},
  );
  const caddyBin = path.resolve(opts.caddyBin!);
  const settings: InstallSettings = { controller: opts.controller!, caddyBin, name: opts.name, httpListen: opts.httpListen, httpsListen: opts.httpsListen };
  if (previous.identity) settings.identity = previous.identity;
  return { ...settings, configEnv: renderConfigEnv(settings) };
}

/** An operator's own Caddy must be there already; only the OS package's is installed here. */
function checkOwnCaddy(caddyBin: string): void {
  if (caddyBin === INSTALL.caddyBin) return;
  if (/^\/(root|home|run\/user)\//.test(caddyBin)) {
    throw new AgentConfigError(`--caddy-bin ${caddyBin}: the service cannot see /root, /home or /run/user (ProtectHome=yes); put it in /usr/local/bin`);
  }
  try {
    accessSync(caddyBin, constants.X_OK);
  } catch {
    throw new AgentConfigError(`--caddy-bin ${caddyBin}: no executable file there (leave --caddy-bin out to use Caddy from the OS packages)`);
  }
}

async function installCaddy(caddyBin: string, say: Say): Promise<void> {
  if (existsSync(caddyBin)) {
    say(`Caddy is installed (${caddyBin})`);
    return;
  }
  say(`Caddy is not installed: installing the caddy package with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '-q', '--no-install-recommends', 'caddy'];
  // The package is often already in apt's cache (an image built with --download-only, or a recent update):
  // update only when installing from what apt knows fails.
  if ((await run('apt-get', args, { live: true, env })).code !== 0) {
    say('apt-get install failed; running apt-get update and trying again');
    await mustRun('apt-get', ['update', '-q'], { live: true, env });
    await mustRun('apt-get', args, { live: true, env });
  }
  if (!existsSync(INSTALL.caddyBin)) throw new InstallError(`the caddy package is installed but ${INSTALL.caddyBin} is missing`);
  say('installed Caddy from the OS packages');
}

/** The package's caddy.service would hold :80/:443 with its own Caddyfile; the agent runs its own Caddy. */
async function disablePackageCaddy(say: Say): Promise<void> {
  const unit = INSTALL.caddyPackageUnit;
  if (!(await unitIs('is-enabled', unit)) && !(await unitIs('is-active', unit))) return;
  say(`disabling and stopping ${unit} (the caddy package's own server): the agent runs and supervises its own Caddy`);
  await mustRun('systemctl', ['disable', '--now', unit]);
}

async function ensureUser(say: Say): Promise<{ uid: number; gid: number }> {
  const existing = await lookupUser(INSTALL.user);
  if (existing) return existing;
  await mustRun('useradd', [
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir', '/nonexistent',
    '--shell', INSTALL.nologin,
    '--comment', 'caddyfleet agent',
    INSTALL.user,
  ]);
  const created = await lookupUser(INSTALL.user);
  if (!created) throw new InstallError(`useradd reported success but user ${INSTALL.user} does not exist`);
  say(`created system user ${INSTALL.user} (no login shell, no home)`);
  return created;
}

/** Enrolls now (the token is spent here and stored nowhere), or keeps the identity already in the state dir. */
async function ensureIdentity(req: InstallRequest, settings: InstallSettings, say: Say): Promise<string> {
  const state = new StateStore(INSTALL.stateDir);
  if (settings.identity) {
    // Issued by the controller: config.env carries it, and an identity left from an earlier enrollment must go.
    await rm(state.agentFile, { force: true });
    say(`node ${settings.identity.nodeId}: using the key issued by the controller`);
    return settings.identity.nodeId;
  }
  const saved = await state.readAgent();
  if (saved) {
    say(`already enrolled as node ${saved.nodeId}: keeping this identity${req.token ? ' (the enrollment token was not used)' : ''}`);
    if (saved.controller !== settings.controller) {
      say(`note: it enrolled with ${saved.controller}; the agent now uses ${settings.controller} with the same key (for another controller, run \`caddyfleet-agent uninstall\` first)`);
    }
    return saved.nodeId;
  }
  const token = req.token ?? (await req.readToken?.());
  if (!token) {
    throw new AgentConfigError('this host is not enrolled yet: give an enrollment token (CADDYFLEET_ENROLLMENT_TOKEN, --token-stdin, or --token)');
  }
  if (token.length < 10 || token.length > 200) throw new AgentConfigError('the enrollment token has an unexpected length; copy it again from the controller');
  say(`enrolling with ${settings.controller} as "${settings.name}"`);
  const enrolled = await enroll(
    { controller: settings.controller, token, name: settings.name, hostname: reportableHostname() },
    { log: say.logger, backoff: new Backoff(1000, 10_000), maxAttempts: 5 },
  );
  await state.init();
  await state.writeAgent({ controller: settings.controller, ...enrolled });
  say(`enrolled as node ${enrolled.nodeId}`);
  return enrolled.nodeId;
}

export async function install(req: InstallRequest, say: Say): Promise<void> {
  const osName = await checkHost();
  const previousConfig = await readOptional(INSTALL.configFile);
  const settings = resolveSettings(req, previousSettings(previousConfig));
  checkOwnCaddy(settings.caddyBin);
  if (req.nodeId !== undefined) {
    const agentKey = (await req.readAgentKey?.())?.trim() ?? '';
    // Validated like every agent option: a bad id or key stops here, before anything changes.
    loadAgentOptions({ controller: settings.controller, stateDir: INSTALL.stateDir, caddyBin: settings.caddyBin, nodeId: req.nodeId, agentKey }, {});
    settings.identity = { nodeId: req.nodeId, agentKey };
    settings.configEnv = renderConfigEnv(settings);
  }
  say(`caddyfleet-agent ${AGENT_VERSION}: ${previousConfig === null ? 'installing' : 'upgrading'} on ${osName}`);

  const nodeId = await ensureIdentity(req, settings, say);
  await installCaddy(settings.caddyBin, say);
  await disablePackageCaddy(say);
  const owner = await ensureUser(say);

  const binaryExisted = existsSync(INSTALL.binary);
  await mkdir('/usr/local/bin', { recursive: true });
  await installExecutable(process.execPath, INSTALL.binary);
  say(`${binaryExisted ? 'replaced' : 'installed'} ${INSTALL.binary} (version ${AGENT_VERSION})`);

  await mkdir(INSTALL.configDir, { recursive: true, mode: 0o750 });
  await chown(INSTALL.configDir, 0, owner.gid);
  await chmod(INSTALL.configDir, 0o750);
  await writeFileAtomic(INSTALL.configFile, settings.configEnv, 0o600, owner);
  say(`wrote ${INSTALL.configFile} (mode 0600, owner ${INSTALL.user})`);

  await mkdir(INSTALL.stateDir, { recursive: true, mode: 0o700 });
  await chmod(INSTALL.stateDir, 0o700);
  // Enrollment above ran as root; the agent must own its key and everything it writes later.
  await mustRun('chown', ['-R', `${owner.uid}:${owner.gid}`, INSTALL.stateDir]);

  const unitExisted = existsSync(INSTALL.unitFile);
  await writeFileAtomic(INSTALL.unitFile, renderUnit(), 0o644);
  if (req.start === false) {
    say(`wrote ${INSTALL.unitFile}; not started (--no-start)`);
    return;
  }
  await mustRun('systemctl', ['daemon-reload']);
  await mustRun('systemctl', ['enable', '--quiet', INSTALL.unitName]);
  await mustRun('systemctl', ['restart', INSTALL.unitName]);
  say(`${unitExisted ? 'restarted' : 'enabled and started'} ${INSTALL.unitName}`);

  const waitSeconds = req.waitSeconds ?? 60;
  if (waitSeconds === 0) {
    say(`not waiting for the agent to connect (--wait 0): see \`systemctl status ${INSTALL.unitName}\``);
    return;
  }
  say(`waiting up to ${waitSeconds} s for the agent to connect to ${settings.controller}`);
  const status = await waitForConnected(INSTALL.stateDir, waitSeconds * 1000);
  if (!status.connected) {
    const journal = await run('journalctl', ['-u', INSTALL.unitName, '-n', '15', '--no-pager', '-o', 'cat']);
    throw new InstallError(
      `the agent (node ${nodeId}) did not connect within ${waitSeconds} s: ${status.problem}\n` +
        `it keeps trying; see \`systemctl status ${INSTALL.unitName}\` and \`journalctl -u ${INSTALL.unitName}\`` +
        (journal.output ? `\n--- last log lines ---\n${journal.output}` : ''),
    );
  }
  const s = status.snapshot;
  say(`node "${s.name}" (${s.nodeId}) is online: connected to ${s.controller}`);
  say(`Caddy ${s.caddy.version ?? '(version unknown)'} serves HTTP on ${settings.httpListen} and HTTPS on ${settings.httpsListen}`);
}
