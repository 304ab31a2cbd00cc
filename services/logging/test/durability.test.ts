import { uniquePrefix } from '@msa/service-kit/testing';
import Redis from 'ioredis';
import { fakeElasticsearch } from './fake-elasticsearch';
import { client, drained, line, parts, startLogging } from './helpers';

// The Redis stream path needs a real Redis; the memory queue is covered by the other files either way.
const withRedis = process.env.REDIS_URL ? describe : describe.skip;
if (!process.env.REDIS_URL) {
  console.info(
    'durability.test.ts: skipped — set REDIS_URL to test the Redis stream path (memory queue and file sink are tested elsewhere)',
  );
}

withRedis('durability through a Redis stream (real Redis)', () => {
  const ES_ENV = { ELASTICSEARCH_URL: 'http://elasticsearch.test:9200' };

  it('when an instance dies between receipt and indexing, then another takes its lines over and indexes each exactly once', async () => {
    const prefix = uniquePrefix();
    // Instance A accepts lines while Elasticsearch is down, then goes away without indexing them.
    const downEs = fakeElasticsearch();
    downEs.state.failNext = Array(1000).fill(503);
    const a = await startLogging(
      { ...ES_ENV, REDIS_KEY_PREFIX: prefix, LOG_CLAIM_IDLE_MS: '300' },
      { elasticsearch: downEs.options },
    );
    const lines = Array.from({ length: 50 }, (_, i) => line({ requestId: `dur-${i % 5}` }));
    const res = await client(a.url)('POST', '/internal/logs', { body: { lines } });
    expect(res.status).toBe(202);
    await a.stop();
    expect(downEs.docs.size).toBe(0);

    // Instance B, same stream, Elasticsearch back: it claims A's pending lines once they are idle.
    const es = fakeElasticsearch();
    const b = await startLogging(
      { ...ES_ENV, REDIS_KEY_PREFIX: prefix, LOG_CLAIM_IDLE_MS: '300' },
      { elasticsearch: es.options },
    );
    try {
      for (let i = 0; i < 100 && es.docs.size < 50; i++) await new Promise((r) => setTimeout(r, 50));
      await drained(b);
      expect(es.docs.size).toBe(50);
      const created = es.bulkBodies.flatMap((body) => body.filter((_, i) => i % 2 === 0));
      expect(created).toHaveLength(50); // none sent twice
      expect(parts(b).indexer.stats.indexed).toBe(50);
    } finally {
      await b.stop();
      const redis = new Redis(process.env.REDIS_URL!);
      await redis.del(`${prefix}logging:lines`);
      redis.disconnect();
    }
  });

  it('when the stream is deleted under it (a Redis restarted without persistence), then it makes its group again and goes on', async () => {
    const prefix = uniquePrefix();
    const svc = await startLogging({ REDIS_KEY_PREFIX: prefix });
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const call = client(svc.url);
      await call('POST', '/internal/logs', { body: { lines: [line({ requestId: 'before-flush' })] } });
      await drained(svc);
      await redis.del(`${prefix}logging:lines`);
      expect(
        (await call('POST', '/internal/logs', { body: { lines: [line({ requestId: 'after-flush' })] } }))
          .status,
      ).toBe(202);
      await drained(svc);
      for (let i = 0; i < 100; i++) {
        const res = await call('GET', '/internal/logs?requestId=after-flush');
        if (res.body.items.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await call('GET', '/internal/logs?requestId=after-flush')).body.items).toHaveLength(1);
    } finally {
      await svc.stop();
      await redis.del(`${prefix}logging:lines`);
      redis.disconnect();
    }
  });

  it('when Redis is down, then intake answers 503 and the sender keeps its lines', async () => {
    const svc = await startLogging({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const res = await client(svc.url)('POST', '/internal/logs', { body: { lines: [line()] } });
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('LOG_QUEUE_UNAVAILABLE');
    } finally {
      await svc.stop();
    }
  });
});
