import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { signTestToken, startService, testEnv } from '@msa/service-kit/testing';
import { listening, service } from '../src/service';
import { generateDevCertificate, loadTls } from '../src/tls';
import { call, FakeUpstream, route, startGateway, TestRegistry } from './support';

describe('HTTPS', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'gateway-tls-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when no certificate is configured, then a development one is made once under DATA_DIR and reused', async () => {
    const first = await loadTls({ dataDir });
    expect(first.source).toBe('generated');
    expect(first.certPath).toBe(path.join(dataDir, 'tls', 'gateway-dev-cert.pem'));
    expect((await stat(path.join(dataDir, 'tls', 'gateway-dev-key.pem'))).mode & 0o077).toBe(0);
    const second = await loadTls({ dataDir });
    expect(second.source).toBe('reused');
    expect(second.cert).toBe(first.cert);
  });

  it('when certificate files are given, then they are used; one without the other is refused', async () => {
    const certFile = path.join(dataDir, 'tls', 'gateway-dev-cert.pem');
    const keyFile = path.join(dataDir, 'tls', 'gateway-dev-key.pem');
    const loaded = await loadTls({ certFile, keyFile, dataDir: 'memory' });
    expect(loaded.source).toBe('files');
    expect(loaded.cert).toBe(await readFile(certFile, 'utf8'));
    await expect(loadTls({ certFile, dataDir })).rejects.toThrow(/together/);
  });

  it('when the proxy runs behind TLS with a generated certificate, then requests go through with HSTS and proto https', async () => {
    const registry = new TestRegistry();
    const up = await new FakeUpstream('product').start();
    registry.up('product', up.address, [route('GET', '/products')]);
    const gw = await startGateway(registry);
    const { cert, key } = await generateDevCertificate();
    const server = https.createServer({ cert, key }, (req, res) => void gw.gateway.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://localhost:${(server.address() as AddressInfo).port}`;
    try {
      const res = await call(url, '/products');
      expect(res.status).toBe(200);
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(up.seen[0]!.headers['x-forwarded-proto']).toBe('https');
      const caTrusted = await new Promise<number>((resolve, reject) => {
        https
          .get(`${url}/products`, { ca: cert, agent: false }, (r) => {
            r.resume();
            resolve(r.statusCode!);
          })
          .on('error', reject);
      });
      expect(caTrusted).toBe(200); // the certificate is valid for localhost
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await gw.stop();
      await up.kill();
    }
  });
});

describe('the gateway service, started through the kit', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'gateway-svc-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('when started, then HTTP and HTTPS both answer, the dev certificate lands under DATA_DIR, and /internal/routes answers on the admin port only, with a token', async () => {
    const svc = await startService(service, {
      env: testEnv({ HTTPS_PORT: '0', DATA_DIR: dataDir }),
      waitReady: true,
    });
    try {
      expect(listening.httpsUrl).toMatch(/^https:\/\/localhost:\d+$/);
      await stat(path.join(dataDir, 'tls', 'gateway-dev-cert.pem'));

      const plain = await call(svc.url, '/products');
      expect(plain.status).toBe(404);
      expect(plain.json.code).toBe('NOT_FOUND');
      const secure = await call(listening.httpsUrl!, '/products');
      expect(secure.status).toBe(404);
      expect(secure.headers['strict-transport-security']).toBeDefined();
      expect((await call(listening.httpsUrl!, '/health/live')).status).toBe(200);
      expect((await call(listening.httpsUrl!, '/metrics')).status).toBe(404);

      expect((await call(svc.url, '/health/ready')).status).toBe(200);
      expect((await call(svc.url, '/internal/routes')).status).toBe(404);
      const token = await signTestToken({ iss: 'status-page' });
      // Client-facing ports never serve it, token or not; the admin port does.
      const onProxy = await call(svc.url, '/internal/routes', { headers: { 'x-internal-token': token } });
      expect(onProxy.status).toBe(404);
      expect(svc.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await call(svc.adminUrl!, '/internal/routes')).status).toBe(401);
      const table = await call(svc.adminUrl!, '/internal/routes', { headers: { 'x-internal-token': token } });
      expect(table.status).toBe(200);
      expect(table.json).toEqual({ routes: [] });
      const forged = await call(svc.adminUrl!, '/internal/routes', {
        headers: { 'x-internal-token': 'forged' },
      });
      expect(forged.status).toBe(401);
    } finally {
      await svc.stop();
    }
  });

  it('when HTTP_REDIRECT is true, then plain HTTP answers 308 to HTTPS, except health', async () => {
    const svc = await startService(service, {
      env: testEnv({ HTTPS_PORT: '0', DATA_DIR: 'memory', HTTP_REDIRECT: 'true', HTTPS_PUBLIC_PORT: '443' }),
      waitReady: true,
    });
    try {
      const res = await call(svc.url, '/products?page=2', { headers: { host: 'shop.example:8080' } });
      expect(res.status).toBe(308);
      expect(res.headers.location).toBe('https://shop.example/products?page=2');
      expect((await call(svc.url, '/health/live')).status).toBe(200);
      const bad = await call(svc.url, '/products', { headers: { host: 'evil/"x' } });
      expect(bad.status).toBe(400);
    } finally {
      await svc.stop();
    }
  });

  it('when REDIRECT_PORT is set, then that port only redirects to HTTPS: no metrics, no proxying, liveness aside', async () => {
    const svc = await startService(service, {
      env: testEnv({ HTTPS_PORT: '0', DATA_DIR: 'memory', REDIRECT_PORT: '0', HTTPS_PUBLIC_PORT: '8443' }),
      waitReady: true,
    });
    try {
      const redirectUrl = `http://127.0.0.1:${listening.redirectPort}`;
      for (const path of ['/metrics', '/products?page=2', '/internal/routes', '/status']) {
        const res = await call(redirectUrl, path, { headers: { host: 'shop.example' } });
        expect(res.status).toBe(308);
        expect(res.headers.location).toBe(`https://shop.example:8443${path}`);
      }
      expect((await call(redirectUrl, '/health/live')).status).toBe(200);
      const bad = await call(redirectUrl, '/products', { headers: { host: 'evil/"x' } });
      expect(bad.status).toBe(400);
      expect(bad.json.code).toBe('BAD_REQUEST');
      // Metrics answer on the admin port, not on the plain-HTTP proxy port.
      expect((await call(svc.url, '/metrics')).status).toBe(404);
      expect((await call(svc.adminUrl!, '/metrics')).status).toBe(200);
    } finally {
      await svc.stop();
    }
  });

  it('when a setting is wrong, then start-up fails naming it', async () => {
    await expect(
      startService(service, { env: testEnv({ HTTP_REDIRECT: 'maybe', RATE_LIMIT_POINTS: '-1' }) }),
    ).rejects.toThrow(/HTTP_REDIRECT.*RATE_LIMIT_POINTS|RATE_LIMIT_POINTS.*HTTP_REDIRECT/);
  });
});
