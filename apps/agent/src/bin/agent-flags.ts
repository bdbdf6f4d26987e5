/**
 * Commander flags generated from the agent's option table (AGENT_OPTIONS), for `caddyfleet-agent run`,
 * `caddyfleet agent` and the local node of the controller roles. The values go back through loadAgentOptions, so
 * flags, env variables and validation stay one definition.
 */
import { Option, type Command } from 'commander';
import { AGENT_OPTIONS, BOOLEAN_AGENT_OPTIONS, type AgentFlags, type AgentOptionName } from '../options';

/** On/off options: `--keep-caddy` alone means true, `--keep-caddy false` is accepted too. */
const SWITCHES: ReadonlySet<AgentOptionName> = new Set<AgentOptionName>(['keepCaddy']);

export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** Commander stores `--no-docker` as `docker: false`. */
const negatedKey = (name: string) => name.replace(/^no([A-Z])/, (_m, c: string) => c.toLowerCase());

/** `--name <value>`, `--keep-caddy [bool]`, or `--no-docker` for a flag (its variable is read by the option loader). */
export function agentOption(name: AgentOptionName, describe: string = AGENT_OPTIONS[name].describe): Option {
  const spec = AGENT_OPTIONS[name];
  if (BOOLEAN_AGENT_OPTIONS.has(name)) return new Option(`--${kebab(name)}`, `${describe} (or ${spec.env}=true)`);
  return new Option(`--${kebab(name)} ${SWITCHES.has(name) ? '[bool]' : '<value>'}`, describe).env(spec.env);
}

export function addAgentOptions(cmd: Command, only?: readonly AgentOptionName[]): Command {
  for (const name of Object.keys(AGENT_OPTIONS) as AgentOptionName[]) {
    if (only && !only.includes(name)) continue;
    cmd.addOption(agentOption(name));
  }
  return cmd;
}

/** Commander's parsed options → loader flags (only the agent's own options, switches as 'true'). */
export function agentFlags(opts: Record<string, unknown>): AgentFlags {
  const flags: AgentFlags = {};
  for (const name of Object.keys(AGENT_OPTIONS) as AgentOptionName[]) {
    const v = opts[name];
    if (typeof v === 'string') flags[name] = v;
    else if (v === true && SWITCHES.has(name)) flags[name] = 'true';
    else if (BOOLEAN_AGENT_OPTIONS.has(name) && opts[negatedKey(name)] === false) flags[name] = 'true';
  }
  return flags;
}
