import http from 'node:http';
import { signTestToken, startService, testEnv } from '@msa/service-kit/testing';
import { service } from '../src/service';
import { RollingWindow } from '../src/proxy/rolling';
import type { StatusSnapshot } from '../src/status/board';
import {
  call,
  eventually,
  FakeUpstream,
  memberKeys,
  memberToken,
  route,
  startGateway,
  TestRegistry,
  type TestGateway,
} from './support';

describe('the live windows behind the status page', () => {
  const t0 = Date.parse('2025-01-01T00:00:00Z');

  it('when requests are recorded, then the next seconds read their rate, error share and percentiles', () => {
    const w = new RollingWindow();
    for (let i = 0; i < 98; i++) w.record(200, 4, t0 + i);
    w.record(503, 900, t0 + 500);
    w.record(500, 900, t0 + 600);

    expect(w.figures(t0).count).toBe(0); // the current second is not complete yet
    const f = w.figures(t0 + 1000);
    expect(f).toMatchObject({ count: 100, rate: 10, errorRate: 0.02 });
    expect(f.p50).toBeGreaterThan(3);
    expect(f.p50).toBeLessThanOrEqual(5);
    expect(f.p99).toBeGreaterThan(750);
    expect(f.p99).toBeLessThanOrEqual(1000);
  });

  it('when the window has moved on, then old seconds no longer count, even where a slot is reused', () => {
    const w = new RollingWindow();
    w.record(200, 1, t0);
    expect(w.figures(t0 + 10_000).count).toBe(1);
    expect(w.figures(t0 + 11_000).count).toBe(0);
    w.record(200, 1, t0 + 12_000); // the same slot as t0, twelve seconds later
    w.record(200, 1, t0 + 12_000);
    expect(w.figures(t0 + 13_000)).toMatchObject({ count: 2, p50: expect.any(Number) });
    expect(new RollingWindow().figures(t0)).toEqual({
      rate: 0,
      errorRate: 0,
      p50: null,
      p99: null,
      count: 0,
    });
  });
});

describe('the status page at the gateway', () => {
  let registry: TestRegistry;
  let gw: TestGateway;
  let up: FakeUpstream;
  let keys: Awaited<ReturnType<typeof memberKeys>>;
  let admin: string;

  beforeEach(async () => {
    registry = new TestRegistry();
    up = await new FakeUpstream('product').start();
    keys = await memberKeys();
    admin = await memberToken(keys.privateKey, keys.kid, { sub: 'admin-1', role: 'admin' });
    gw = await startGateway(registry, { fetchJwks: async () => keys.jwks, status: { pushMs: 100 } });
    registry.up('product', up.address, [route('GET', '/products'), route('GET', '/status')], 'product-1');
  });

  afterEach(async () => {
    await gw.stop();
    await up.kill();
  });

  async function session(token = admin): Promise<string> {
    const res = await call(gw.url, '/status/session', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(204);
    return String(res.headers['set-cookie']).split(';')[0]!;
  }

  async function snapshot(cookie: string): Promise<StatusSnapshot> {
    const res = await call(gw.url, '/status/snapshot', { headers: { cookie } });
    expect(res.status).toBe(200);
    return res.json as StatusSnapshot;
  }

  it('when anyone asks for /status, then the gateway serves its own page with a strict CSP, even over a service route', async () => {
    const page = await call(gw.url, '/status');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('/status/app.js');
    expect(up.seen).toHaveLength(0);
    expect((await call(gw.url, '/status/app.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await call(gw.url, '/status/nope')).status).toBe(404);
    expect((await call(gw.url, '/status', { method: 'POST' })).status).toBe(405);
  });

  it('when the data is asked without an admin session, then 401 without a token and 403 for a customer', async () => {
    expect((await call(gw.url, '/status/events')).status).toBe(401);
    expect(
      (await call(gw.url, '/status/snapshot', { headers: { cookie: 'msa_status=forged' } })).status,
    ).toBe(401);
    expect((await call(gw.url, '/status/session', { method: 'POST' })).status).toBe(401);
    const customer = await memberToken(keys.privateKey, keys.kid, { sub: 'c-1', role: 'customer' });
    const res = await call(gw.url, '/status/session', {
      method: 'POST',
      headers: { authorization: `Bearer ${customer}` },
    });
    expect(res.status).toBe(403);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(
      (await call(gw.url, '/status/snapshot', { headers: { cookie: `msa_status=${customer}` } })).status,
    ).toBe(403);
  });

  it('when an admin opens a session, then the cookie is HttpOnly, SameSite=Strict, limited to /status and expires with the token', async () => {
    const res = await call(gw.url, '/status/session', {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.status).toBe(204);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(
      /^msa_status=[\w-]+\.[\w-]+\.[\w-]+; Path=\/status; Max-Age=(89\d|900); HttpOnly; SameSite=Strict$/,
    );
    const out = await call(gw.url, '/status/session', { method: 'DELETE' });
    expect(String(out.headers['set-cookie'])).toMatch(/^msa_status=; Path=\/status; Max-Age=0;/);
  });

  it('when traffic flows and an instance is lost, then the picture shows the route figures, the red instance and an alert', async () => {
    const cookie = await session();
    for (let i = 0; i < 3; i++) expect((await call(gw.url, '/products')).status).toBe(200);
    up.status = 500;
    const failed = await call(gw.url, '/products', { headers: { 'x-request-id': 'req-broken-1' } });
    expect(failed.status).toBe(500);

    let s = await snapshot(cookie);
    const product = s.services.find((x) => x.name === 'product')!;
    expect(product).toMatchObject({ state: 'healthy', live: 1 });
    expect(product.instances).toEqual([
      expect.objectContaining({ instanceId: 'product-1', state: 'healthy' }),
    ]);
    expect(s.routes).toContainEqual(
      expect.objectContaining({ method: 'GET', path: '/products', service: 'product' }),
    );
    expect(s.failures[0]).toMatchObject({
      requestId: 'req-broken-1',
      status: 500,
      route: '/products',
      instance: 'product-1',
    });
    // Figures are read over complete seconds: wait until the second of those requests is over.
    await eventually(
      async () => (await snapshot(cookie)).routes.some((r) => r.path === '/products' && r.count === 4),
      'figures',
    );
    s = await snapshot(cookie);
    expect(s.routes.find((r) => r.path === '/products')).toMatchObject({ count: 4, errorRate: 0.25 });
    expect(s.services.find((x) => x.name === 'product')!.instances[0]).toMatchObject({
      count: 4,
      errorRate: 0.25,
    });

    registry.down('product-1'); // the lease ran out: the registry forgets it
    s = await snapshot(cookie);
    expect(s.services.find((x) => x.name === 'product')).toMatchObject({
      state: 'down',
      live: 0,
      instances: [
        expect.objectContaining({ instanceId: 'product-1', state: 'lost', goneAt: expect.any(String) }),
      ],
    });
    expect(s.events.map((e) => `${e.level} ${e.text}`)).toEqual(
      expect.arrayContaining(['error product-1 lost (lease-expired)', 'error product has no instance left']),
    );
  });

  it('when an instance keeps failing, then it shows as ejected with an alert, and its service as degraded', async () => {
    const cookie = await session();
    const good = await new FakeUpstream('product-good').start();
    try {
      registry.up('product', good.address, [route('GET', '/products')], 'product-2');
      up.status = 502;
      for (let i = 0; i < 8; i++) expect((await call(gw.url, '/products')).status).toBe(200); // retried on product-2
      const s = await snapshot(cookie);
      const product = s.services.find((x) => x.name === 'product')!;
      expect(product.instances.map((i) => `${i.instanceId} ${i.state}`)).toEqual([
        'product-1 ejected',
        'product-2 healthy',
      ]);
      expect(product.state).toBe('degraded');
      expect(s.events[0]).toMatchObject({ level: 'warn', service: 'product', instanceId: 'product-1' });
      expect(s.events[0]!.text).toMatch(/^product-1 ejected for 5 s/);
    } finally {
      await good.kill();
    }
  });

  it('when an instance deregisters, then it is shown as left, not lost', async () => {
    const cookie = await session();
    registry.up('product', up.address, [route('GET', '/products')], 'product-2');
    registry.emit('down', { instanceId: 'product-2', service: 'product', reason: 'deregistered' });
    registry.down('product-2');
    const s = await snapshot(cookie);
    const product = s.services.find((x) => x.name === 'product')!;
    expect(product.instances.map((i) => `${i.instanceId} ${i.state}`)).toEqual([
      'product-1 healthy',
      'product-2 left',
    ]);
    expect(product.state).toBe('healthy');
  });

  it('when an admin watches the stream, then the picture comes at once and on a change, until shutdown ends it', async () => {
    const cookie = await session();
    const pictures: StatusSnapshot[] = [];
    const req = http.get(`${gw.url}/status/events`, { headers: { cookie } });
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split('\n').find((l) => l.startsWith('data: '));
        if (frame.startsWith('event: status') && data)
          pictures.push(JSON.parse(data.slice(6)) as StatusSnapshot);
      }
    });
    try {
      await eventually(() => pictures.length >= 1, 'the first picture');
      expect(pictures[0]!.services.map((x) => x.name)).toEqual(['product']);
      registry.up('purchase', up.address, [route('GET', '/purchases')], 'purchase-1');
      await eventually(
        () => pictures.some((p) => p.services.some((x) => x.name === 'purchase')),
        'purchase appears',
      );
      expect(gw.gateway.board.snapshot().events[0]).toMatchObject({
        service: 'purchase',
        instanceId: 'purchase-1',
      });

      // Shutdown begins: the stream ends (it must not hold the server open) and no new one starts.
      const ended = new Promise<void>((resolve) => res.on('end', resolve));
      gw.gateway.closeStatusStreams();
      await ended;
      expect((await call(gw.url, '/status/events', { headers: { cookie } })).status).toBe(503);
    } finally {
      req.destroy();
    }
  });
});

describe('the status page under a flood', () => {
  it('when one address keeps trying tokens, then it is rate limited before any token is checked; the page itself is not', async () => {
    const registry = new TestRegistry();
    const gw = await startGateway(registry, { rateLimit: { points: 3, windowS: 60 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await call(gw.url, '/status/snapshot', {
          headers: { cookie: `msa_status=made-up-${i}` },
        });
        statuses.push(res.status);
        await gw.gateway.rateLimitSettled();
      }
      expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
      expect(statuses.slice(3)).toEqual([429, 429]);
      expect((await call(gw.url, '/status')).status).toBe(200);
    } finally {
      await gw.stop();
    }
  });
});

describe('the status picture for other services', () => {
  it('when a service posts an alert with its internal token, then the picture lists it; bad alerts are refused', async () => {
    const svc = await startService(service, {
      env: testEnv({ HTTPS_PORT: '0', DATA_DIR: 'memory' }),
      waitReady: true,
    });
    try {
      const token = await signTestToken({ iss: 'slack-bot' });
      const headers = { 'x-internal-token': token, 'content-type': 'application/json' };
      const alert = { level: 'error', service: 'purchase', text: 'error burst: 12 × 5xx in 1 min' };
      const admin = svc.adminUrl!;
      const posted = await call(admin, '/internal/status/alerts', {
        method: 'POST',
        headers,
        body: JSON.stringify(alert),
      });
      expect(posted.status).toBe(204);
      const bad = await call(admin, '/internal/status/alerts', {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...alert, level: 'panic', colour: 'red' }),
      });
      expect(bad.status).toBe(400);
      expect((await call(admin, '/internal/status')).status).toBe(401); // no token
      // Never on the client-facing port, token or not.
      expect(
        (await call(svc.url, '/internal/status', { headers: { 'x-internal-token': token } })).status,
      ).toBe(404);

      const picture = await call(admin, '/internal/status', { headers: { 'x-internal-token': token } });
      expect(picture.status).toBe(200);
      expect(picture.json.events).toEqual([expect.objectContaining(alert)]);
      expect(picture.json).toMatchObject({ services: [], routes: [], distributor: 'unknown' });
    } finally {
      await svc.stop();
    }
  });
});
