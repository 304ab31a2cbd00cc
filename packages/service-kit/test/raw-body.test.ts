import { defineService, startService, type RunningService } from '../src';
import { readJson, signTestToken, testEnv } from '../src/testing';

// A route that checks a signature over the bytes it was sent (as Slack's slash commands need).
const rawService = defineService({
  name: 'raw',
  routes: () => [
    {
      method: 'POST',
      path: '/hooks/:name',
      public: true,
      auth: 'none',
      rawBody: true,
      handler: ({ body, req }) => ({
        isBuffer: Buffer.isBuffer(body),
        text: (body as Buffer).toString('utf8'),
        contentType: req.get('content-type') ?? null,
      }),
    },
    { method: 'POST', path: '/json', public: true, auth: 'none', handler: ({ body }) => ({ body }) },
  ],
});

describe('routes that take their body raw', () => {
  let svc: RunningService;
  let token: string;
  const post = (path: string, body: string, contentType?: string) =>
    fetch(svc.url + path, {
      method: 'POST',
      body,
      headers: { 'x-internal-token': token, ...(contentType ? { 'content-type': contentType } : {}) },
    });

  beforeAll(async () => {
    svc = await startService(rawService, { env: testEnv({ BODY_LIMIT: '1kb' }), waitReady: true });
    token = await signTestToken();
  });
  afterAll(() => svc.stop());

  it.each([
    ['a form', 'token=x&command=%2Fmsa&text=status', 'application/x-www-form-urlencoded'],
    ['JSON', '{ "a" : 1 }', 'application/json'],
    ['no content type', 'plain bytes', undefined],
  ])('when %s is posted, then the handler gets the exact bytes', async (_what, body, type) => {
    const res = await post('/hooks/slack', body, type);
    expect(res.status).toBe(200);
    expect(await readJson(res)).toEqual({
      isBuffer: true,
      text: body,
      contentType: type ?? 'text/plain;charset=UTF-8',
    });
  });

  it('when the raw body is over the limit, then 413', async () => {
    const res = await post('/hooks/slack', 'x'.repeat(5000), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(413);
  });

  it('when another route gets JSON, then it is still parsed as before', async () => {
    const res = await post('/json', '{"a":1}', 'application/json');
    expect(await readJson(res)).toEqual({ body: { a: 1 } });
  });
});
