import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiErrorCode } from '../shared/errors.js';
import { type ErrorResponse, errorResponseSchema, ID_MAX_LENGTH } from './schemas.js';

/** Descent's codes for the errors Fastify and Node's HTTP server answer before a route runs. */
const CODES: Readonly<Partial<Record<number, ApiErrorCode>>> = {
  404: 'not_found',
  408: 'request_timeout',
  413: 'body_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  431: 'headers_too_large',
};

/** The `{"error": {...}}` body of a framework error with this status. */
export function frameworkErrorBody(status: number, message: string): ErrorResponse {
  return { error: { code: CODES[status] ?? 'bad_request', message } };
}

/**
 * Errors Fastify raises before a route is found (a path parameter over `maxParamLength`, a
 * malformed URL): answered in Descent's error format instead of Fastify's.
 */
export function onFrameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode ?? 400;
  const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? `a path segment is longer than the ${ID_MAX_LENGTH} characters an id may have` : err.message;
  void reply.code(status).send(frameworkErrorBody(status, message));
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request was not received in time (requestTimeout)'],
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than the server accepts'],
};

/**
 * Errors Node's HTTP server raises on the socket before Fastify sees a request (oversized
 * headers, a request not received in time, a malformed request line), written in Descent's
 * error format; the socket is then closed, as Node does.
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'the request is not valid HTTP'];
  closeWithError(socket, status, message, err);
}

/** Answers on the bare socket in Descent's error format (when it can still be written), then closes it. */
export function closeWithError(socket: Socket, status: number, message: string, err?: Error): void {
  const body = JSON.stringify(frameworkErrorBody(status, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/**
 * Documents on every route the errors the server itself can answer it with: 408 (too slow) and
 * 431 (oversized headers) anywhere, 414 where a path parameter may be over `maxParamLength`.
 * Registered before the routes, so the OpenAPI document lists them too.
 */
export function documentFrameworkErrors(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (!route.schema) return;
    const own = { 408: errorResponseSchema, 431: errorResponseSchema, ...(route.url.includes(':') ? { 414: errorResponseSchema } : {}) };
    route.schema.response = { ...own, ...(route.schema.response as object | undefined) };
  });
}
