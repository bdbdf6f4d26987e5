/** Bad or missing agent options: the message lists every problem, one per line, and is meant for the operator. */
export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

/** A file in the state directory exists but cannot be used (corrupt JSON, wrong shape). */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'StateFileError';
  }
}

/** The controller refused or could not take the enrollment. `final` errors must not be retried. */
export class EnrollError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null,
    readonly final: boolean,
  ) {
    super(message);
    this.name = 'EnrollError';
  }
}

/** Message of any thrown value, for logs and frames. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
