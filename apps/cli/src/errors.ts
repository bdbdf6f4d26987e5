/**
 * Errors the CLI expects and prints without a stack trace. Anything else is a bug and is printed with one.
 */

/** An expected failure with a message for the user and the process exit code to use. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong usage (bad option value, missing input): exit code 2, like commander's own usage errors. */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
    this.name = 'UsageError';
  }
}
