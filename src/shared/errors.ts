import { z } from 'zod';

/**
 * Every `error.code` an API response can carry: stable and machine-readable (the message is for
 * people and may change). Domain errors are typed with it, and the OpenAPI document lists it.
 */
export const API_ERROR_CODES = [
  // 400: the request is wrong
  'invalid_spec',
  'invalid_request',
  'invalid_json',
  'json_too_deep',
  'bad_request',
  'invalid_cursor',
  'invalid_event_id',
  'invalid_inputs',
  'malformed_dataset',
  'invalid_upload_option',
  'upload_aborted',
  'host_not_allowed',
  // 401, 403: who is asking
  'unauthorized',
  'insufficient_scope',
  'cross_site_request',
  'csrf_token_invalid',
  'origin_not_allowed',
  // 404, 409, 410
  'not_found',
  'job_finished',
  'job_not_completed',
  'job_deleted',
  'inline_data_missing',
  'experiment_finished',
  // 408, 413, 414, 415, 431: what Fastify and Node's HTTP server refuse themselves
  'request_timeout',
  'body_too_large',
  'upload_too_large',
  'uri_too_long',
  'unsupported_media_type',
  'headers_too_large',
  // 422: well-formed, but over a limit or against an earlier request
  'limit_exceeded',
  'idempotency_key_reused',
  // 422 or 429: over a tenant's quota; 429: over the rate limit
  'quota_exceeded',
  'rate_limited',
  // 503: retry later
  'redis_unavailable',
  'no_worker',
  'predict_timeout',
  'predict_failed',
  'unavailable',
  // 500: a fault of the service (the body says no more; the log has the rest)
  'internal',
] as const;
export const apiErrorCodeSchema = z.enum(API_ERROR_CODES).describe('Stable machine-readable code.');
export type ApiErrorCode = z.infer<typeof apiErrorCodeSchema>;

/** The HTTP statuses a domain error can have: client mistakes and "retry later", never a 500. */
export type DomainErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 503;

/**
 * Domain errors: services throw these and never touch the HTTP reply; the API's one error
 * handler maps `status` and `code` to the response.
 */
export class DomainError extends Error {
  constructor(
    readonly status: DomainErrorStatus,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No valid API key (or session) came with a request that needs one. */
export class UnauthorizedError extends DomainError {
  constructor(message: string) {
    super(401, 'unauthorized', message);
  }
}

/**
 * Over a tenant's quota: 429 with Retry-After when waiting helps (jobs finish), 422 when only
 * deleting something does (stored bytes).
 */
export class QuotaExceededError extends DomainError {
  constructor(
    readonly quota: string,
    used: number,
    limit: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(
      retryAfterSeconds === undefined ? 422 : 429,
      'quota_exceeded',
      `over the tenant's quota ${quota}: ${used} used of ${limit}` +
        (retryAfterSeconds === undefined ? '; delete something first' : '; retry once some finish'),
      { quota, used, limit },
    );
  }
}

/** A request the API cannot take as it is (a bad cursor, event id, inputs ...). */
export class BadRequestError extends DomainError {
  constructor(code: ApiErrorCode, message: string, details?: unknown) {
    super(400, code, message, details);
  }
}

/** 403: well-formed but not allowed: from where it comes (an origin, a cross-site write) or by whom (scope, a missing CSRF token). */
export class ForbiddenError extends DomainError {
  constructor(code: ApiErrorCode, message: string) {
    super(403, code, message);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} ${JSON.stringify(id)} does not exist`);
  }
}

export class InvalidSpecError extends DomainError {
  constructor(details: { path: (string | number)[]; message: string }[]) {
    super(400, 'invalid_spec', `the job spec has ${details.length} problem(s)`, details);
  }
}

export class LimitExceededError extends DomainError {
  constructor(details: { limit: string; path: (string | number)[]; value: number; max: number; measure?: string }[]) {
    const first = details[0]!;
    const value = first.measure ? `needs ${first.value} ${first.measure}` : `is ${first.value}`;
    super(
      422,
      'limit_exceeded',
      `${first.path.join('.')} ${value}, over the limit ${first.limit}=${first.max}` + (details.length > 1 ? ` (and ${details.length - 1} more)` : ''),
      details,
    );
  }
}

/** The resource is in a state that does not allow the request (a finished job cannot be cancelled). */
export class ConflictError extends DomainError {
  constructor(code: ApiErrorCode, message: string) {
    super(409, code, message);
  }
}

/** The resource existed and was deleted. */
export class GoneError extends DomainError {
  constructor(code: ApiErrorCode, message: string) {
    super(410, code, message);
  }
}

/** Well-formed but refused: over a limit, or against what an earlier request established. */
export class UnprocessableError extends DomainError {
  constructor(code: ApiErrorCode, message: string, details?: unknown) {
    super(422, code, message, details);
  }
}

/** A dependency (Redis, a worker) cannot serve the request now; the client may retry. */
export class UnavailableError extends DomainError {
  constructor(code: ApiErrorCode, message: string, options?: ErrorOptions) {
    super(503, code, message, undefined, options);
  }
}
