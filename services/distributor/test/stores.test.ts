// The same behaviour from both stores; then what only the Redis store promises (replicas, restarts).
import Redis from 'ioredis';
import { MemoryStore } from '../src/registry/memory-store';
import { RedisStore } from '../src/registry/redis-store';
import type { RegistryStore } from '../src/registry/store';
import {
  describeWithRedis,
  recordEvents,
  REDIS_URL,
  registration,
  someStats,
  uniquePrefix,
} from './support/fixtures';

const LEASE_MS = 5000;
const clock = { now: Date.parse('2030-01-01T00:00:00.000Z') };
const now = () => clock.now;

const connections: Redis[] = [];
function redisStore(prefix: string): RegistryStore {
  const redis = new Redis(REDIS_URL!);
  connections.push(redis);
  return new RedisStore({ redis, prefix, leaseMs: LEASE_MS, now });
}

async function cleanUp(prefix: string): Promise<void> {
  const redis = connections[0];
  if (!redis) return;
  await redis.del(...['records', 'heartbeats', 'leases', 'revision'].map((key) => prefix + key));
}

afterAll(async () => {
  await Promise.all(connections.map((redis) => redis.quit()));
});

const kinds: [string, (prefix: string) => RegistryStore][] = [
  ['memory store', () => new MemoryStore({ leaseMs: LEASE_MS, now })],
];
if (REDIS_URL) kinds.push(['redis store', redisStore]);

describe.each(kinds)('%s', (_kind, createStore) => {
  let store: RegistryStore;
  let prefix: string;

  beforeEach(async () => {
    prefix = uniquePrefix('stores');
    store = createStore(prefix);
    await store.start();
  });
  afterEach(async () => {
    await store.stop();
    await cleanUp(prefix);
  });

  it('when an instance registers, then it is listed and an up event carries it with a new revision', async () => {
    const events = recordEvents(store.events);
    const reg = registration();
    const { instance, revision } = await store.register(reg);

    expect(instance).toMatchObject({ ...reg, registeredAt: new Date(clock.now).toISOString() });
    expect(instance.leaseExpiresAt).toBe(new Date(clock.now + LEASE_MS).toISOString());
    expect(await store.list()).toEqual([instance]);
    expect(await store.snapshot()).toEqual({ revision, instances: [instance] });
    expect(await events.waitFor((e) => e.type === 'up')).toEqual({ type: 'up', revision, instance });
  });

  it('when the same instance id registers again, then the second registration replaces the first', async () => {
    const reg = registration();
    const first = await store.register(reg);
    const second = await store.register({ ...reg, version: '0.2.0', routes: [] });

    expect(second.revision).toBeGreaterThan(first.revision);
    expect(await store.list()).toEqual([second.instance]);
    expect(second.instance.routes).toEqual([]);
  });

  it('when an instance heartbeats, then its lease is renewed and it outlives the first lease', async () => {
    const { instance } = await store.register(registration());
    clock.now += LEASE_MS - 1000;
    expect(await store.heartbeat(instance.instanceId)).toEqual({ revision: expect.any(Number) });
    clock.now += LEASE_MS - 1000;

    expect(await store.expire()).toBe(0);
    const [listed] = await store.list();
    expect(listed?.lastHeartbeatAt).toBe(new Date(clock.now - (LEASE_MS - 1000)).toISOString());
    expect(listed?.leaseExpiresAt).toBe(new Date(clock.now + 1000).toISOString());
  });

  it('when a heartbeat carries stats, then they are stored and pushed as a stats event without a revision bump', async () => {
    const events = recordEvents(store.events);
    const { instance, revision } = await store.register(registration({ routes: [] }));

    expect(await store.heartbeat(instance.instanceId, someStats)).toEqual({ revision });
    expect(await events.waitFor((e) => e.type === 'stats')).toEqual({
      type: 'stats',
      instanceId: instance.instanceId,
      service: 'purchase',
      stats: someStats,
      at: new Date(clock.now).toISOString(),
    });
    await store.heartbeat(instance.instanceId); // a heartbeat without stats keeps the last ones
    expect(await store.snapshot()).toEqual({ revision, instances: [{ ...instance, stats: someStats }] });
  });

  it('when an unknown instance heartbeats, then the store answers false and lists nothing', async () => {
    expect(await store.heartbeat('purchase-nobody-1', someStats)).toBe(false);
    expect(await store.list()).toEqual([]);
  });

  it('when a lease is missed, then the next sweep removes the instance with down lease-expired', async () => {
    const events = recordEvents(store.events);
    const keep = await store.register(registration());
    const lose = await store.register(registration());
    clock.now += LEASE_MS - 1;
    await store.heartbeat(keep.instance.instanceId);
    clock.now += 1;

    expect(await store.expire()).toBe(1);
    expect((await store.list()).map((i) => i.instanceId)).toEqual([keep.instance.instanceId]);
    const down = await events.waitFor((e) => e.type === 'down');
    expect(down).toEqual({
      type: 'down',
      revision: lose.revision + 1,
      instanceId: lose.instance.instanceId,
      service: 'purchase',
      reason: 'lease-expired',
    });
    expect(await store.expire()).toBe(0);
  });

  it('when a lease has run out but no sweep has come yet, then the instance is still listed and may heartbeat', async () => {
    // Lists and events must agree: an instance leaves a list only with a down event, which the sweep sends.
    const { instance } = await store.register(registration());
    clock.now += LEASE_MS + 10;

    expect(await store.list()).toEqual([instance]);
    expect(await store.heartbeat(instance.instanceId)).not.toBe(false);
    expect(await store.expire()).toBe(0);
  });

  it('when many leases run out, then one sweep removes at most its limit', async () => {
    for (let i = 0; i < 5; i++) await store.register(registration());
    clock.now += LEASE_MS;

    expect(await store.expire(3)).toBe(3);
    expect(await store.expire(3)).toBe(2);
  });

  it('when an instance deregisters, then it is gone with down deregistered; an unknown one answers false', async () => {
    const events = recordEvents(store.events);
    const { instance, revision } = await store.register(registration({ service: 'product' }));

    expect(await store.deregister(instance.instanceId)).toBe(true);
    expect(await store.list()).toEqual([]);
    expect(await events.waitFor((e) => e.type === 'down')).toEqual({
      type: 'down',
      revision: revision + 1,
      instanceId: instance.instanceId,
      service: 'product',
      reason: 'deregistered',
    });
    expect(await store.deregister(instance.instanceId)).toBe(false);
    expect((await store.snapshot()).revision).toBe(revision + 1);
  });

  it('lists live instances by service, then instance id', async () => {
    const b = await store.register(registration({ service: 'product', instanceId: 'product-b' }));
    const a = await store.register(registration({ service: 'product', instanceId: 'product-a' }));
    const m = await store.register(registration({ service: 'member' }));

    expect(await store.list()).toEqual([m.instance, a.instance, b.instance]);
  });
});

describeWithRedis('redis store shared by replicas (needs REDIS_URL)', () => {
  let prefix: string;
  beforeEach(() => {
    prefix = uniquePrefix('replicas');
  });
  afterEach(() => cleanUp(prefix));

  it('when two replicas share one Redis, then both give the same answer and both report a change made through the other', async () => {
    const a = redisStore(prefix);
    const b = redisStore(prefix);
    await Promise.all([a.start(), b.start()]);
    const seenByA = recordEvents(a.events);
    const seenByB = recordEvents(b.events);

    const { instance, revision } = await a.register(registration());
    expect(await b.snapshot()).toEqual(await a.snapshot());
    expect(await seenByB.waitFor((e) => e.type === 'up')).toEqual({ type: 'up', revision, instance });

    await b.deregister(instance.instanceId);
    expect(await seenByA.waitFor((e) => e.type === 'down')).toMatchObject({ revision: revision + 1 });
    await Promise.all([a.stop(), b.stop()]);
  });

  it('when both replicas sweep the same expired lease, then exactly one down is sent', async () => {
    const a = redisStore(prefix);
    const b = redisStore(prefix);
    await Promise.all([a.start(), b.start()]);
    const seen = recordEvents(a.events);
    const { instance } = await a.register(registration());
    clock.now += LEASE_MS;

    const removed = await Promise.all([a.expire(), b.expire()]);
    expect(removed.sort()).toEqual([0, 1]);
    await a.register(registration()); // a later event: everything published before it has arrived
    await seen.waitFor((e) => e.type === 'up' && e.instance.instanceId !== instance.instanceId);
    expect(seen.seen.filter((e) => e.type === 'down')).toHaveLength(1);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('when Redis was away, then the first sweep after it gives every lease one more leaseMs before evicting any', async () => {
    const redis = new Redis(REDIS_URL!);
    connections.push(redis);
    const store = new RedisStore({ redis, prefix, leaseMs: LEASE_MS, now });
    await store.start();
    const { instance } = await store.register(registration());
    redis.disconnect();
    clock.now += 10 * LEASE_MS; // nobody could renew a lease meanwhile
    await expect(store.expire()).rejects.toThrow();

    await redis.connect();
    expect(await store.expire()).toBe(0);
    expect(await store.list()).toEqual([
      { ...instance, leaseExpiresAt: new Date(clock.now + LEASE_MS).toISOString() },
    ]);
    clock.now += LEASE_MS;
    expect(await store.expire()).toBe(1);
    await store.stop();
  });

  it('when a distributor restarts after an outage, then it still lists the instances and gives them one more lease', async () => {
    const before = redisStore(prefix);
    await before.start();
    const { instance } = await before.register(registration());
    await before.stop();
    clock.now += 10 * LEASE_MS; // the distributor was down; the instance kept running

    const after = redisStore(prefix);
    await after.start();
    expect(await after.expire()).toBe(0);
    expect(await after.list()).toEqual([
      { ...instance, leaseExpiresAt: new Date(clock.now + LEASE_MS).toISOString() },
    ]);

    clock.now += LEASE_MS; // and it never heartbeats again
    expect(await after.expire()).toBe(1);
    await after.stop();
  });
});
