import https from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, defineService, z, type ServiceContext } from '@msa/service-kit';
import type { JSONWebKeySet } from 'jose';
import { sendError } from './proxy/errors';
import { toBlockList } from './proxy/client-address';
import {
  createGateway,
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_CLIENT_SOCKETS_PER_INSTANCE,
  type Gateway,
} from './proxy/handler';
import { resolveRequestId } from './proxy/request-id';
import { listenRedirect, portOf } from './redirect-server';
import { loadTls } from './tls';

const port = z.coerce.number().int().min(0).max(65535);
const optionalString = z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

export const config = {
  /** Plain HTTP: proxied traffic and /health/* only (metrics and internal routes: ADMIN_PORT). */
  PORT: port.default(8080),
  /** 0 picks a free port. */
  HTTPS_PORT: port.default(8443),
  /** The HTTPS port clients see, for redirects (compose publishes 443 → 8443); defaults to HTTPS_PORT. */
  HTTPS_PUBLIC_PORT: z.preprocess((v) => (v === '' ? undefined : v), port.optional()),
  /** true: plain HTTP answers 308 to HTTPS (health aside). */
  HTTP_REDIRECT: z.stringbool().default(false),
  /**
   * A plain-HTTP port that only redirects to HTTPS: the one to publish as port 80, so that PORT (plain-HTTP
   * proxying) stays on the private network. Unset: none; 0 picks a free port.
   */
  REDIRECT_PORT: z.preprocess((v) => (v === '' ? undefined : v), port.optional()),
  /** Both or neither; neither → a development certificate generated under DATA_DIR. */
  TLS_CERT_FILE: optionalString,
  TLS_KEY_FILE: optionalString,
  /** Requests per client per window; 0 turns rate limiting off. */
  RATE_LIMIT_POINTS: z.coerce.number().int().min(0).default(100),
  RATE_LIMIT_WINDOW_S: z.coerce.number().int().min(1).default(1),
  /**
   * Proxies in front of the gateway whose X-Forwarded-For is believed (comma-separated addresses or CIDR ranges;
   * default none): the client address that keys rate limits and the login throttle. Never a public range.
   */
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((list) => {
      try {
        toBlockList(list);
        return true;
      } catch {
        return false;
      }
    }, 'must be comma-separated IP addresses or CIDR ranges'),
  /** How long a client may take to send a request's body; then 408 (and the body never reached an instance). */
  BODY_TIMEOUT_MS: z.coerce.number().int().min(100).default(DEFAULT_BODY_TIMEOUT_MS),
  /** The most requests one client address may have in flight at one instance (of its 128 sockets); 0: no cap. */
  CLIENT_SOCKETS_PER_INSTANCE: z.coerce
    .number()
    .int()
    .min(0)
    .max(128)
    .default(DEFAULT_CLIENT_SOCKETS_PER_INSTANCE),
  /** The kit's, shorter here: the gateway faces clients, and headers that take 10 s are a slow-loris client. */
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  /** Checked on member tokens when set. */
  JWT_ISSUER: optionalString,
  JWT_AUDIENCE: optionalString,
};

type Ctx = ServiceContext<typeof config>;

const alertBody = z.strictObject({
  level: z.enum(['info', 'warn', 'error']),
  service: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, 'not a service name'),
  text: z.string().trim().min(1).max(500),
  instanceId: z.string().max(200).optional(),
});

const gateways = new WeakMap<object, Gateway>();
function gatewayOf(ctx: Ctx): Gateway {
  const gw = gateways.get(ctx);
  if (gw === undefined) throw new Error('the gateway is not built yet');
  return gw;
}

/** Where HTTPS listens, once it does (main.ts passes it on to the local runner). */
export const listening: { httpsUrl?: string; redirectPort?: number } = {};

export const service = defineService({
  name: 'gateway',
  version: '0.1.0',
  config,
  redis: true, // rate limits shared across replicas when REDIS_URL is set
  watchRegistry: true,
  // PORT, HTTPS_PORT and REDIRECT_PORT face clients: /metrics and /internal/* answer on the kit's admin listener.
  clientFacing: true,
  // One access-log line per request: written 4 KB at a time (and at least every 200 ms), not one write per line,
  // which cost a thread-pool round trip per request (measured by packages/bench: npm run bench -- hop).
  logBuffer: { bytes: 4096, flushMs: 200 },
  routes: (ctx) => [
    {
      method: 'GET',
      path: '/internal/routes',
      public: false,
      auth: 'none',
      summary:
        'The live routing table: every public route, its service and instances, their load and ejection',
      handler: () => ({ routes: gatewayOf(ctx).routes() }),
    },
    {
      method: 'GET',
      path: '/internal/status',
      public: false,
      auth: 'none',
      summary: "The status page's picture: services, instances, routes, live figures, last alerts",
      handler: () => gatewayOf(ctx).board.snapshot(),
    },
    {
      method: 'POST',
      path: '/internal/status/alerts',
      public: false,
      auth: 'none',
      summary: 'Adds an alert to the status page\'s "last alerts" (e.g. from the Slack bot)',
      body: alertBody,
      handler: ({ body }) => {
        gatewayOf(ctx).board.note(body.level, body.service, body.text, body.instanceId);
      },
    },
  ],
  // The proxy itself: a raw node:http handler the kit calls before Express for every request.
  rawHandler: (ctx) => {
    const gw = createGateway({
      registry: ctx.registry,
      logger: ctx.logger,
      metricsRegistry: ctx.metrics.registry,
      signer: ctx.tokens,
      fetchJwks: () => fetchMemberJwks(ctx),
      jwt: { issuer: ctx.config.JWT_ISSUER, audience: ctx.config.JWT_AUDIENCE },
      watchRevocations: true,
      redis: ctx.redis,
      rateLimit: {
        points: ctx.config.RATE_LIMIT_POINTS,
        windowS: ctx.config.RATE_LIMIT_WINDOW_S,
        keyPrefix: `${ctx.config.REDIS_KEY_PREFIX}gateway:rl`,
      },
      bodyLimitBytes: parseSize(ctx.config.BODY_LIMIT),
      trustedProxies: ctx.config.TRUSTED_PROXIES,
      bodyTimeoutMs: ctx.config.BODY_TIMEOUT_MS,
      clientSocketsPerInstance: ctx.config.CLIENT_SOCKETS_PER_INSTANCE,
      redirectToHttps: ctx.config.HTTP_REDIRECT,
      httpsPort: ctx.config.HTTPS_PUBLIC_PORT ?? (ctx.config.HTTPS_PORT || null),
    });
    gateways.set(ctx, gw);
    return gw.handle;
  },
  onStart: async (ctx) => {
    const gw = gatewayOf(ctx);
    const tls = await loadTls({
      certFile: ctx.config.TLS_CERT_FILE,
      keyFile: ctx.config.TLS_KEY_FILE,
      dataDir: ctx.config.DATA_DIR,
    });
    const server = https.createServer(
      { key: tls.key, cert: tls.cert, connectionsCheckingInterval: 1000 },
      (req, res) => {
        if (!gw.handle(req, res)) answerOwnOnTls(ctx, req, res);
      },
    );
    // As the kit sets its own (plain-HTTP) server: slow-loris clients cut after HEADERS_TIMEOUT_MS.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = ctx.config.HEADERS_TIMEOUT_MS;
    server.requestTimeout = ctx.config.REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ctx.config.HTTPS_PORT, ctx.config.HOST, () => resolve());
    });
    const httpsPort = (server.address() as AddressInfo).port;
    gw.setHttpsPort(ctx.config.HTTPS_PUBLIC_PORT ?? httpsPort);
    const host = ctx.config.HOST === '0.0.0.0' || ctx.config.HOST === '::' ? 'localhost' : ctx.config.HOST;
    listening.httpsUrl = `https://${host === '127.0.0.1' ? 'localhost' : host}:${httpsPort}`;
    ctx.logger.info(
      { httpsUrl: listening.httpsUrl, certificate: tls.source, certPath: tls.certPath },
      'gateway HTTPS listening',
    );
    const publicHttpsPort = ctx.config.HTTPS_PUBLIC_PORT ?? httpsPort;
    const redirect =
      ctx.config.REDIRECT_PORT === undefined
        ? undefined
        : await listenRedirect(ctx.config.REDIRECT_PORT, ctx.config.HOST, () => publicHttpsPort);
    if (redirect) listening.redirectPort = portOf(redirect);
    if (redirect) ctx.logger.info({ port: portOf(redirect) }, 'gateway HTTP→HTTPS redirect listening');
    const stopWatching = endStatusStreamsOnShutdown(ctx, gw);
    return async () => {
      stopWatching();
      if (redirect) await closeServer(redirect, ctx.config.SHUTDOWN_TIMEOUT_MS);
      await closeServer(server as unknown as Server, ctx.config.SHUTDOWN_TIMEOUT_MS);
      gw.close();
    };
  },
});

/**
 * The kit drains in-flight requests before it runs the stop hooks, and a status-page stream never ends by itself: end
 * the streams as soon as shutdown begins (ctx.ready turns false), so shutdown does not wait for its timeout.
 */
function endStatusStreamsOnShutdown(ctx: Ctx, gw: Gateway): () => void {
  let wasReady = false;
  const timer = setInterval(() => {
    if (ctx.ready) wasReady = true;
    else if (wasReady) {
      clearInterval(timer);
      gw.closeStatusStreams();
    }
  }, 50).unref();
  return () => clearInterval(timer);
}

async function fetchMemberJwks(ctx: Ctx): Promise<JSONWebKeySet> {
  const res = await ctx.http.request<JSONWebKeySet>('member', {
    method: 'GET',
    path: '/internal/jwks',
    timeoutMs: 2000,
  });
  if (res.status !== 200) throw new Error(`member answered ${res.status} for its JWKS`);
  return res.data;
}

/**
 * The TLS port is the public one: it proxies, and answers liveness/readiness for load balancers; metrics and the
 * gateway's internal routes answer on the admin listener only (ADMIN_PORT).
 */
function answerOwnOnTls(ctx: Ctx, req: IncomingMessage, res: ServerResponse): void {
  const requestId = resolveRequestId(req.headers['x-request-id']);
  if (req.url === '/health/live' || req.url === '/health/ready') {
    const ok = req.url === '/health/live' || ctx.ready;
    const body = JSON.stringify({ status: ok ? (req.url === '/health/live' ? 'ok' : 'ready') : 'starting' });
    res.writeHead(ok ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'x-request-id': requestId,
    });
    res.end(body);
    return;
  }
  sendError(res, 404, 'NOT_FOUND', `no route for ${req.method} ${req.url?.split('?')[0]}`, requestId, true);
}

/** BODY_LIMIT as the kit writes it (100kb, 1mb, 512b) in bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(value);
  if (m === null) throw new Error(`not a size: ${value}`);
  const unit = m[2]!.toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}
