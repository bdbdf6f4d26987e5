import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { CliContext } from '../context';
import { agentFlags, registerAgent } from './agent';

function agentCommand(): Command {
  const program = new Command();
  // The context is only used when a command runs; these tests only parse.
  registerAgent(program, {} as CliContext);
  return program.commands.find((c) => c.name() === 'agent')!;
}

describe('caddyfleet agent --keep-caddy', () => {
  it('is a switch: alone it means true, and it also takes an explicit value', () => {
    const alone = agentCommand();
    alone.parseOptions(['--keep-caddy', '--state-dir', '/s']);
    expect(agentFlags(alone.opts())).toEqual({ keepCaddy: 'true', stateDir: '/s' });
    const explicit = agentCommand();
    explicit.parseOptions(['--keep-caddy', 'false']);
    expect(agentFlags(explicit.opts())).toEqual({ keepCaddy: 'false' });
    const absent = agentCommand();
    absent.parseOptions(['--state-dir', '/s']);
    expect(agentFlags(absent.opts()).keepCaddy).toBeUndefined();
  });

  it('is documented with its environment variable', () => {
    const help = agentCommand().helpInformation();
    expect(help).toMatch(/--keep-caddy \[bool\]/);
    expect(help).toMatch(/CADDYFLEET_KEEP_CADDY/);
  });
});
