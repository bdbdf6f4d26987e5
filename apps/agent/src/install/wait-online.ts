/** Waiting for an installed agent to connect, through its local status API (`<state-dir>/agent.sock`). */
import { LocalApiClient, LocalApiError } from '../local-api-client';
import type { AgentStatusSnapshot } from '../status';

export type WaitResult =
  | { connected: true; snapshot: AgentStatusSnapshot }
  | { connected: false; problem: string; snapshot: AgentStatusSnapshot | null };

/** Polls GET /status every half second until `connected`, for at most `timeoutMs`. */
export async function waitForConnected(stateDir: string, timeoutMs: number): Promise<WaitResult> {
  const client = LocalApiClient.forStateDir(stateDir, 5000);
  const deadline = Date.now() + timeoutMs;
  let snapshot: AgentStatusSnapshot | null = null;
  let problem = 'the agent did not answer on its local socket';
  for (;;) {
    try {
      snapshot = await client.status();
      if (snapshot.connected) return { connected: true, snapshot };
      problem = snapshot.controllerError ?? 'not connected to the controller yet';
    } catch (err) {
      // Starting (socket not there yet) or restarting: keep polling until the deadline.
      problem = err instanceof LocalApiError ? err.message : String(err);
    }
    if (Date.now() >= deadline) return { connected: false, problem, snapshot };
    await new Promise((r) => setTimeout(r, 500));
  }
}
