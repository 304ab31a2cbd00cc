import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import {
  call,
  FakeUpstream,
  memberKeys,
  memberToken,
  route,
  startGateway,
  TestRegistry,
  type TestGateway,
} from './support';

const REDIS_URL = process.env.REDIS_URL;
const modes = REDIS_URL ? (['memory', 'redis'] as const) : (['memory'] as const);

describe.each(modes)('rate limiting (%s)', (mode) => {
  let registry: TestRegistry;
  let up: FakeUpstream;
  const gateways: TestGateway[] = [];
  const clients: Redis[] = [];
  // One prefix per test file run: parallel files and earlier runs never share counters.
  const prefix = `test:${randomBytes(4).toString('hex')}:rl`;
  let n = 0;

  beforeEach(async () => {
    registry = new TestRegistry();
    up = await new FakeUpstream('product').start();
    registry.up('product', up.address, [route('GET', '/products'), route('GET', '/mine', { auth: 'user' })]);
  });

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    await up.kill();
  });

  afterAll(async () => {
    for (const c of clients) {
      const keys = await c.keys(`${prefix}*`);
      if (keys.length) await c.del(...keys);
      c.disconnect();
    }
  });

  async function gateway(points: number, keyPrefix = `${prefix}:${++n}`, extra = {}) {
    let redis: Redis | null = null;
    if (mode === 'redis') {
      redis = new Redis(REDIS_URL!);
      clients.push(redis);
      await new Promise((r) => redis!.once('ready', r));
    }
    const g = await startGateway(registry, {
      rateLimit: { points, windowS: 60, keyPrefix },
      redis,
      ...extra,
    });
    gateways.push(g);
    return g;
  }

  // The block lands when the consume is counted (at once in memory, one Redis round trip later); waiting for that
  // between requests makes a sequential client's count exact in both modes, with no timing involved.
  async function untilLimited(
    g: TestGateway,
    max: number,
    headers: Record<string, string> = {},
    path = '/products',
  ) {
    let passed = 0;
    for (let i = 0; i < max; i++) {
      const res = await call(g.url, path, { headers });
      await g.gateway.rateLimitSettled();
      if (res.status === 429) return { passed, res };
      passed++;
    }
    throw new Error(`no 429 after ${max} requests`);
  }

  it('when a client goes over the limit, then 429 JSON with Retry-After', async () => {
    const g = await gateway(3);
    const { passed, res } = await untilLimited(g, 10);
    expect(passed).toBe(3);
    expect(res.json.code).toBe('RATE_LIMITED');
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(up.seen).toHaveLength(passed);
  });

  it('when points are 0, then there is no limit', async () => {
    const g = await gateway(0);
    for (let i = 0; i < 20; i++) expect((await call(g.url, '/products')).status).toBe(200);
  });

  it('when members are signed in, then each has a quota of their own on the routes that need a member', async () => {
    const keys = await memberKeys();
    const g = await gateway(3, undefined, { fetchJwks: async () => keys.jwks });
    const a = { authorization: `Bearer ${await memberToken(keys.privateKey, keys.kid, { sub: 'a' })}` };
    const b = { authorization: `Bearer ${await memberToken(keys.privateKey, keys.kid, { sub: 'b' })}` };
    // A token not seen before is counted against the address (it is not verified yet): one point each.
    expect((await call(g.url, '/mine', { headers: a })).status).toBe(200);
    expect((await call(g.url, '/mine', { headers: b })).status).toBe(200);
    await g.gateway.rateLimitSettled();
    const limitedA = await untilLimited(g, 10, a, '/mine');
    expect(limitedA.passed).toBe(3);
    expect((await call(g.url, '/mine', { headers: b })).status).toBe(200);
    expect((await call(g.url, '/products')).status).toBe(200);
  });

  it('when a token is attached to an anonymous route, then the address is limited all the same', async () => {
    // Else K throwaway accounts would give one address K budgets for password guessing on /members/login.
    const keys = await memberKeys();
    const g = await gateway(3, undefined, { fetchJwks: async () => keys.jwks });
    const tokens = await Promise.all(
      ['x', 'y', 'z', 'w'].map((sub) => memberToken(keys.privateKey, keys.kid, { sub })),
    );
    const statuses: number[] = [];
    for (const token of [...tokens, ...tokens]) {
      statuses.push(
        (await call(g.url, '/products', { headers: { authorization: `Bearer ${token}` } })).status,
      );
      await g.gateway.rateLimitSettled();
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429, 429, 429, 429]);
  });

  if (mode === 'redis') {
    it('when two gateway replicas share Redis, then a client limited on one is limited on the other', async () => {
      const shared = `${prefix}:shared`;
      const g1 = await gateway(3, shared);
      const g2 = await gateway(3, shared);
      expect((await untilLimited(g1, 10)).passed).toBe(3);
      // g2 has no local block yet: its first request goes through, is counted over the limit, and blocks the client.
      expect((await untilLimited(g2, 10)).passed).toBe(1);
    });
  }
});

describe('rate limiting when Redis is down', () => {
  it('when Redis does not answer, then the memory insurance limiter keeps limiting', async () => {
    const registry = new TestRegistry();
    const up = await new FakeUpstream('product').start();
    registry.up('product', up.address, [route('GET', '/products')]);
    // Never connects: the limiter sees it is not ready and uses its insurance at once.
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    const g = await startGateway(registry, { rateLimit: { points: 2, windowS: 60 }, redis: dead });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call(g.url, '/products')).status);
      await g.gateway.rateLimitSettled();
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    await g.stop();
    await up.kill();
    dead.disconnect();
  });
});
