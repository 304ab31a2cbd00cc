import { problemSchema, startService, type RunningService } from '../src';
import { signTestToken, testEnv, readJson } from '../src/testing';
import { echoService } from './fixtures/echo-service';

describe('the HTTP contract every service keeps', () => {
  let svc: RunningService<typeof echoService extends { config?: infer S } ? S : never>;
  let token: string;
  const call = (path: string, init: RequestInit = {}, auth: string | null = token) =>
    fetch(svc.url + path, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(auth ? { 'x-internal-token': auth } : {}),
        ...init.headers,
      },
    });

  beforeAll(async () => {
    svc = await startService(echoService, { env: testEnv({ BODY_LIMIT: '1kb' }), waitReady: true });
    token = await signTestToken();
  });
  afterAll(() => svc.stop());

  it('when the body is valid, then the handler answers with its status', async () => {
    const res = await call('/items', { method: 'POST', body: JSON.stringify({ name: 'pen', quantity: 2 }) });
    expect(res.status).toBe(201);
    expect(await readJson(res)).toEqual({ name: 'pen', quantity: 2, greeting: 'hello' });
  });

  it('when fields are wrong, then 400 lists every bad field', async () => {
    const res = await call('/items', {
      method: 'POST',
      body: JSON.stringify({ name: '', quantity: -1, extra: 1 }),
    });
    expect(res.status).toBe(400);
    const body = await readJson(res);
    expect(body.code).toBe('VALIDATION_FAILED');
    const fields = body.errors.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['body.name', 'body.quantity', 'body']));
    expect(JSON.stringify(body.errors)).toContain('extra');
  });

  it('when the JSON is malformed, then 400 MALFORMED_JSON', async () => {
    const res = await call('/items', { method: 'POST', body: '{"name": "pen",' });
    expect(res.status).toBe(400);
    expect((await readJson(res)).code).toBe('MALFORMED_JSON');
  });

  it('when the body is over the limit, then 413', async () => {
    const res = await call('/items', {
      method: 'POST',
      body: JSON.stringify({ name: 'x'.repeat(5000), quantity: 1 }),
    });
    expect(res.status).toBe(413);
    expect((await readJson(res)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('when a path parameter has the wrong type, then 400 names it', async () => {
    const res = await call('/items/1%27%20OR%201=1');
    expect(res.status).toBe(400);
    expect((await readJson(res)).errors[0].field).toBe('params.id');
  });

  it('when the route is unknown, then 404 as problem details whose instance is the request id', async () => {
    const res = await call('/nowhere', { headers: { 'x-request-id': 'req-404' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await readJson(res)).toEqual({
      type: 'urn:msa:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: 'no route for GET /nowhere',
      instance: 'req-404',
      code: 'NOT_FOUND',
    });
  });

  it('when a handler fails unexpectedly, then 500 without a stack or internals', async () => {
    const res = await call('/boom');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text).code).toBe('INTERNAL');
    expect(text).not.toMatch(/srv|stack|at /);
  });

  it('when a handler throws a named error, then its status and code', async () => {
    const res = await call('/conflict');
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = await readJson(res);
    expect(body).toEqual({
      type: 'urn:msa:problem:conflict',
      title: 'Conflict',
      status: 409,
      detail: 'already there',
      instance: res.headers.get('x-request-id'),
      code: 'CONFLICT',
    });
    expect(problemSchema.safeParse(body).success).toBe(true);
  });

  it('when the caller sends a request id, then it is kept and echoed; otherwise one is made', async () => {
    const mine = await call('/items/7', { headers: { 'x-request-id': 'req-abc.123' } });
    expect(mine.headers.get('x-request-id')).toBe('req-abc.123');
    expect((await readJson(mine)).requestId).toBe('req-abc.123');
    const made = await call('/items/7', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when the internal token is missing or forged, then 401 and the handler never runs', async () => {
    expect((await call('/items/1', {}, null)).status).toBe(401);
    const forged = await signTestToken({}, 'another-secret-another-secret-another-secret');
    const res = await call('/items/1', {}, forged);
    expect(res.status).toBe(401);
    expect((await readJson(res)).code).toBe('INTERNAL_TOKEN_INVALID');
  });

  it('when a route needs a member, then 401 without one, 403 for a customer on an admin route', async () => {
    expect((await call('/me')).status).toBe(401);
    const customer = await signTestToken({ sub: 'm-1', role: 'customer' });
    const me = await call('/me', {}, customer);
    expect(await readJson(me)).toEqual({ service: 'gateway', user: { id: 'm-1', role: 'customer' } });
    expect((await call('/admin', {}, customer)).status).toBe(403);
    expect((await call('/admin', {}, await signTestToken({ sub: 'a-1', role: 'admin' }))).status).toBe(200);
  });

  it('when a route needs a member, then its answers (errors too) say Cache-Control: no-store; public ones do not', async () => {
    const customer = await signTestToken({ sub: 'm-1', role: 'customer' });
    expect((await call('/me', {}, customer)).headers.get('cache-control')).toBe('no-store');
    expect((await call('/me')).headers.get('cache-control')).toBe('no-store'); // the 401
    expect((await call('/items/1')).headers.get('cache-control')).toBeNull();
  });

  it('when health is asked, then live and ready answer without a token', async () => {
    expect((await call('/health/live', {}, null)).status).toBe(200);
    const ready = await call('/health/ready', {}, null);
    expect(ready.status).toBe(200);
    expect((await readJson(ready)).status).toBe('ready');
  });

  it('when metrics are scraped, then request counts by route pattern are there', async () => {
    await call('/items/42');
    const text = await (await call('/metrics', {}, null)).text();
    expect(text).toMatch(/http_requests_total\{[^}]*route="\/items\/:id"[^}]*\} \d+/);
    expect(text).toContain('process_cpu_user_seconds_total');
  });
});
