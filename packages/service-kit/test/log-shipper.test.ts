import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger, startService, type RunningService } from '../src';
import { LogShipper } from '../src/log/log-shipper';
import { signTestToken, testEnv } from '../src/testing';
import { echoService } from './fixtures/echo-service';

interface Received {
  token: string | undefined;
  lines: Array<Record<string, unknown>>;
}

/** A stand-in for the logging service: records every batch; `status` decides the answer. */
async function fakeLogging() {
  const batches: Received[] = [];
  const state = { status: 202 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/internal/logs' && req.method === 'POST' && state.status < 300) {
        batches.push({ token: req.headers['x-internal-token'] as string, lines: JSON.parse(body).lines });
      }
      res.writeHead(state.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    batches,
    state,
    lines: () => batches.flatMap((b) => b.lines),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A stdout stand-in: what the logger still writes locally. */
function memoryStream() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { stream, lines };
}

const headers = async () => ({ 'x-internal-token': 'tok' });

describe('log shipping to the logging service', () => {
  let logging: Awaited<ReturnType<typeof fakeLogging>>;
  beforeEach(async () => {
    logging = await fakeLogging();
  });
  afterEach(() => logging.close());

  it('when lines are logged, then they reach the logging service in batches with a token and a stable id, and stdout still gets them', async () => {
    const shipper = new LogShipper({
      instanceId: 'svc-1',
      service: 'svc',
      targets: () => [logging.url],
      headers,
      batchLines: 3,
    });
    const out = memoryStream();
    const logger = createLogger({
      service: 'svc',
      instanceId: 'svc-1',
      level: 'info',
      destination: out.stream,
      shipper,
    });
    for (let i = 0; i < 7; i++) logger.info({ i, logId: 'forged' }, `line ${i}`);
    await shipper.flush();
    expect(out.lines).toHaveLength(7);
    const lines = logging.lines();
    expect(lines.map((l) => l.message)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `line ${i}`));
    expect(lines.map((l) => l.logId)).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `svc-1:${n}`));
    expect(lines[0]).toMatchObject({ service: 'svc', instance: 'svc-1', level: 'info', i: 0 });
    expect(logging.batches.length).toBeGreaterThanOrEqual(3);
    expect(logging.batches.every((b) => b.lines.length <= 3 && b.token === 'tok')).toBe(true);
    expect(shipper.shipped).toBe(7);
    // Who wrote it, even when a line names another service in its own fields (the gateway's access line):
    logger.info({ service: 'upstream', instance: 'upstream-1' }, 'access');
    await shipper.close();
    expect(logging.lines().at(-1)).toMatchObject({
      service: 'upstream',
      logService: 'svc',
      logInstance: 'svc-1',
    });
  });

  it('when the logging service is down, then lines wait and are delivered once it is back, none lost', async () => {
    const shipper = new LogShipper({ instanceId: 'x', targets: () => [logging.url], headers });
    logging.state.status = 503;
    for (let i = 0; i < 20; i++) shipper.write(JSON.stringify({ level: 'info', n: i }) + '\n');
    await shipper.flush();
    expect(logging.lines()).toHaveLength(0);
    expect(shipper.buffered).toBe(20);
    logging.state.status = 202;
    await shipper.flush();
    expect(logging.lines().map((l) => l.n)).toEqual([...Array(20).keys()]);
    expect(shipper.buffered).toBe(0);
    await shipper.close();
  });

  it('when no logging instance is known yet, then lines wait for one', async () => {
    let targets: string[] = [];
    const shipper = new LogShipper({ instanceId: 'x', targets: () => targets, headers });
    shipper.write('{"level":"info","message":"early"}\n');
    await shipper.flush();
    expect(shipper.buffered).toBe(1);
    targets = [logging.url];
    await shipper.flush();
    expect(logging.lines().map((l) => l.message)).toEqual(['early']);
    await shipper.close();
  });

  it('when the buffer overflows, then the oldest lines are dropped, counted in a metric and reported in one log line', async () => {
    const registry = new Registry();
    const reports: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const shipper = new LogShipper({
      instanceId: 'x',
      targets: () => [logging.url],
      headers,
      maxBuffered: 100,
    });
    shipper.registerMetrics(registry);
    shipper.setReporter((_level, fields, message) => reports.push({ fields: fields as never, message }));
    logging.state.status = 503;
    for (let i = 0; i < 130; i++) shipper.write(JSON.stringify({ level: 'info', n: i }) + '\n');
    expect(shipper.buffered).toBe(100);
    logging.state.status = 202;
    await shipper.flush();
    const ns = logging.lines().map((l) => l.n);
    expect(ns).toEqual([...Array(100).keys()].map((i) => i + 30));
    expect(shipper.dropped).toBe(30);
    const dropReport = reports.find((r) => r.fields.dropped === 30);
    expect(dropReport?.message).toMatch(/30 log lines were dropped/);
    expect(await registry.getSingleMetricAsString('log_shipper_dropped_lines_total')).toMatch(/ 30$/m);
    await shipper.close();
  });

  it('when thousands of lines overflow the buffer, then exactly the newest ones are delivered, in order', async () => {
    const shipper = new LogShipper({
      instanceId: 'x',
      targets: () => [logging.url],
      headers,
      maxBuffered: 2000,
    });
    logging.state.status = 503;
    for (let i = 0; i < 5000; i++) shipper.write(`{"level":"info","n":${i}}\n`);
    logging.state.status = 202;
    await shipper.flush();
    expect(logging.lines().map((l) => l.n)).toEqual([...Array(2000).keys()].map((i) => i + 3000));
    expect(shipper.dropped).toBe(3000);
    await shipper.close();
  });

  it('when lines are logged while a batch is on its way, then they are sent next, none lost or repeated', async () => {
    const shipper = new LogShipper({
      instanceId: 'x',
      targets: () => [logging.url],
      headers,
      batchLines: 1000,
    });
    for (let i = 0; i < 10; i++) shipper.write(`{"level":"info","n":${i}}\n`);
    const first = shipper.flush();
    for (let i = 10; i < 20; i++) shipper.write(`{"level":"info","n":${i}}\n`);
    await first;
    await shipper.flush();
    expect(logging.lines().map((l) => l.n)).toEqual([...Array(20).keys()]);
    await shipper.close();
  });

  it('when the logging service refuses a batch as malformed, then it is dropped (counted), not retried forever', async () => {
    const shipper = new LogShipper({ instanceId: 'x', targets: () => [logging.url], headers });
    logging.state.status = 400;
    shipper.write('{"level":"info","message":"a"}\n');
    await shipper.flush();
    expect(shipper.buffered).toBe(0);
    expect(shipper.dropped).toBe(1);
    await shipper.close();
  });

  describe('wired into a service by the kit', () => {
    let distributor: http.Server;
    let svc: RunningService<never>;

    beforeAll(async () => {
      // Just enough distributor: registration, heartbeats, and the logging service's instances.
      distributor = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          if (req.url === '/registry/services/logging') {
            res.end(
              JSON.stringify({ revision: 1, service: 'logging', instances: [{ address: logging.url }] }),
            );
          } else res.end(JSON.stringify({ leaseMs: 60000, revision: 1 }));
        });
      });
      await new Promise<void>((r) => distributor.listen(0, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => distributor.close(() => r())));

    it('when a request logs an error, then the logging service gets the line with its request id by the end of shutdown', async () => {
      const port = (distributor.address() as AddressInfo).port;
      svc = (await startService(echoService, {
        env: testEnv({ DISTRIBUTOR_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'error' }),
        waitReady: true,
      })) as unknown as RunningService<never>;
      const res = await fetch(`${svc.url}/boom`, {
        headers: { 'x-request-id': 'req-ship-1', 'x-internal-token': await signTestToken() },
      });
      expect(res.status).toBe(500);
      await svc.stop();
      const line = logging.lines().find((l) => l.requestId === 'req-ship-1');
      expect(line).toMatchObject({ service: 'echo', level: 'error' });
      expect(String(line?.logId)).toMatch(/^echo-/);
    });
  });
});
