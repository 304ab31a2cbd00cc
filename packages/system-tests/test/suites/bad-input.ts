// Issue 3: bad input against the real processes. Malformed registrations, unknown routes, oversized bodies,
// forged and expired member tokens, calls without an internal token, and /internal paths from outside.
// Run by shop.test.ts, on the system it shares with the purchase suite.
import { generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { Client } from 'pg';
import { call, expectJsonError } from '../support/http';
import { newMember, type SignedIn } from '../support/members';
import type { TestSystem } from '../support/system';

export function badInputSuite(system: () => TestSystem): void {
  let ts: TestSystem;
  let member: SignedIn;
  let memberUrl: string;
  let productUrl: string;

  beforeAll(async () => {
    ts = system();
    memberUrl = ts.system.instance('member').url!;
    productUrl = ts.system.instance('product').url!;
    member = await newMember(ts.gatewayUrl);
  });

  describe('malformed registrations at the distributor (with a valid internal token)', () => {
    const good = (instanceId: string) => ({
      service: 'probe',
      instanceId,
      address: 'http://127.0.0.1:9',
      version: '1.0.0',
      routes: [{ method: 'GET', path: '/probe', public: true, auth: 'none' }],
    });
    const id = 'probe-bad-input-1';
    const cases: [string, string, unknown][] = [
      ['the body names another instance id than the path', id, { ...good('probe-other-2') }],
      ['the service name is not lower-case letters, digits and -', id, { ...good(id), service: 'Bad_Name' }],
      ['a field is missing', id, { ...good(id), address: undefined }],
      ['the address is not an http URL', id, { ...good(id), address: 'ftp://127.0.0.1:21' }],
      ['the address carries credentials', id, { ...good(id), address: 'http://user:pw@127.0.0.1:9' }],
      [
        'a public route is under /internal',
        id,
        { ...good(id), routes: [{ method: 'GET', path: '/internal/jwks', public: true, auth: 'none' }] },
      ],
      [
        'a route has an unknown method',
        id,
        { ...good(id), routes: [{ method: 'TRACE', path: '/probe', public: true, auth: 'none' }] },
      ],
      ['the body has an unknown field', id, { ...good(id), admin: true }],
      ['the path holds an invalid instance id', 'bad%20id%21', good('bad id!')],
      ['the body is not JSON', id, '{"service": "probe",'],
    ];

    test.each(cases)('when %s, then 400 and nothing changes', async (_, pathId, body) => {
      const token = await ts.internalToken();
      const before = await call(ts.distributorUrl, 'GET', '/registry/services', { internalToken: token });

      const answer = await call(ts.distributorUrl, 'PUT', `/registry/instances/${pathId}`, {
        internalToken: token,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

      expectJsonError(answer, 400);
      const after = await call(ts.distributorUrl, 'GET', '/registry/services', { internalToken: token });
      expect(after.body.revision).toBe(before.body.revision);
      expect(Object.keys(after.body.services).sort()).toEqual(Object.keys(before.body.services).sort());
      expect(after.body.services.probe).toBeUndefined();
      expect((await call(ts.gatewayUrl, 'GET', '/probe')).status).toBe(404);
    });
  });

  describe('unknown routes', () => {
    test.each([
      ['GET', '/nothing-here'],
      ['POST', '/products/search/now'],
      ['DELETE', '/members'],
    ])('when %s %s is asked of the gateway, then 404 JSON', async (method, path) => {
      expectJsonError(await call(ts.gatewayUrl, method, path), 404, 'NOT_FOUND');
    });

    test('when a service is asked for a route it does not have, then 404 JSON', async () => {
      const internalToken = await ts.internalToken();
      expectJsonError(await call(productUrl, 'GET', '/nothing-here', { internalToken }), 404);
      expectJsonError(await call(memberUrl, 'POST', '/members/nothing', { internalToken, body: {} }), 404);
    });
  });

  describe('oversized bodies', () => {
    const big = JSON.stringify({ email: 'big@example.test', password: 'x'.repeat(200 * 1024), name: 'Big' });

    test('when a body over the limit is sent to the gateway, then 413 JSON', async () => {
      expectJsonError(await call(ts.gatewayUrl, 'POST', '/members', { body: big }), 413, 'PAYLOAD_TOO_LARGE');
    });

    test.each([
      ['without an Idempotency-Key (streamed to the service)', {}],
      ['with an Idempotency-Key (buffered by the gateway to retry it)', { 'idempotency-key': 'big-body-1' }],
    ])('when a body over the limit comes chunked, with no length, %s, then 413', async (_, headers) => {
      const res = await fetch(`${ts.gatewayUrl}/members`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: chunked(big),
        duplex: 'half',
        signal: AbortSignal.timeout(10_000),
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
      const login = await call(ts.gatewayUrl, 'POST', '/members/login', {
        body: { email: 'big@example.test', password: 'x'.repeat(20) },
      });
      expect(login.status).toBe(401); // nobody was registered
    });

    test('when clients are still sending big bodies as the 413 comes, then each gets the 413, not a broken connection', async () => {
      // The gateway answers before the body is in; cutting the socket then reset the upload under the
      // client, which reported EPIPE instead of the 413 (a 4 MB upload 2 times in 3, chunked 1 in 4).
      const upload = async (headers: Record<string, string>, body: RequestInit['body']) => {
        try {
          const res = await fetch(`${ts.gatewayUrl}/members`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body,
            duplex: 'half',
            signal: AbortSignal.timeout(10_000),
          } as RequestInit);
          await res.arrayBuffer();
          // Each 413 is problem details, like every other error here.
          return /^application\/problem\+json/.test(res.headers.get('content-type') ?? '')
            ? res.status
            : `${res.status} ${res.headers.get('content-type')}`;
        } catch (err) {
          return (err as { cause?: NodeJS.ErrnoException }).cause?.code ?? (err as Error).message;
        }
      };
      const answers: (number | string)[] = [];
      for (let n = 0; n < 8; n++) {
        answers.push(await upload({}, 'x'.repeat(4 * 1024 * 1024)));
        answers.push(await upload({ 'idempotency-key': `big-${n}` }, chunked(big)));
      }
      expect(answers).toEqual(Array(16).fill(413));
    });

    test('when a body over the limit is sent straight to a service, then 413 JSON', async () => {
      const answer = await call(memberUrl, 'POST', '/members', {
        body: big,
        internalToken: await ts.internalToken(),
      });
      expectJsonError(answer, 413);
    });
  });

  describe('member tokens', () => {
    let claims: Record<string, unknown>;
    let header: Record<string, unknown>;
    let privateJwk: JWK;

    beforeAll(async () => {
      [header, claims] = member.token.split('.').slice(0, 2).map(decode) as [typeof header, typeof claims];
      // The real signing key, from member's own database: only then does "expired" test the expiry alone.
      const db = new Client({ connectionString: ts.system.databases.member });
      await db.connect();
      try {
        const { rows } = await db.query<{ private_jwk: JWK }>(
          'SELECT private_jwk FROM signing_keys WHERE kid = $1',
          [header.kid],
        );
        privateJwk = rows[0]!.private_jwk;
      } finally {
        await db.end();
      }
    });

    const me = (token: string) => call(ts.gatewayUrl, 'GET', '/members/me', { token });

    test('when the token is the one member issued, then it works (the control for the cases below)', async () => {
      const answer = await me(member.token);
      expect(answer.status).toBe(200);
      expect(answer.body.id).toBe(member.id);
    });

    test('when the token has expired, even signed with the real key, then 401', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT(claims)
        .setProtectedHeader(header as { alg: string })
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(await importJWK(privateJwk, 'ES256'));
      expectJsonError(await me(expired), 401, 'UNAUTHORIZED');
    });

    test.each<[string, () => Promise<string>]>([
      [
        'its claims were changed (role admin) after signing',
        async () => tamper(member.token, { role: 'admin' }),
      ],
      ['it says alg none', async () => `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`],
      [
        'it is signed by another key under member’s kid',
        async () => {
          const { privateKey } = await generateKeyPair('ES256');
          return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(privateKey);
        },
      ],
      ['it is not a JWT at all', async () => 'not-a-jwt'],
    ])('when %s, then 401 on a user route', async (_, make) => {
      expectJsonError(await me(await make()), 401, 'UNAUTHORIZED');
    });

    test('when a forged admin token calls an admin route, then 401; a real customer token gets 403', async () => {
      const product = { name: 'Forged', description: 'x', category: 'x', price: 1, stock: 1 };
      const forged = tamper(member.token, { role: 'admin' });
      expectJsonError(await call(ts.gatewayUrl, 'POST', '/products', { token: forged, body: product }), 401);
      expectJsonError(
        await call(ts.gatewayUrl, 'POST', '/products', { token: member.token, body: product }),
        403,
      );
    });
  });

  describe('internal tokens on the private network', () => {
    const direct = () => [
      ['product', productUrl, '/products'],
      ['member', memberUrl, '/internal/jwks'],
      ['the distributor', ts.distributorUrl, '/registry/services'],
    ];

    test('when a service is called straight, without an internal token, then 401', async () => {
      for (const [, url, path] of direct()) expectJsonError(await call(url!, 'GET', path!), 401);
    });

    test('when the internal token is signed with another secret or has expired, then 401', async () => {
      const now = Math.floor(Date.now() / 1000);
      const sign = (secret: string, exp: number) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
          .setIssuer('gateway')
          .setAudience('msa-internal')
          .setIssuedAt(exp - 60)
          .setExpirationTime(exp)
          .sign(new TextEncoder().encode(secret));
      const wrongSecret = await sign('another-deployment-secret-0123456789abcdef', now + 60);
      const expired = await sign(ts.system.internalTokenSecret, now - 5);
      for (const [, url, path] of direct()) {
        expectJsonError(await call(url!, 'GET', path!, { internalToken: wrongSecret }), 401);
        expectJsonError(await call(url!, 'GET', path!, { internalToken: expired }), 401);
      }
      // The control: the same calls with a valid token pass.
      const valid = await ts.internalToken();
      for (const [, url, path] of direct())
        expect((await call(url!, 'GET', path!, { internalToken: valid })).status).toBe(200);
    });

    test.each([
      ['GET', '/internal/jwks'],
      ['GET', '/INTERNAL/jwks'],
      ['GET', '/%69nternal/jwks'],
      ['GET', '/products/../internal/jwks'],
      ['GET', '//internal/jwks'],
      ['GET', '/internal/routes'],
      ['POST', '/internal/reservations'],
    ])('when %s %s comes through the gateway, then 404', async (method, path) => {
      const res = await rawRequest(ts.gatewayUrl, method, path);
      expect(res.status).toBe(404);
      expect(res.contentType).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.body).code).toBe('NOT_FOUND');
    });
  });
}

function decode(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The same header and signature, other claims. */
function tamper(token: string, changes: Record<string, unknown>): string {
  const [head, payload, signature] = token.split('.');
  return `${head}.${encode({ ...decode(payload!), ...changes })}.${signature}`;
}

function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, (offset += 16 * 1024)));
    },
  });
}

/** A request whose path is sent exactly as written (fetch would resolve `..` and the like first). */
async function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
): Promise<{ status: number; contentType: string; body: string }> {
  const http = await import('node:http');
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, contentType: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
