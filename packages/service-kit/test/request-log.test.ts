import express from 'express';
import type { AddressInfo } from 'node:net';
import { InternalTokens, ServiceMetrics, ProcessStats } from '../src';
import { buildApp } from '../src/http/app';
import { capturedLogger, TEST_SECRET, signTestToken } from '../src/testing';

describe('a request line for every traced request', () => {
  const { logger, lines } = capturedLogger();
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    const router = express.Router();
    router.get('/things/:id', (_req, res) => void res.json({ ok: true }));
    const app = buildApp({
      logger,
      tokens: new InternalTokens('svc', TEST_SECRET),
      metrics: new ServiceMetrics('svc', 'svc-1'),
      stats: new ProcessStats(),
      health: { phase: 'ready', pending: [] },
      checks: [],
      bodyLimit: '1kb',
      requireInternalToken: true,
      logRequests: true,
      router,
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  it('when a request comes with an x-request-id (a step of a traced path), then one line names it, its route, status and caller', async () => {
    const token = await signTestToken({ iss: 'gateway', sub: 'm1', role: 'customer' });
    await fetch(`${url}/things/7`, { headers: { 'x-request-id': 'trace-1', 'x-internal-token': token } });
    for (let i = 0; i < 50 && !lines.some((l) => l.requestId === 'trace-1'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const line = lines.find((l) => l.requestId === 'trace-1');
    expect(line).toMatchObject({
      message: 'request',
      method: 'GET',
      route: '/things/:id',
      status: 200,
      caller: 'gateway',
      user: 'm1',
      service: 'svc',
    });
  });

  it('when a request has no x-request-id (heartbeats, health checks, log batches), then it makes no line', async () => {
    await fetch(`${url}/health/live`);
    await fetch(`${url}/things/8`, { headers: { 'x-internal-token': await signTestToken() } });
    await fetch(`${url}/health/live`, { headers: { 'x-request-id': 'marker' } });
    for (let i = 0; i < 50 && !lines.some((l) => l.requestId === 'marker'); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(lines.filter((l) => l.message === 'request').map((l) => l.requestId)).toEqual([
      'trace-1',
      'marker',
    ]);
  });
});
