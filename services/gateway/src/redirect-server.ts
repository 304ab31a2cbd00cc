// The public plain-HTTP port: it answers 308 to HTTPS and nothing else (liveness aside, for load balancers).
// It is a listener of its own so that the gateway's plain-HTTP port — where the private network reaches its
// metrics and internal routes — need not be published at all.
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROBLEM_CONTENT_TYPE, problem } from '@msa/service-kit';
import { httpsLocation, securityHeaders } from './proxy/headers';
import { resolveRequestId } from './proxy/request-id';

export async function listenRedirect(port: number, host: string, httpsPort: () => number): Promise<Server> {
  const server = http.createServer((req, res) => {
    const requestId = resolveRequestId(req.headers['x-request-id']);
    const headers: Record<string, string> = { 'x-request-id': requestId };
    const sec = securityHeaders(false);
    for (let i = 0; i < sec.length; i += 2) headers[sec[i]!] = sec[i + 1]!;
    const url = req.url ?? '/';
    if (url === '/health/live') {
      res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8' });
      res.end('{"status":"ok"}');
      return;
    }
    const location = url.startsWith('/') ? httpsLocation(req.headers.host, httpsPort(), url) : null;
    if (location === null) {
      res.writeHead(400, { ...headers, 'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8` });
      res.end(
        JSON.stringify(
          problem({
            status: 400,
            code: 'BAD_REQUEST',
            detail: 'a valid Host header and path are needed to redirect to HTTPS',
            instance: requestId,
          }),
        ),
      );
      return;
    }
    res.writeHead(308, { ...headers, location, 'content-length': '0' });
    res.end();
  });
  // Nothing here is slow: a client that takes long over its headers is cut early.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
