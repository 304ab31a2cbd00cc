// Redis stopped under load, then started again: product reads fall back to Postgres, rate limits go
// on in memory (the gateway's insurance limiter), readiness names what is down, and everything
// recovers without a restart. A private redis-server of this test's own, never the machine's.
import { ADMIN, call, createProduct, failures, login, steadyLoad } from './support/api';
import { hasRedisServer, PrivateRedis } from './support/extra';
import { record } from './support/record';
import { eventually, sleep, sql, startShop, type Shop } from './support/shop';

const redisServer = hasRedisServer();
if (!redisServer) console.warn('redis-server is not installed: the Redis outage test is skipped');
const maybe = redisServer ? test : test.skip;

let redis: PrivateRedis | undefined;
let shop: Shop | undefined;

afterAll(async () => {
  await shop?.stop();
  await redis?.stop();
}, 60_000);

async function readiness(
  url: string,
): Promise<{ status: number; body: { status?: string; checks?: Record<string, string> } }> {
  const a = await call(url, 'GET', '/health/ready', { timeoutMs: 3000 });
  return { status: a.status, body: a.body ?? {} };
}

maybe(
  'Redis stopped under load: reads fall back to Postgres, limits degrade to memory, readiness says so; back: recovers without restarts',
  async () => {
    redis = await PrivateRedis.create();
    shop = await startShop({
      only: ['gateway', 'member', 'product'],
      env: { REDIS_URL: redis.url, RATE_LIMIT_POINTS: '40', RATE_LIMIT_WINDOW_S: '1' },
    });
    const s = shop;
    const admin = await login(s.gateway, ADMIN.email, ADMIN.password);
    const productId = await createProduct(s.gateway, admin, 10);
    expect((await call(s.gateway, 'GET', `/products/${productId}`)).status).toBe(200); // now cached
    const product = s.system.instance('product').url!;
    const distributor = s.system.distributorUrl!;
    expect((await readiness(product)).body.checks?.redis).toBe('up');
    const pidsBefore = s.system.instances.map((i) => `${i.label}:${i.pid}:${i.restarts}`);

    let during:
      | {
          product: Awaited<ReturnType<typeof readiness>>;
          distributor: Awaited<ReturnType<typeof readiness>>;
          gateway: Awaited<ReturnType<typeof readiness>>;
        }
      | undefined;
    let burst: number[] = [];
    let changedWhileDown = 0;
    let recoveryMs: number | null = null;
    let downMs = 0;
    // Signed in, so the load has a budget of its own (40/s) apart from the anonymous burst below.
    const result = await steadyLoad(
      20,
      6000,
      (i) =>
        i % 2 === 0
          ? call(s.gateway, 'GET', `/products/${productId}`, { token: admin })
          : call(s.gateway, 'GET', '/products?limit=5', { token: admin }),
      async () => {
        await sleep(1000);
        await redis!.stop();
        const downAt = Date.now();
        await sleep(1200);
        during = {
          product: await readiness(product),
          distributor: await readiness(distributor),
          gateway: await readiness(s.gateway),
        };
        // A write goes on too, and the next read sees it (from Postgres, the cache being away).
        const patched = await call(s.gateway, 'PATCH', `/products/${productId}`, {
          token: admin,
          body: { price: 3.75 },
        });
        const reread = await call(s.gateway, 'GET', `/products/${productId}`, { token: admin });
        if (patched.status === 200 && reread.body.price === 3.75) changedWhileDown = 1;
        // Anonymous burst over the 40/s budget: limited by the in-memory insurance limiter.
        burst = (
          await Promise.all(Array.from({ length: 60 }, () => call(s.gateway, 'GET', '/products?limit=1')))
        ).map((a) => a.status);
        await sleep(500);
        await redis!.start();
        const backAt = Date.now();
        downMs = backAt - downAt;
        const ready = await eventually(
          async () => [await readiness(product), await readiness(distributor)],
          ([p, d]) => p!.body.checks?.redis === 'up' && d!.status === 200,
          15000,
          100,
        );
        if (ready[0]!.body.checks?.redis === 'up' && ready[1]!.status === 200)
          recoveryMs = Date.now() - backAt;
      },
    );
    const failed = failures(result);
    // The registry lived in the Redis that was lost: every instance has registered again by itself.
    const expected = s.system.instances
      .filter((i) => i.service !== 'distributor')
      .map((i) => i.instanceId)
      .sort();
    const registry = await eventually(
      async () => {
        const { InternalTokens } = await import('@msa/service-kit');
        const token = await new InternalTokens('resilience-test', s.system.internalTokenSecret).sign();
        const a = await call(distributor, 'GET', '/registry/services', {
          headers: { 'x-internal-token': token },
        });
        return Object.values((a.body?.services ?? {}) as Record<string, Array<{ instanceId: string }>>)
          .flat()
          .map((i) => i.instanceId)
          .sort();
      },
      (ids) => JSON.stringify(ids) === JSON.stringify(expected),
      10000,
    );
    const after = await call(s.gateway, 'GET', `/products/${productId}`);
    // No purchase service here: nothing may have touched the stock.
    const [row] = await sql<{ stock: number }>(
      s,
      'product',
      `SELECT stock FROM products WHERE id = '${productId}'`,
    );
    const stock = { lost: Math.abs(10 - (row?.stock ?? 0)) };
    const pidsAfter = s.system.instances.map((i) => `${i.label}:${i.pid}:${i.restarts}`);
    record({
      kind: 'fault',
      name: 'Redis stopped (kill -9), then started again empty',
      load: `20 req/s × ${(result.durationMs / 1000).toFixed(1)} s (product by id and list, signed in)`,
      sent: result.sent,
      failed: failed.length,
      failedMeans: 'any request with no answer or a 5xx',
      dataLost: stock.lost + (changedWhileDown ? 0 : 1),
      recoveryMs,
      notes:
        `down ${downMs} ms; statuses ${JSON.stringify(result.byStatus)}; while down: product ready ${during?.product.status} ${during?.product.body.status} ` +
        `(redis ${during?.product.body.checks?.redis}), distributor ready ${during?.distributor.status} ` +
        `(registry-store ${during?.distributor.body.checks?.['registry-store']}), gateway ready ${during?.gateway.status} ${during?.gateway.body.status}; ` +
        `a write while down was read back: ${changedWhileDown ? 'yes' : 'no'}; anonymous burst of 60 over 40/s: ` +
        `${burst.filter((x) => x === 429).length} × 429 (in-memory insurance limiter); no process restarted; ` +
        'recovery = Redis back → product and distributor ready with Redis up',
    });
    expect(failed.map((a) => [a.status, a.body])).toEqual([]);
    expect(during!.product).toMatchObject({
      status: 200,
      body: { status: 'degraded', checks: { redis: 'degraded' } },
    });
    expect(during!.distributor.status).toBe(503);
    expect(during!.distributor.body.checks?.['registry-store']).toBe('down');
    expect(changedWhileDown).toBe(1);
    expect(burst.filter((x) => x === 429).length).toBeGreaterThan(0);
    expect(recoveryMs).not.toBeNull();
    expect(registry).toEqual(expected);
    expect(after.status).toBe(200);
    expect(after.body.price).toBe(3.75);
    expect(pidsAfter).toEqual(pidsBefore);
    expect(stock.lost).toBe(0);
  },
  120_000,
);
