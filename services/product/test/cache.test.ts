import { randomUUID } from 'node:crypto';
import { connectRedis, createRedis } from '@msa/service-kit';
import { uniquePrefix } from '@msa/service-kit/testing';
import { DB_KIND, client, product, sharedDatabase, startProduct, tokens, type Tokens } from './helpers';

const withRedis = process.env.REDIS_URL ? describe : describe.skip;

describe(`product cache (${DB_KIND})`, () => {
  let db: { url: string; close(): Promise<void> };
  let t: Tokens;

  beforeAll(async () => {
    db = await sharedDatabase();
    t = await tokens();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('when Redis is unreachable, then reads and writes still work from Postgres and the outage is logged once', async () => {
    const svc = await startProduct({ DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:1' });
    const warn = jest.spyOn(svc.ctx.logger, 'warn');
    try {
      expect(svc.ctx.cache.kind).toBe('redis');
      const call = client(svc.url);
      const made = await call('POST', '/products', { token: t.admin, body: product({ name: 'No cache' }) });
      expect(made.status).toBe(201);
      for (let i = 0; i < 5; i++) {
        const res = await call('GET', `/products/${made.body.id}`, { token: t.customer });
        expect(res.status).toBe(200);
        expect(res.body.name).toBe('No cache');
      }
      // No cache means no stale copy either: a change in SQL is seen at once.
      await svc.ctx.db.query(`UPDATE products SET name = 'Straight from SQL' WHERE id = $1`, [made.body.id]);
      expect((await call('GET', `/products/${made.body.id}`, { token: t.customer })).body.name).toBe(
        'Straight from SQL',
      );
      const patched = await call('PATCH', `/products/${made.body.id}`, {
        token: t.admin,
        body: { stock: 1 },
      });
      expect(patched.status).toBe(200);
      const reserved = await call('POST', '/internal/reservations', {
        token: t.service,
        body: { purchaseId: randomUUID(), productId: made.body.id, quantity: 1 },
      });
      expect(reserved.status).toBe(201);
      expect((await call('GET', '/products?limit=1', { token: t.customer })).status).toBe(200);

      const outage = warn.mock.calls.filter((c) => String(c[1]).startsWith('product cache unavailable'));
      expect(outage).toHaveLength(1);
    } finally {
      warn.mockRestore();
      await svc.stop();
    }
  });

  it('when there is no Redis, then two instances never serve each other stale copies: nothing is cached per process', async () => {
    // A per-process memory cache cannot hear the other instance's invalidations: it must not be used.
    const env = { DATABASE_URL: db.url, REDIS_URL: '', PRODUCT_CACHE_TTL_MS: '600000' };
    const [a, b] = await Promise.all([startProduct(env), startProduct(env)]);
    try {
      expect(a.ctx.cache.kind).toBe('memory');
      const callA = client(a.url);
      const callB = client(b.url);
      const made = await callA('POST', '/products', {
        token: t.admin,
        body: product({ stock: 5, price: 5 }),
      });
      const id = made.body.id as string;
      expect((await callA('GET', `/products/${id}`, { token: t.customer })).body.stock).toBe(5);

      const reserved = await callB('POST', '/internal/reservations', {
        token: t.service,
        body: { purchaseId: randomUUID(), productId: id, quantity: 2 },
      });
      expect(reserved.status).toBe(201);
      expect((await callA('GET', `/products/${id}`, { token: t.customer })).body.stock).toBe(3);

      await callB('PATCH', `/products/${id}`, { token: t.admin, body: { price: 6 } });
      expect((await callA('GET', `/products/${id}`, { token: t.customer })).body.price).toBe(6);
      await callB('DELETE', `/products/${id}`, { token: t.admin });
      expect((await callA('GET', `/products/${id}`, { token: t.customer })).status).toBe(404);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  withRedis('two instances on one Redis', () => {
    it('when one instance changes a product, then the other serves the change at once, not its cached copy', async () => {
      const prefix = uniquePrefix();
      const env = { DATABASE_URL: db.url, REDIS_KEY_PREFIX: prefix, PRODUCT_CACHE_TTL_MS: '600000' };
      const [a, b] = await Promise.all([startProduct(env), startProduct(env)]);
      try {
        const callA = client(a.url);
        const callB = client(b.url);
        const made = await callA('POST', '/products', {
          token: t.admin,
          body: product({ name: 'Shared', price: 5 }),
        });
        const id = made.body.id as string;

        // B reads and caches; A then reads B's cached copy (proved by a change made behind both).
        expect((await callB('GET', `/products/${id}`, { token: t.customer })).body.price).toBe(5);
        await a.ctx.db.query('UPDATE products SET name = $2 WHERE id = $1', [id, 'Behind their backs']);
        expect((await callA('GET', `/products/${id}`, { token: t.customer })).body.name).toBe('Shared');

        const patched = await callA('PATCH', `/products/${id}`, { token: t.admin, body: { price: 7.5 } });
        expect(patched.status).toBe(200);
        const seenByB = await callB('GET', `/products/${id}`, { token: t.customer });
        expect(seenByB.body).toMatchObject({ price: 7.5, name: 'Behind their backs' });

        // A reservation on B is seen by A too: stock is part of the cached product.
        await callB('POST', '/internal/reservations', {
          token: t.service,
          body: { purchaseId: randomUUID(), productId: id, quantity: 2 },
        });
        expect((await callA('GET', `/products/${id}`, { token: t.customer })).body.stock).toBe(3);

        await callB('DELETE', `/products/${id}`, { token: t.admin });
        expect((await callA('GET', `/products/${id}`, { token: t.customer })).status).toBe(404);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it('when a product is read, then it is stored under product:<id> with the configured TTL', async () => {
      const prefix = uniquePrefix();
      const svc = await startProduct({
        DATABASE_URL: db.url,
        REDIS_KEY_PREFIX: prefix,
        PRODUCT_CACHE_TTL_MS: '60000',
      });
      const redis = createRedis(process.env.REDIS_URL!, svc.ctx.logger, 'test');
      try {
        await connectRedis(redis);
        const call = client(svc.url);
        const made = await call('POST', '/products', { token: t.admin, body: product() });
        await call('GET', `/products/${made.body.id}`, { token: t.customer });
        const ttl = await redis.pttl(`${prefix}product:${made.body.id}`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60000);
      } finally {
        redis.disconnect();
        await svc.stop();
      }
    });
  });
});
