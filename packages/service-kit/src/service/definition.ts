import type http from 'node:http';
import type express from 'express';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { InternalTokens } from '../auth/internal-token';
import type { Cache } from '../cache/cache';
import type { Redis } from '../cache/redis';
import type { InternalClient } from '../client/internal-client';
import type { ConfigOf, ConfigShape } from '../config/config';
import type { LogBuffer } from '../log/logger';
import type { Caller } from '../log/request-context';
import type { ServiceMetrics } from '../metrics/metrics';
import type { HttpMethod, RouteAuth } from '../registry/types';
import type { RegistryView } from '../registry/watcher';
import type { Reply } from '../http/reply';

/** What a service gets from the kit: everything wired, nothing to look up in process.env. */
export interface ServiceContext<S extends ConfigShape | undefined = undefined> {
  name: string;
  instanceId: string;
  version: string;
  config: ConfigOf<S>;
  logger: Logger;
  /** Only with `database` in the definition. */
  db: Pool;
  /** Only with `cache` in the definition. */
  cache: Cache;
  /** Only with `redis` in the definition; null when no REDIS_URL is configured. */
  redis: Redis | null;
  registry: RegistryView & NodeJS.EventEmitter;
  http: InternalClient;
  tokens: InternalTokens;
  metrics: ServiceMetrics;
  /** True from start-up done until shutdown begins. */
  readonly ready: boolean;
}

export interface HandlerInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  caller: Caller;
  req: express.Request;
  res: express.Response;
}

export interface RouteDef<B = unknown, Q = unknown, P = unknown> {
  method: HttpMethod;
  /** Express / find-my-way syntax, e.g. /products/:id. */
  path: string;
  /** Public routes are exposed by the gateway; the rest only answer on the private network. */
  public: boolean;
  /** Checked by the gateway and again here: 'user' needs a signed-in member, 'admin' an admin. */
  auth: RouteAuth;
  summary?: string;
  /**
   * Answer with `Cache-Control: no-store`: the answer carries a secret (a login's token) or someone's own
   * data. The default for every route that needs a member (auth 'user' or 'admin'); say true for others.
   */
  noStore?: boolean;
  timeoutMs?: number;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /**
   * Hand the handler the body's bytes unparsed (`body` is a Buffer, whatever the content type, up
   * to BODY_LIMIT; the `body` schema is not applied), e.g. to check a signature over them.
   */
  rawBody?: boolean;
  /** Documented response body (OpenAPI); not enforced at run time. */
  response?: z.ZodType;
  handler(input: HandlerInput<B, Q, P>): Promise<unknown | Reply | void> | unknown;
}

export interface ServiceDefinition<S extends ConfigShape | undefined = undefined> {
  name: string;
  version?: string;
  /** Extra environment variables this service needs, validated at start with the base ones. */
  config?: S;
  database?: { migrationsDir?: string };
  cache?: boolean;
  redis?: boolean;
  /** Register at the distributor (default true; the distributor itself says false). */
  register?: boolean;
  /** Keep a live copy of the whole registry (the gateway); implied by dependsOn. */
  watchRegistry?: boolean;
  /** Services called through ctx.http; start-up is not done until each has an instance. */
  dependsOn?: string[];
  /**
   * Ship this service's log lines to the logging service when one is registered (default true;
   * the logging service itself says false, or it would log about logging in a loop).
   */
  shipLogs?: boolean;
  /**
   * Batch this service's stdout log writes (default: none, each line is written at once). For a service that logs a
   * line per request at high rates: the gateway's access log.
   */
  logBuffer?: LogBuffer;
  /**
   * The main listener (PORT) faces clients (the gateway): it serves only `rawHandler` and `/health/*`.
   * Metrics and this service's routes answer on the admin listener (ADMIN_PORT/ADMIN_HOST), which is also
   * the address it registers, so internal callers reach its routes there.
   */
  clientFacing?: boolean;
  /** Ask the internal token on every route (default true; health and metrics are always open). */
  requireInternalToken?: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  routes?: (ctx: ServiceContext<S>) => RouteDef<any, any, any>[];
  /** Called before Express for every request; returns true when it answered (the gateway's proxy). */
  rawHandler?: (ctx: ServiceContext<S>) => (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Background work started after listening; the function it returns is a stop hook. */
  onStart?: (ctx: ServiceContext<S>) => Promise<void | (() => Promise<void> | void)>;
  /** Extra readiness checks: throw when not ready. */
  readiness?: Record<string, (ctx: ServiceContext<S>) => Promise<void>>;
}

export function defineService<S extends ConfigShape | undefined = undefined>(
  def: ServiceDefinition<S>,
): ServiceDefinition<S> {
  return def;
}
