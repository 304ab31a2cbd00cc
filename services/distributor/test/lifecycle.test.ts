// Leases in real time (a short lease), restarts and shutdown, with the kit's own client on the other end.
// Runs on the in-memory store, or on Redis when REDIS_URL is set.
import { defineService } from '@msa/service-kit';
import { startService, testEnv, uniquePrefix } from '@msa/service-kit/testing';
import { registration } from './support/fixtures';
import { dropRedisKeys, startDistributor, type TestDistributor } from './support/distributor';

afterAll(dropRedisKeys);

const LEASE_MS = '300';

// A service as every service of the shop is one: it registers through the kit and heartbeats.
const echo = defineService({
  name: 'echo',
  routes: () => [{ method: 'GET', path: '/echo', public: true, auth: 'none', handler: () => ({ ok: true }) }],
});

describe('leases', () => {
  let distributor: TestDistributor;
  beforeAll(async () => {
    distributor = await startDistributor({ REGISTRY_LEASE_MS: LEASE_MS });
  });
  afterAll(() => distributor.stop());

  it('when an instance misses its lease, then it is removed with down lease-expired and its heartbeat gets 404', async () => {
    const watch = await distributor.watch();
    const reg = registration();
    await distributor.call('PUT', `/registry/instances/${reg.instanceId}`, reg);

    const down = await watch.events.waitFor(
      (e) => e.event === 'down' && e.data.instanceId === reg.instanceId,
    );

    expect(down.data).toMatchObject({ service: 'purchase', reason: 'lease-expired' });
    expect((await distributor.call('GET', '/registry/services/purchase')).body.instances).toEqual([]);
    const heartbeat = await distributor.call('POST', `/registry/instances/${reg.instanceId}/heartbeat`, {});
    expect(heartbeat.status).toBe(404);
  });

  it('when a kit service runs, then it stays registered across many leases by heartbeat, and leaves with down deregistered', async () => {
    const watch = await distributor.watch();
    const service = await startService(echo, {
      env: testEnv({ DISTRIBUTOR_URL: distributor.url }),
      waitReady: true,
    });
    const { instanceId } = service.ctx;

    // Heartbeats come every lease / 3: after five of them more than a whole lease has passed.
    const heartbeats = () =>
      watch.events.seen.filter((e) => e.event === 'stats' && e.data.instanceId === instanceId);
    await watch.events.waitFor(() => heartbeats().length >= 5);
    const listed = await distributor.call('GET', '/registry/services/echo');
    expect(listed.body.instances).toEqual([
      expect.objectContaining({
        instanceId,
        routes: [{ method: 'GET', path: '/echo', public: true, auth: 'none' }],
        stats: expect.objectContaining({ rssBytes: expect.any(Number) }),
      }),
    ]);

    await service.stop();
    const down = await watch.events.waitFor((e) => e.event === 'down' && e.data.instanceId === instanceId);
    expect(down.data.reason).toBe('deregistered');
    expect(
      watch.events.seen.filter((e) => e.event === 'down' && e.data.instanceId === instanceId),
    ).toHaveLength(1);
  });
});

describe('a distributor restart', () => {
  it('when the distributor restarts, then a kit service is listed again within a heartbeat', async () => {
    const env = { REGISTRY_LEASE_MS: LEASE_MS, REDIS_KEY_PREFIX: uniquePrefix() };
    const first = await startDistributor(env);
    const service = await startService(echo, {
      env: testEnv({ DISTRIBUTOR_URL: first.url }),
      waitReady: true,
    });
    await first.stop();

    // Same address, as a restarted container has. In memory it starts empty: the service's next heartbeat
    // gets 404 and it registers again. On Redis it never lost the instance.
    const second = await startDistributor({ ...env, PORT: String(first.port) });
    try {
      const watch = await second.watch();
      await watch.events.waitFor(
        (e) =>
          (e.event === 'snapshot' &&
            e.data.instances.some((i: { instanceId: string }) => i.instanceId === service.ctx.instanceId)) ||
          (e.event === 'up' && e.data.instance.instanceId === service.ctx.instanceId),
      );
      const listed = await second.call('GET', '/registry/services/echo');
      expect(listed.body.instances.map((i: { instanceId: string }) => i.instanceId)).toEqual([
        service.ctx.instanceId,
      ]);
    } finally {
      await service.stop();
      await second.stop();
    }
  });
});

describe('shutdown', () => {
  it('when the distributor shuts down, then it ends watch streams cleanly, so watchers move on at once', async () => {
    const distributor = await startDistributor();
    const watch = await distributor.watch();
    await watch.events.waitFor((e) => e.event === 'snapshot');

    const stopped = distributor.stop();

    expect(await watch.ended).toBe('ended'); // not cut off by the kit's drain timeout
    await stopped;
  });
});

describe('Redis unreachable', () => {
  it('when Redis cannot be reached, then the distributor runs but is not ready, and the registry answers 503', async () => {
    const distributor = await startDistributor({ REDIS_URL: 'redis://127.0.0.1:1' }); // nothing listens there
    try {
      expect((await fetch(`${distributor.url}/health/live`)).status).toBe(200);
      expect((await fetch(`${distributor.url}/health/ready`)).status).toBe(503);
      const reg = registration();
      const res = await distributor.call('PUT', `/registry/instances/${reg.instanceId}`, reg);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('REGISTRY_UNAVAILABLE');
      expect((await distributor.watch()).status).toBe(503);
    } finally {
      await distributor.stop();
    }
  });
});
