import type { FastifyError, FastifyInstance } from 'fastify';
import { isDatabaseUnavailable, isStorageFull } from '../db/availability';
import { AppError, DatabaseUnavailableError, RateLimitedError, StorageFullError } from '../errors';

/** Fastify's own request errors, given stable codes of ours. */
const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'the body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: 'content-length does not match the body' },
};

/** Errors of the store that have a meaning for the client, as our own errors; anything else is left as it is. */
export function translateStoreError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (isDatabaseUnavailable(err)) return new DatabaseUnavailableError();
  if (isStorageFull(err)) return new StorageFullError();
  return err;
}

export function installErrorHandler(app: FastifyInstance, hooks: { onDatabaseUnavailable?: (err: unknown) => void } = {}): void {
  app.setErrorHandler((raw: FastifyError, req, reply) => {
    const translated = translateStoreError(raw);
    if (translated instanceof DatabaseUnavailableError && !(raw instanceof AppError)) hooks.onDatabaseUnavailable?.(raw);
    if (translated instanceof StorageFullError && !(raw instanceof AppError)) req.log.error({ err: raw }, 'storage full');
    const err = translated as FastifyError;
    if (err instanceof AppError) {
      if (err instanceof RateLimitedError || err instanceof DatabaseUnavailableError) reply.header('retry-after', String(err.retryAfterSeconds));
      const body: { code: string; message: string; details?: unknown } = { code: err.code, message: err.message };
      if (err.details !== undefined) body.details = err.details;
      return reply.code(err.status).send({ error: body });
    }
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return reply.code(known.status).send({ error: { code: known.code, message: known.message ?? err.message } });
    if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
      return reply.code(400).send({ error: { code: 'invalid_json', message: 'the body is not valid JSON' } });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: { code: 'bad_request', message: err.message } });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal server error' } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `no such endpoint: ${req.method} ${req.url.split('?')[0]}` } }),
  );
}
