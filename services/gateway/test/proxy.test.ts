import http from 'node:http';
import pino from 'pino';
import {
  call,
  eventually,
  FakeUpstream,
  internalClaims,
  route,
  startGateway,
  TestRegistry,
  type TestGateway,
} from './support';

describe('proxying through the live routing table', () => {
  let registry: TestRegistry;
  let gw: TestGateway;
  let ups: FakeUpstream[];

  beforeEach(async () => {
    registry = new TestRegistry();
    ups = await Promise.all(['a', 'b'].map((n) => new FakeUpstream(n).start()));
  });

  afterEach(async () => {
    await gw?.stop();
    await Promise.all(ups.map((u) => u.kill().catch(() => undefined)));
  });

  async function twoInstances(routes = [route('GET', '/purchases'), route('POST', '/purchases')]) {
    registry.up('purchase', ups[0]!.address, routes, 'purchase-a');
    registry.up('purchase', ups[1]!.address, routes, 'purchase-b');
  }

  it('when a public route is called, then it reaches an instance with the path, query and body intact', async () => {
    gw = await startGateway(registry);
    registry.up('product', ups[0]!.address, [route('POST', '/products/:id/notes')]);
    const res = await call(gw.url, '/products/7/notes?x=1&y=%20z', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"note":"hi"}',
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ instance: 'a', url: '/products/7/notes?x=1&y=%20z', body: '{"note":"hi"}' });
    expect(ups[0]!.seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('when a new service registers, then its routes work with no gateway restart; when it leaves, they answer 503', async () => {
    gw = await startGateway(registry);
    expect((await call(gw.url, '/reviews')).status).toBe(404);
    const id = registry.up('review', ups[0]!.address, [route('GET', '/reviews')]);
    expect((await call(gw.url, '/reviews')).status).toBe(200);
    registry.down(id);
    const gone = await call(gw.url, '/reviews');
    expect(gone.status).toBe(503);
    expect(gone.json).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      detail: 'review service has no healthy instance',
    });
  });

  it('when two instances serve a route, then requests are spread over both', async () => {
    gw = await startGateway(registry);
    await twoInstances();
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push((await call(gw.url, '/purchases')).json.instance);
    expect(seen.filter((s) => s === 'a')).toHaveLength(3);
    expect(seen.filter((s) => s === 'b')).toHaveLength(3);
  });

  it('when an unknown route is called, then 404 problem details', async () => {
    gw = await startGateway(registry);
    const res = await call(gw.url, '/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.json).toMatchObject({
      type: 'urn:msa:problem:not-found',
      status: 404,
      instance: res.headers['x-request-id'],
    });
    expect(res.json.code).toBe('NOT_FOUND');
  });

  it.each([
    '/internal/jwks',
    '/%69nternal/jwks',
    '//internal/jwks',
    '/INTERNAL/jwks',
    '/a/../internal/jwks',
    '/products/..%2finternal/jwks',
  ])('when a client asks for %s, then 404 even though a service registered it as public', async (path) => {
    gw = await startGateway(registry);
    registry.up('member', ups[0]!.address, [
      route('GET', '/internal/jwks'),
      route('GET', '/products/:id/:x'),
    ]);
    const res = await call(gw.url, path);
    expect(res.status).toBe(404);
    expect(res.json.code).toBe('NOT_FOUND');
    expect(ups[0]!.seen).toHaveLength(0);
  });

  it('when the gateway is asked for its own health, then it leaves it to Express', async () => {
    gw = await startGateway(registry);
    for (const path of ['/health/ready', '/health/live']) {
      const res = await call(gw.url, path);
      expect(res.text).toBe('own route');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('when /metrics or an /internal call (even with an internal token) reaches the proxy, then 404, never upstream', async () => {
    gw = await startGateway(registry);
    registry.up('member', ups[0]!.address, [route('GET', '/internal/routes'), route('GET', '/metrics')]);
    for (const path of ['/internal/routes', '/metrics']) {
      const res = await call(gw.url, path, { headers: { 'x-internal-token': 'anything' } });
      expect(res.status).toBe(404);
      expect(res.json.code).toBe('NOT_FOUND');
    }
    expect(ups[0]!.seen).toHaveLength(0);
  });

  it('when an instance is killed, then an idempotent GET is retried on the other and succeeds', async () => {
    gw = await startGateway(registry);
    await twoInstances();
    for (let i = 0; i < 4; i++) expect((await call(gw.url, '/purchases')).status).toBe(200);
    await ups[0]!.kill();
    for (let i = 0; i < 6; i++) {
      const res = await call(gw.url, '/purchases');
      expect(res.status).toBe(200);
      expect(res.json.instance).toBe('b');
    }
  });

  it('when an instance is killed, then a POST without Idempotency-Key is not retried (502 naming the service)', async () => {
    gw = await startGateway(registry);
    registry.up('purchase', ups[0]!.address, [route('POST', '/purchases')], 'purchase-a');
    registry.up('purchase', ups[1]!.address, [route('POST', '/purchases')], 'purchase-b');
    await ups[0]!.kill();
    await ups[1]!.kill();
    const res = await call(gw.url, '/purchases', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ code: 'BAD_GATEWAY', detail: 'purchase service could not be reached' });
  });

  it('when the picked instance is dead, then a POST without Idempotency-Key fails while one with a key is retried', async () => {
    gw = await startGateway(registry);
    await twoInstances();
    await ups[0]!.kill();
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      statuses.push((await call(gw.url, '/purchases', { method: 'POST', body: '{"n":1}' })).status);
    }
    expect(statuses.sort()).toEqual([200, 502]);
    expect(ups[1]!.seen).toHaveLength(1);

    for (let i = 0; i < 2; i++) {
      const res = await call(gw.url, '/purchases', {
        method: 'POST',
        body: '{"n":2}',
        headers: { 'idempotency-key': `key-${i}`, 'content-type': 'application/json' },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ instance: 'b', body: '{"n":2}' });
    }
  });

  it('when an instance answers 503, then an idempotent request is retried once on another instance', async () => {
    gw = await startGateway(registry);
    await twoInstances();
    ups[0]!.status = 503;
    for (let i = 0; i < 4; i++) {
      const res = await call(gw.url, '/purchases');
      expect(res.status).toBe(200);
      expect(res.json.instance).toBe('b');
    }
  });

  it('when every instance answers 503, then the upstream answer is passed on after one retry', async () => {
    gw = await startGateway(registry);
    await twoInstances();
    ups[0]!.status = 503;
    ups[1]!.status = 503;
    const res = await call(gw.url, '/purchases');
    expect(res.status).toBe(503);
    expect(ups[0]!.seen.length + ups[1]!.seen.length).toBe(2);
  });

  it('when the upstream is slower than the route timeout, then 504 naming the service', async () => {
    gw = await startGateway(registry);
    registry.up('purchase', ups[0]!.address, [route('GET', '/slow', { timeoutMs: 50 })]);
    ups[0]!.hang = true;
    const res = await call(gw.url, '/slow');
    expect(res.status).toBe(504);
    expect(res.json).toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      detail: 'purchase service did not answer within 50 ms',
    });
  });

  it('when an instance hangs, then an idempotent GET is retried once on the other after the route timeout', async () => {
    gw = await startGateway(registry);
    await twoInstances([
      route('GET', '/purchases', { timeoutMs: 200 }),
      route('POST', '/purchases', { timeoutMs: 200 }),
    ]);
    ups[0]!.hang = true; // alive but silent, as a killed container's address is
    for (let i = 0; i < 4; i++) {
      const res = await call(gw.url, '/purchases');
      expect(res.status).toBe(200);
      expect(res.json.instance).toBe(ups[1]!.name);
    }
    // Not idempotent (no Idempotency-Key): never sent twice, so a timeout stays a 504.
    ups[1]!.hang = true;
    const post = await call(gw.url, '/purchases', { method: 'POST', body: '{}' });
    const posts = [...ups[0]!.seen, ...ups[1]!.seen].filter((s) => s.method === 'POST');
    expect([post.status, posts.length]).toEqual([504, 1]);
  });

  it('when a route has no instance at all, then 503 with exactly the documented body', async () => {
    gw = await startGateway(registry);
    const id = registry.up('purchase', ups[0]!.address, [route('GET', '/purchases')]);
    registry.down(id);
    const res = await call(gw.url, '/purchases');
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.text).toBe(
      '{"type":"urn:msa:problem:service-unavailable","title":"Service unavailable","status":503,' +
        `"detail":"purchase service has no healthy instance","instance":"${res.headers['x-request-id']}",` +
        '"code":"SERVICE_UNAVAILABLE"}',
    );
  });

  it('when an instance keeps failing, then it is ejected, and re-admitted after its ejection time', async () => {
    gw = await startGateway(registry, { outlier: { failures: 3, baseEjectMs: 300, maxEjectMs: 1000 } });
    registry.up('purchase', ups[0]!.address, [route('POST', '/purchases')], 'purchase-a');
    registry.up('purchase', ups[1]!.address, [route('POST', '/purchases')], 'purchase-b');
    ups[0]!.status = 502; // POST without a key: not retried, so every failure reaches the client
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(gw.url, '/purchases', { method: 'POST' })).status);
    expect(statuses.filter((s) => s === 502)).toHaveLength(3);
    const routes = gw.gateway.routes()[0]!.instances;
    expect(routes.find((i) => i.instanceId === 'purchase-a')!.ejectedForMs).toBeGreaterThan(0);
    const before = ups[0]!.seen.length;
    for (let i = 0; i < 4; i++)
      expect((await call(gw.url, '/purchases', { method: 'POST' })).status).toBe(200);
    expect(ups[0]!.seen.length).toBe(before);

    ups[0]!.status = 200;
    await eventually(
      () => gw.gateway.routes()[0]!.instances.every((i) => i.ejectedForMs === 0),
      're-admission',
    );
    for (let i = 0; i < 4; i++) await call(gw.url, '/purchases', { method: 'POST' });
    expect(ups[0]!.seen.length).toBeGreaterThan(before);
  });

  it('when a request comes without an id, then one is generated, sent upstream and echoed; a sane client id is kept', async () => {
    gw = await startGateway(registry);
    registry.up('product', ups[0]!.address, [route('GET', '/products')]);
    const generated = await call(gw.url, '/products');
    const id = generated.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ups[0]!.seen[0]!.headers['x-request-id']).toBe(id);

    const kept = await call(gw.url, '/products', { headers: { 'x-request-id': 'client.id-1_A' } });
    expect(kept.headers['x-request-id']).toBe('client.id-1_A');
    expect(ups[0]!.seen[1]!.headers['x-request-id']).toBe('client.id-1_A');

    const replaced = await call(gw.url, '/products', { headers: { 'x-request-id': 'x'.repeat(129) } });
    expect(replaced.headers['x-request-id']).not.toBe('x'.repeat(129));
    const errorAnswer = await call(gw.url, '/nope', { headers: { 'x-request-id': 'err-1' } });
    expect(errorAnswer.headers['x-request-id']).toBe('err-1');
  });

  it('when a body is larger than the limit, then 413 JSON, and the upstream never sees it', async () => {
    gw = await startGateway(registry, { bodyLimitBytes: 1024 });
    registry.up('purchase', ups[0]!.address, [route('POST', '/purchases'), route('PUT', '/purchases/:id')]);
    const declared = await call(gw.url, '/purchases', { method: 'POST', body: Buffer.alloc(2048, 'a') });
    expect(declared.status).toBe(413);
    expect(declared.json.code).toBe('PAYLOAD_TOO_LARGE');
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(gw.url + '/purchases/1', {
        method: 'PUT',
        headers: { 'idempotency-key': 'k', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write(Buffer.alloc(512, 'b'));
      req.end();
    });
    expect(chunked).toBe(413);
    expect(ups[0]!.seen).toHaveLength(0);
  });

  it('when a client sends its own internal token and forwarding headers, then they are replaced', async () => {
    gw = await startGateway(registry);
    registry.up('product', ups[0]!.address, [route('GET', '/products')]);
    await call(gw.url, '/products', {
      headers: {
        'x-internal-token': 'forged',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        connection: 'keep-alive, x-secret',
        'x-secret': 'hop',
        authorization: 'Basic abc',
      },
    });
    const h = ups[0]!.seen[0]!.headers;
    expect(h['x-internal-token']).not.toBe('forged');
    const claims = await internalClaims(h['x-internal-token']);
    expect(claims.iss).toBe('gateway');
    expect(claims.sub).toBeUndefined();
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(h['x-secret']).toBeUndefined();
    expect(h.authorization).toBe('Basic abc');
  });

  it('when a client sends a valid traceparent, then the upstream gets the same trace with the gateway hop as its parent, and the access line names it', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { messageKey: 'message' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    gw = await startGateway(registry, { logger });
    registry.up('product', ups[0]!.address, [route('GET', '/products')]);
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await call(gw.url, '/products', {
      headers: { traceparent: `00-${trace}-00f067aa0ba902b9-01`, tracestate: 'rojo=00f067aa0ba902b7' },
    });
    const h = ups[0]!.seen[0]!.headers;
    const [, upTrace, parent, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(
      String(h.traceparent),
    )!;
    expect(upTrace).toBe(trace);
    expect(parent).not.toBe('00f067aa0ba902b9'); // the gateway's own span, not the client's
    expect(flags).toBe('01');
    expect(h.tracestate).toBe('rojo=00f067aa0ba902b7');
    await eventually(() => lines.some((l) => l.message === 'access'), 'the access line');
    expect(lines.find((l) => l.message === 'access')).toMatchObject({
      trace_id: trace,
      span_id: parent,
      parent_span_id: '00f067aa0ba902b9',
    });
  });

  it.each([
    ['malformed', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b9-01'],
    ['absent', undefined],
  ])(
    'when a client traceparent is %s, then the gateway starts a new trace and drops the tracestate',
    async (_what, tp) => {
      gw = await startGateway(registry);
      registry.up('product', ups[0]!.address, [route('GET', '/products')]);
      const headers: Record<string, string> = { tracestate: 'rojo=1' };
      if (tp !== undefined) headers.traceparent = tp;
      await call(gw.url, '/products', { headers });
      await call(gw.url, '/products', { headers });
      const [a, b] = ups[0]!.seen.map((s) => String(s.headers.traceparent));
      expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(a!.slice(3, 35)).not.toBe(b!.slice(3, 35)); // a new trace per request
      expect(a!.toLowerCase()).not.toContain('4bf92f3577b34da6');
      expect(ups[0]!.seen[0]!.headers.tracestate).toBeUndefined();
    },
  );

  it('when a response comes back, then hop-by-hop and fingerprinting headers are dropped and the security headers set', async () => {
    gw = await startGateway(registry);
    registry.up('product', ups[0]!.address, [route('GET', '/products')]);
    const res = await call(gw.url, '/products');
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['server']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['strict-transport-security']).toBeUndefined(); // plain HTTP: HSTS means nothing here
    expect(res.headers['x-request-id']).not.toBe('upstream-must-not-win');
  });

  it('when requests are proxied, then per-route and per-instance metrics count them by pattern', async () => {
    gw = await startGateway(registry);
    registry.up('product', ups[0]!.address, [route('GET', '/products/:id')], 'product-a');
    await call(gw.url, '/products/1');
    await call(gw.url, '/products/2');
    const text = await gw.metrics.metrics();
    expect(text).toMatch(
      /gateway_requests_total\{method="GET",route="\/products\/:id",service="product",code_class="2xx"\} 2/,
    );
    expect(text).toMatch(
      /gateway_upstream_responses_total\{service="product",instance="product-a",code_class="2xx"\} 2/,
    );
    expect(text).not.toMatch(/\/products\/1/);
  });

  it('when an instance deregisters while a request is on it, then that request still completes', async () => {
    gw = await startGateway(registry);
    const id = registry.up('purchase', ups[0]!.address, [route('GET', '/purchases')]);
    ups[0]!.delayMs = 200;
    const pending = call(gw.url, '/purchases');
    await eventually(() => gw.gateway.routes()[0]!.instances[0]!.inFlight === 1, 'request in flight');
    registry.down(id); // a graceful instance leaves the registry first, then drains
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.json.instance).toBe('a');
  });

  it('when the registry is quiet or disconnected, then the last table keeps routing', async () => {
    gw = await startGateway(registry);
    registry.up('product', ups[0]!.address, [route('GET', '/products')]);
    registry.removeAllListeners('change'); // the watch is gone: no more updates arrive
    expect((await call(gw.url, '/products')).status).toBe(200);
  });
});
