import path from 'node:path';
import type { ClientOptions } from '@elastic/elasticsearch';
import { connectRedis, createRedis, defineService, z, type ServiceContext } from '@msa/service-kit';
import { Counter } from 'prom-client';
import { Indexer } from './domain/indexer';
import { MemoryQueue } from './queue/memory-queue';
import type { LineQueue } from './queue/queue';
import { RedisQueue } from './queue/redis-queue';
import { loggingRoutes } from './routes';
import { ElasticSink } from './sinks/elastic-sink';
import { FileSink } from './sinks/file-sink';
import { MemorySink } from './sinks/memory-sink';
import type { LogSink } from './sinks/sink';

const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), z.url().optional());

export const loggingConfig = {
  /** Unset: the embedded NDJSON file sink under DATA_DIR/logging (in memory when DATA_DIR=memory). */
  ELASTICSEARCH_URL: optionalUrl,
  ELASTICSEARCH_INDEX_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,40}$/)
    .default('msa-logs'),
  /** A batch of 500 lines is ~200 KB: more room than the kit's 100kb default. */
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'like 100kb or 1mb')
    .default('1mb'),
  /** Lines waiting to be indexed, at most (Redis stream or memory); beyond it intake answers 503. */
  LOG_QUEUE_MAX: z.coerce.number().int().min(1000).max(10_000_000).default(200_000),
  /** A dead logging instance's unindexed lines are taken over by another after this long. */
  LOG_CLAIM_IDLE_MS: z.coerce.number().int().min(100).default(30_000),
  LOG_FILE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
};

export type LoggingContext = ServiceContext<typeof loggingConfig>;

export interface LoggingParts {
  queue: LineQueue;
  sink: LogSink;
  indexer: Indexer;
  received: Counter;
}

export interface LoggingOptions {
  /** Extra client options (tests hand in @elastic/elasticsearch-mock's Connection). */
  elasticsearch?: Partial<ClientOptions>;
}

// Per running instance (tests start several in one process).
const parts = new WeakMap<object, LoggingParts>();
export const partsOf = (ctx: object): LoggingParts => {
  const p = parts.get(ctx);
  if (!p) throw new Error('logging: not built yet');
  return p;
};

function buildSink(ctx: LoggingContext, options: LoggingOptions): LogSink {
  const c = ctx.config;
  if (c.ELASTICSEARCH_URL) {
    // Loaded only here: the client takes some 9 MB that a logging service writing files never uses.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Client } = require('@elastic/elasticsearch') as typeof import('@elastic/elasticsearch');
    const client = new Client({
      node: c.ELASTICSEARCH_URL,
      maxRetries: 2, // the transport retries a whole request on 502/503/504 and lost connections
      requestTimeout: 10_000,
      ...options.elasticsearch,
    });
    return new ElasticSink(client, c.ELASTICSEARCH_INDEX_PREFIX, ctx.logger);
  }
  if (c.DATA_DIR === 'memory') return new MemorySink();
  return new FileSink(path.resolve(c.DATA_DIR, 'logging'), c.LOG_FILE_RETENTION_DAYS);
}

function buildQueue(ctx: LoggingContext): LineQueue {
  const c = ctx.config;
  if (!ctx.redis || !c.REDIS_URL) return new MemoryQueue(c.LOG_QUEUE_MAX);
  const reader = createRedis(c.REDIS_URL, ctx.logger, 'log-reader');
  void connectRedis(reader);
  return new RedisQueue({
    redis: ctx.redis,
    reader,
    key: `${c.REDIS_KEY_PREFIX}logging:lines`,
    group: 'indexers',
    consumer: ctx.instanceId,
    max: c.LOG_QUEUE_MAX,
    claimIdleMs: c.LOG_CLAIM_IDLE_MS,
  });
}

export function buildLoggingService(options: LoggingOptions = {}) {
  return defineService({
    name: 'logging',
    version: '0.1.0',
    config: loggingConfig,
    redis: true,
    // Its own lines go to stdout only: shipping them here would log about logging, in a loop.
    shipLogs: false,
    routes: (ctx) => {
      const sink = buildSink(ctx, options);
      const queue = buildQueue(ctx);
      const received = new Counter({
        name: 'logging_lines_received_total',
        help: 'Log lines accepted into the queue',
        registers: [ctx.metrics.registry],
      });
      const indexed = new Counter({
        name: 'logging_lines_indexed_total',
        help: 'Log lines stored in the sink, by outcome',
        labelNames: ['outcome'],
        registers: [ctx.metrics.registry],
      });
      const indexer = new Indexer(queue, sink, ctx.logger, (done, rejected) => {
        indexed.inc({ outcome: 'stored' }, done);
        if (rejected) indexed.inc({ outcome: 'rejected' }, rejected);
      });
      parts.set(ctx, { queue, sink, indexer, received });
      return loggingRoutes(ctx, { queue, sink, indexer, received });
    },
    onStart: async (ctx) => {
      const { queue, sink, indexer } = partsOf(ctx);
      indexer.start();
      ctx.logger.info({ sink: sink.kind, queue: queue.kind }, 'logging: indexing');
      return async () => {
        await indexer.stop();
        await queue.close();
        await sink.close();
      };
    },
  });
}

export const service = buildLoggingService();
