// The admin listener: metrics (and a client-facing service's own routes) apart from client traffic, and what an
// instance tells the registry about it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { defineService, startService } from '../src';
import { signTestToken, testEnv } from '../src/testing';
import { echoService } from './fixtures/echo-service';

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text() };
};

/** A distributor stand-in that records registrations; `refuseMetricsUrl` answers as one older than metricsUrl. */
async function fakeDistributor(refuseMetricsUrl = false) {
  const bodies: Array<Record<string, unknown>> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.method === 'PUT') {
        const body = JSON.parse(raw) as Record<string, unknown>;
        bodies.push(body);
        if (refuseMetricsUrl && 'metricsUrl' in body) {
          res.writeHead(400, { 'content-type': 'application/problem+json' });
          res.end(
            JSON.stringify({
              status: 400,
              code: 'VALIDATION_FAILED',
              errors: [{ field: 'body', message: 'unknown field(s): metricsUrl' }],
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ instance: body, leaseMs: 60_000, revision: 1 }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"leaseMs":60000,"revision":1}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the admin listener', () => {
  it('when ADMIN_PORT is set, then /metrics answers there and not on PORT; routes stay on PORT', async () => {
    const svc = await startService(echoService, { env: testEnv({ ADMIN_PORT: '0' }), waitReady: true });
    try {
      expect(svc.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await get(`${svc.url}/metrics`)).status).toBe(401); // an unknown call, without a token
      const metrics = await get(`${svc.adminUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('http_requests_total');
      const token = await signTestToken();
      expect((await get(`${svc.url}/items/7`, { 'x-internal-token': token })).status).toBe(200);
    } finally {
      await svc.stop();
    }
  });

  it('when a service is client-facing, then PORT serves its raw handler and health only, the admin listener the rest', async () => {
    const facing = defineService({
      ...echoService,
      clientFacing: true,
      rawHandler: () => (req, res) => {
        if (req.url !== '/proxied') return false;
        res.end('proxied');
        return true;
      },
    });
    const svc = await startService(facing, { env: testEnv(), waitReady: true });
    try {
      const token = await signTestToken();
      expect((await get(`${svc.url}/proxied`)).text).toBe('proxied');
      expect((await get(`${svc.url}/health/ready`)).status).toBe(200);
      for (const path of ['/metrics', '/items/7', '/boom']) {
        expect({
          path,
          status: (await get(`${svc.url}${path}`, { 'x-internal-token': token })).status,
        }).toEqual({
          path,
          status: 404,
        });
      }
      expect(svc.adminUrl).toBeDefined(); // a free port when ADMIN_PORT is unset
      expect((await get(`${svc.adminUrl}/metrics`)).status).toBe(200);
      expect((await get(`${svc.adminUrl}/items/7`)).status).toBe(401);
      expect((await get(`${svc.adminUrl}/items/7`, { 'x-internal-token': token })).status).toBe(200);
    } finally {
      await svc.stop();
    }
  });

  it('when an instance registers, then it says where its metrics are: the admin listener, or its own port', async () => {
    const distributor = await fakeDistributor();
    const plain = await startService(echoService, {
      env: testEnv({ DISTRIBUTOR_URL: distributor.url }),
      waitReady: true,
    });
    const withAdmin = await startService(echoService, {
      env: testEnv({ DISTRIBUTOR_URL: distributor.url, ADMIN_PORT: '0' }),
      waitReady: true,
    });
    try {
      const [a, b] = distributor.bodies;
      expect(a).toMatchObject({ address: plain.url, metricsUrl: `${plain.url}/metrics` });
      expect(b).toMatchObject({ address: withAdmin.url, metricsUrl: `${withAdmin.adminUrl}/metrics` });
    } finally {
      await plain.stop();
      await withAdmin.stop();
      await distributor.close();
    }
  });

  it('when the distributor is older than metricsUrl and refuses it, then the instance registers without it', async () => {
    const distributor = await fakeDistributor(true);
    const svc = await startService(echoService, {
      env: testEnv({ DISTRIBUTOR_URL: distributor.url }),
      waitReady: true,
    });
    try {
      expect(distributor.bodies).toHaveLength(2);
      expect(distributor.bodies[0]).toHaveProperty('metricsUrl');
      expect(distributor.bodies[1]).not.toHaveProperty('metricsUrl');
      expect(svc.ctx.ready).toBe(true);
    } finally {
      await svc.stop();
      await distributor.close();
    }
  });
});
