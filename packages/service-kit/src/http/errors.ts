import type { FieldProblem } from './problem';

/**
 * Errors named by what they mean. Code throws these; one middleware turns them into problem details
 * (application/problem+json, see problem.ts) with the right status: `code` is the project's code, the message is
 * the `detail`, and `details` becomes the `errors` member (field problems) or extension members (an object).
 */
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

export type { FieldProblem };

export class ValidationError extends AppError {
  constructor(message = 'the request is not valid', details?: FieldProblem[] | unknown) {
    super(400, 'VALIDATION_FAILED', message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'authentication required', code = 'UNAUTHORIZED') {
    super(401, code, message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'not allowed') {
    super(403, 'FORBIDDEN', message);
  }
}
export class NotFoundError extends AppError {
  constructor(message = 'not found', code = 'NOT_FOUND') {
    super(404, code, message);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'CONFLICT', details?: unknown) {
    super(409, code, message, details);
  }
}
export class ServiceUnavailableError extends AppError {
  constructor(message: string, code = 'SERVICE_UNAVAILABLE', details?: unknown) {
    super(503, code, message, details);
  }
}
export class UpstreamTimeoutError extends AppError {
  constructor(message: string) {
    super(504, 'UPSTREAM_TIMEOUT', message);
  }
}
