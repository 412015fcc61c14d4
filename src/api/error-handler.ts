import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError } from '../shared/errors.js';
import { frameworkErrorBody } from './framework-errors.js';

const toPath = (instancePath: string) =>
  instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));

/**
 * The one place errors become HTTP responses: domain errors keep their status and code,
 * request validation becomes a 400 listing every offending path, and anything unexpected is
 * logged with the request id and answered with a generic 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      return reply.code(err.status).send({
        error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) },
      });
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const details = err.validation.map((v) => ({ path: toPath(v.instancePath), message: v.message, code: v.keyword }));
      return reply.code(400).send({
        error: {
          code: where === 'body' ? 'invalid_spec' : 'invalid_request',
          message: `the request ${where} has ${details.length} problem(s)`,
          details,
        },
      });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(frameworkErrorBody(status, err.message, err instanceof SyntaxError ? 'FST_ERR_CTP_INVALID_JSON_BODY' : err.code));
    }
    if (isRedisUnavailable(err)) {
      request.log.warn({ err: err.message }, 'redis unavailable');
      return reply.code(503).send({ error: { code: 'unavailable', message: 'the job store (Redis) is unreachable; retry shortly' } });
    }
    if (status === 503) return reply.code(503).send({ error: { code: 'unavailable', message: err.message } });
    request.log.error({ err, reqId: request.id }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'internal', message: `internal error (request ${request.id})` } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } }),
  );
}

function isRedisUnavailable(err: Error): boolean {
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /ECONNREFUSED|Connection is closed|Stream isn't writeable|enableOfflineQueue|ETIMEDOUT/.test(err.message)
  );
}
