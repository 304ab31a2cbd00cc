import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import {
  call,
  eventually,
  FakeUpstream,
  memberKeys,
  route,
  startGateway,
  TestRegistry,
  type TestGateway,
} from './support';

/** A member instance's revocation stream, driven by the test. */
class FakeMember {
  readonly streams = new Set<ServerResponse>();
  tokensSeen: (string | undefined)[] = [];
  snapshot: { sub: string; ver: number }[] = [];
  notFound = false;
  private server: http.Server | undefined;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      this.tokensSeen.push(req.headers['x-internal-token'] as string | undefined);
      if (this.notFound || req.url !== '/internal/revocations/watch') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `event: snapshot\ndata: ${JSON.stringify({ revocations: this.snapshot, rememberSeconds: 3900 })}\n\n`,
      );
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  revoke(sub: string, ver: number): void {
    for (const s of this.streams) s.write(`event: revoke\ndata: ${JSON.stringify({ sub, ver })}\n\n`);
  }

  /** Ends every open stream (the gateway reconnects and gets a fresh snapshot). */
  cut(): void {
    for (const s of this.streams) s.end();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.cut();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe('revoked member tokens at the gateway', () => {
  let registry: TestRegistry;
  let gw: TestGateway;
  let up: FakeUpstream;
  let member: FakeMember;
  let keys: Awaited<ReturnType<typeof memberKeys>>;
  const token = (sub: string, ver?: number) =>
    new SignJWT({ role: 'customer', ...(ver === undefined ? {} : { ver }) })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(keys.privateKey);
  const statusWith = async (t: string) =>
    (await call(gw.url, '/purchases', { headers: { authorization: `Bearer ${t}` } })).status;

  beforeEach(async () => {
    registry = new TestRegistry();
    up = await new FakeUpstream('purchase').start();
    keys = await memberKeys('k1');
    member = new FakeMember();
    gw = await startGateway(registry, { fetchJwks: async () => keys.jwks, watchRevocations: true });
    registry.up('purchase', up.address, [route('GET', '/purchases', { auth: 'user' })]);
  });

  afterEach(async () => {
    await gw.stop();
    await up.kill();
    await member.stop();
  });

  it('when no member instance has answered yet, then a new token gets 503, not a guess', async () => {
    const res = await call(gw.url, '/purchases', {
      headers: { authorization: `Bearer ${await token('ann', 0)}` },
    });
    expect(res.status).toBe(503);
    expect(res.json.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('when the snapshot lists a member, then tokens below their version are 401, the current one and others 200', async () => {
    member.snapshot = [{ sub: 'ann', ver: 2 }];
    registry.up('member', await member.start(), []);
    expect(await statusWith(await token('ann', 1))).toBe(401);
    expect(await statusWith(await token('ann'))).toBe(401); // no ver claim counts as 0
    expect(await statusWith(await token('ann', 2))).toBe(200);
    expect(await statusWith(await token('bob', 0))).toBe(200);
    expect(member.tokensSeen.every((t) => typeof t === 'string' && t.length > 0)).toBe(true);
  });

  it('when member pushes a revocation, then a token the gateway had cached is refused; a lower version changes nothing', async () => {
    registry.up('member', await member.start(), []);
    const t = await token('cat', 0);
    expect(await statusWith(t)).toBe(200);
    member.revoke('cat', 1);
    await eventually(async () => (await statusWith(t)) === 401, 'the cached token refused');
    member.revoke('cat', 0); // out of order: versions only go up
    expect(await statusWith(t)).toBe(401);
    expect(await statusWith(await token('cat', 1))).toBe(200);
  });

  it('when the stream breaks, then what is known stays, and the reconnect snapshot brings what was missed', async () => {
    registry.up('member', await member.start(), []);
    const dan = await token('dan', 0);
    const eve = await token('eve', 0);
    expect(await statusWith(dan)).toBe(200);
    expect(await statusWith(eve)).toBe(200);
    member.revoke('dan', 1);
    await eventually(async () => (await statusWith(dan)) === 401, 'dan refused');
    member.snapshot = [{ sub: 'eve', ver: 1 }]; // revoked while the gateway was not listening
    member.cut();
    await eventually(async () => (await statusWith(eve)) === 401, 'eve refused after the reconnect');
    expect(await statusWith(dan)).toBe(401);
  });

  it('when the member instance has no revocation stream (404, an older version), then tokens are not held up', async () => {
    member.notFound = true;
    registry.up('member', await member.start(), []);
    expect(await statusWith(await token('fay', 0))).toBe(200);
  });
});
