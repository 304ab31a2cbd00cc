import { randomUUID } from 'node:crypto';
import { startService, type RunningService } from '@msa/service-kit';
import { createTestDatabase, testEnv, type TestDatabase } from '@msa/service-kit/testing';
import { service } from '../src/service';
import { buyAs, call, eventually, newMember } from './support/client';

// Purchase alone, with no registry: product is "down" for every call it makes.
describe('purchase without a product service', () => {
  let db: TestDatabase;
  let svc: RunningService<NonNullable<(typeof service)['config']>>;
  const alice = newMember();
  const productId = randomUUID();

  const rows = async () => Number((await svc.ctx.db.query('SELECT count(*) AS n FROM purchases')).rows[0].n);

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startService(service, {
      env: testEnv({
        DATABASE_URL: db.url,
        RECONCILE_INTERVAL_MS: '50',
        RECONCILE_AFTER_MS: '100',
        RECONCILE_LEASE_MS: '100',
      }),
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  it('when product cannot be reached, then 503 PRODUCT_UNAVAILABLE and the purchase stays pending', async () => {
    const key = randomUUID();
    const first = await buyAs(svc.url, alice, { productId, quantity: 1 }, key);
    expect(first.status).toBe(503);
    expect(first.body.code).toBe('PRODUCT_UNAVAILABLE');
    expect(first.body.purchase).toMatchObject({ status: 'pending', productId, quantity: 1 });

    const again = await buyAs(svc.url, alice, { productId, quantity: 1 }, key);
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.purchase.id);
    expect(again.body.status).toBe('pending');
  });

  it('when product stays down, then the reconciler leaves the purchase pending and tries again later', async () => {
    const first = await buyAs(svc.url, alice, { productId, quantity: 2 });
    const id = first.body.purchase.id;
    // Wait until the reconciler has claimed it at least once (reconcile_at set), then check it is untouched.
    await eventually(
      async () => (await svc.ctx.db.query('SELECT reconcile_at FROM purchases WHERE id = $1', [id])).rows[0],
      (row) => row.reconcile_at !== null,
    );
    const got = await call(svc.url, alice, 'GET', `/purchases/${id}`);
    expect(got.body.status).toBe('pending');
  });

  it('when the same key comes with a different body, then 422 IDEMPOTENCY_KEY_REUSED and nothing new is written', async () => {
    const key = randomUUID();
    await buyAs(svc.url, alice, { productId, quantity: 1 }, key);
    const before = await rows();
    const other = await buyAs(svc.url, alice, { productId, quantity: 3 }, key);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const otherProduct = await buyAs(svc.url, alice, { productId: randomUUID(), quantity: 1 }, key);
    expect(otherProduct.status).toBe(422);
    expect(await rows()).toBe(before);
  });

  it('when another member uses the same key, then it is their own purchase', async () => {
    const key = randomUUID();
    const a = await buyAs(svc.url, alice, { productId, quantity: 1 }, key);
    const b = await buyAs(svc.url, newMember(), { productId, quantity: 5 }, key);
    expect(b.status).toBe(503);
    expect(b.body.purchase.id).not.toBe(a.body.purchase.id);
  });

  it.each([
    ['quantity 0', { productId, quantity: 0 }],
    ['quantity -1', { productId, quantity: -1 }],
    ['quantity 1.5', { productId, quantity: 1.5 }],
    ['quantity 1e9', { productId, quantity: 1e9 }],
    ['quantity as a string', { productId, quantity: '1' }],
    ['no quantity', { productId }],
    ['a bad uuid', { productId: 'not-a-uuid', quantity: 1 }],
    ['SQL in the id', { productId: "1'; DROP TABLE purchases; --", quantity: 1 }],
    ['an unknown field', { productId, quantity: 1, price: 0.01 }],
    ['an array', [{ productId, quantity: 1 }]],
  ])('when the body has %s, then 400 VALIDATION_FAILED and no row', async (_name, body) => {
    const before = await rows();
    const res = await buyAs(svc.url, alice, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.length).toBeGreaterThan(0);
    expect(await rows()).toBe(before);
  });

  it.each([
    ['11, over the default MAX_QUANTITY_PER_ORDER of 10', 11],
    ['101, over the domain limit', 101],
  ])('when the quantity is %s, then 400 naming body.quantity and no row', async (_name, quantity) => {
    const before = await rows();
    const res = await buyAs(svc.url, alice, { productId, quantity });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'body.quantity' })]);
    expect(await rows()).toBe(before);
  });

  it.each([
    ['missing', null],
    ['empty', ''],
    ['too long', 'k'.repeat(201)],
    ['with unsafe characters', 'key with spaces/and"quotes'],
  ])('when the Idempotency-Key is %s, then 400 naming the header and no row', async (_name, key) => {
    const before = await rows();
    const res = await buyAs(svc.url, alice, { productId, quantity: 1 }, key);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'headers.idempotency-key' })]);
    expect(await rows()).toBe(before);
  });

  it('when the body is not JSON, then 400 MALFORMED_JSON and no row', async () => {
    const before = await rows();
    const res = await call(svc.url, alice, 'POST', '/purchases', {
      rawBody: '{"productId":',
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('MALFORMED_JSON');
    expect(await rows()).toBe(before);
  });

  it('when nobody is signed in, then every purchase route answers 401', async () => {
    const id = randomUUID();
    for (const [method, path] of [
      ['POST', '/purchases'],
      ['GET', '/purchases'],
      ['GET', `/purchases/${id}`],
      ['POST', `/purchases/${id}/cancel`],
    ] as const) {
      expect((await call(svc.url, undefined, method, path)).status).toBe(401);
    }
  });

  it.each([
    ['a bad id', 'GET', '/purchases/nope'],
    ['a bad id to cancel', 'POST', '/purchases/12345/cancel'],
    ['limit 0', 'GET', '/purchases?limit=0'],
    ['limit 101', 'GET', '/purchases?limit=101'],
    ['a negative offset', 'GET', '/purchases?offset=-1'],
    ['a word for limit', 'GET', '/purchases?limit=ten'],
    ['an unknown query parameter', 'GET', '/purchases?memberId=x'],
  ])('when a read has %s, then 400', async (_name, method, path) => {
    const res = await call(svc.url, alice, method, path);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
  });

  it('when a cancel has a body with unknown fields, then 400', async () => {
    const res = await call(svc.url, alice, 'POST', `/purchases/${randomUUID()}/cancel`, {
      body: { force: true },
    });
    expect(res.status).toBe(400);
  });

  it('when a purchase does not exist, then get and cancel answer 404 PURCHASE_NOT_FOUND', async () => {
    const id = randomUUID();
    expect((await call(svc.url, alice, 'GET', `/purchases/${id}`)).body.code).toBe('PURCHASE_NOT_FOUND');
    expect((await call(svc.url, alice, 'POST', `/purchases/${id}/cancel`)).status).toBe(404);
  });

  it('when a pending purchase is cancelled, then 409 PURCHASE_PENDING', async () => {
    const first = await buyAs(svc.url, alice, { productId, quantity: 1 });
    const id = first.body.purchase.id;
    const res = await call(svc.url, alice, 'POST', `/purchases/${id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('PURCHASE_PENDING');
  });
});

describe('fault injection', () => {
  it('when FAULT_INJECT is set with NODE_ENV=production, then the service refuses to start', async () => {
    await expect(
      startService(service, {
        env: testEnv({ NODE_ENV: 'production', FAULT_INJECT: 'crash-after-reserve' }),
      }),
    ).rejects.toThrow(/refused when NODE_ENV=production/);
  });

  it('when the hold would expire before the reconciler may settle a purchase, then the configuration is refused', async () => {
    await expect(
      startService(service, { env: testEnv({ HOLD_EXPIRY_MS: '5000', RECONCILE_AFTER_MS: '10000' }) }),
    ).rejects.toThrow(/HOLD_EXPIRY_MS must be longer than RECONCILE_AFTER_MS/);
  });

  it('when MAX_QUANTITY_PER_ORDER is above the domain limit, then the configuration is refused', async () => {
    await expect(startService(service, { env: testEnv({ MAX_QUANTITY_PER_ORDER: '101' }) })).rejects.toThrow(
      /MAX_QUANTITY_PER_ORDER/,
    );
  });

  it('when FAULT_INJECT names no known fault, then the configuration is refused', async () => {
    await expect(startService(service, { env: testEnv({ FAULT_INJECT: 'explode' }) })).rejects.toThrow(
      /FAULT_INJECT/,
    );
  });
});
