// @msa/service-kit: what every service needs, written once.
// First of all: the OpenTelemetry SDK, when asked for, must patch http/pg/ioredis before they are loaded.
import './trace/bootstrap';
export { z } from 'zod';
export { defineService } from './service/definition';
export type { ServiceDefinition, ServiceContext, RouteDef, HandlerInput } from './service/definition';
export { startService } from './service/start-service';
export type { RunningService, StartOptions } from './service/start-service';
export { runService } from './service/run-service';
export { loadConfig, ConfigError, baseConfigShape } from './config/config';
export type { BaseConfig, ConfigOf } from './config/config';
export * as errors from './http/errors';
export { AppError } from './http/errors';
export {
  problem,
  problemSchema,
  fieldProblemSchema,
  problemType,
  problemTitle,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_PREFIX,
} from './http/problem';
export type { Problem, FieldProblem, ProblemInput } from './http/problem';
export { sendProblem } from './http/send-problem';
export { reply, created, noContent, Reply } from './http/reply';
export { requestIdFrom } from './http/request-id';
export { fieldProblems } from './http/routes';
export { requestContext, currentRequestId } from './log/request-context';
export type { Caller, RequestContext } from './log/request-context';
export { createLogger, bufferedStdout } from './log/logger';
export type { Logger, LogBuffer } from './log/logger';
export { InternalTokens, INTERNAL_TOKEN_HEADER, InvalidInternalToken } from './auth/internal-token';
export type { InternalClaims } from './auth/internal-token';
export type { Cache } from './cache/cache';
export { MemoryCache } from './cache/memory-cache';
export { RedisCache } from './cache/redis-cache';
export { createRedis, connectRedis } from './cache/redis';
export type { Redis } from './cache/redis';
export { openDatabase } from './data/database';
export type { Database } from './data/database';
export { inTransaction } from './data/transaction';
export { startEmbeddedPostgres } from './data/embedded-postgres';
export { migrate, readMigrations, migrationChecksum, MigrationError } from './data/migrations';
export type { Migration } from './data/migrations';
export { InternalClient } from './client/internal-client';
export type { InternalRequest, InternalResponse } from './client/internal-client';
export { RegistryWatcher, EmptyRegistry } from './registry/watcher';
export type { RegistryView } from './registry/watcher';
export { DistributorHttp, backoff, sleep } from './registry/distributor-http';
export { SseParser } from './registry/sse';
export { ProcessStats } from './registry/process-stats';
export type * from './registry/types';
export { ServiceMetrics } from './metrics/metrics';
export { closeServer } from './lifecycle/close-server';
export {
  continueTrace,
  parseTraceparent,
  parseTracestate,
  traceparentOf,
  newTraceId,
  newSpanId,
} from './trace/trace-context';
export type { TraceContext } from './trace/trace-context';
export { incomingTrace } from './trace/incoming-trace';
export { currentTrace } from './log/request-context';
