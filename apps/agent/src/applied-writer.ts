/**
 * Writes applied.json in the background, after the ack went out: the apply (and the controller waiting for
 * its ack) never waits for the file system. Writes never overlap; when several applies happen during one
 * write, only the newest state is written next. The write itself stays atomic (temp file, fsync, rename).
 */
import type { Logger } from 'pino';
import { errorMessage } from './errors';
import type { AppliedState, StateStore } from './state';

/** Each route's JSON, made once per route object (routes are never modified once received). */
const routeJson = new WeakMap<object, string>();
function jsonOf(route: object): string {
  let json = routeJson.get(route);
  if (json === undefined) routeJson.set(route, (json = JSON.stringify(route)));
  return json;
}

export class AppliedWriter {
  private next: AppliedState | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly state: StateStore,
    private readonly log: Logger,
  ) {}

  /** Queues `state` to be written. */
  write(state: AppliedState): void {
    this.next = state;
    this.running ??= this.drain();
  }

  /** Resolves once everything queued so far is on disk (or failed and was logged). */
  flushed(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    // Let the caller send its ack first.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (this.next) {
        const state = this.next;
        this.next = null;
        const configJson = JSON.stringify(this.state.portableConfig(state.config));
        const appliedAt = state.appliedAt === undefined ? '' : `,"appliedAt":${JSON.stringify(state.appliedAt)}`;
        const docker = state.dockerRoutes === undefined ? '' : `,"dockerRoutes":${JSON.stringify(state.dockerRoutes)}`;
        const text = `{"revision":${state.revision},"routes":[${state.routes.map(jsonOf).join(',')}],"config":${configJson}${appliedAt}${docker}}\n`;
        try {
          await this.state.writeAppliedText(text);
        } catch (err) {
          // Caddy serves the config already; only a restart before the next successful write would lose it.
          this.log.error({ err: errorMessage(err) }, 'could not write applied.json');
        }
      }
    } finally {
      this.running = null;
    }
  }
}
