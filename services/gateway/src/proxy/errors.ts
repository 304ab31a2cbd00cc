import type { ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, problem } from '@msa/service-kit';
import { securityHeaders } from './headers';

/**
 * Writes the one error shape, problem details (RFC 9457, the kit's `problem`: the request id is its `instance`), with
 * the x-request-id and the security headers. `extra` adds headers such as Retry-After. A response already under way is cut instead: a second status
 * line cannot be sent.
 */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  requestId: string,
  secure: boolean,
  extra?: readonly string[],
  details?: unknown,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem({ status, code, detail: message, instance: requestId, details }));
  const headers = [
    'content-type',
    PROBLEM_CONTENT_TYPE + '; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    'x-request-id',
    requestId,
    ...securityHeaders(secure),
  ];
  if (extra !== undefined) headers.push(...extra);
  res.writeHead(status, headers);
  res.end(body);
}
