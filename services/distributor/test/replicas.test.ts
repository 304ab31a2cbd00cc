// Distributors sharing one Redis: replicas that give the same answer, and restarts that lose nothing.
import Redis from 'ioredis';
import { uniquePrefix } from '@msa/service-kit/testing';
import { describeWithRedis, REDIS_URL, registration } from './support/fixtures';
import { dropRedisKeys, startDistributor, type TestDistributor } from './support/distributor';

afterAll(dropRedisKeys);

const byId =
  (id: string) => (e: { event: string; data: { instanceId?: string; instance?: { instanceId: string } } }) =>
    e.data.instanceId === id || e.data.instance?.instanceId === id;

describeWithRedis('two distributors on one Redis (needs REDIS_URL)', () => {
  let a: TestDistributor;
  let b: TestDistributor;
  beforeAll(async () => {
    const env = { REDIS_KEY_PREFIX: uniquePrefix() };
    [a, b] = await Promise.all([startDistributor(env), startDistributor(env)]);
  });
  afterAll(() => Promise.all([a.stop(), b.stop()]));

  it('when an instance registers through one, then both list it and both push it to their watchers', async () => {
    const [watchA, watchB] = await Promise.all([a.watch(), b.watch()]);
    const reg = registration();

    const res = await a.call('PUT', `/registry/instances/${reg.instanceId}`, reg);

    const expected = { revision: res.body.revision, instance: res.body.instance };
    expect((await watchA.events.waitFor((e) => e.event === 'up' && byId(reg.instanceId)(e))).data).toEqual(
      expected,
    );
    expect((await watchB.events.waitFor((e) => e.event === 'up' && byId(reg.instanceId)(e))).data).toEqual(
      expected,
    );
    expect(await b.call('GET', '/registry/services')).toEqual(await a.call('GET', '/registry/services'));
    await b.call('DELETE', `/registry/instances/${reg.instanceId}`);
  });

  it('when an instance deregisters through the other, then both push the down', async () => {
    const reg = registration();
    await a.call('PUT', `/registry/instances/${reg.instanceId}`, reg);
    const [watchA, watchB] = await Promise.all([a.watch(), b.watch()]);

    expect((await b.call('DELETE', `/registry/instances/${reg.instanceId}`)).status).toBe(204);

    for (const watch of [watchA, watchB]) {
      const down = await watch.events.waitFor((e) => e.event === 'down' && byId(reg.instanceId)(e));
      expect(down.data.reason).toBe('deregistered');
    }
  });

  it('when a lease runs out, then both sweep but the watchers of each get exactly one down', async () => {
    const env = { REDIS_KEY_PREFIX: uniquePrefix(), REGISTRY_LEASE_MS: '300' };
    const [one, two] = await Promise.all([startDistributor(env), startDistributor(env)]);
    const [watchA, watchB] = await Promise.all([one.watch(), two.watch()]);
    const lost = registration();
    await one.call('PUT', `/registry/instances/${lost.instanceId}`, lost);
    for (const watch of [watchA, watchB])
      await watch.events.waitFor((e) => e.event === 'down' && byId(lost.instanceId)(e));

    // A later change: once it has arrived, everything published before it has too.
    const marker = registration();
    await two.call('PUT', `/registry/instances/${marker.instanceId}`, marker);
    for (const watch of [watchA, watchB]) {
      await watch.events.waitFor((e) => e.event === 'up' && byId(marker.instanceId)(e));
      expect(watch.events.seen.filter((e) => e.event === 'down' && byId(lost.instanceId)(e))).toHaveLength(1);
    }
    await Promise.all([one.stop(), two.stop()]);
  });
});

describeWithRedis('a distributor restarted on the same Redis (needs REDIS_URL)', () => {
  it('when it restarts after an outage longer than a lease, then it still lists the instances and gives them one more lease', async () => {
    const prefix = uniquePrefix();
    const first = await startDistributor({ REDIS_KEY_PREFIX: prefix });
    const reg = registration();
    await first.call('PUT', `/registry/instances/${reg.instanceId}`, reg);
    await first.stop();
    // As if the distributor had been down for longer than a lease while the instance kept running.
    const redis = new Redis(REDIS_URL!);
    const aged = Date.now() - 1000;
    await redis.zadd(`${prefix}registry:leases`, aged, reg.instanceId);
    await redis.quit();

    const second = await startDistributor({ REDIS_KEY_PREFIX: prefix });
    try {
      const listed = await second.call('GET', '/registry/services/purchase');
      expect(listed.body.instances).toEqual([expect.objectContaining({ instanceId: reg.instanceId })]);
      expect(Date.parse(listed.body.instances[0].leaseExpiresAt)).toBeGreaterThan(aged + 5000);
      const heartbeat = await second.call('POST', `/registry/instances/${reg.instanceId}/heartbeat`, {});
      expect(heartbeat.status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});
