import type { IncomingMessage } from 'node:http';
import { traceparentOf, type TraceContext } from '@msa/service-kit';

// Headers are handled as flat [name, value, name, value...] arrays: node's writeHead() and http.request() take them
// as they are, with no per-request header object to build and no setHeader() bookkeeping.

const SECURITY_HTTP = [
  'x-content-type-options',
  'nosniff',
  'x-frame-options',
  'DENY',
  'referrer-policy',
  'no-referrer',
];
const SECURITY_HTTPS = [...SECURITY_HTTP, 'strict-transport-security', 'max-age=31536000'];

export function securityHeaders(secure: boolean): readonly string[] {
  return secure ? SECURITY_HTTPS : SECURITY_HTTP;
}

const HOST_HEADER = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** Where a plain-HTTP request goes on HTTPS; null when its Host header is missing or not a host (no open redirect). */
export function httpsLocation(host: string | undefined, port: number, path: string): string | null {
  if (host === undefined || !HOST_HEADER.test(host)) return null;
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return `https://${hostname}${port === 443 ? '' : ':' + port}${path}`;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded; the x-forwarded-* family,
// x-request-id and x-internal-token are set by the gateway alone, so a client cannot forge them. The client's
// traceparent/tracestate are replaced by the gateway's own hop (which continues a valid one).
const DROP_FROM_CLIENT = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-real-ip',
  'x-request-id',
  'x-internal-token',
  'traceparent',
  'tracestate',
]);

// x-powered-by and server name the upstream's software and version to anyone who asks: the edge strips them.
const DROP_FROM_UPSTREAM = new Set([
  'x-powered-by',
  'server',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-request-id',
  ...SECURITY_HTTPS.filter((_, i) => i % 2 === 0),
]);

/** Names a `Connection` header lists are hop-by-hop too; only parsed when it says more than keep-alive/close. */
function connectionListed(value: string | undefined): Set<string> | null {
  if (value === undefined) return null;
  const v = value.toLowerCase();
  if (v === 'keep-alive' || v === 'close') return null;
  return new Set(v.split(',').map((s) => s.trim()));
}

export interface ForwardedFacts {
  hostHeader: string;
  requestId: string;
  trace: TraceContext;
  internalToken: string;
  clientIp: string;
  secure: boolean;
}

/** The upstream request's headers. Index 1 holds the upstream's host, rewritten when a retry goes elsewhere. */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  upstreamHost: string,
  f: ForwardedFacts,
): string[] {
  const out: string[] = ['host', upstreamHost];
  const raw = req.rawHeaders;
  const listed = connectionListed(req.headers.connection);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (DROP_FROM_CLIENT.has(name) || (listed !== null && listed.has(name))) continue;
    out.push(name, raw[i + 1]!);
  }
  // Node hands us the body de-chunked; saying "chunked" again makes node re-frame it towards the upstream.
  if (req.headers['transfer-encoding'] !== undefined) out.push('transfer-encoding', 'chunked');
  out.push(
    'x-request-id',
    f.requestId,
    'x-internal-token',
    f.internalToken,
    'x-forwarded-for',
    f.clientIp,
    'x-forwarded-proto',
    f.secure ? 'https' : 'http',
    'x-forwarded-host',
    f.hostHeader,
    'traceparent',
    traceparentOf(f.trace),
  );
  if (f.trace.state !== undefined) out.push('tracestate', f.trace.state);
  return out;
}

/**
 * The client response's headers: the upstream's end-to-end ones, then the request id and the security headers.
 * Reads the upstream's raw headers only (its parsed `headers` object would be built for nothing).
 */
export function clientResponseHeaders(upstreamRaw: string[], requestId: string, secure: boolean): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  for (let i = 0; i < upstreamRaw.length; i += 2) {
    const name = upstreamRaw[i]!.toLowerCase();
    if (DROP_FROM_UPSTREAM.has(name)) {
      if (name === 'connection') connection = upstreamRaw[i + 1];
      continue;
    }
    out.push(name, upstreamRaw[i + 1]!);
  }
  const listed = connectionListed(connection);
  if (listed !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (listed.has(out[i]!)) out.splice(i, 2);
  }
  out.push('x-request-id', requestId);
  const sec = securityHeaders(secure);
  for (let i = 0; i < sec.length; i++) out.push(sec[i]!);
  return out;
}
