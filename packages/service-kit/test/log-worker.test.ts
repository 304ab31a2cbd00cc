import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '../src';
import { LogShipper } from '../src/log/log-shipper';
import { LogWorker } from '../src/log/log-worker';
import { TEST_SECRET } from '../src/testing';

/** A stand-in for the logging service: records accepted batches; `mode` decides the answer. */
async function fakeLogging() {
  const lines: Array<Record<string, unknown>> = [];
  const state: { mode: 'up' | 'down' | 'hang'; refusedBatches: number } = { mode: 'up', refusedBatches: 0 };
  const server = http.createServer((req, res) => {
    // Decided when the request arrives: a body finishing after the mode changed does not change its fate.
    const mode = state.mode;
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (mode === 'hang') return; // never answers: the shipper's own timeout must give up
      if (mode === 'down') {
        state.refusedBatches++;
        res.writeHead(503).end();
        return;
      }
      lines.push(...(JSON.parse(body).lines as Array<Record<string, unknown>>));
      res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lines,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const quietStdout = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

/** Polls until `check` holds (an eventual-consistency wait, not a timing assertion). */
async function eventually(check: () => boolean, what: string, withinMs = 20000): Promise<void> {
  const until = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`not within ${withinMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const spoolFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ndjson'));

describe('log shipping from the worker thread', () => {
  let logging: Awaited<ReturnType<typeof fakeLogging>>;
  let spoolRoot: string;
  beforeEach(async () => {
    logging = await fakeLogging();
    spoolRoot = mkdtempSync(path.join(os.tmpdir(), 'msa-log-spool-'));
  });
  afterEach(async () => {
    await logging.close();
    rmSync(spoolRoot, { recursive: true, force: true });
  });

  const startWorker = (extra: Partial<ConstructorParameters<typeof LogWorker>[0]> = {}) => {
    const worker = new LogWorker({
      service: 'svc',
      instanceId: `svc-${Math.random().toString(16).slice(2, 8)}`,
      secret: TEST_SECRET,
      maxBuffered: 10_000,
      spoolRoot,
      intervalMs: 100,
      closeTimeoutMs: 500,
      ...extra,
    });
    const logger = createLogger({
      service: 'svc',
      instanceId: 'svc-1',
      level: 'info',
      destination: quietStdout(),
      shipper: worker,
    });
    return { worker, logger };
  };

  it('when the logging service is down and then up, then every line arrives once, in order, with its metrics', async () => {
    // memoryLines 20: most of the 300 lines wait on disk, so memory and spool must join up in order.
    const { worker, logger } = startWorker({ memoryLines: 20 });
    const registry = new Registry();
    worker.registerMetrics(registry);
    logging.state.mode = 'down';
    worker.setTargets([logging.url]);
    for (let i = 0; i < 300; i++) logger.info({ n: i }, `line ${i}`);
    await eventually(() => logging.state.refusedBatches >= 2, 'the worker retried while logging was down');
    expect(logging.lines).toHaveLength(0);
    await eventually(() => spoolFiles(spoolRoot).length > 0, 'lines moved to the disk spool');

    logging.state.mode = 'up';
    await eventually(() => logging.lines.length >= 300, 'every line delivered after logging came back');
    expect(logging.lines.map((l) => l.n)).toEqual([...Array(300).keys()]);
    const ids = logging.lines.map((l) => Number(String(l.logId).split(':')[1]));
    expect(ids).toEqual([...Array(300).keys()].map((i) => i + 1));
    expect(logging.lines[0]).toMatchObject({ service: 'svc', logService: 'svc', message: 'line 0' });
    // The main thread's metrics see the worker's totals.
    let metrics = '';
    await eventually(() => {
      void registry.metrics().then((t) => (metrics = t));
      return (
        /^log_shipper_shipped_lines_total 300$/m.test(metrics) &&
        /^log_shipper_buffered_lines 0$/m.test(metrics)
      );
    }, 'the main thread sees 300 lines shipped and none waiting');
    await worker.close(500);
    expect(spoolFiles(spoolRoot)).toEqual([]);
  });

  it('when the service stops while logging is unreachable, then close returns and the next start delivers the lines, first and in order', async () => {
    const first = startWorker();
    logging.state.mode = 'hang';
    first.worker.setTargets([logging.url]);
    for (let i = 0; i < 50; i++) first.logger.info({ n: i }, 'before the restart');
    await first.worker.close(500); // resolves although logging never answers
    expect(spoolFiles(spoolRoot).length).toBeGreaterThan(0);
    expect(logging.lines).toHaveLength(0);

    // The next start of the service: the spool folder its predecessor left is its own now.
    logging.state.mode = 'up';
    const second = startWorker();
    second.logger.info({ n: 50 }, 'after the restart');
    second.worker.setTargets([logging.url]);
    // A batch that was on its way at close is in the spool too; should it arrive after all, its logIds
    // make the copy harmless (the logging service indexes a logId once). So: each logId once, in order.
    const unique = () => [...new Map(logging.lines.map((l) => [String(l.logId), l])).values()];
    await eventually(() => unique().length >= 51, 'the earlier lines and the new one delivered');
    expect(unique().map((l) => l.n)).toEqual([...Array(51).keys()]);
    await second.worker.close(500);
    expect(spoolFiles(spoolRoot)).toEqual([]);
  });

  it('when the spool reaches its byte bound, then the oldest files are dropped and counted, and the newest lines arrive in order', async () => {
    const dir = path.join(spoolRoot, 'direct');
    const shipper = new LogShipper({
      instanceId: 'x',
      targets: () => [logging.url],
      headers: async () => ({}),
      maxBuffered: 100_000,
      spoolDir: dir,
      spoolBytes: 64 * 1024,
      memoryLines: 10,
    });
    logging.state.mode = 'down';
    const pad = 'p'.repeat(200);
    // About 250 bytes a line: 2000 lines are ~500 KB, far beyond the 64 KB bound.
    for (let i = 0; i < 2000; i++) {
      shipper.write(`{"level":"info","n":${i},"pad":"${pad}"}\n`);
      if (i % 100 === 99) await shipper.flush(); // moves what waits in memory to disk
    }
    const onDisk = spoolFiles(dir).reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(64 * 1024);
    expect(shipper.dropped).toBeGreaterThan(0);

    logging.state.mode = 'up';
    while (shipper.buffered > 0) await shipper.flush();
    const ns = logging.lines.map((l) => Number(l.n));
    expect(ns.length + shipper.dropped).toBe(2000);
    expect(ns.at(-1)).toBe(1999);
    // The newest lines, none missing between them, in order.
    expect(ns).toEqual([...Array(ns.length).keys()].map((i) => i + 2000 - ns.length));
    await shipper.close();
  });
});
