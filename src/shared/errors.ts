/**
 * Domain errors: services throw these and never touch the HTTP reply; the API's one error
 * handler maps `status` and `code` to the response.
 */
export class DomainError extends Error {
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
      `${first.path.join('.')} ${value}, over the limit ${first.limit}=${first.max}` +
        (details.length > 1 ? ` (and ${details.length - 1} more)` : ''),
      details,
    );
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string) {
    super(409, code, message);
  }
}

export class UnavailableError extends DomainError {
  constructor(code: string, message: string) {
    super(503, code, message);
  }
}
