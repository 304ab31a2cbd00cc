import { readFileSync } from 'node:fs';
import { DEFAULT_DOCUMENT_FILE } from '../src/docs/page';
import { call, FakeUpstream, route, startGateway, TestRegistry, type TestGateway } from './support';

describe('the API reference at /docs', () => {
  let registry: TestRegistry;
  let gw: TestGateway | undefined;

  beforeEach(() => {
    registry = new TestRegistry();
  });
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  it('when the page is asked for, then it is served with a CSP that allows its own files and calls only', async () => {
    gw = await startGateway(registry);
    const page = await call(gw.url, '/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    for (const src of ['/docs/swagger-ui-bundle.js', '/docs/app.js', '/docs/swagger-ui.css']) {
      expect(page.text).toContain(src);
      const asset = await call(gw.url, src);
      expect({ src, status: asset.status }).toEqual({ src, status: 200 });
      expect(asset.text.length).toBeGreaterThan(100);
    }
    expect((await call(gw.url, '/docs/')).status).toBe(200);
  });

  it('when the document is asked for, then it is docs/openapi.json, whose first server is the gateway itself', async () => {
    gw = await startGateway(registry);
    const doc = await call(gw.url, '/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(doc.json).toEqual(JSON.parse(readFileSync(DEFAULT_DOCUMENT_FILE, 'utf8')));
    expect(doc.json.servers[0].url).toBe('/');
    expect(doc.json.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('when a service registers /docs, then the gateway still answers it (its own, like /status)', async () => {
    const up = new FakeUpstream('a');
    await up.start();
    try {
      registry.up('product', up.address, [route('GET', '/docs'), route('GET', '/docs/:x')]);
      gw = await startGateway(registry);
      expect((await call(gw.url, '/docs')).headers['content-type']).toBe('text/html; charset=utf-8');
      expect((await call(gw.url, '/docs/elsewhere')).status).toBe(404);
      expect(up.seen).toHaveLength(0);
    } finally {
      await up.kill();
    }
  });

  it('when the path is unknown, the method wrong or the document missing, then problem details', async () => {
    gw = await startGateway(registry, { docsFile: '/nonexistent/openapi.json' });
    const unknown = await call(gw.url, '/docs/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(unknown.json).toMatchObject({ code: 'NOT_FOUND', instance: unknown.headers['x-request-id'] });

    const post = await call(gw.url, '/docs', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(post.json.code).toBe('METHOD_NOT_ALLOWED');

    const missing = await call(gw.url, '/docs/openapi.json');
    expect(missing.status).toBe(503);
    expect(missing.json).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    // The page itself is still served; it says what it cannot load.
    expect((await call(gw.url, '/docs')).status).toBe(200);
  });

  it('when a path only starts like /docs, then it is routed as usual', async () => {
    gw = await startGateway(registry);
    expect((await call(gw.url, '/docsearch')).json.code).toBe('NOT_FOUND');
    expect((await call(gw.url, '/docsearch')).text).not.toContain('swagger');
  });
});
