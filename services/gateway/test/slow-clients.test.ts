// A slow client is the client's problem: a stalled or trickled body, or more requests in flight than its share of
// an instance, must not cost an instance its sockets, its health figures or its place in the balancing.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  call,
  eventually,
  FakeUpstream,
  route,
  startGateway,
  TestRegistry,
  type TestGateway,
} from './support';

interface RawAnswer {
  status: number;
  text: string;
  closed: boolean;
}

/** Sends `head` and part of a body, then nothing: reads whatever comes until the gateway closes (or `waitMs`). */
function stall(base: string, head: string, waitMs = 5000): Promise<RawAnswer> {
  const { port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text, closed });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('connect', () => socket.write(head));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      done();
    });
  });
}

/** An instance that holds every request to /hold (until closed) and answers the rest at once. */
class HoldingUpstream {
  held = 0;
  private readonly holding: ServerResponse[] = [];
  private server!: http.Server;
  address = '';

  async start(): Promise<this> {
    this.server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      if (req.url === '/hold') {
        this.held++;
        this.holding.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.address = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
  }
}

/** A GET from a given loopback address (another client, as the gateway sees it). */
function getFrom(
  base: string,
  path: string,
  localAddress: string,
): Promise<{ status: number; code?: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(Buffer.concat(chunks).toString()) as { code?: string }).code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode!, code, retryAfter: res.headers['retry-after'] });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function metric(gw: TestGateway, name: string): Promise<number> {
  const m = await gw.metrics.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('slow clients', () => {
  let registry: TestRegistry;
  let gw: TestGateway | undefined;

  beforeEach(() => {
    registry = new TestRegistry();
  });

  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
  });

  it('when clients stall mid-body, then the gateway answers them 408 and no instance is sent or blamed for anything', async () => {
    const ups = await Promise.all(['a', 'b'].map((n) => new FakeUpstream(n).start()));
    try {
      // The route's timeout far shorter than the body timeout: were the body streamed upstream, every stall
      // would be the instances' 504, and three in a row would eject one.
      gw = await startGateway(registry, { bodyTimeoutMs: 400 });
      for (const u of ups) registry.up('member', u.address, [route('POST', '/members', { timeoutMs: 100 })]);
      const head =
        'POST /members HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"email":"slow';
      const answers = await Promise.all(Array.from({ length: 12 }, () => stall(gw!.url, head)));

      expect(answers.map((a) => a.status)).toEqual(Array(12).fill(408));
      expect(answers.every((a) => a.closed)).toBe(true);
      expect(answers[0]!.text).toContain('application/problem+json');
      expect(answers[0]!.text).toContain('"code":"REQUEST_TIMEOUT"');
      expect(ups.flatMap((u) => u.seen)).toHaveLength(0);
      expect(gw.gateway.routes()[0]!.instances.map((i) => i.ejectedForMs)).toEqual([0, 0]);
      expect(await metric(gw, 'gateway_upstream_failures_total')).toBe(0);
      // And the instances still serve a client that sends its body.
      const ok = await call(gw.url, '/members', { method: 'POST', body: '{"email":"quick"}' });
      expect(ok.status).toBe(200);
      expect(ok.json.body).toBe('{"email":"quick"}');
    } finally {
      await Promise.all(ups.map((u) => u.kill()));
    }
  });

  it('when a body trickles in for longer than the route timeout, then the timeout counts from the complete request', async () => {
    const up = await new FakeUpstream('a').start();
    try {
      gw = await startGateway(registry, { bodyTimeoutMs: 10_000 });
      registry.up('member', up.address, [route('POST', '/members', { timeoutMs: 150 })]);
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(gw!.url + '/members', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': '60' },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        const body = Buffer.from(`{"email":"${'t'.repeat(48)}"}`);
        let sent = 0;
        const timer = setInterval(() => {
          req.write(body.subarray(sent, sent + 10));
          sent += 10;
          if (sent >= body.length) {
            clearInterval(timer);
            req.end();
          }
        }, 80); // 6 chunks, about 0.5 s: three times the route's timeout
      });
      expect(status).toBe(200);
      expect(up.seen[0]!.body).toBe(`{"email":"${'t'.repeat(48)}"}`);
    } finally {
      await up.kill();
    }
  });

  /** Sends `n` GETs from `localAddress` at once; collects the answers as they come (held ones never do). */
  function burst(n: number, path: string, localAddress: string) {
    const answers: Awaited<ReturnType<typeof getFrom>>[] = [];
    for (let i = 0; i < n; i++) {
      getFrom(gw!.url, path, localAddress).then(
        (a) => answers.push(a),
        () => undefined, // a held request is cut when the test stops its instance
      );
    }
    return answers;
  }

  it('when one client has its share of an instance in flight, then it gets 429 and another client still gets through', async () => {
    const up = await new HoldingUpstream().start();
    try {
      gw = await startGateway(registry, { clientSocketsPerInstance: 4 });
      registry.up('product', up.address, [route('GET', '/hold'), route('GET', '/quick')]);
      const answers = burst(10, '/hold', '127.0.0.1');
      // The refused ones answer at once; the held four never answer while the instance holds them.
      await eventually(() => answers.length === 6 && up.held === 4, 'six answers, four held');
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(429));
      expect(answers[0]).toMatchObject({ code: 'TOO_MANY_IN_FLIGHT', retryAfter: '1' });
      expect(gw.gateway.routes()[0]!.instances[0]!.inFlight).toBe(4);

      // Another client (another address) is not held up by the first one's share.
      expect((await getFrom(gw.url, '/quick', '127.0.0.2')).status).toBe(200);
      const other = burst(1, '/hold', '127.0.0.2');
      await eventually(() => up.held === 5, "the other client's request held by the instance");
      expect(other).toEqual([]);
      expect(answers).toHaveLength(6);
    } finally {
      await up.stop();
    }
  });

  it('when a client is over its share of one instance, then its request goes to another instance where it has room', async () => {
    const ups = await Promise.all([new HoldingUpstream().start(), new HoldingUpstream().start()]);
    try {
      gw = await startGateway(registry, { clientSocketsPerInstance: 2 });
      for (const u of ups) registry.up('product', u.address, [route('GET', '/hold')]);
      const answers = burst(6, '/hold', '127.0.0.1');
      await eventually(
        () => answers.length === 2 && ups[0]!.held + ups[1]!.held === 4,
        'two answers, four held',
      );
      expect(answers.map((a) => a.status)).toEqual([429, 429]);
      expect(ups.map((u) => u.held)).toEqual([2, 2]);
    } finally {
      await Promise.all(ups.map((u) => u.stop()));
    }
  });
});
