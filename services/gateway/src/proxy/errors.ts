import type { ServerResponse } from 'node:http';
import { securityHeaders } from './headers';

/**
 * Writes the one error body shape, `{"error":{"code","message","details"}}`, with the request id and the security
 * headers. `extra` adds headers such as Retry-After. A response already under way is cut instead: a second status
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
  const body = JSON.stringify({ error: { code, message, details } });
  const headers = [
    'content-type',
    'application/json; charset=utf-8',
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
