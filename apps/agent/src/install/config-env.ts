/**
 * /etc/caddyfleet-agent/config.env: the agent's settings as `CADDYFLEET_*` variables, read by systemd
 * (EnvironmentFile=). It never holds the enrollment token: enrollment happens during install.
 */
import { AGENT_OPTIONS } from '../options';
import { INSTALL } from './paths';

export interface InstallSettings {
  controller: string;
  /** /usr/bin/caddy (the OS package), or a Caddy of the operator's own (e.g. one built with layer4). */
  caddyBin: string;
  name: string;
  httpListen: string;
  httpsListen: string;
  /** Set when the controller issued the identity (SSH provisioning) instead of an enrollment. */
  identity?: { nodeId: string; agentKey: string };
}

/**
 * Characters that need no escaping in a double-quoted value for systemd and for sh (no quote, backslash,
 * dollar, backtick or control character), so the file means the same to both.
 */
const SAFE_VALUE = /^[^"\\$`\u0000-\u001f\u007f]*$/;

export class ConfigEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigEnvError';
  }
}

function line(env: string, value: string): string {
  if (!SAFE_VALUE.test(value)) throw new ConfigEnvError(`${env}: the value must not contain quotes, backslashes, $, \` or control characters`);
  return `${env}="${value}"`;
}

export function renderConfigEnv(s: InstallSettings): string {
  const entries: [string, string][] = [
    [AGENT_OPTIONS.controller.env, s.controller],
    [AGENT_OPTIONS.stateDir.env, INSTALL.stateDir],
    [AGENT_OPTIONS.caddyBin.env, s.caddyBin],
    [AGENT_OPTIONS.name.env, s.name],
    [AGENT_OPTIONS.httpListen.env, s.httpListen],
    [AGENT_OPTIONS.httpsListen.env, s.httpsListen],
    // `systemctl restart` and upgrades leave Caddy serving; the next agent adopts it (the unit has KillMode=process).
    [AGENT_OPTIONS.keepCaddy.env, 'true'],
  ];
  if (s.identity) entries.push([AGENT_OPTIONS.nodeId.env, s.identity.nodeId], [AGENT_OPTIONS.agentKey.env, s.identity.agentKey]);
  return [
    '# Written by `caddyfleet-agent install`; running it again rewrites this file (it keeps values not given).',
    s.identity
      ? '# The node id and key were issued by the controller (SSH provisioning): this file is the agent\'s credential.'
      : '# The agent enrolled during install: no enrollment token is stored here or anywhere else.',
    ...entries.map(([env, value]) => line(env, value)),
    '',
  ].join('\n');
}

/** Reads a config.env written by renderConfigEnv (KEY="value" or KEY=value lines); unknown lines are ignored. */
export function parseConfigEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(raw);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** The settings of an earlier install, so that a re-run without --name or listeners keeps them. */
export function previousSettings(text: string | null): Partial<InstallSettings> {
  if (text === null) return {};
  const env = parseConfigEnv(text);
  const pick = (key: string) => (env[key] ? env[key] : undefined);
  const out: Partial<InstallSettings> = {};
  const controller = pick(AGENT_OPTIONS.controller.env);
  const caddyBin = pick(AGENT_OPTIONS.caddyBin.env);
  const name = pick(AGENT_OPTIONS.name.env);
  const httpListen = pick(AGENT_OPTIONS.httpListen.env);
  const httpsListen = pick(AGENT_OPTIONS.httpsListen.env);
  if (controller) out.controller = controller;
  if (caddyBin) out.caddyBin = caddyBin;
  if (name) out.name = name;
  if (httpListen) out.httpListen = httpListen;
  if (httpsListen) out.httpsListen = httpsListen;
  const nodeId = pick(AGENT_OPTIONS.nodeId.env);
  const agentKey = pick(AGENT_OPTIONS.agentKey.env);
  if (nodeId && agentKey) out.identity = { nodeId, agentKey };
  return out;
}
