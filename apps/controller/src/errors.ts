import type { z } from 'zod';

/** An error with an HTTP status and a stable machine-readable code; the central handler renders it. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'validation_failed', message, details);
  }
  static fromZod(error: z.ZodError, where = 'body'): ValidationError {
    const details = error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    const first = details[0];
    const summary = first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid input';
    return new ValidationError(`invalid ${where}: ${summary}`, details);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} ${id} not found`);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(code = 'unauthorized', message = 'authentication required') {
    super(401, code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(code = 'forbidden', message = 'you are not allowed to do this') {
    super(403, code, message);
  }
}

export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = `too many attempts, retry in ${retryAfterSeconds} s`,
  ) {
    super(429, 'rate_limited', message);
  }
}

/** The database is away (restarting, unreachable); nothing was changed and the same request can be sent again. */
export class DatabaseUnavailableError extends AppError {
  readonly retryAfterSeconds = 2;
  constructor() {
    super(503, 'database_unavailable', 'the database is unavailable right now; nothing was changed, try again in a few seconds');
  }
}

/** The disk (or the database's size limit) is full: nothing was changed. */
export class StorageFullError extends AppError {
  constructor() {
    super(507, 'storage_full', "the controller's storage is full; nothing was changed. Free disk space on the controller's host and try again");
  }
}

/** True for a PostgreSQL deadlock or serialization failure: the transaction can be retried as it is. */
export function isSerializationFailure(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '40P01' || code === '40001';
}

/** True for a unique-constraint violation from SQLite or PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | null;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
