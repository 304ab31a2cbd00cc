// The Compose smoke's attacker from outside (issue-level promises of docs/security.md, tried on the real
// stack through its published HTTPS port only): operational endpoints, login abuse, revocation, JWKS,
// response hygiene, a stalled body, Slack without a secret and the per-order cap.
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import tls from 'node:tls';
import { check, HTTPS_PORT, log, request, until } from './lib.mjs';

const isProblem = (res) => /^application\/problem\+json/.test(res.headers['content-type'] ?? '');

export async function outside(shop) {
  log('from outside: operational endpoints');
  for (const [p, headers] of [
    ['/metrics', {}],
    ['/metrics', { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' }],
    ['/METRICS', {}],
    ['/%6detrics', {}],
    ['//metrics', {}],
    ['/internal/routes', { 'x-forwarded-for': '127.0.0.1' }],
  ]) {
    const res = await request('GET', p, { headers });
    check(
      res.status === 404 && isProblem(res) && !/process_cpu|gateway_/.test(JSON.stringify(res.body)),
      `GET ${p}${headers['x-forwarded-for'] ? ' (X-Forwarded-For: 127.0.0.1)' : ''} on HTTPS → 404`,
      res.status,
    );
  }

  log('from outside: response hygiene');
  const list = await request('GET', '/products?limit=1');
  check(
    list.headers['x-powered-by'] === undefined && list.headers.server === undefined,
    'no x-powered-by or server header on a proxied answer',
    { poweredBy: list.headers['x-powered-by'], server: list.headers.server },
  );

  log('from outside: JWKS at the well-known path verifies a real token');
  const jwks = await request('GET', '/.well-known/jwks.json');
  const [h64, p64, s64] = shop.token.split('.');
  const { kid } = JSON.parse(Buffer.from(h64, 'base64url').toString());
  const jwk = jwks.body?.keys?.find((k) => k.kid === kid);
  const verified =
    jwk !== undefined &&
    verify(
      'sha256',
      Buffer.from(`${h64}.${p64}`),
      { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      Buffer.from(s64, 'base64url'),
    );
  check(
    jwks.status === 200 && /max-age/.test(jwks.headers['cache-control'] ?? '') && verified,
    'GET /.well-known/jwks.json → 200, cacheable, and its key verifies the customer token',
    { status: jwks.status, cacheControl: jwks.headers['cache-control'], kid, verified },
  );

  log('from outside: login abuse');
  const password = 'outside-password-1';
  const email = `outside-${randomUUID().slice(0, 8)}@example.com`;
  const reg = await request('POST', '/members', { body: { email, password, name: 'Outside' } });
  check(reg.status === 201, 'a member to attack registers', reg.status);
  const again = await request('POST', '/members', { body: { email, password: 'another-pass-1', name: 'X' } });
  check(
    again.status === 201 && Object.keys(again.body).sort().join() === Object.keys(reg.body).sort().join(),
    'registering a taken email answers like a new one (201, same shape)',
    again.status,
  );
  const unknown = await request('POST', '/members/login', {
    body: { email: `nobody-${randomUUID().slice(0, 8)}@example.com`, password: 'wrong-password-1' },
  });
  const wrong = await request('POST', '/members/login', { body: { email, password: 'wrong-password-1' } });
  check(
    unknown.status === 401 && wrong.status === 401 && unknown.body?.code === wrong.body?.code,
    'unknown email and wrong password: the same 401',
    { unknown: unknown.body?.code, wrong: wrong.body?.code },
  );
  let throttled;
  for (let i = 0; i < 15 && !throttled; i++) {
    const res = await request('POST', '/members/login', {
      body: { email, password: `wrong-password-${i}` },
      timeoutMs: 20_000,
    });
    if (res.status === 429) throttled = res;
    else check(res.status === 401, `wrong password #${i + 2} → 401 until throttled`, res.status);
  }
  check(
    throttled !== undefined && Number(throttled.headers['retry-after']) > 0 && isProblem(throttled),
    'wrong passwords for one account are refused with 429 and Retry-After',
    throttled && { status: throttled.status, retryAfter: throttled.headers['retry-after'] },
  );
  for (const [what, body, headers] of [
    ['the right password', { email, password }, {}],
    [
      'a forged X-Forwarded-For',
      { email, password: 'wrong-password-x' },
      { 'x-forwarded-for': '203.0.113.7' },
    ],
    ['the email in capitals, padded', { email: `  ${email.toUpperCase()} `, password: 'wrong-x' }, {}],
  ]) {
    const res = await request('POST', '/members/login', { body, headers, timeoutMs: 20_000 });
    check(res.status === 429, `while throttled, ${what} → 429 too`, res.status);
  }

  log('from outside: a deleted member’s token');
  const victim = `gone-${randomUUID().slice(0, 8)}@example.com`;
  await request('POST', '/members', { body: { email: victim, password, name: 'Gone' } });
  const login = await request('POST', '/members/login', { body: { email: victim, password } });
  const token = login.body?.token;
  check(
    login.status === 200 && /no-store/.test(login.headers['cache-control'] ?? ''),
    'login → 200 with Cache-Control: no-store',
    { status: login.status, cacheControl: login.headers['cache-control'] },
  );
  check((await request('GET', '/purchases', { token })).status === 200, 'its token reads its purchases');
  const gone = await request('DELETE', '/members/me', { token });
  check(gone.status === 204, 'DELETE /members/me → 204', gone.status);
  await until(
    'the deleted member’s token refused (401)',
    async () => (await request('GET', '/purchases', { token })).status === 401,
    2_000,
    100,
  );
  const buy = await request('POST', '/purchases', {
    token,
    headers: { 'idempotency-key': randomUUID() },
    body: { productId: shop.productId, quantity: 1 },
  });
  check(buy.status === 401, 'and it cannot buy', buy.status);

  log('from outside: the per-order cap');
  const before = (await request('GET', `/products/${shop.productId}`)).body.stock;
  const big = await request('POST', '/purchases', {
    token: shop.token,
    headers: { 'idempotency-key': randomUUID() },
    body: { productId: shop.productId, quantity: 11 },
  });
  const after = (await request('GET', `/products/${shop.productId}`)).body.stock;
  check(
    big.status === 400 && isProblem(big) && after === before,
    'quantity 11 → 400 and the stock unchanged',
    { status: big.status, before, after },
  );

  log('from outside: Slack commands without a signing secret');
  const slack = await request('POST', '/slack/commands', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  check(
    [401, 404].includes(slack.status),
    'an unsigned POST /slack/commands → 401/404, not 503',
    slack.status,
  );

  log('from outside: a stalled body');
  const started = Date.now();
  const answer = await stalledBody();
  check(
    /^HTTP\/1\.1 408/.test(answer),
    `a body that stops half way → 408 from the gateway (after ${Date.now() - started} ms)`,
    answer.split('\r\n')[0],
  );
}

/** POST /members over TLS with half its declared body, then silence: what the gateway answers. */
function stalledBody() {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: HTTPS_PORT, rejectUnauthorized: false }, () => {
      socket.write(
        'POST /members HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n' +
          'content-length: 80\r\n\r\n{"email":"stall@example.com",',
      );
    });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text || 'no answer within 30 s');
    }, 30_000);
    socket.setEncoding('utf8');
    socket.on('data', (c) => (text += c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text || 'closed without an answer');
    });
    socket.on('error', (err) => (text ? resolve(text) : reject(err)));
  });
}
