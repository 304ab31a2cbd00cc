import type { Client, estypes } from '@elastic/elasticsearch';
import type { Logger } from '@msa/service-kit';
import { levelsFrom, type LogDoc } from '../domain/log-line';
import { orderOf, type LogQuery } from '../domain/log-query';
import type { IndexResult, LogSink } from './sink';

/** The document as indexed: `@timestamp` (what Kibana expects) instead of `time`, no id in the body. */
type Source = Omit<LogDoc, 'id' | 'time'> & { '@timestamp': string; logId: string };

/**
 * Elasticsearch: one index per day of the lines' time (`<prefix>-YYYY.MM.DD`), created from an
 * index template with explicit mappings. Each line is written with op_type `create` and its own
 * id as `_id`, so a batch sent again (after a crash, a timeout, a partial failure) indexes
 * nothing twice: the copies answer 409 and count as done.
 */
// A person (or the status page) is waiting on a search, behind the gateway's 5 s route timeout: fail within it,
// with this service's clear 503, rather than let the transport's 10 s timeout and retries turn it into a 504.
const SEARCH_REQUEST = { requestTimeout: 3000, maxRetries: 0 };

export class ElasticSink implements LogSink {
  readonly kind = 'elasticsearch';
  private templateReady = false;

  constructor(
    private readonly client: Client,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  /** Put before the first line, so no index is ever created with guessed mappings. */
  private async ensureTemplate(): Promise<void> {
    if (this.templateReady) return;
    await this.client.indices.putIndexTemplate({
      name: this.prefix,
      index_patterns: [`${this.prefix}-*`],
      priority: 200,
      template: {
        settings: { number_of_shards: 1, refresh_interval: '1s' },
        mappings: {
          dynamic: false,
          properties: {
            '@timestamp': { type: 'date' },
            logId: { type: 'keyword' },
            service: { type: 'keyword' },
            instance: { type: 'keyword' },
            level: { type: 'keyword' },
            requestId: { type: 'keyword' },
            trace_id: { type: 'keyword' },
            message: { type: 'text' },
            // Kept in _source, not indexed: a service's own field names can never clash with the mapping.
            fields: { type: 'object', enabled: false },
          },
        },
      },
    });
    this.templateReady = true;
    this.logger.info({ template: this.prefix }, 'elasticsearch index template in place');
  }

  indexFor(time: string): string {
    return `${this.prefix}-${time.slice(0, 10).replace(/-/g, '.')}`;
  }

  async index(docs: LogDoc[]): Promise<IndexResult> {
    await this.ensureTemplate();
    const operations: unknown[] = [];
    for (const { id, time, ...rest } of docs) {
      operations.push({ create: { _index: this.indexFor(time), _id: id } });
      operations.push({ ...rest, '@timestamp': time, logId: id } satisfies Source);
    }
    const res = await this.client.bulk({ operations });
    const result: IndexResult = { done: [], retry: [], rejected: [] };
    res.items.forEach((item, i) => {
      const id = docs[i]!.id;
      const op = item.create ?? item.index;
      const status = op?.status ?? 500;
      if (status < 300 || status === 409) result.done.push(id);
      else if (status === 429 || status >= 500) result.retry.push(id);
      else result.rejected.push({ id, reason: op?.error?.reason ?? `status ${status}` });
    });
    return result;
  }

  async search(query: LogQuery): Promise<LogDoc[]> {
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (query.service) filter.push({ term: { service: query.service } });
    if (query.requestId) filter.push({ term: { requestId: query.requestId } });
    if (query.traceId) filter.push({ term: { trace_id: query.traceId } });
    if (query.level) filter.push({ terms: { level: levelsFrom(query.level) } });
    if (query.from || query.to) filter.push({ range: { '@timestamp': { gte: query.from, lte: query.to } } });
    const must: estypes.QueryDslQueryContainer[] = query.q
      ? [{ match: { message: { query: query.q, operator: 'and' } } }]
      : [];
    const res = await this.client.search<Source>(
      {
        index: `${this.prefix}-*`,
        ignore_unavailable: true,
        allow_no_indices: true,
        size: query.limit,
        sort: [{ '@timestamp': { order: orderOf(query) } }],
        query: { bool: { filter, must } },
      },
      SEARCH_REQUEST,
    );
    return res.hits.hits.flatMap((hit) => {
      if (!hit._source) return [];
      const { '@timestamp': time, logId, ...rest } = hit._source;
      return [{ ...rest, id: hit._id ?? logId, time }];
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
