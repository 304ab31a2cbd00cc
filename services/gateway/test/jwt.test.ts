import { SignJWT, base64url, exportJWK, generateKeyPair } from 'jose';
import {
  call,
  FakeUpstream,
  internalClaims,
  memberKeys,
  memberToken,
  route,
  startGateway,
  TestRegistry,
  type TestGateway,
} from './support';

describe('member tokens at the gateway', () => {
  let registry: TestRegistry;
  let gw: TestGateway;
  let up: FakeUpstream;
  let keys: Awaited<ReturnType<typeof memberKeys>>;
  let jwksFetches: number;
  let jwks: () => Promise<unknown>;

  beforeEach(async () => {
    registry = new TestRegistry();
    up = await new FakeUpstream('purchase').start();
    keys = await memberKeys('k1');
    jwksFetches = 0;
    jwks = async () => keys.jwks;
    gw = await startGateway(registry, {
      fetchJwks: async () => {
        jwksFetches++;
        return (await jwks()) as typeof keys.jwks;
      },
    });
    registry.up('purchase', up.address, [
      route('GET', '/purchases', { auth: 'user' }),
      route('GET', '/reports', { auth: 'admin' }),
      route('GET', '/products', { auth: 'none' }),
    ]);
  });

  afterEach(async () => {
    await gw.stop();
    await up.kill();
  });

  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('when a valid member token is sent, then the upstream gets an internal token carrying the member id and role', async () => {
    const token = await memberToken(keys.privateKey, keys.kid, { sub: 'm-1', role: 'customer' });
    const res = await call(gw.url, '/purchases', { headers: bearer(token) });
    expect(res.status).toBe(200);
    const claims = await internalClaims(up.seen[0]!.headers['x-internal-token']);
    expect(claims).toMatchObject({ iss: 'gateway', sub: 'm-1', role: 'customer', aud: 'msa-internal' });
    expect(up.seen[0]!.headers.authorization).toBe(`Bearer ${token}`);
  });

  it('when the same token comes again, then it is served from the cache: no second key fetch, same internal token', async () => {
    const token = await memberToken(keys.privateKey, keys.kid, { sub: 'm-2' });
    for (let i = 0; i < 5; i++)
      expect((await call(gw.url, '/purchases', { headers: bearer(token) })).status).toBe(200);
    expect(jwksFetches).toBe(1);
    expect(new Set(up.seen.map((s) => s.headers['x-internal-token'])).size).toBe(1);
  });

  it('when an auth route is called with no token, then 401 JSON and nothing reaches the upstream', async () => {
    const res = await call(gw.url, '/purchases');
    expect(res.status).toBe(401);
    expect(res.json.code).toBe('UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(up.seen).toHaveLength(0);
  });

  it('when the token is forged (signature changed), then 401', async () => {
    const token = await memberToken(keys.privateKey, keys.kid, { sub: 'm-1' });
    const [h, , s] = token.split('.');
    const forgedPayload = base64url.encode(JSON.stringify({ sub: 'm-1', role: 'admin', exp: 9999999999 }));
    for (let i = 0; i < 2; i++) {
      const res = await call(gw.url, '/reports', { headers: bearer(`${h}.${forgedPayload}.${s}`) });
      expect(res.status).toBe(401);
    }
    expect(up.seen).toHaveLength(0);
  });

  it('when the token has expired, then 401', async () => {
    const token = await memberToken(
      keys.privateKey,
      keys.kid,
      { sub: 'm-1' },
      Math.floor(Date.now() / 1000) - 60,
    );
    expect((await call(gw.url, '/purchases', { headers: bearer(token) })).status).toBe(401);
  });

  it('when the token says alg none, then 401', async () => {
    const enc = (o: object) => base64url.encode(JSON.stringify(o));
    const token = `${enc({ alg: 'none', typ: 'JWT', kid: keys.kid })}.${enc({ sub: 'm-1', role: 'admin', exp: 9999999999 })}.`;
    expect((await call(gw.url, '/reports', { headers: bearer(token) })).status).toBe(401);
  });

  it('when the token is signed by a key the member service does not publish, then 401', async () => {
    const other = await generateKeyPair('ES256');
    const sameKid = await memberToken(other.privateKey, keys.kid, { sub: 'm-1' });
    const unknownKid = await memberToken(other.privateKey, 'not-a-member-key', { sub: 'm-1' });
    expect((await call(gw.url, '/purchases', { headers: bearer(sameKid) })).status).toBe(401);
    expect((await call(gw.url, '/purchases', { headers: bearer(unknownKid) })).status).toBe(401);
  });

  it('when the token is an HS256 token keyed with the public key, then 401', async () => {
    const pub = JSON.stringify(keys.jwks.keys[0]);
    const token = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256', kid: keys.kid })
      .setSubject('m-1')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pub));
    expect((await call(gw.url, '/reports', { headers: bearer(token) })).status).toBe(401);
  });

  it('when a customer calls an admin route, then 403; an admin gets through', async () => {
    const customer = await memberToken(keys.privateKey, keys.kid, { sub: 'm-1', role: 'customer' });
    const forbidden = await call(gw.url, '/reports', { headers: bearer(customer) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.code).toBe('FORBIDDEN');
    const admin = await memberToken(keys.privateKey, keys.kid, { sub: 'm-9', role: 'admin' });
    expect((await call(gw.url, '/reports', { headers: bearer(admin) })).status).toBe(200);
    expect(await internalClaims(up.seen[0]!.headers['x-internal-token'])).toMatchObject({
      sub: 'm-9',
      role: 'admin',
    });
  });

  it('when a route needs no sign-in, then a bad token is ignored and a good one still identifies the member', async () => {
    expect((await call(gw.url, '/products', { headers: bearer('garbage') })).status).toBe(200);
    expect((await internalClaims(up.seen[0]!.headers['x-internal-token'])).sub).toBeUndefined();
    const token = await memberToken(keys.privateKey, keys.kid, { sub: 'm-5' });
    expect((await call(gw.url, '/products', { headers: bearer(token) })).status).toBe(200);
    expect((await internalClaims(up.seen[1]!.headers['x-internal-token'])).sub).toBe('m-5');
  });

  it('when the member service rotates to a new key, then the unknown kid makes the gateway refetch its keys', async () => {
    await gw.stop();
    gw = await startGateway(registry, {
      fetchJwks: async () => {
        jwksFetches++;
        return (await jwks()) as typeof keys.jwks;
      },
      jwt: { refetchMs: 0 },
    });
    const old = await memberToken(keys.privateKey, keys.kid, { sub: 'm-1' });
    expect((await call(gw.url, '/purchases', { headers: bearer(old) })).status).toBe(200);
    const next = await generateKeyPair('ES256');
    const nextJwk = { ...(await exportJWK(next.publicKey)), kid: 'k2', alg: 'ES256' };
    jwks = async () => ({ keys: [...keys.jwks.keys, nextJwk] });
    const token = await memberToken(next.privateKey, 'k2', { sub: 'm-1' });
    expect((await call(gw.url, '/purchases', { headers: bearer(token) })).status).toBe(200);
    expect(jwksFetches).toBe(2);
  });

  it('when tokens with unknown kids flood in, then the keys are not refetched more than once per interval', async () => {
    const stranger = await generateKeyPair('ES256');
    for (let i = 0; i < 5; i++) {
      const token = await memberToken(stranger.privateKey, `kid-${i}`, { sub: 'm-1' });
      expect((await call(gw.url, '/purchases', { headers: bearer(token) })).status).toBe(401);
    }
    expect(jwksFetches).toBe(1);
  });

  it('when the member keys cannot be fetched, then an auth route answers 503 rather than blaming the token', async () => {
    jwks = async () => {
      throw new Error('member has no instance');
    };
    const token = await memberToken(keys.privateKey, keys.kid, { sub: 'm-1' });
    const res = await call(gw.url, '/purchases', { headers: bearer(token) });
    expect(res.status).toBe(503);
    expect(res.json.detail).toMatch(/member service/);
  });

  it('when a token has no subject, then 401', async () => {
    const token = await memberToken(keys.privateKey, keys.kid, {});
    expect((await call(gw.url, '/purchases', { headers: bearer(token) })).status).toBe(401);
  });
});
