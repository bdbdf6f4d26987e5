/**
 * Commander flags generated from the agent's option table (AGENT_OPTIONS), for `caddyfleet-agent run`. The
 * values go back through loadAgentOptions, so flags, env variables and validation stay one definition.
 */
import { Option, type Command } from 'commander';
import { AGENT_OPTIONS, type AgentFlags, type AgentOptionName } from '../options';

/** On/off options: `--keep-caddy` alone means true, `--keep-caddy false` is accepted too. */
const SWITCHES: ReadonlySet<AgentOptionName> = new Set<AgentOptionName>(['keepCaddy']);

export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

export function addAgentOptions(cmd: Command, only?: readonly AgentOptionName[]): Command {
  for (const [name, spec] of Object.entries(AGENT_OPTIONS) as [AgentOptionName, { env: string; describe: string }][]) {
    if (only && !only.includes(name)) continue;
    cmd.addOption(new Option(`--${kebab(name)} ${SWITCHES.has(name) ? '[bool]' : '<value>'}`, spec.describe).env(spec.env));
  }
  return cmd;
}

/** Commander's parsed options → loader flags (only the agent's own options, switches as 'true'). */
export function agentFlags(opts: Record<string, unknown>): AgentFlags {
  const flags: AgentFlags = {};
  for (const name of Object.keys(AGENT_OPTIONS) as AgentOptionName[]) {
    const v = opts[name];
    if (typeof v === 'string') flags[name] = v;
    else if (v === true) flags[name] = 'true';
  }
  return flags;
}
