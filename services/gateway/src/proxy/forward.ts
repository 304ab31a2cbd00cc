import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { incomingTrace, type TraceContext } from '@msa/service-kit';
import type { Logger } from 'pino';
import { pickUpstream, pickWithRoom } from './balancer';
import { sendError } from './errors';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers';
import type { MemberClaims } from './jwt-cache';
import { codeClass, type ProxyMetrics, type RouteStats } from './metrics';
import type { OutlierDetector } from './outlier';
import type { RouteEntry } from './route-table';
import { atPerfNow } from './rolling';
import type { Upstream } from './upstreams';

// Node's emitters call listeners with `this` set to the emitter; the exchange rides on the emitter under this
// symbol, so the listeners below are shared functions and a request allocates no closures for them.
const kExchange = Symbol('gateway.exchange');
type Carrier = { [kExchange]?: Exchange };

function exchangeOf(emitter: object): Exchange {
  return (emitter as Carrier)[kExchange]!;
}

/** Everything one client request needs while it is proxied. */
export class Exchange {
  route: RouteEntry | null = null;
  user: MemberClaims | null = null;
  /** Upstream request headers, built once; a retry only rewrites the host (index 1). */
  headers: string[] | null = null;
  /** null: no body; else the whole body, read before anything goes upstream (handler.ts says why). */
  body: Buffer | null = null;
  retryable = false;
  attempts = 0;
  upstream: Upstream | null = null;
  counted = false;
  upReq: ClientRequest | null = null;
  timer: NodeJS.Timeout | null = null;
  timedOut = false;
  closed = false;
  upstreamStartedAt = 0;
  /** This hop of the client's W3C trace (continued when its traceparent is valid, else a new one). */
  readonly trace: TraceContext;

  constructor(
    readonly fw: Forwarder,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
    readonly requestId: string,
    readonly secure: boolean,
    readonly clientIp: string,
    readonly startedAt: number,
  ) {
    this.trace = incomingTrace(req.headers.traceparent, req.headers.tracestate);
    (res as Carrier)[kExchange] = this;
    res.on('close', onClientResponseClose);
  }

  fail(status: number, code: string, message: string, extra?: readonly string[]): void {
    if (this.closed) return;
    sendError(this.res, status, code, message, this.requestId, this.secure, extra);
    if (status === 413) drainThenClose(this.req);
  }
}

/** How much of a refused body is still read and dropped after a 413, and for how long, before the socket is cut. */
const DRAIN_BYTES = 8 * 1024 * 1024;
const DRAIN_MS = 5000;

/**
 * A 413 usually goes out while the client is still sending its body. Closing the socket then resets the
 * connection under the client, which mostly reports a broken connection (EPIPE, ECONNRESET) instead of the 413
 * (found by packages/system-tests: 1 in 4 chunked uploads, 2 in 3 of 4 MB ones). So the rest of the body is read
 * and dropped, as nginx's lingering close does, and the socket stays usable once it is all read; a client that
 * sends more than DRAIN_BYTES, or for longer than DRAIN_MS, is cut off.
 */
function drainThenClose(req: IncomingMessage): void {
  if (req.complete) return;
  let left = DRAIN_BYTES;
  const cut = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    left -= chunk.length;
    if (left < 0) cut();
  };
  const timer = setTimeout(cut, DRAIN_MS);
  timer.unref();
  req.on('data', onData);
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/** Sends exchanges upstream: balancing, timeout, one retry, outlier bookkeeping, streaming, the access log. */
export class Forwarder {
  constructor(
    readonly outlier: OutlierDetector,
    readonly metrics: ProxyMetrics,
    readonly logger: Logger,
    /** Told of every 5xx answered to a client (the status page lists the latest, with their request ids). */
    readonly onServerError: (ex: Exchange, status: number) => void = () => {},
    /**
     * The most requests one client (address) may have in flight at one instance; 0: no cap. An instance has 128
     * sockets: without a cap, one client's slow requests could hold them all and queue everyone else's.
     */
    readonly perClient: number = 0,
  ) {}

  start(ex: Exchange, internalToken: string): void {
    if (ex.closed) return;
    const route = ex.route!;
    let u = pickUpstream(route, this.outlier, Date.now());
    if (u === undefined) {
      ex.fail(503, 'SERVICE_UNAVAILABLE', `${route.service} service has no healthy instance`);
      return;
    }
    if (this.perClient > 0 && u.inFlightOf(ex.clientIp) >= this.perClient) {
      u = pickWithRoom(route, this.outlier, Date.now(), ex.clientIp, this.perClient);
      if (u === undefined) {
        ex.fail(
          429,
          'TOO_MANY_IN_FLIGHT',
          `too many requests of this client in flight at the ${route.service} service`,
          ['retry-after', '1'],
        );
        return;
      }
    }
    ex.headers = upstreamRequestHeaders(ex.req, u.hostHeader, {
      hostHeader: ex.req.headers.host ?? '',
      requestId: ex.requestId,
      trace: ex.trace,
      internalToken,
      clientIp: ex.clientIp,
      secure: ex.secure,
    });
    this.send(ex, u);
  }

  send(ex: Exchange, u: Upstream): void {
    ex.upstream = u;
    ex.counted = true;
    u.begin(ex.clientIp);
    ex.attempts++;
    ex.headers![1] = u.hostHeader;
    let upReq: ClientRequest;
    try {
      upReq = request({
        host: u.hostname,
        port: u.port,
        method: ex.req.method,
        path: ex.path,
        agent: u.agent,
        headers: ex.headers!,
      });
    } catch {
      release(ex);
      ex.fail(400, 'BAD_REQUEST', 'the request target cannot be forwarded');
      return;
    }
    (upReq as Carrier)[kExchange] = ex;
    ex.upReq = upReq;
    upReq.on('response', onUpstreamResponse);
    upReq.on('error', onUpstreamError);
    ex.timedOut = false;
    ex.timer = setTimeout(onUpstreamTimeout, ex.route!.timeoutMs, ex);
    ex.upstreamStartedAt = performance.now();
    if (ex.body === null) upReq.end();
    else upReq.end(ex.body);
  }

  /** Another instance for a retry, or undefined when the request may not or cannot be retried. */
  retryTarget(ex: Exchange, failed: Upstream, reusedSocket: boolean): Upstream | undefined {
    if (!ex.retryable || ex.attempts > 1 || ex.closed) return undefined;
    const other = pickUpstream(ex.route!, this.outlier, Date.now(), failed);
    // A keep-alive socket the upstream closed just as we reused it is the socket's fault, not the instance's.
    const target = other ?? (reusedSocket ? failed : undefined);
    // A retry keeps to the client's share too.
    if (target !== undefined && this.perClient > 0 && target.inFlightOf(ex.clientIp) >= this.perClient) {
      return undefined;
    }
    return target;
  }
}

function release(ex: Exchange): void {
  if (ex.counted) {
    ex.counted = false;
    ex.upstream!.done(ex.clientIp);
  }
  if (ex.timer !== null) {
    clearTimeout(ex.timer);
    ex.timer = null;
  }
}

function onUpstreamResponse(this: ClientRequest, upRes: IncomingMessage): void {
  const ex = exchangeOf(this);
  if (ex.upReq !== this || ex.closed) {
    upRes.resume();
    return;
  }
  if (ex.timer !== null) {
    clearTimeout(ex.timer);
    ex.timer = null;
  }
  const fw = ex.fw;
  const u = ex.upstream!;
  const status = upRes.statusCode ?? 502;
  const stats = u.stats ?? (u.stats = fw.metrics.forUpstream(u));
  const end = performance.now();
  const ms = end - ex.upstreamStartedAt;
  stats.byClass[codeClass(status)]!.inc();
  stats.duration.observe(ms / 1000);
  stats.window.record(status, ms, atPerfNow(end));
  if (status >= 502 && status <= 504) {
    fw.outlier.failure(u, Date.now());
    if (status !== 504) {
      const other = fw.retryTarget(ex, u, false);
      if (other !== undefined && other !== u) {
        upRes.resume();
        release(ex);
        fw.send(ex, other);
        return;
      }
    }
  } else {
    fw.outlier.success(u);
  }
  (upRes as Carrier)[kExchange] = ex;
  upRes.on('error', onUpstreamBodyError);
  ex.res.writeHead(status, clientResponseHeaders(upRes.rawHeaders, ex.requestId, ex.secure));
  upRes.pipe(ex.res);
}

function onUpstreamBodyError(this: IncomingMessage): void {
  // The upstream died halfway through its body: the client's response cannot be completed honestly.
  exchangeOf(this).res.destroy();
}

function onUpstreamTimeout(ex: Exchange): void {
  ex.timer = null;
  ex.timedOut = true;
  ex.upReq?.destroy();
}

function onUpstreamError(this: ClientRequest, err: NodeJS.ErrnoException): void {
  const ex = exchangeOf(this);
  if (ex.upReq !== this) return;
  const fw = ex.fw;
  const u = ex.upstream!;
  const timedOut = ex.timedOut;
  release(ex);
  if (ex.closed) return; // we cut it ourselves: the client left
  const stats = u.stats ?? (u.stats = fw.metrics.forUpstream(u));
  if (timedOut) stats.timeouts.inc();
  else stats.connectFailures.inc();
  // No answer counts as an error answer in the instance's live figures: 504 for a timeout, 502 for the rest.
  const end = performance.now();
  stats.window.record(timedOut ? 504 : 502, end - ex.upstreamStartedAt, atPerfNow(end));
  fw.outlier.failure(u, Date.now());
  const service = ex.route!.service;
  fw.logger.warn(
    {
      requestId: ex.requestId,
      trace_id: ex.trace.traceId,
      span_id: ex.trace.spanId,
      service,
      instance: u.instanceId,
      err: err.code ?? err.message,
      timedOut,
    },
    'upstream attempt failed',
  );
  if (ex.res.headersSent) {
    ex.res.destroy();
    return;
  }
  if (timedOut) {
    // An idempotent request that got no answer goes once to another instance (never the same one): an
    // instance can die without closing its sockets — a killed container's address just vanishes — and
    // then nothing but the timeout ends the attempt.
    const other = fw.retryTarget(ex, u, false);
    if (other !== undefined && other !== u) {
      fw.send(ex, other);
      return;
    }
    ex.fail(504, 'UPSTREAM_TIMEOUT', `${service} service did not answer within ${ex.route!.timeoutMs} ms`);
    return;
  }
  const other = fw.retryTarget(ex, u, this.reusedSocket);
  if (other !== undefined) {
    fw.send(ex, other);
    return;
  }
  ex.fail(502, 'BAD_GATEWAY', `${service} service could not be reached`);
}

function onClientResponseClose(this: ServerResponse): void {
  const ex = exchangeOf(this);
  ex.closed = true;
  const finished = this.writableFinished;
  if (!finished && ex.upReq !== null && !ex.upReq.destroyed) ex.upReq.destroy();
  release(ex);
  const status = this.headersSent ? this.statusCode : 499; // 499: the client left before an answer (nginx's code)
  const end = performance.now();
  const ms = end - ex.startedAt;
  const route = ex.route;
  const stats: RouteStats = route === null ? ex.fw.metrics.unmatched : (route.stats as RouteStats);
  stats.byClass[codeClass(status)]!.inc();
  stats.duration.observe(ms / 1000);
  stats.window.record(status, ms, atPerfNow(end));
  if (status >= 500) ex.fw.onServerError(ex, status);
  ex.fw.logger.info(
    {
      requestId: ex.requestId,
      trace_id: ex.trace.traceId,
      span_id: ex.trace.spanId,
      parent_span_id: ex.trace.parentSpanId,
      method: ex.req.method,
      route: route?.path,
      service: route?.service,
      instance: ex.upstream?.instanceId,
      status,
      ms: Math.round(ms * 10) / 10,
      attempts: ex.attempts,
      user: ex.user?.sub,
    },
    'access',
  );
}
