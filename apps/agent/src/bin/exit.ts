/** How `caddyfleet-agent` reports a failure: one line for errors it expects, and an exit code systemd can act on. */
import { AgentConfigError, EnrollError, StateFileError } from '../errors';
import { ConfigEnvError } from '../install/config-env';
import { InstallError } from '../install/system';
import { LocalApiError } from '../local-api-client';

/**
 * EX_CONFIG from sysexits.h: starting again cannot help (bad options, a damaged state file, a revoked key).
 * The unit lists it in RestartPreventExitStatus so systemd does not restart the agent in a loop.
 */
export const EXIT_CONFIG = 78;

const EXPECTED = [AgentConfigError, StateFileError, EnrollError, InstallError, ConfigEnvError, LocalApiError];

export function describeError(err: unknown): { message: string; code: number } {
  if (err instanceof AgentConfigError || err instanceof StateFileError) return { message: err.message, code: EXIT_CONFIG };
  if (EXPECTED.some((E) => err instanceof E)) return { message: (err as Error).message, code: 1 };
  // Unexpected: a bug, shown with its stack.
  return { message: err instanceof Error ? (err.stack ?? err.message) : String(err), code: 1 };
}
