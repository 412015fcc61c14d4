import type { FastifyError, FastifyInstance } from 'fastify';
import { ConnectionClosedError } from 'bullmq';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { type ApiErrorCode, DomainError, QuotaExceededError } from '../shared/errors.js';
import { isRedisOutage } from '../store/redis.js';
import type { ErrorResponse } from './schemas.js';

const toPath = (instancePath: string) =>
  instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));

/** Fastify's own 4xx errors (body parsing, content types), by their `code`. */
const FASTIFY_CODES: Readonly<Record<string, ApiErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
};

function clientErrorCode(err: FastifyError, status: number): ApiErrorCode {
  const known = FASTIFY_CODES[err.code];
  if (known) return known;
  // secure-json-parse refuses __proto__ and constructor.prototype keys with a SyntaxError.
  if (err instanceof SyntaxError) return 'invalid_json';
  if (status === 413) return 'body_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 404) return 'not_found';
  return 'bad_request';
}

const body = (code: ApiErrorCode, message: string, details?: unknown): ErrorResponse => ({
  error: { code, message, ...(details !== undefined ? { details } : {}) },
});

/**
 * The one place errors become HTTP responses: domain errors keep their status and code,
 * request validation becomes a 400 listing every offending path, Fastify's own client errors
 * keep their status with a Descent code, a Redis outage (told by error class and connection
 * state) is a 503, and anything else is logged with the request id and answered with a generic 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      if (err instanceof QuotaExceededError && err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
      if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="descent"');
      return reply.code(err.status).send(body(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const details = err.validation.map((v) => ({ path: toPath(v.instancePath), message: v.message, code: v.keyword }));
      return reply
        .code(400)
        .send(body(where === 'body' ? 'invalid_spec' : 'invalid_request', `the request ${where} has ${details.length} problem(s)`, details));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send(body(clientErrorCode(err, status), err.message));
    const connections = app.hasDecorator('redisConnections') ? app.redisConnections : [];
    if (err instanceof ConnectionClosedError || isRedisOutage(err, connections)) {
      request.log.warn({ err: err.message }, 'redis unavailable');
      return reply.code(503).send(body('redis_unavailable', 'the job store (Redis) is unreachable; retry shortly'));
    }
    if (status === 503) return reply.code(503).send(body('unavailable', err.message));
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(body('internal', `internal error (request ${request.id})`));
  });

  app.setNotFoundHandler((request, reply) => reply.code(404).send(body('not_found', `no route ${request.method} ${request.url}`)));
}
