import { fakeElasticsearch } from './fake-elasticsearch';
import { client, drained, line, parts, QUEUE_KIND, startLogging, type LoggingService } from './helpers';

const ES_ENV = {
  ELASTICSEARCH_URL: 'http://elasticsearch.test:9200',
  ELASTICSEARCH_INDEX_PREFIX: 'msa-logs',
};

describe(`indexing into Elasticsearch (client on @elastic/elasticsearch-mock; queue: ${QUEUE_KIND})`, () => {
  let es: ReturnType<typeof fakeElasticsearch>;
  let svc: LoggingService;
  let call: ReturnType<typeof client>;

  beforeEach(async () => {
    es = fakeElasticsearch();
    svc = await startLogging(ES_ENV, { elasticsearch: es.options });
    call = client(svc.url);
  });
  afterEach(() => svc.stop());

  const send = async (lines: Record<string, unknown>[]) => {
    expect((await call('POST', '/internal/logs', { body: { lines } })).status).toBe(202);
    await drained(svc);
  };
  const createdIds = () =>
    es.bulkBodies.flatMap((body) =>
      body.filter((_, i) => i % 2 === 0).map((op) => (op as { create: { _id: string } }).create._id),
    );

  it('when lines arrive, then the template is put first and one bulk creates each line in its day index with its id', async () => {
    const a = line({ time: '2026-11-24T23:59:59.000Z', requestId: 'r1', pid: 7 });
    const b = line({ time: '2026-11-25T00:00:01.000Z' });
    await send([a, b]);
    expect(es.templates).toHaveLength(1);
    const template = es.templates[0]!.body as {
      index_patterns: string[];
      template: { mappings: { properties: Record<string, { type: string }> } };
    };
    expect(template.index_patterns).toEqual(['msa-logs-*']);
    const props = template.template.mappings.properties;
    expect(props['@timestamp']!.type).toBe('date');
    for (const f of ['service', 'instance', 'level', 'requestId', 'trace_id']) {
      expect(props[f]!.type).toBe('keyword');
    }
    expect(props.message!.type).toBe('text');
    expect(es.bulkBodies).toHaveLength(1);
    expect(es.bulkBodies[0]).toEqual([
      { create: { _index: 'msa-logs-2026.11.24', _id: a.logId } },
      expect.objectContaining({
        '@timestamp': a.time,
        service: 'product',
        level: 'info',
        requestId: 'r1',
        message: a.message,
        fields: { pid: 7 },
      }),
      { create: { _index: 'msa-logs-2026.11.25', _id: b.logId } },
      expect.objectContaining({ '@timestamp': b.time, logId: b.logId }),
    ]);
    expect(parts(svc).indexer.stats).toMatchObject({ indexed: 2, rejected: 0 });
  });

  it('when some items of a bulk fail with 429/503, then only those are sent again, and a permanent 400 item is dropped', async () => {
    const lines = [line(), line(), line(), line()];
    es.state.itemStatus.set(lines[1]!.logId as string, 429);
    es.state.itemStatus.set(lines[2]!.logId as string, 503);
    es.state.itemStatus.set(lines[3]!.logId as string, 400);
    await send(lines);
    expect(es.bulkBodies).toHaveLength(2);
    const second = es.bulkBodies[1]!.filter((_, i) => i % 2 === 0).map(
      (op) => (op as { create: { _id: string } }).create._id,
    );
    expect(second.sort()).toEqual([lines[1]!.logId, lines[2]!.logId].sort());
    expect(es.docs.size).toBe(3);
    expect(parts(svc).indexer.stats).toMatchObject({ indexed: 3, rejected: 1, retried: 2 });
  });

  it('when a bulk answers 503 or 429 as a whole, then it is retried until stored, each line once', async () => {
    es.state.failNext = [503, 503, 503, 429, 503];
    const lines = [line(), line(), line()];
    await send(lines);
    expect(es.docs.size).toBe(3);
    expect([...es.docs.values()].map((d) => d.logId).sort()).toEqual(lines.map((l) => l.logId).sort());
    expect(parts(svc).indexer.stats.indexed).toBe(3);
  });

  it('when Elasticsearch is down, then lines wait; when it is back, they are indexed; a replayed line counts as done, not twice', async () => {
    es.state.failNext = Array(40).fill(503);
    const lines = [line(), line()];
    expect((await call('POST', '/internal/logs', { body: { lines } })).status).toBe(202);
    for (let i = 0; i < 100 && !(parts(svc).indexer.stats.sinkUp === false); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(parts(svc).indexer.stats.sinkUp).toBe(false);
    expect(await parts(svc).queue.depth()).toBe(2);
    es.state.failNext = [];
    await drained(svc);
    expect(es.docs.size).toBe(2);
    // The same lines again (a shipper resending a batch whose answer it lost): 409s, nothing new.
    await send(lines);
    expect(es.docs.size).toBe(2);
    expect(createdIds().filter((id) => id === lines[0]!.logId).length).toBe(2);
    expect(parts(svc).indexer.stats.indexed).toBe(4);
  });

  it('when searched, then the query filters on the mapped fields, levels from the one asked, and sorts by time', async () => {
    await send([line({ requestId: 'req-9', level: 'error' })]);
    const res = await call(
      'GET',
      '/internal/logs?service=product&level=error&requestId=req-9&q=stock%20low&from=2026-11-25T00:00:00Z&limit=5',
    );
    expect(res.status).toBe(200);
    expect(res.body.items[0]).toMatchObject({ requestId: 'req-9', level: 'error', service: 'product' });
    expect(res.body.items[0].time).toBeDefined();
    expect(es.searches.at(-1)).toMatchObject({
      size: 5,
      sort: [{ '@timestamp': { order: 'asc' } }],
      query: {
        bool: {
          filter: expect.arrayContaining([
            { term: { service: 'product' } },
            { term: { requestId: 'req-9' } },
            { terms: { level: ['error', 'fatal'] } },
            { range: { '@timestamp': { gte: '2026-11-25T00:00:00Z' } } },
          ]),
          must: [{ match: { message: { query: 'stock low', operator: 'and' } } }],
        },
      },
    });
  });

  it('when searched by trace id, then the indexed trace_id is a term filter and the path comes oldest first', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    await send([line({ requestId: 'req-t', trace_id: traceId, span_id: 'b7ad6b7169203331' })]);
    expect(es.bulkBodies[0]![1]).toMatchObject({
      trace_id: traceId,
      fields: { span_id: 'b7ad6b7169203331' },
    });
    const res = await call('GET', `/internal/logs?traceId=${traceId}`);
    expect(res.status).toBe(200);
    expect(res.body.items[0]).toMatchObject({ trace_id: traceId, requestId: 'req-t' });
    expect(es.searches.at(-1)).toMatchObject({
      sort: [{ '@timestamp': { order: 'asc' } }],
      query: { bool: { filter: [{ term: { trace_id: traceId } }] } },
    });
  });

  it('when search cannot reach Elasticsearch, then 503 LOG_STORE_UNAVAILABLE', async () => {
    es.state.failNext = [503, 503, 503];
    es.mock.clearAll();
    const { errors } = await import('@elastic/elasticsearch');
    es.mock.add(
      { method: ['GET', 'POST'], path: '/:index/_search' },
      () =>
        new errors.ResponseError({
          body: { status: 503 },
          statusCode: 503,
          warnings: null,
          meta: {} as never,
        }),
    );
    const res = await call('GET', '/internal/logs?limit=1');
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('LOG_STORE_UNAVAILABLE');
  });
});
