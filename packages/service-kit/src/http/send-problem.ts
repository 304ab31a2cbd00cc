import type { Response } from 'express';
import { currentRequestId } from '../log/request-context';
import { PROBLEM_CONTENT_TYPE, problem } from './problem';

/** Answers an Express request with problem details; the request id (already in x-request-id) is the instance. */
export function sendProblem(
  res: Response,
  status: number,
  code: string,
  detail: string,
  details?: unknown,
): void {
  // The header is set first thing for every request; the async context may be lost across a body parser's events.
  const header = res.getHeader('x-request-id');
  const instance = typeof header === 'string' ? header : (currentRequestId() ?? '');
  res
    .status(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem({ status, code, detail, instance, details })));
}
