/** `caddyfleet-agent run`: the agent in the foreground until SIGTERM/SIGINT/SIGHUP (systemd's stop, Ctrl-C, a closed terminal) or a final error. */
import { startAgent } from '../agent';
import { loadAgentOptions, type AgentFlags } from '../options';
import { describeError, EXIT_CONFIG } from './exit';
import { waitForStopSignal } from '../stop-signals';

/** Reasons the agent gives when the controller refused its key for good (see connection.ts). */
const KEY_REFUSED = /^agent key (revoked|rejected)/;

export async function runAgent(flags: AgentFlags): Promise<number> {
  const shutdown = waitForStopSignal();
  let agent;
  try {
    agent = await startAgent(loadAgentOptions(flags));
  } catch (err) {
    const { message, code } = describeError(err);
    process.stderr.write(`caddyfleet-agent: error: ${message}\n`);
    return code;
  }
  const outcome = await Promise.race([shutdown.then((signal) => ({ reason: 'stopped', signal })), agent.done]);
  await agent.stop();
  if (outcome.reason === 'stopped') return 0;
  process.stderr.write(`caddyfleet-agent: stopped: ${outcome.reason}\n`);
  return KEY_REFUSED.test(outcome.reason) ? EXIT_CONFIG : 1;
}
