/**
 * Who this agent is: the credentials of an embedding process, an identity provisioned over SSH, agent.json from
 * an earlier enrollment, or a new enrollment with the given token (saved to agent.json).
 */
import type { Logger } from 'pino';
import { Backoff } from './backoff';
import { enroll, reportableHostname } from './enroll';
import { AgentConfigError } from './errors';
import type { AgentOptions } from './options';
import type { StateStore, AgentState } from './state';

/** Explicit credentials instead of agent.json and enrollment (see AgentHooks.credentials). */
export interface AgentCredentials {
  nodeId: string;
  agentKey: string;
}

export async function identify(opts: AgentOptions, state: StateStore, hooks: { credentials?: AgentCredentials | undefined }, log: Logger, stopped: () => boolean): Promise<AgentState> {
  if (hooks.credentials) {
    if (!opts.controller) throw new AgentConfigError('a controller URL is required with explicit credentials');
    return { controller: opts.controller, ...hooks.credentials };
  }
  if (opts.nodeId && opts.agentKey) {
    // Provisioned over SSH: the controller issued this identity; it wins over an older agent.json.
    if (!opts.controller) throw new AgentConfigError('a controller URL (--controller) is required with --node-id and --agent-key');
    return { controller: opts.controller, nodeId: opts.nodeId, agentKey: opts.agentKey };
  }
  const saved = await state.readAgent();
  if (saved) {
    if (opts.token) log.info({ nodeId: saved.nodeId }, `already enrolled as node ${saved.nodeId}; the enrollment token is used only if the controller refuses this node's key`);
    if (opts.controller && opts.controller !== saved.controller) {
      // Same key, new address (the controller moved): follow the operator and remember it.
      log.warn({ was: saved.controller, now: opts.controller }, 'controller URL differs from the one in agent.json; using and saving the new one');
      const moved = { ...saved, controller: opts.controller };
      await state.writeAgent(moved);
      return moved;
    }
    return saved;
  }
  if (!opts.controller) {
    throw new AgentConfigError(`this agent is not enrolled yet (no ${state.agentFile}): --controller (CADDYFLEET_CONTROLLER) is required`);
  }
  if (!opts.token) {
    throw new AgentConfigError(`this agent is not enrolled yet (no ${state.agentFile}): --token (CADDYFLEET_ENROLLMENT_TOKEN) is required to enroll`);
  }
  return enrollAndSave(opts, opts.controller, opts.token, state, log, stopped);
}

export async function enrollAndSave(opts: AgentOptions, controller: string, token: string, state: StateStore, log: Logger, stopped: () => boolean): Promise<AgentState> {
  const enrolled = await enroll(
    { controller, token, name: opts.name, hostname: reportableHostname() },
    { log, backoff: new Backoff(opts.reconnectMinMs, opts.reconnectMaxMs), isStopped: stopped },
  );
  const identity = { controller, ...enrolled };
  await state.writeAgent(identity);
  return identity;
}
