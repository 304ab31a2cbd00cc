import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { InternalTokens } from '../auth/internal-token';
import { MemoryCache } from '../cache/memory-cache';
import { RedisCache } from '../cache/redis-cache';
import { connectRedis, createRedis, type Redis } from '../cache/redis';
import type { Cache } from '../cache/cache';
import { InternalClient } from '../client/internal-client';
import { loadConfig, type ConfigShape } from '../config/config';
import { openDatabase, type Database } from '../data/database';
import { buildApp } from '../http/app';
import { buildRawBodyRouter, buildRouter } from '../http/routes';
import type { HealthCheck, HealthState } from '../health/health';
import { createLogger } from '../log/logger';
import { otel } from '../trace/bootstrap';
import { LogWorker } from '../log/log-worker';
import { ServiceMetrics } from '../metrics/metrics';
import { DistributorHttp, backoff, sleep } from '../registry/distributor-http';
import { ProcessStats } from '../registry/process-stats';
import { Registrar } from '../registry/registrar';
import { EmptyRegistry, RegistryWatcher } from '../registry/watcher';
import type { RouteSpec } from '../registry/types';
import { closeServer } from '../lifecycle/close-server';
import type { ServiceContext, ServiceDefinition } from './definition';

export interface RunningService<S extends ConfigShape | undefined = undefined> {
  url: string;
  port: number;
  server: http.Server;
  /** The admin listener (metrics; a client-facing service's own routes), when there is one. */
  adminUrl?: string;
  adminServer?: http.Server;
  ctx: ServiceContext<S>;
  /** Resolves when start-up is done: registered, dependencies resolved. */
  whenReady(): Promise<void>;
  /** Graceful: not ready → deregister → stop accepting → drain → stop hooks. */
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string | undefined>;
  /** Wait for readiness before resolving (tests); runService does not, it reports readiness instead. */
  waitReady?: boolean;
  /** Called once when start-up is done. */
  onReady?: () => void;
}

const DATABASE_START_ATTEMPTS = 8;

/**
 * Starts a service in this process: config → logger → data → app → listen → register. The same
 * code runs in production (through runService) and in tests (on port 0, in-process).
 */
export async function startService<S extends ConfigShape | undefined>(
  def: ServiceDefinition<S>,
  options: StartOptions = {},
): Promise<RunningService<S>> {
  const config = loadConfig(def.config as S, options.env ?? process.env);
  const instanceId = `${def.name}-${os.hostname().slice(0, 24)}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const version = def.version ?? '0.0.0';
  const tokens = new InternalTokens(def.name, config.INTERNAL_TOKEN_SECRET);
  const distributorUrls = config.DISTRIBUTOR_URL.split(',')
    .map((u) => u.trim().replace(/\/$/, ''))
    .filter(Boolean);
  const distributor = distributorUrls.length ? new DistributorHttp(distributorUrls, tokens) : undefined;
  // Central logging: on when there is a registry to find the logging service in. The shipping itself runs
  // in a worker thread (log-worker.ts); the worker is told where logging is (below) and signs its own tokens.
  const shipper =
    distributor && def.shipLogs !== false && config.LOG_SHIPPING === 'auto' && config.LOG_LEVEL !== 'silent'
      ? new LogWorker({
          service: def.name,
          instanceId,
          secret: config.INTERNAL_TOKEN_SECRET,
          maxBuffered: config.LOG_SHIPPING_BUFFER,
          spoolRoot: config.DATA_DIR === 'memory' ? undefined : path.join(config.DATA_DIR, 'log-spool'),
          spoolBytes: config.LOG_SHIPPING_DISK_BYTES,
          closeTimeoutMs: Math.min(2000, config.SHUTDOWN_TIMEOUT_MS),
        })
      : undefined;
  const logger = createLogger({
    service: def.name,
    instanceId,
    level: config.LOG_LEVEL,
    shipper,
    buffer: def.logBuffer,
  });
  shipper?.setReporter((level, fields, message) => logger[level](fields, message));
  const metrics = new ServiceMetrics(def.name, instanceId);
  shipper?.registerMetrics(metrics.registry);
  const stats = new ProcessStats();
  const stopHooks: Array<{ name: string; run: () => Promise<void> | void }> = [];
  const checks: HealthCheck[] = [];
  const health: HealthState = { phase: 'starting', pending: [] };
  // Spans, when OTEL_EXPORTER_OTLP_ENDPOINT asks for them: the first hook pushed is the last run, so spans
  // of the requests drained at shutdown are still exported.
  if (otel) {
    stopHooks.push({ name: 'tracing', run: otel.start(def.name, instanceId, version) });
    logger.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'exporting spans (OpenTelemetry)');
  }

  const stopAll = async () => {
    // In reverse order of start; one failing hook does not stop the others.
    for (const hook of stopHooks.reverse()) {
      try {
        await hook.run();
      } catch (err) {
        logger.warn({ err: (err as Error).message, hook: hook.name }, 'stop hook failed');
      }
    }
    stats.stop();
  };
  // Last of all, so the lines about stopping are shipped too.
  const closeShipper = async () => {
    logger.flush();
    await shipper?.close(Math.min(2000, config.SHUTDOWN_TIMEOUT_MS));
  };

  try {
    // Redis: a raw client and/or the cache. Down at start is not fatal: it reconnects by itself.
    let redis: Redis | null = null;
    let cache: Cache | undefined;
    if ((def.redis || def.cache) && config.REDIS_URL) {
      redis = createRedis(config.REDIS_URL, logger);
      const client = redis;
      stopHooks.push({ name: 'redis', run: () => void client.disconnect() });
      // Wait briefly for Redis, never long: a service whose cache is down still serves (degraded).
      const connected = await Promise.race([connectRedis(redis), startupPause(1000).then(() => false)]);
      if (!connected) logger.warn('redis unreachable at start; running degraded until it answers');
      checks.push({ name: 'redis', required: false, run: async () => void (await client.ping()) });
    }
    if (def.cache) {
      cache =
        redis && config.REDIS_URL
          ? new RedisCache(redis, config.REDIS_KEY_PREFIX, config.REDIS_URL, logger)
          : new MemoryCache();
      const c = cache;
      stopHooks.push({ name: 'cache', run: () => c.close() });
    }

    let database: Database | undefined;
    if (def.database) {
      database = await openDatabaseWithRetry(def.name, def.database.migrationsDir, config, logger);
      const db = database;
      stopHooks.push({ name: 'database', run: () => db.close() });
      checks.push({ name: 'postgres', required: true, run: () => db.ping() });
    }

    // The registry: registration and, for services that call others, a live copy.
    const watch = Boolean(distributor && (def.watchRegistry || def.dependsOn?.length));
    const registry = watch && distributor ? new RegistryWatcher(distributor, logger) : new EmptyRegistry();

    let ready = false;
    const ctx = {
      name: def.name,
      instanceId,
      version,
      config,
      logger,
      metrics,
      tokens,
      registry,
      redis,
      http: new InternalClient(registry, tokens),
      get ready() {
        return ready;
      },
      get db() {
        if (!database) throw new Error(`${def.name} has no database: add \`database\` to its definition`);
        return database.pool;
      },
      get cache() {
        if (!cache) throw new Error(`${def.name} has no cache: add \`cache: true\` to its definition`);
        return cache;
      },
    } satisfies ServiceContext<S>;

    if (shipper && distributor) {
      // The worker cannot read this thread's registry: it is sent the logging instances when they change.
      if (registry instanceof RegistryWatcher) {
        const push = () => shipper.setTargets(registry.instances('logging').map((i) => i.address));
        registry.on('change', push);
        push();
      } else {
        const lookup = lookupInstances(distributor, 'logging');
        const poll = async () => shipper.setTargets(await lookup());
        void poll();
        const timer = setInterval(() => void poll(), 5000);
        timer.unref();
        stopHooks.push({ name: 'log-targets', run: () => clearInterval(timer) });
      }
    }

    for (const [name, run] of Object.entries(def.readiness ?? {})) {
      checks.push({ name, required: true, run: () => run(ctx) });
    }

    const routes = def.routes?.(ctx) ?? [];
    const appOptions = {
      logger,
      tokens,
      metrics,
      stats,
      health,
      checks,
      bodyLimit: config.BODY_LIMIT,
      logRequests: config.LOG_REQUESTS,
      requireInternalToken: def.requireInternalToken !== false,
      router: buildRouter(routes),
      rawBodyRouter: buildRawBodyRouter(routes, config.BODY_LIMIT),
    };
    // Operational endpoints never share a listener with client traffic: with an admin listener, /metrics is
    // served there only; a client-facing main listener serves the raw handler and /health/* only.
    const withAdmin = def.clientFacing === true || config.ADMIN_PORT !== undefined;
    const app = def.clientFacing
      ? buildApp({
          ...appOptions,
          requireInternalToken: false,
          router: undefined,
          rawBodyRouter: undefined,
          serveMetrics: false,
        })
      : buildApp({ ...appOptions, serveMetrics: !withAdmin });
    const raw = def.rawHandler?.(ctx);
    const server = http.createServer(
      // Node checks the two timeouts below every 30 s by default: a 10 s limit could then take 40 s.
      { connectionsCheckingInterval: 1000 },
      raw ? (req, res) => raw(req, res) || app(req, res) : app,
    );
    await listen(server, config.PORT, config.HOST, config);
    const port = (server.address() as AddressInfo).port;
    const url = localUrl(config.HOST, port);
    const advertised = config.ADVERTISE_URL ?? advertiseUrl(config.HOST, port);
    const admin = withAdmin ? http.createServer(buildApp(appOptions)) : undefined;
    if (admin) {
      await listen(admin, config.ADMIN_PORT ?? 0, config.ADMIN_HOST, config).catch(async (err: unknown) => {
        await closeServer(server, 0);
        throw err;
      });
    }
    const adminPort = admin ? (admin.address() as AddressInfo).port : undefined;
    const adminUrl = adminPort === undefined ? undefined : localUrl(config.ADMIN_HOST, adminPort);
    const adminAdvertised = adminPort === undefined ? undefined : advertiseUrl(config.ADMIN_HOST, adminPort);
    logger.info({ url, advertised, adminUrl }, `${def.name} listening`);
    process.send?.({
      type: 'listening',
      service: def.name,
      instanceId,
      pid: process.pid,
      url: advertised,
      ...(adminAdvertised ? { adminUrl: adminAdvertised } : {}),
    });

    const onStartStop = await def.onStart?.(ctx);
    if (onStartStop) stopHooks.push({ name: 'onStart', run: onStartStop });

    let registrar: Registrar | undefined;
    if (registry instanceof RegistryWatcher) {
      registry.start();
      stopHooks.push({ name: 'registry-watch', run: () => registry.stop() });
    }
    if (distributor && def.register !== false) {
      registrar = new Registrar(
        distributor,
        {
          service: def.name,
          instanceId,
          // A client-facing service's own routes answer on its admin listener: that is where callers find it.
          address: def.clientFacing && adminAdvertised ? adminAdvertised : advertised,
          metricsUrl: `${adminAdvertised ?? advertised}/metrics`,
          version,
          routes: routes.map((r): RouteSpec => ({
            method: r.method,
            path: r.path,
            public: r.public,
            auth: r.auth,
            ...(r.timeoutMs ? { timeoutMs: r.timeoutMs } : {}),
          })),
        },
        stats,
        logger,
      );
      registrar.start();
    }

    // Start-up is done when registered and every dependency has an instance to call.
    const readyPromise = (async () => {
      health.pending = [
        ...(registrar ? ['registered'] : []),
        ...(def.dependsOn ?? []).map((d) => `dependency:${d}`),
      ];
      if (registrar) {
        await registrar.whenRegistered();
        health.pending = health.pending.filter((p) => p !== 'registered');
      }
      for (const dep of def.dependsOn ?? []) {
        while (registry.instances(dep).length === 0 && health.phase === 'starting') {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 250);
            registry.once('change', () => {
              clearTimeout(t);
              resolve();
            });
          });
        }
        health.pending = health.pending.filter((p) => p !== `dependency:${dep}`);
      }
      if (health.phase !== 'starting') return;
      health.phase = 'ready';
      ready = true;
      logger.info({ instanceId, url: advertised, pid: process.pid }, `${def.name} ready`);
      process.send?.({
        type: 'ready',
        service: def.name,
        instanceId,
        pid: process.pid,
        url: advertised,
        ...(adminAdvertised ? { adminUrl: adminAdvertised } : {}),
      });
      options.onReady?.();
    })();

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        health.phase = 'stopping';
        ready = false;
        // Leave the registry first, so the gateway stops sending here while we drain what is in flight.
        if (registrar) {
          await registrar.stop();
          await sleep(Number(process.env.MSA_DEREGISTER_GRACE_MS ?? 150));
        }
        await closeServer(server, config.SHUTDOWN_TIMEOUT_MS);
        if (admin) await closeServer(admin, config.SHUTDOWN_TIMEOUT_MS);
        await stopAll();
        logger.info(`${def.name} stopped`);
        await closeShipper();
      })());

    if (options.waitReady) await readyPromise;
    return { url, port, server, adminUrl, adminServer: admin, ctx, whenReady: () => readyPromise, stop };
  } catch (err) {
    await stopAll();
    await closeShipper();
    throw err;
  }
}

async function openDatabaseWithRetry(
  service: string,
  migrationsDir: string | undefined,
  config: { DATABASE_URL?: string; DATA_DIR: string; PG_POOL_MAX: number },
  logger: ReturnType<typeof createLogger>,
): Promise<Database> {
  // A database still starting (compose, a restart) is waited for a little; a wrong URL fails fast enough.
  for (let attempt = 0; ; attempt++) {
    try {
      return await openDatabase({
        service,
        url: config.DATABASE_URL,
        dataDir: config.DATA_DIR,
        poolMax: config.PG_POOL_MAX,
        migrationsDir,
        logger,
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const transient =
        code === 'ECONNREFUSED' || code === '57P03' || /timeout|terminat/i.test((err as Error).message);
      if (!config.DATABASE_URL || !transient || attempt + 1 >= DATABASE_START_ATTEMPTS) throw err;
      logger.warn({ err: (err as Error).message }, 'database not reachable yet; retrying');
      await startupPause(backoff(attempt, 250, 4000));
    }
  }
}

/**
 * A wait during start-up that keeps the process alive. The kit's `sleep` is unref'd (a background retry must
 * not hold a stopping process), but before the server listens nothing else may hold the event loop: with an
 * unref'd timer a service waiting for its database simply ended, exit code 0, and a supervisor that restarts
 * only failures (Compose's on-failure, the local runner's start) took it for a clean stop.
 */
function startupPause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function listen(
  server: http.Server,
  port: number,
  host: string,
  timeouts: { HEADERS_TIMEOUT_MS: number; REQUEST_TIMEOUT_MS: number },
): Promise<void> {
  // Longer than any client's idle keep-alive, so the server never closes a socket a client is about to reuse.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = timeouts.HEADERS_TIMEOUT_MS;
  server.requestTimeout = timeouts.REQUEST_TIMEOUT_MS;
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** The URL this machine reaches a listener at. */
function localUrl(host: string, port: number): string {
  return `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
}

/** In a container (HOST 0.0.0.0) the hostname is what the private network resolves to this one instance. */
function advertiseUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? os.hostname() : host;
  return `http://${h}:${port}`;
}

/**
 * The instances of one service, for a process that does not watch the whole registry: asked from the
 * distributor on each call, the last answer kept while the distributor is away.
 */
function lookupInstances(distributor: DistributorHttp, service: string): () => Promise<string[]> {
  let addresses: string[] = [];
  return async () => {
    try {
      const res = await distributor.call('GET', `/registry/services/${service}`);
      if (res.status === 200) {
        const data = res.data as { instances?: Array<{ address: string }> };
        addresses = (data.instances ?? []).map((i) => i.address);
      } else if (res.status === 404) addresses = [];
    } catch {
      // keep the last answer
    }
    return addresses;
  };
}
