import { errors, reply, type RouteDef } from '@msa/service-kit';
import { batchSchema, toDoc } from './domain/log-line';
import { logQuerySchema, orderOf, type LogQuery } from './domain/log-query';
import { QueueFullError } from './queue/queue';
import type { LoggingContext, LoggingParts } from './service';

const route = <B, Q, P>(def: RouteDef<B, Q, P>) => def;

export function loggingRoutes(
  ctx: LoggingContext,
  { queue, sink, indexer, received }: LoggingParts,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): RouteDef<any, any, any>[] {
  const search = async (query: LogQuery) => {
    try {
      const items = await sink.search(query);
      return { items, count: items.length, order: orderOf(query) };
    } catch (err) {
      ctx.logger.warn({ err: (err as Error).message }, 'log search failed');
      throw new errors.ServiceUnavailableError(
        `the log store (${sink.kind}) is unavailable`,
        'LOG_STORE_UNAVAILABLE',
      );
    }
  };
  return [
    route({
      method: 'POST',
      path: '/internal/logs',
      public: false,
      auth: 'none',
      summary: 'A batch of log lines from a service (the kit ships them); kept durably before 202',
      body: batchSchema,
      handler: async ({ body }) => {
        const docs = body.lines.map(toDoc);
        try {
          await queue.add(docs);
        } catch (err) {
          if (err instanceof QueueFullError) {
            throw new errors.ServiceUnavailableError(
              'the log queue is full; send again later',
              'LOG_QUEUE_FULL',
            );
          }
          ctx.logger.warn({ err: (err as Error).message }, 'log queue unavailable');
          throw new errors.ServiceUnavailableError(
            'the log queue is unavailable; send again later',
            'LOG_QUEUE_UNAVAILABLE',
          );
        }
        received.inc(docs.length);
        return reply(202, { accepted: docs.length });
      },
    }),
    route({
      method: 'GET',
      path: '/internal/logs',
      public: false,
      auth: 'none',
      summary:
        'Search log lines: service, level (and above), requestId, traceId, q (words in the message), from, to, limit',
      query: logQuerySchema,
      handler: ({ query }) => search(query),
    }),
    route({
      method: 'GET',
      path: '/logs',
      public: true,
      auth: 'admin',
      summary: 'The same search for admins through the gateway (the status page links request ids here)',
      query: logQuerySchema,
      handler: ({ query }) => search(query),
    }),
    route({
      method: 'GET',
      path: '/internal/logs/stats',
      public: false,
      auth: 'none',
      summary: 'Where lines go and how many wait',
      handler: async () => ({
        sink: sink.kind,
        queue: queue.kind,
        waiting: await queue.depth().catch(() => null),
        ...indexer.stats,
      }),
    }),
  ];
}
