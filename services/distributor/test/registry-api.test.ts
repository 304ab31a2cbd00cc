// The registry API over real HTTP, through the kit, as services and the gateway use it.
// Runs on the in-memory store, or on Redis when REDIS_URL is set (a key prefix of its own per distributor).
import { INTERNAL_TOKEN_HEADER } from '@msa/service-kit';
import { signTestToken } from '@msa/service-kit/testing';
import type { InstanceRegistration } from '../src/registry/schemas';
import { registration, someStats } from './support/fixtures';
import { dropRedisKeys, startDistributor, type TestDistributor } from './support/distributor';

let distributor: TestDistributor;
beforeAll(async () => {
  distributor = await startDistributor();
});
afterAll(async () => {
  await distributor.stop();
  await dropRedisKeys();
});

const put = (reg: InstanceRegistration, body: unknown = reg) =>
  distributor.call('PUT', `/registry/instances/${reg.instanceId}`, body);

describe('registering', () => {
  it('when an instance registers, then it is listed, by service too, and pushed to watchers', async () => {
    const watch = await distributor.watch();
    const snapshot = await watch.events.waitFor((e) => e.event === 'snapshot');
    const reg = registration({ service: 'product' });

    const res = await put(reg);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      instance: {
        ...reg,
        registeredAt: expect.any(String),
        lastHeartbeatAt: expect.any(String),
        leaseExpiresAt: expect.any(String),
      },
      leaseMs: 5000,
      revision: expect.any(Number),
    });
    expect(res.body.revision).toBeGreaterThan(snapshot.data.revision);
    const all = await distributor.call('GET', '/registry/services');
    expect(all.body.services.product).toContainEqual(res.body.instance);
    const one = await distributor.call('GET', '/registry/services/product');
    expect(one.body).toEqual({
      revision: expect.any(Number),
      service: 'product',
      instances: expect.arrayContaining([res.body.instance]),
    });
    const up = await watch.events.waitFor(
      (e) => e.event === 'up' && e.data.instance.instanceId === reg.instanceId,
    );
    expect(up.data).toEqual({ revision: res.body.revision, instance: res.body.instance });
  });

  it('when the same instance id registers again, then the second registration replaces the first', async () => {
    const reg = registration({ service: 'member' });
    await put(reg);
    const again = await put({ ...reg, version: '0.2.0', address: 'http://10.0.0.7:4000' });

    const listed = await distributor.call('GET', '/registry/services/member');
    expect(
      listed.body.instances.filter((i: { instanceId: string }) => i.instanceId === reg.instanceId),
    ).toEqual([again.body.instance]);
    expect(again.body.instance).toMatchObject({ version: '0.2.0', address: 'http://10.0.0.7:4000' });
  });

  it('when a service is unknown, then it is listed with no instances', async () => {
    const res = await distributor.call('GET', '/registry/services/nobody-here');
    expect(res).toEqual({
      status: 200,
      body: { revision: expect.any(Number), service: 'nobody-here', instances: [] },
    });
  });
});

describe('heartbeats', () => {
  it('when a registered instance heartbeats with stats, then its lease is renewed and the stats are stored and pushed', async () => {
    const reg = registration();
    const registered = await put(reg);
    const watch = await distributor.watch();

    const res = await distributor.call('POST', `/registry/instances/${reg.instanceId}/heartbeat`, {
      stats: someStats,
    });

    expect(res).toEqual({ status: 200, body: { leaseMs: 5000, revision: expect.any(Number) } });
    const stats = await watch.events.waitFor(
      (e) => e.event === 'stats' && e.data.instanceId === reg.instanceId,
    );
    expect(stats.data).toEqual({
      instanceId: reg.instanceId,
      service: 'purchase',
      stats: someStats,
      at: expect.any(String),
    });
    const listed = await distributor.call('GET', '/registry/services/purchase');
    const record = listed.body.instances.find((i: { instanceId: string }) => i.instanceId === reg.instanceId);
    expect(record.stats).toEqual(someStats);
    expect(record.leaseExpiresAt >= registered.body.instance.leaseExpiresAt).toBe(true);
  });

  it('when a heartbeat has no body, then it still renews the lease', async () => {
    const reg = registration();
    await put(reg);
    const res = await fetch(`${distributor.url}/registry/instances/${reg.instanceId}/heartbeat`, {
      method: 'POST',
      headers: { [INTERNAL_TOKEN_HEADER]: await signTestToken({ iss: 'member' }) },
    });
    expect(res.status).toBe(200);
  });

  it('when an unknown instance heartbeats, then it gets 404 NOT_REGISTERED so that it registers again', async () => {
    const res = await distributor.call('POST', '/registry/instances/purchase-gone-1/heartbeat', {
      stats: someStats,
    });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'NOT_REGISTERED' });
  });
});

describe('deregistering', () => {
  it('when an instance deregisters, then it is gone, watchers get down deregistered, and a second try gets 404', async () => {
    const reg = registration({ service: 'product' });
    await put(reg);
    const watch = await distributor.watch();

    const res = await distributor.call('DELETE', `/registry/instances/${reg.instanceId}`);

    expect(res.status).toBe(204);
    const down = await watch.events.waitFor(
      (e) => e.event === 'down' && e.data.instanceId === reg.instanceId,
    );
    expect(down.data).toEqual({
      revision: expect.any(Number),
      instanceId: reg.instanceId,
      service: 'product',
      reason: 'deregistered',
    });
    const listed = await distributor.call('GET', '/registry/services/product');
    expect(listed.body.instances.map((i: { instanceId: string }) => i.instanceId)).not.toContain(
      reg.instanceId,
    );
    expect((await distributor.call('DELETE', `/registry/instances/${reg.instanceId}`)).status).toBe(404);
  });
});

describe('watching', () => {
  it('sends the whole registry as an event stream on connect', async () => {
    const reg = registration({ service: 'gateway' });
    await put(reg);

    const watch = await distributor.watch();

    expect(watch.status).toBe(200);
    expect(watch.contentType).toBe('text/event-stream');
    const snapshot = await watch.events.waitFor((e) => e.event === 'snapshot');
    expect(snapshot.data).toEqual({
      revision: expect.any(Number),
      leaseMs: 5000,
      instances: expect.any(Array),
    });
    expect(snapshot.data.instances.map((i: { instanceId: string }) => i.instanceId)).toContain(
      reg.instanceId,
    );
  });

  it('when a watcher reconnects after changes, then it gets a fresh snapshot with a higher revision', async () => {
    const first = await distributor.watch();
    const before = await first.events.waitFor((e) => e.event === 'snapshot');
    first.close();
    const reg = registration();
    await put(reg);

    const second = await distributor.watch();
    const after = await second.events.waitFor((e) => e.event === 'snapshot');

    expect(after.data.revision).toBeGreaterThan(before.data.revision);
    expect(after.data.instances.map((i: { instanceId: string }) => i.instanceId)).toContain(reg.instanceId);
  });
});

describe('bad input', () => {
  const good = registration({ service: 'product' });
  const route = good.routes[0]!;
  const cases: [string, unknown, string][] = [
    ['service name with capitals', { ...good, service: 'Product' }, 'body.service'],
    ['service name too short', { ...good, service: 'p' }, 'body.service'],
    ['service name with a slash', { ...good, service: 'pro/duct' }, 'body.service'],
    ['missing service', { ...good, service: undefined }, 'body.service'],
    ['address not a URL', { ...good, address: 'not a url' }, 'body.address'],
    ['address not http(s)', { ...good, address: 'ftp://127.0.0.1:21' }, 'body.address'],
    ['address with credentials', { ...good, address: 'http://user:pw@127.0.0.1:80' }, 'body.address'],
    ['version empty', { ...good, version: '' }, 'body.version'],
    ['version a number', { ...good, version: 1 }, 'body.version'],
    ['routes not a list', { ...good, routes: {} }, 'body.routes'],
    [
      'more than 200 routes',
      { ...good, routes: Array.from({ length: 201 }, (_, i) => ({ ...route, path: `/r/${i}` })) },
      'body.routes',
    ],
    ['the same route twice', { ...good, routes: [route, route] }, 'body.routes'],
    ['unknown method', { ...good, routes: [{ ...route, method: 'TRACE' }] }, 'body.routes.0.method'],
    [
      'path without a leading slash',
      { ...good, routes: [{ ...route, path: 'products' }] },
      'body.routes.0.path',
    ],
    [
      'public route under /internal',
      { ...good, routes: [{ ...route, path: '/internal/reserve', public: true }] },
      'body.routes.0.path',
    ],
    ['public not a boolean', { ...good, routes: [{ ...route, public: 'yes' }] }, 'body.routes.0.public'],
    ['unknown auth', { ...good, routes: [{ ...route, auth: 'root' }] }, 'body.routes.0.auth'],
    ['negative timeout', { ...good, routes: [{ ...route, timeoutMs: -1 }] }, 'body.routes.0.timeoutMs'],
    ['unknown route field', { ...good, routes: [{ ...route, weight: 3 }] }, 'body.routes.0'],
    ['unknown field', { ...good, admin: true }, 'body'],
    ['instanceId other than the path', { ...good, instanceId: 'product-someone-else' }, 'body.instanceId'],
    ['SQL-looking instanceId', { ...good, instanceId: "x'; DROP TABLE x;--" }, 'body.instanceId'],
    ['an array', [good], 'body'],
  ];

  it.each(cases)(
    'when a registration has %s, then it gets 400 naming the field and nothing changes',
    async (_, body, field) => {
      const before = await distributor.call('GET', '/registry/services');

      const res = await put(good, body);

      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.any(String) });
      expect(res.body.errors).toContainEqual({ field, message: expect.any(String) });
      expect(await distributor.call('GET', '/registry/services')).toEqual(before);
    },
  );

  it('when the path holds an invalid instance id, then it gets 400 naming the param', async () => {
    const res = await distributor.call('PUT', '/registry/instances/bad%20id', {
      ...good,
      instanceId: 'bad id',
    });
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual({
      field: 'params.instanceId',
      message: expect.any(String),
    });
  });

  it('when the body is not JSON, then it gets 400 and nothing changes', async () => {
    const before = await distributor.call('GET', '/registry/services');
    const res = await put(good, '{"service": "product",');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('MALFORMED_JSON');
    expect(await distributor.call('GET', '/registry/services')).toEqual(before);
  });

  it('when the body is huge, then it gets 413', async () => {
    const res = await put(good, { ...good, version: 'x'.repeat(200_000) });
    expect(res.status).toBe(413);
  });

  it.each([
    ['negative stats', { stats: { ...someStats, rssBytes: -1 } }, 'body.stats.rssBytes'],
    ['stats missing a figure', { stats: { ...someStats, inFlight: undefined } }, 'body.stats.inFlight'],
    ['an unknown field', { stats: someStats, mood: 'fine' }, 'body'],
  ])('when a heartbeat has %s, then it gets 400', async (_, body, field) => {
    await put(good);
    const res = await distributor.call('POST', `/registry/instances/${good.instanceId}/heartbeat`, body);
    expect(res.status).toBe(400);
    expect(res.body.errors).toContainEqual({ field, message: expect.any(String) });
  });

  it('when a service name in the path is invalid, then it gets 400', async () => {
    const res = await distributor.call('GET', '/registry/services/NOT_A_NAME');
    expect(res.status).toBe(400);
  });
});

describe('internal auth', () => {
  const reg = registration();
  const calls: [string, string][] = [
    ['PUT', `/registry/instances/${reg.instanceId}`],
    ['POST', `/registry/instances/${reg.instanceId}/heartbeat`],
    ['DELETE', `/registry/instances/${reg.instanceId}`],
    ['GET', '/registry/services'],
    ['GET', '/registry/services/purchase'],
    ['GET', '/registry/watch'],
  ];

  it.each(calls)(
    'when %s %s comes without an internal token, then it gets 401 and nothing changes',
    async (method, path) => {
      const before = await distributor.call('GET', '/registry/services');
      const res = await fetch(distributor.url + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'PUT' ? JSON.stringify(reg) : undefined,
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('INTERNAL_TOKEN_REQUIRED');
      expect(await distributor.call('GET', '/registry/services')).toEqual(before);
    },
  );

  it('when the token is signed with another secret, then the call gets 401', async () => {
    const forged = await signTestToken({ iss: 'member' }, 'another-secret-another-secret-another-secret');
    const res = await distributor.call('PUT', `/registry/instances/${reg.instanceId}`, reg, {
      [INTERNAL_TOKEN_HEADER]: forged,
    });
    expect(res.status).toBe(401);
  });

  it('answers health without a token', async () => {
    expect((await fetch(`${distributor.url}/health/live`)).status).toBe(200);
    const ready = await fetch(`${distributor.url}/health/ready`);
    expect(ready.status).toBe(200);
  });
});
