import express from 'express';
import type { Logger } from 'pino';
import {
  INTERNAL_TOKEN_HEADER,
  InvalidInternalToken,
  callerFromClaims,
  type InternalTokens,
} from '../auth/internal-token';
import { mountHealth, type HealthCheck, type HealthState } from '../health/health';
import { requestContext, type RequestContext } from '../log/request-context';
import type { ServiceMetrics } from '../metrics/metrics';
import type { ProcessStats } from '../registry/process-stats';
import { errorHandler, notFoundHandler } from './error-handler';
import { sendProblem } from './send-problem';
import { requestIdFrom } from './request-id';
import { incomingTrace } from '../trace/incoming-trace';

export interface AppOptions {
  logger: Logger;
  tokens: InternalTokens;
  metrics: ServiceMetrics;
  stats: ProcessStats;
  health: HealthState;
  checks: HealthCheck[];
  bodyLimit: string;
  requireInternalToken: boolean;
  router?: express.Router;
  /**
   * Log one `request` line per request that came with an x-request-id, i.e. one step of a traced
   * path (through the gateway, or from another service): so a request id finds every hop in the
   * central logs. Heartbeats, health checks and log batches carry none, so they stay quiet.
   */
  logRequests?: boolean;
  /** Serve `GET /metrics` (default true); false on a listener that faces clients or when an admin port has them. */
  serveMetrics?: boolean;
  /** Body readers for `rawBody` routes, run before the JSON parser. */
  rawBodyRouter?: express.Router;
}

/**
 * The same Express app around every service's routes, so the middleware order is the same
 * everywhere: request id and trace context → metrics → health and metrics (open) → internal token → JSON body →
 * the service's routes → 404 → errors.
 */
export function buildApp(opts: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const traced = opts.logRequests === true && req.headers['x-request-id'] !== undefined;
    const store: RequestContext = {
      requestId: requestIdFrom(req.headers['x-request-id']),
      trace: incomingTrace(req.headers.traceparent, req.headers.tracestate),
    };
    res.setHeader('x-request-id', store.requestId);
    const started = process.hrtime.bigint();
    opts.stats.inFlight++;
    res.once('close', () => {
      opts.stats.inFlight--;
      // The matched pattern, not the raw path, so /products/1 and /products/2 share a series.
      const route = req.route?.path ? (req.baseUrl || '') + req.route.path : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      opts.metrics.requests.inc(labels);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      opts.metrics.duration.observe(labels, seconds);
      if (traced) {
        opts.logger.info(
          {
            requestId: store.requestId,
            trace_id: store.trace?.traceId,
            span_id: store.trace?.spanId,
            parent_span_id: store.trace?.parentSpanId,
            method: req.method,
            route,
            status: res.statusCode,
            ms: Math.round(seconds * 10_000) / 10,
            caller: store.caller?.service,
            user: store.caller?.user?.id,
          },
          'request',
        );
      }
    });
    requestContext.run(store, next);
  });

  mountHealth(app, opts.health, opts.checks);
  if (opts.serveMetrics !== false) {
    app.get('/metrics', async (_req, res) => {
      res.set('content-type', opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics());
    });
  }

  if (opts.requireInternalToken) {
    app.use(async (req, res, next) => {
      const token = req.headers[INTERNAL_TOKEN_HEADER];
      if (typeof token !== 'string' || token === '') {
        sendProblem(
          res,
          401,
          'INTERNAL_TOKEN_REQUIRED',
          'this service only answers calls from inside the system',
        );
        return;
      }
      try {
        const claims = await opts.tokens.verify(token);
        const store = requestContext.getStore();
        if (store) store.caller = callerFromClaims(claims);
        next();
      } catch (err) {
        const message = err instanceof InvalidInternalToken ? err.message : 'internal token invalid';
        sendProblem(res, 401, 'INTERNAL_TOKEN_INVALID', message);
      }
    });
  }

  if (opts.rawBodyRouter) app.use(opts.rawBodyRouter);
  app.use(express.json({ limit: opts.bodyLimit, strict: true }));
  if (opts.router) app.use(opts.router);
  app.use(notFoundHandler);
  app.use(errorHandler(opts.logger));
  return app;
}
