/** Shared by the unit tests of the agent's option loader (src/options.test.ts, src/docker/options.test.ts). */
import { expect } from 'vitest';
import { AgentConfigError } from '../src/errors';
import { loadAgentOptions } from '../src/options';

/** The least a valid set of flags needs. */
export const BASE_FLAGS = { stateDir: '/var/lib/caddyfleet-agent', caddyBin: '/usr/bin/caddy' };

/** The AgentConfigError message for flags and env that must be refused (fails when they are accepted). */
export function refusalOf(flags: Parameters<typeof loadAgentOptions>[0], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadAgentOptions(flags, env);
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the options to be refused');
}
