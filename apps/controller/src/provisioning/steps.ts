/**
 * The provisioning steps, in order. Each is idempotent (a re-run or a retry after a failure converges) and
 * returns a one-line summary; warnings (a sysctl the host refuses) do not fail the job.
 */
import { isIP } from 'node:net';
import type { ProvisionStepName, SshCredentials } from '@caddyfleet/protocol';
import { FACTS_SCRIPT, parseFacts, unsupportedReason } from './os-release';
import { PRELUDE, fail2banScript, firewallScript, shq, sysctlScript, unattendedUpgradesScript } from './hardening';
import { SshError, SshSession } from './ssh-session';
import { StepFailure, installArtifact, script, sessionOf, type StepEnv, type StepOutcome } from './step-env';
import { configStep, startAgentStep, unitsStep } from './agent-steps';

export const AGENT_BIN = '/usr/local/bin/caddyfleet-agent';
export const ARTIFACT_CADDY_BIN = '/usr/local/bin/caddy';
export const PACKAGE_CADDY_BIN = '/usr/bin/caddy';
export const WAIT_ONLINE_MS = 90_000;

export interface StepDef {
  name: ProvisionStepName;
  title: string;
  run(env: StepEnv): Promise<StepOutcome>;
}

async function connect(env: StepEnv, creds: SshCredentials): Promise<StepOutcome> {
  env.job.line(`connecting to ${creds.user}@${creds.host}:${creds.port}`);
  let session: SshSession;
  try {
    session = await SshSession.connect(creds, { expectedHostKey: env.expectedHostKey?.sha256 ?? null, expectedFrom: env.expectedHostKey?.from });
  } catch (err) {
    throw new StepFailure(err instanceof Error ? err.message : String(err));
  }
  env.session = session;
  const trusted = env.expectedHostKey ? `matches ${env.expectedHostKey.from}` : 'trusted on first use and stored';
  env.job.line(`host key ${session.hostKeySha256} (${trusted})`);
  await env.recordHostKey(session.hostKeySha256);
  try {
    const privilege = await session.detectPrivilege();
    env.job.line(privilege === 'root' ? 'logged in as root' : `logged in as ${creds.user}; commands run through sudo (${privilege === 'sudo-nopasswd' ? 'no password' : 'with the login password'})`);
  } catch (err) {
    throw new StepFailure(err instanceof SshError ? err.message : `cannot work out how to become root: ${(err as Error).message}`);
  }
  // SSH_CLIENT: the controller's address as the host sees it, and the port sshd really listens on (NAT may differ).
  const seen = await script(env, 'echo "$SSH_CLIENT"', { asUser: true, quiet: true });
  const [ip, , port] = (seen.stdout[0] ?? '').trim().split(/\s+/);
  env.controllerIp = ip && isIP(ip) ? ip : null;
  const localPort = Number(port);
  env.sshPort = Number.isInteger(localPort) && localPort > 0 && localPort < 65536 ? localPort : creds.port;
  return { message: `${session.hostKeySha256} (${trusted})` };
}

async function checkOs(env: StepEnv): Promise<StepOutcome> {
  const r = await script(env, FACTS_SCRIPT, { quiet: true });
  const facts = parseFacts(r.stdout);
  const name = facts.os.PRETTY_NAME || facts.os.NAME || facts.os.ID || 'unknown';
  env.job.line(`operating system: ${name}, ${facts.arch || 'unknown architecture'}, systemd ${facts.systemd ? 'yes' : 'no'}, apt ${facts.apt ? 'yes' : 'no'}`);
  const reason = unsupportedReason(facts);
  if (reason) throw new StepFailure(reason);
  return { message: `${name} (${facts.arch})` };
}

async function caddy(env: StepEnv): Promise<StepOutcome> {
  let source: string;
  if (env.caddyArtifact) {
    const uploaded = await installArtifact(env, env.caddyArtifact, ARTIFACT_CADDY_BIN);
    env.caddyBin = ARTIFACT_CADDY_BIN;
    source = uploaded ? "uploaded the controller's Caddy binary" : "the controller's Caddy binary was already in place";
  } else {
    await script(env, `${PRELUDE}\nif [ -x ${PACKAGE_CADDY_BIN} ]; then echo "Caddy is installed (${PACKAGE_CADDY_BIN})"; else apt_install caddy; fi`, { timeoutMs: 15 * 60_000 });
    env.caddyBin = PACKAGE_CADDY_BIN;
    source = 'from the OS packages';
  }
  // The package's own caddy.service would hold :80/:443 with its default site; the agent runs the node's Caddy.
  await script(
    env,
    `if systemctl list-unit-files caddy.service >/dev/null 2>&1 && systemctl is-enabled --quiet caddy.service 2>/dev/null; then
  systemctl disable --now caddy.service && echo "disabled the packaged caddy.service: the agent runs Caddy"
elif systemctl is-active --quiet caddy.service 2>/dev/null; then
  systemctl stop caddy.service && echo "stopped the packaged caddy.service: the agent runs Caddy"
fi`,
  );
  const v = await script(env, `${shq(env.caddyBin)} version`);
  return { message: `Caddy ${v.stdout[0]?.split(' ')[0] ?? '?'} (${source})` };
}

async function agentBinary(env: StepEnv): Promise<StepOutcome> {
  const uploaded = await installArtifact(env, env.agentArtifact, AGENT_BIN);
  const v = await script(env, `${AGENT_BIN} --version`);
  const version = v.stdout.map((l) => l.trim()).filter(Boolean).pop() ?? '?';
  return { message: `${uploaded ? 'installed' : 'already current'}: caddyfleet-agent ${version}` };
}

const USERS_SCRIPT = `${PRELUDE}
ensure_user() {
  local name=$1 home=$2 shell
  if id -u "$name" >/dev/null 2>&1; then
    shell=$(getent passwd "$name" | cut -d: -f7)
    case "$shell" in
      */nologin|*/false) echo "user $name exists (no login shell)" ;;
      *) usermod -s /usr/sbin/nologin "$name"; echo "user $name: login shell $shell replaced by /usr/sbin/nologin" ;;
    esac
  else
    useradd --system --user-group --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$name"
    echo "created system user $name (no login shell)"
  fi
}
ensure_user caddy /var/lib/caddy
ensure_user caddyfleet-agent /nonexistent
`;

async function users(env: StepEnv): Promise<StepOutcome> {
  await script(env, USERS_SCRIPT);
  return { message: 'caddy and caddyfleet-agent: system users without a login shell' };
}

async function firewall(env: StepEnv): Promise<StepOutcome> {
  await script(env, firewallScript(env.sshPort, env.streamPorts), { timeoutMs: 10 * 60_000 });
  const open = [`${env.sshPort}/tcp (ssh)`, '80/tcp', '443/tcp', '443/udp', ...env.streamPorts];
  return { message: `UFW active, incoming denied except ${open.join(', ')}` };
}

async function fail2ban(env: StepEnv): Promise<StepOutcome> {
  await script(env, fail2banScript(env.sshPort, env.controllerIp), { timeoutMs: 10 * 60_000 });
  return { message: `sshd jail running (journal backend, port ${env.sshPort}, 5 failures in 10 min → 1 h ban)` };
}

async function unattendedUpgrades(env: StepEnv): Promise<StepOutcome> {
  await script(env, unattendedUpgradesScript(), { timeoutMs: 10 * 60_000 });
  return { message: 'daily package lists and unattended security upgrades enabled' };
}

async function sysctl(env: StepEnv): Promise<StepOutcome> {
  const r = await script(env, sysctlScript());
  const refused = r.stdout.filter((l) => l.startsWith('refused ')).map((l) => l.slice(8).split(':')[0]!);
  const applied = r.stdout.filter((l) => l.startsWith('set ')).length;
  if (refused.length === 0) return { message: `${applied} settings applied` };
  return { message: `${applied} settings applied; the host refused ${refused.length}: ${refused.join(', ')}`, warning: true };
}

async function waitOnline(env: StepEnv, startedAt: number): Promise<StepOutcome> {
  env.job.line(`waiting up to ${WAIT_ONLINE_MS / 1000} s for the agent to connect to ${env.controllerUrl}`);
  try {
    await env.waitConnected(startedAt, WAIT_ONLINE_MS);
  } catch (err) {
    await script(env, 'journalctl -u caddyfleet-agent.service -n 25 --no-pager 2>&1 || true', { allowFail: true, timeoutMs: 20_000 }).catch(() => {});
    throw new StepFailure(`${(err as Error).message}; the agent's journal is above`);
  }
  return { message: 'the agent connected: the node is online' };
}

/** The steps of one run; `creds` is used by `connect` only and dropped with the closure when the run ends. */
export function buildSteps(creds: SshCredentials): StepDef[] {
  let agentStartedAt = 0;
  return [
    { name: 'connect', title: 'Connect over SSH', run: (env) => connect(env, creds) },
    { name: 'check-os', title: 'Check the operating system', run: checkOs },
    { name: 'caddy', title: 'Install Caddy', run: caddy },
    { name: 'agent-binary', title: 'Upload the agent', run: agentBinary },
    { name: 'users', title: 'System users', run: users },
    { name: 'config', title: 'Agent configuration', run: configStep },
    { name: 'units', title: 'Hardened systemd unit', run: unitsStep },
    { name: 'firewall', title: 'Firewall (UFW)', run: firewall },
    { name: 'fail2ban', title: 'fail2ban', run: fail2ban },
    { name: 'unattended-upgrades', title: 'Unattended upgrades', run: unattendedUpgrades },
    { name: 'sysctl', title: 'Kernel network hardening (sysctl)', run: sysctl },
    {
      name: 'start-agent',
      title: 'Start the agent',
      run: (env) => {
        agentStartedAt = Date.now();
        return startAgentStep(env);
      },
    },
    { name: 'wait-online', title: 'Wait for the node to come online', run: (env) => waitOnline(env, agentStartedAt) },
  ];
}

export { sessionOf };
