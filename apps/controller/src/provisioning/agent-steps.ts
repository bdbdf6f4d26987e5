/**
 * The agent's own steps. The config file and the hardened unit come from the agent binary's `install` (one
 * definition of both, shared with the one-line installer); the provisioner hands it the node id and the key on
 * stdin instead of an enrollment token, then checks the result and starts the service itself.
 */
import { shq } from './hardening';
import { StepFailure, script, type StepEnv, type StepOutcome } from './step-env';

export const AGENT_UNIT = 'caddyfleet-agent.service';
export const CONFIG_ENV = '/etc/caddyfleet-agent/config.env';
const AGENT_BIN = '/usr/local/bin/caddyfleet-agent';

/** Properties of the unit that must hold after install, as `systemctl show` prints them. */
export const REQUIRED_HARDENING: Record<string, string> = {
  NoNewPrivileges: 'yes',
  ProtectSystem: 'strict',
  ProtectHome: 'yes',
  PrivateTmp: 'yes',
  PrivateDevices: 'yes',
  ProtectKernelTunables: 'yes',
  ProtectKernelModules: 'yes',
  ProtectControlGroups: 'yes',
  RestrictNamespaces: 'yes',
  RestrictSUIDSGID: 'yes',
  LockPersonality: 'yes',
  CapabilityBoundingSet: 'cap_net_bind_service',
  User: 'caddyfleet-agent',
};

/** Parses `systemctl show -p A -p B` output (KEY=value lines). */
export function parseShow(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf('=');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** The properties that differ from REQUIRED_HARDENING, as `Key=actual (want value)`. */
export function hardeningProblems(props: Record<string, string>): string[] {
  return Object.entries(REQUIRED_HARDENING)
    .filter(([k, v]) => (props[k] ?? '') !== v)
    .map(([k, v]) => `${k}=${props[k] ?? '(unset)'} (want ${v})`);
}

export async function configStep(env: StepEnv): Promise<StepOutcome> {
  // printf is a shell builtin: the key goes through a pipe, never through argv.
  await script(
    env,
    `set -euo pipefail
printf '%s\\n' ${shq(env.agentKey)} | ${AGENT_BIN} install --no-start --controller ${shq(env.controllerUrl)} --node-id ${shq(env.nodeId)} --agent-key-stdin --caddy-bin ${shq(env.caddyBin)}`,
    { timeoutMs: 10 * 60_000 },
  );
  const st = await script(env, `stat -c '%a %U:%G' ${CONFIG_ENV}`);
  const [mode, owner] = (st.stdout[0] ?? '').trim().split(' ');
  if (mode !== '600') throw new StepFailure(`${CONFIG_ENV} has mode ${mode ?? '?'}, expected 600`);
  await env.commitAgentKey();
  return { message: `${CONFIG_ENV} (mode 0600, owner ${owner}) with the controller URL and this node's key` };
}

export async function unitsStep(env: StepEnv): Promise<StepOutcome> {
  const props = Object.keys(REQUIRED_HARDENING).concat(['SystemCallFilter', 'AmbientCapabilities']);
  const r = await script(
    env,
    `systemctl daemon-reload
systemctl enable --quiet ${AGENT_UNIT}
systemctl show ${AGENT_UNIT} ${props.map((p) => `-p ${p}`).join(' ')} | grep -v '^SystemCallFilter='
echo "SystemCallFilter=$(systemctl show ${AGENT_UNIT} -p SystemCallFilter --value | wc -w) system calls allowed"`,
  );
  const problems = hardeningProblems(parseShow(r.stdout));
  if (problems.length) throw new StepFailure(`${AGENT_UNIT} is not hardened as expected: ${problems.join(', ')}`);
  return { message: `${AGENT_UNIT} enabled: ${Object.keys(REQUIRED_HARDENING).filter((k) => k !== 'User').join(', ')}, a system call filter, runs as caddyfleet-agent` };
}

export async function startAgentStep(env: StepEnv): Promise<StepOutcome> {
  await script(
    env,
    `systemctl restart ${AGENT_UNIT}
for _ in $(seq 1 10); do systemctl is-active --quiet ${AGENT_UNIT} && break; sleep 0.5; done
systemctl is-active ${AGENT_UNIT}`,
  );
  return { message: `${AGENT_UNIT} (re)started` };
}
