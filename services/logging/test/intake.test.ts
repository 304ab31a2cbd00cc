import { signTestToken } from '@msa/service-kit/testing';
import { client, drained, line, QUEUE_KIND, startLogging, type LoggingService } from './helpers';

describe(`logging intake and search (queue: ${QUEUE_KIND}, sink: memory)`, () => {
  let svc: LoggingService;
  let call: ReturnType<typeof client>;

  beforeAll(async () => {
    svc = await startLogging();
    call = client(svc.url);
  });
  afterAll(() => svc.stop());

  it('when a request crossed the gateway and two services, then its id returns the whole path in time order', async () => {
    const requestId = `req-${Date.now()}`;
    const path = [
      line({ service: 'gateway', requestId, message: 'access' }),
      line({ service: 'purchase', requestId, message: 'buying' }),
      line({ service: 'product', requestId, message: 'reserved stock' }),
    ];
    const res = await call('POST', '/internal/logs', {
      body: { lines: [path[2], line(), path[0], path[1]] },
    });
    expect(res).toEqual({ status: 202, body: { accepted: 4 } });
    await drained(svc);
    const found = await call('GET', `/internal/logs?requestId=${requestId}`);
    expect(found.status).toBe(200);
    expect(found.body.items.map((d: { service: string }) => d.service)).toEqual([
      'gateway',
      'purchase',
      'product',
    ]);
    expect(found.body.items[0]).toMatchObject({
      id: path[0]!.logId,
      level: 'info',
      message: 'access',
      requestId,
    });
  });

  it('when filtered by service, level (and above), words and time, then only matching lines come back, newest first', async () => {
    const tag = `t${Date.now()}`;
    const lines = [
      line({ service: 'member', level: 'info', message: `${tag} signed in` }),
      line({ service: 'member', level: 'error', message: `${tag} database timeout`, err: { code: 'X' } }),
      line({ service: 'member', level: 'fatal', message: `${tag} crashed` }),
      line({ service: 'product', level: 'error', message: `${tag} other service` }),
    ];
    expect((await call('POST', '/internal/logs', { body: { lines } })).status).toBe(202);
    await drained(svc);
    const errorsOnly = await call('GET', `/internal/logs?service=member&level=error&q=${tag}`);
    expect(errorsOnly.body.items.map((d: { message: string }) => d.message)).toEqual([
      `${tag} crashed`,
      `${tag} database timeout`,
    ]);
    expect(errorsOnly.body.items[1].fields).toEqual({ err: { code: 'X' } });
    const words = await call('GET', `/internal/logs?q=${encodeURIComponent(`${tag} TIMEOUT`)}`);
    expect(words.body.items).toHaveLength(1);
    const from = lines[2]!.time as string;
    const window = await call(
      'GET',
      `/internal/logs?q=${tag}&from=${encodeURIComponent(from)}&limit=1&order=asc`,
    );
    expect(window.body.items.map((d: { message: string }) => d.message)).toEqual([`${tag} crashed`]);
  });

  it('when a line names another service in its own fields (the gateway access line), then it is filed under the one that wrote it', async () => {
    const requestId = `own-${Date.now()}`;
    const access = line({
      requestId,
      service: 'product',
      instance: 'product-1',
      logService: 'gateway',
      logInstance: 'gateway-1',
      message: 'access',
    });
    await call('POST', '/internal/logs', { body: { lines: [access] } });
    await drained(svc);
    const [doc] = (await call('GET', `/internal/logs?requestId=${requestId}`)).body.items;
    expect(doc).toMatchObject({
      service: 'gateway',
      instance: 'gateway-1',
      fields: { service: 'product', instance: 'product-1' },
    });
  });

  it('when the same batch arrives twice (its answer was lost), then each line is kept once', async () => {
    const requestId = `dup-${Date.now()}`;
    const batch = { lines: [line({ requestId }), line({ requestId })] };
    await call('POST', '/internal/logs', { body: batch });
    await call('POST', '/internal/logs', { body: batch });
    await drained(svc);
    expect((await call('GET', `/internal/logs?requestId=${requestId}`)).body.items).toHaveLength(2);
  });

  it.each([
    ['malformed JSON', { rawBody: '{"lines": [' }, 'MALFORMED_JSON'],
    ['no lines', { body: { lines: [] } }, 'VALIDATION_FAILED'],
    [
      'a line without a level',
      { body: { lines: [{ time: new Date().toISOString(), service: 'x' }] } },
      'VALIDATION_FAILED',
    ],
    ['a bad time', { body: { lines: [line({ time: 'yesterday' })] } }, 'VALIDATION_FAILED'],
    ['a time far in the future', { body: { lines: [line({ time: 1e20 })] } }, 'VALIDATION_FAILED'],
    [
      'a year-275760 time',
      { body: { lines: [line({ time: '+275760-09-13T00:00:00.000Z' })] } },
      'VALIDATION_FAILED',
    ],
    ['a level that is an object', { body: { lines: [line({ level: { $gt: '' } })] } }, 'VALIDATION_FAILED'],
    ['an unknown top-level field', { body: { lines: [line()], extra: 1 } }, 'VALIDATION_FAILED'],
    ['lines that are not an array', { body: { lines: 'DROP TABLE logs' } }, 'VALIDATION_FAILED'],
  ])('when a batch has %s, then 400 and nothing is kept', async (_what, opts, code) => {
    const before = await call('GET', '/internal/logs/stats');
    const res = await call('POST', '/internal/logs', opts as { body?: unknown; rawBody?: string });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
    const after = await call('GET', '/internal/logs/stats');
    expect(after.body.indexed).toBe(before.body.indexed);
  });

  it('when a batch is over the body limit, then 413', async () => {
    const big = Array.from({ length: 300 }, () => line({ message: 'x'.repeat(4000) }));
    const res = await call('POST', '/internal/logs', { body: { lines: big } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('when lines of one trace came from three services, then its trace id finds them all, oldest first', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const lines = [
      line({ service: 'product', requestId: 'r-t', trace_id: traceId, span_id: '00f067aa0ba902b9' }),
      line({ service: 'purchase', requestId: 'r-t', trace_id: traceId, span_id: '53995c3f42cd8ad8' }),
      line({ service: 'gateway', requestId: 'r-t', trace_id: traceId, span_id: 'b7ad6b7169203331' }),
      line({ service: 'gateway', trace_id: 'ffffffffffffffffffffffffffffffff' }),
    ].map((l, i) => ({ ...l, time: new Date(Date.UTC(2026, 10, 25, 0, 0, 3 - i)).toISOString() }));
    expect((await call('POST', '/internal/logs', { body: { lines } })).status).toBe(202);
    await drained(svc);
    const found = await call('GET', `/internal/logs?traceId=${traceId}`);
    expect(found.status).toBe(200);
    expect(found.body.items.map((d: { service: string }) => d.service)).toEqual([
      'gateway',
      'purchase',
      'product',
    ]);
    expect(found.body.items[0]).toMatchObject({ trace_id: traceId, fields: { span_id: 'b7ad6b7169203331' } });
  });

  it('when a line has a malformed trace_id, then it is still accepted, kept as a plain field and not found by it', async () => {
    const odd = line({ requestId: `odd-${Date.now()}`, trace_id: 'NOT-A-TRACE' });
    expect((await call('POST', '/internal/logs', { body: { lines: [odd] } })).status).toBe(202);
    await drained(svc);
    const [doc] = (await call('GET', `/internal/logs?requestId=${odd.requestId}`)).body.items;
    expect(doc.trace_id).toBeUndefined();
    expect(doc.fields).toMatchObject({ trace_id: 'NOT-A-TRACE' });
  });

  it.each([
    ['an unknown parameter', 'user=1'],
    ['a bad level', 'level=loud'],
    ['a bad time', 'from=yesterday'],
    ['from after to', 'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'],
    ['a huge limit', 'limit=100000'],
    ['a request id with quotes', "requestId=a'%20OR%201=1"],
    ['a trace id in uppercase', 'traceId=4BF92F3577B34DA6A3CE929D0E0E4736'],
    ['a trace id of the wrong length', 'traceId=4bf92f3577b34da6'],
  ])('when a query has %s, then 400', async (_what, qs) => {
    const res = await call('GET', `/internal/logs?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('when called without an internal token, then 401; through the gateway only admins read /logs', async () => {
    expect((await call('POST', '/internal/logs', { body: { lines: [line()] }, token: null })).status).toBe(
      401,
    );
    const customer = await signTestToken({ sub: 'm1', role: 'customer' });
    const admin = await signTestToken({ sub: 'm2', role: 'admin' });
    expect((await call('GET', '/logs?limit=1', { token: customer })).status).toBe(403);
    expect((await call('GET', '/logs?limit=1', { token: admin })).status).toBe(200);
  });
});
