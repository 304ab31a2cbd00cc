import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Redis } from 'ioredis';
import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ClientAddress } from './client-address';
import { Exchange, Forwarder } from './forward';
import { httpsLocation, securityHeaders } from './headers';
import { isInternalPath, originForm } from './internal-path';
import { InternalTokens, type TokenSigner } from './internal-token';
import { InvalidTokenError, JwtVerifier, KeysUnavailableError, type MemberClaims } from './jwt-cache';
import { LiveRoutes } from './live-routes';
import { ProxyMetrics } from './metrics';
import { DEFAULT_OUTLIER, OutlierDetector, type OutlierOptions } from './outlier';
import { RateLimit } from './rate-limit';
import type { RegistryView } from './registry-view';
import { resolveRequestId } from './request-id';
import { RevocationWatch } from './revocation-watch';
import { Revocations } from './revocations';
import { UpstreamPool } from './upstreams';
import { StatusBoard } from '../status/board';
import { isStatusPath, StatusPage } from '../status/page';
import { ApiDocs, isDocsPath } from '../docs/page';

export interface GatewayOptions {
  registry: RegistryView;
  logger: Logger;
  metricsRegistry: Registry;
  /** Signs the internal token forwarded upstream (the kit's ctx.tokens). */
  signer: TokenSigner;
  /** The member service's public keys (GET /internal/jwks on member, through the kit's internal client). */
  fetchJwks: () => Promise<JSONWebKeySet>;
  jwt?: { issuer?: string; audience?: string; refetchMs?: number };
  /**
   * Refuse revoked member tokens, learnt from the member service's revocation streams (revocation-watch.ts). Off
   * for tests that build a gateway without a member service.
   */
  watchRevocations?: boolean;
  /** Shares rate limits across gateway replicas when given. */
  redis?: Redis | null;
  rateLimit: { points: number; windowS: number; keyPrefix?: string };
  /** Proxies whose X-Forwarded-For names the client (addresses or CIDR ranges); none by default. */
  trustedProxies?: readonly string[];
  /** Largest body accepted (checked on Content-Length, and while the body is read). */
  bodyLimitBytes: number;
  /** How long a client may take to send its whole body once the gateway reads it; then 408 (default 10 s). */
  bodyTimeoutMs?: number;
  /** The most requests one client may have in flight at one instance (of its 128 sockets); 0: no cap (default 64). */
  clientSocketsPerInstance?: number;
  /** Plain-HTTP requests get 308 to HTTPS (health aside); see setHttpsPort. */
  redirectToHttps?: boolean;
  /** The port clients reach HTTPS on, for redirects; settable later when HTTPS listens on a picked port. */
  httpsPort?: number | null;
  outlier?: Partial<OutlierOptions>;
  /** The status page (`/status`): how long lost instances stay on it, how often it is pushed. */
  status?: { keepGoneMs?: number; pushMs?: number };
  /** The API document served at /docs (default: the repository's docs/openapi.json). */
  docsFile?: string;
}

export interface RouteView {
  method: string;
  path: string;
  service: string;
  auth: string;
  timeoutMs: number;
  instances: { instanceId: string; address: string; inFlight: number; ejectedForMs: number }[];
}

export interface Gateway {
  /** The kit's rawHandler: true when the request was taken (proxied or answered), false for Express. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  routes(): RouteView[];
  setHttpsPort(port: number): void;
  /** Resolves when every rate-limit consume fired so far is counted. */
  rateLimitSettled(): Promise<void>;
  /** The status page's picture of the system. */
  readonly board: StatusBoard;
  /** Ends the status page's streams (shutdown begins); `close` does it too. */
  closeStatusStreams(): void;
  close(): void;
}

/** Builds the proxy: the registry's live routing table and the request path through it, as one handler. */
export function createGateway(opts: GatewayOptions): Gateway {
  const { logger } = opts;
  // The pool reports departed instances to the metrics, and the metrics read the pool at scrape time.
  const pool = new UpstreamPool((u) => metrics.removeUpstream(u));
  const metrics = new ProxyMetrics(opts.metricsRegistry, pool);
  const outlier = new OutlierDetector(
    { ...DEFAULT_OUTLIER, ...opts.outlier },
    (service) => pool.ofService(service),
    (u, ms) => {
      logger.warn({ service: u.service, instance: u.instanceId, ms }, 'instance ejected as an outlier');
      board.note(
        'warn',
        u.service,
        `${u.instanceId} ejected for ${ms / 1000} s after failing in a row`,
        u.instanceId,
      );
    },
  );
  const live = new LiveRoutes(opts.registry, pool, (entry) => metrics.forRoute(entry), logger);
  const board = new StatusBoard(opts.registry, pool, metrics, () => live.current, opts.status);
  const fw = new Forwarder(
    outlier,
    metrics,
    logger,
    (ex, status) =>
      board.failed({
        requestId: ex.requestId,
        method: ex.req.method ?? '',
        route: ex.route?.path ?? shortPath(ex.path),
        service: ex.route?.service ?? '',
        instance: ex.upstream?.instanceId,
        status,
      }),
    opts.clientSocketsPerInstance ?? DEFAULT_CLIENT_SOCKETS_PER_INSTANCE,
  );
  const revocations = opts.watchRevocations === true ? new Revocations() : undefined;
  const revocationWatch =
    revocations === undefined
      ? undefined
      : new RevocationWatch({ registry: opts.registry, revocations, sign: () => opts.signer.sign(), logger });
  const jwt = new JwtVerifier({ fetchJwks: opts.fetchJwks, ...opts.jwt, revocations });
  const tokens = new InternalTokens(opts.signer);
  const limiter =
    opts.rateLimit.points > 0
      ? new RateLimit({
          points: opts.rateLimit.points,
          windowS: opts.rateLimit.windowS,
          redis: opts.redis,
          keyPrefix: opts.rateLimit.keyPrefix,
        })
      : null;
  const statusPage = new StatusPage({
    board,
    jwt,
    logger,
    limit: limiter === null ? undefined : (key) => limiter.check(key),
    pushMs: opts.status?.pushMs,
  });
  const docs = new ApiDocs(logger, opts.docsFile);
  const clientAddress = new ClientAddress(opts.trustedProxies ?? []);
  const bodyLimit = opts.bodyLimitBytes;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const redirectToHttps = opts.redirectToHttps === true;
  let httpsPort = opts.httpsPort ?? null;

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const secure = (req.socket as TLSSocket).encrypted === true;
    if (isOwnEndpoint(url)) {
      const sec = securityHeaders(secure);
      for (let i = 0; i < sec.length; i += 2) res.setHeader(sec[i]!, sec[i + 1]!);
      return false;
    }
    const headers = req.headers;
    const path = originForm(url);
    // The status page is the gateway's own (before the route table: no service can take /status over).
    if (path !== null && isStatusPath(path) && (secure || !redirectToHttps)) {
      statusPage.handle(req, res, path, resolveRequestId(headers['x-request-id']), secure);
      return true;
    }
    // So is the API reference: static, open, and before the route table too.
    if (path !== null && isDocsPath(path) && (secure || !redirectToHttps)) {
      docs.handle(req, res, path, resolveRequestId(headers['x-request-id']), secure);
      return true;
    }

    const ex = new Exchange(
      fw,
      req,
      res,
      path ?? '/',
      resolveRequestId(headers['x-request-id']),
      secure,
      clientAddress.of(req.socket.remoteAddress, headers['x-forwarded-for']),
      performance.now(),
    );
    if (path === null) {
      ex.fail(400, 'BAD_REQUEST', 'the request target must be a path');
      return true;
    }
    if (redirectToHttps && !secure) {
      if (httpsPort === null) ex.fail(503, 'SERVICE_UNAVAILABLE', 'HTTPS is not listening yet');
      else redirect(ex, httpsPort);
      return true;
    }
    const route = isInternalPath(path) ? null : live.current.match(req.method ?? 'GET', path);
    if (route === null) {
      ex.fail(404, 'NOT_FOUND', `no route for ${req.method} ${shortPath(path)}`);
      return true;
    }
    ex.route = route;
    const length = headers['content-length'];
    if (length !== undefined && !(Number(length) <= bodyLimit)) {
      ex.fail(413, 'PAYLOAD_TOO_LARGE', `the request body exceeds ${bodyLimit} bytes`);
      return true;
    }

    const token = bearer(headers.authorization);
    let user: MemberClaims | null = null;
    let mustVerify = false;
    if (token !== null) {
      const known = jwt.cached(token);
      if (known === undefined) mustVerify = true;
      else if (known !== null) user = known;
      else if (route.auth !== 'none') {
        unauthorized(ex, 'the token is invalid or has expired');
        return true;
      }
    }
    // Before any signature check, so a flood of new tokens is limited per address first. A member's own quota
    // only on routes that need a member: on anonymous ones (login, register) a token attached must not buy an
    // address one more budget per throwaway account.
    if (limiter !== null) {
      const wait = limiter.check(
        user !== null && route.auth !== 'none' ? 'u:' + user.sub : 'ip:' + ex.clientIp,
      );
      if (wait > 0) {
        ex.fail(429, 'RATE_LIMITED', 'too many requests', ['retry-after', String(Math.ceil(wait / 1000))]);
        return true;
      }
    }
    if (mustVerify) {
      jwt.verify(token!).then(
        (claims) => afterIdentity(ex, claims),
        (err: unknown) => {
          if (err instanceof KeysUnavailableError) {
            logger.warn({ requestId: ex.requestId, err: err.message }, 'cannot verify member tokens');
            if (ex.route!.auth !== 'none') {
              ex.fail(503, 'SERVICE_UNAVAILABLE', 'member service is unavailable to verify the token');
              return;
            }
          } else if (!(err instanceof InvalidTokenError)) {
            logger.error({ err, requestId: ex.requestId }, 'token verification failed unexpectedly');
          }
          if (ex.route!.auth !== 'none') unauthorized(ex, 'the token is invalid or has expired');
          else afterIdentity(ex, null);
        },
      );
      return true;
    }
    afterIdentity(ex, user);
    return true;
  }

  function afterIdentity(ex: Exchange, user: MemberClaims | null): void {
    if (ex.closed) return;
    const auth = ex.route!.auth;
    if (auth !== 'none') {
      if (user === null) return unauthorized(ex, 'sign in to use this route');
      if (auth === 'admin' && user.role !== 'admin') {
        return ex.fail(403, 'FORBIDDEN', 'this route needs the admin role');
      }
    }
    ex.user = user;
    const token = tokens.get(user);
    if (token !== undefined) return afterToken(ex, token);
    tokens.sign(user).then(
      (t) => afterToken(ex, t),
      (err: unknown) => {
        logger.error({ err, requestId: ex.requestId }, 'could not sign the internal token');
        ex.fail(500, 'INTERNAL_ERROR', 'the gateway could not sign the internal token');
      },
    );
  }

  function afterToken(ex: Exchange, internalToken: string): void {
    if (ex.closed) return;
    const req = ex.req;
    const method = req.method;
    ex.retryable = method === 'GET' || method === 'HEAD' || req.headers['idempotency-key'] !== undefined;
    const length = req.headers['content-length'];
    const hasBody = length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (hasBody) return readBody(ex, internalToken);
    ex.body = null;
    fw.start(ex, internalToken);
  }

  /**
   * Every body is read whole before anything goes upstream, as nginx does by default (proxy_request_buffering):
   * bodies here are small JSON, at most BODY_LIMIT. So a client that stalls or trickles its body holds no socket of
   * an instance, and its slowness is never the instance's: the route's timeout starts once the request is complete,
   * and the client itself gets 408 after `bodyTimeoutMs` (a deadline for the whole body, not an idle timeout, which
   * one byte a second would keep alive). The whole body is also what a retry sends again.
   */
  function readBody(ex: Exchange, internalToken: string): void {
    const req = ex.req;
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= bodyLimit) {
        chunks.push(chunk);
        return;
      }
      stop();
      ex.fail(413, 'PAYLOAD_TOO_LARGE', `the request body exceeds ${bodyLimit} bytes`);
    };
    const onEnd = (): void => {
      stop();
      ex.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      fw.start(ex, internalToken);
    };
    const onTimeout = (): void => {
      stop();
      // `connection: close`: the rest of this body may still come, and must not be read as a next request.
      ex.fail(408, 'REQUEST_TIMEOUT', `the request body did not arrive within ${bodyTimeoutMs} ms`, [
        'connection',
        'close',
      ]);
    };
    const timer = setTimeout(onTimeout, bodyTimeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', stop);
    req.on('error', () => {
      stop();
      ex.res.destroy();
    });
  }

  function routes(): RouteView[] {
    const now = Date.now();
    return live.current.entries.map((e) => ({
      method: e.method,
      path: e.path,
      service: e.service,
      auth: e.auth,
      timeoutMs: e.timeoutMs,
      instances: e.upstreams.map((u) => ({
        instanceId: u.instanceId,
        address: u.address,
        inFlight: u.inFlight,
        ejectedForMs: Math.max(0, u.ejectedUntil - now),
      })),
    }));
  }

  return {
    handle,
    routes,
    setHttpsPort(port) {
      httpsPort = port;
    },
    rateLimitSettled() {
      return limiter === null ? Promise.resolve() : limiter.settled();
    },
    board,
    closeStatusStreams() {
      statusPage.close();
    },
    close() {
      revocationWatch?.close();
      revocations?.close();
      statusPage.close();
      board.close();
      live.close();
      pool.close();
    },
  };
}

// Health only: metrics and the gateway's internal routes answer on the kit's admin listener, never here.
/** A generous deadline for a small JSON body, even on a slow mobile link. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/** Half of an instance's 128 sockets: the other half stays for everyone else whatever one client does. */
export const DEFAULT_CLIENT_SOCKETS_PER_INSTANCE = 64;

function isOwnEndpoint(url: string): boolean {
  return url === '/health' || url.startsWith('/health/');
}

function bearer(header: string | undefined): string | null {
  if (header === undefined || header.length < 8) return null;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return null;
  const token = header.slice(7).trim();
  return token === '' ? null : token;
}

function unauthorized(ex: Exchange, message: string): void {
  ex.fail(401, 'UNAUTHORIZED', message, ['www-authenticate', 'Bearer']);
}

function shortPath(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  return p.length > 200 ? p.slice(0, 200) + '…' : p;
}

function redirect(ex: Exchange, port: number): void {
  const location = httpsLocation(ex.req.headers.host, port, ex.path);
  if (location === null) {
    ex.fail(400, 'BAD_REQUEST', 'a valid Host header is needed to redirect to HTTPS');
    return;
  }
  ex.res.writeHead(308, [
    'location',
    location,
    'content-length',
    '0',
    'x-request-id',
    ex.requestId,
    ...securityHeaders(false),
  ]);
  ex.res.end();
}
