import { startService, MemoryCache, RedisCache, createRedis, connectRedis, createLogger } from '../src';
import { testEnv, uniquePrefix, readJson } from '../src/testing';
import { notesService } from './fixtures/notes-service';

const logger = createLogger({ service: 'test', instanceId: 't', level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('memory cache (the embedded default)', () => {
  it('when a value is set with a TTL, then it is read back as a copy until it expires', async () => {
    const cache = new MemoryCache();
    const value = { a: 1 };
    await cache.set('k', value, 50);
    const got = await cache.get<{ a: number }>('k');
    expect(got).toEqual({ a: 1 });
    expect(got).not.toBe(value);
    await sleep(80);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('when a message is published, then subscribers get it', async () => {
    const cache = new MemoryCache();
    const seen: string[] = [];
    await cache.subscribe('invalidate', (m) => seen.push(m));
    await cache.publish('invalidate', 'product:1');
    expect(seen).toEqual(['product:1']);
  });
});

const withRedis = process.env.REDIS_URL ? describe : describe.skip;
withRedis('redis cache (runs when REDIS_URL is set)', () => {
  const url = process.env.REDIS_URL as string;

  it('when one replica deletes a key, then another replica no longer sees it, and pub/sub reaches both', async () => {
    const prefix = uniquePrefix();
    const r1 = createRedis(url, logger);
    const r2 = createRedis(url, logger);
    await Promise.all([connectRedis(r1), connectRedis(r2)]);
    const a = new RedisCache(r1, prefix, url, logger);
    const b = new RedisCache(r2, prefix, url, logger);
    try {
      await a.set('product:1', { price: 3 }, 10000);
      expect(await b.get('product:1')).toEqual({ price: 3 });
      const seen: string[] = [];
      await b.subscribe('invalidate', (m) => seen.push(m));
      await a.del('product:1');
      await a.publish('invalidate', 'product:1');
      expect(await b.get('product:1')).toBeUndefined();
      for (let i = 0; i < 50 && seen.length === 0; i++) await sleep(20);
      expect(seen).toEqual(['product:1']);
    } finally {
      await Promise.all([a.close(), b.close()]);
      r1.disconnect();
      r2.disconnect();
    }
  });
});

describe('redis unreachable', () => {
  it('when REDIS_URL points nowhere, then the service still starts, readiness says degraded, cache calls fail fast', async () => {
    const svc = await startService(notesService, {
      env: testEnv({ REDIS_URL: 'redis://127.0.0.1:1' }),
      waitReady: true,
    });
    try {
      const ready = await fetch(`${svc.url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await readJson(ready)).toMatchObject({
        status: 'degraded',
        checks: { redis: 'degraded', postgres: 'up' },
      });
      const started = Date.now();
      await expect(svc.ctx.cache.get('x')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await svc.stop();
    }
  });
});
