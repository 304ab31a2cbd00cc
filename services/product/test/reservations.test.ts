import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@msa/service-kit/testing';
import { DB_KIND, client, product, startProduct, tokens, type ProductService, type Tokens } from './helpers';

describe(`reservations (${DB_KIND})`, () => {
  let db: TestDatabase;
  let svc: ProductService;
  let t: Tokens;
  let call: ReturnType<typeof client>;

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startProduct({ DATABASE_URL: db.url });
    t = await tokens();
    call = client(svc.url);
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const newProduct = async (stock: number) => {
    const res = await call('POST', '/products', { token: t.admin, body: product({ stock, price: 9.99 }) });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const stockOf = async (id: string) =>
    (await svc.ctx.db.query('SELECT stock FROM products WHERE id = $1', [id])).rows[0].stock as number;
  const reservationCount = async () =>
    (await svc.ctx.db.query('SELECT count(*)::int AS n FROM reservations')).rows[0].n as number;
  const reserve = (body: unknown, token = t.service) =>
    call('POST', '/internal/reservations', { token, body });
  const release = (purchaseId: string) =>
    call('POST', `/internal/reservations/${purchaseId}/release`, { token: t.service });

  it('when a purchase reserves stock, then 201 with the reservation and the product, and stock goes down', async () => {
    const productId = await newProduct(10);
    const purchaseId = randomUUID();
    const res = await reserve({ purchaseId, productId, quantity: 3 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      reservation: {
        purchaseId,
        productId,
        quantity: 3,
        status: 'reserved',
        unitPrice: 9.99,
        createdAt: expect.any(String),
      },
      product: { id: productId, name: 'Test product', price: 9.99, stock: 7 },
    });
    expect(await stockOf(productId)).toBe(7);
    const got = await call('GET', `/internal/reservations/${purchaseId}`, { token: t.service });
    expect(got.status).toBe(200);
    expect(got.body.reservation).toMatchObject({ purchaseId, status: 'reserved', quantity: 3 });
  });

  it('when the price changes or the product is deleted after a reservation, then the reservation keeps the price it was taken at', async () => {
    const productId = await newProduct(10);
    const purchaseId = randomUUID();
    expect((await reserve({ purchaseId, productId, quantity: 2 })).status).toBe(201);
    expect(
      (await call('PATCH', `/products/${productId}`, { token: t.admin, body: { price: 20 } })).status,
    ).toBe(200);
    const afterChange = await call('GET', `/internal/reservations/${purchaseId}`, { token: t.service });
    expect(afterChange.body.reservation.unitPrice).toBe(9.99);
    // A repeat of the same reservation answers the same price, with no product left to read it from.
    expect((await call('DELETE', `/products/${productId}`, { token: t.admin })).status).toBe(204);
    const afterDelete = await call('GET', `/internal/reservations/${purchaseId}`, { token: t.service });
    expect(afterDelete.body.reservation).toMatchObject({ status: 'reserved', unitPrice: 9.99 });
    const repeat = await reserve({ purchaseId, productId, quantity: 2 });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ reservation: { unitPrice: 9.99 }, product: null });
  });

  it('when the same purchaseId reserves twice, then the second answers 200 with the same reservation and stock changed once', async () => {
    const productId = await newProduct(10);
    const body = { purchaseId: randomUUID(), productId, quantity: 4 };
    const first = await reserve(body);
    const second = await reserve(body);
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.reservation).toEqual(first.body.reservation);
    expect(second.body.product.stock).toBe(6);
    expect(await stockOf(productId)).toBe(6);
  });

  it('when the same purchaseId is sent many times at once, then stock changes exactly once', async () => {
    const productId = await newProduct(10);
    const body = { purchaseId: randomUUID(), productId, quantity: 2 };
    const results = await Promise.all(Array.from({ length: 10 }, () => reserve(body)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    expect(await stockOf(productId)).toBe(8);
  });

  it('when a purchaseId is reused for another product or quantity, then 409 RESERVATION_MISMATCH and nothing changes', async () => {
    const productId = await newProduct(10);
    const purchaseId = randomUUID();
    await reserve({ purchaseId, productId, quantity: 1 });
    const res = await reserve({ purchaseId, productId, quantity: 2 });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RESERVATION_MISMATCH');
    expect(await stockOf(productId)).toBe(9);
  });

  it('when 50 reservations of 1 race for a stock of 20, then exactly 20 succeed, 30 get 409 OUT_OF_STOCK, and stock ends at 0', async () => {
    const productId = await newProduct(20);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => reserve({ purchaseId: randomUUID(), productId, quantity: 1 })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.filter((s) => s === 409)).toHaveLength(30);
    expect(results.find((r) => r.status === 409)?.body.code).toBe('OUT_OF_STOCK');
    // Every answer saw a stock that was never negative, and the end state is exactly zero.
    for (const r of results.filter((x) => x.status === 201))
      expect(r.body.product.stock).toBeGreaterThanOrEqual(0);
    expect(await stockOf(productId)).toBe(0);
    const { rows } = await svc.ctx.db.query(
      "SELECT count(*)::int AS n FROM reservations WHERE product_id = $1 AND status = 'reserved'",
      [productId],
    );
    expect(rows[0].n).toBe(20);
  });

  it('when the quantity is more than the stock, then 409 OUT_OF_STOCK with what is available, and no reservation is kept', async () => {
    const productId = await newProduct(2);
    const purchaseId = randomUUID();
    const res = await reserve({ purchaseId, productId, quantity: 3 });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'OUT_OF_STOCK', available: 2, requested: 3 });
    expect(await stockOf(productId)).toBe(2);
    expect((await call('GET', `/internal/reservations/${purchaseId}`, { token: t.service })).status).toBe(
      404,
    );
    // Rolled back whole, so the same purchase can try again once stock is there.
    await call('PATCH', `/products/${productId}`, { token: t.admin, body: { stock: 5 } });
    expect((await reserve({ purchaseId, productId, quantity: 3 })).status).toBe(201);
    expect(await stockOf(productId)).toBe(2);
  });

  it('when the product does not exist, then 404 PRODUCT_NOT_FOUND and no reservation is kept', async () => {
    const before = await reservationCount();
    const res = await reserve({ purchaseId: randomUUID(), productId: randomUUID(), quantity: 1 });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('PRODUCT_NOT_FOUND');
    expect(await reservationCount()).toBe(before);
  });

  it('when a reservation is released twice, then stock is restored once and both answers say released', async () => {
    const productId = await newProduct(10);
    const purchaseId = randomUUID();
    await reserve({ purchaseId, productId, quantity: 4 });
    const first = await release(purchaseId);
    const second = await release(purchaseId);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.body.reservation).toMatchObject({ purchaseId, productId, quantity: 4, status: 'released' });
    expect(second.body.reservation.status).toBe('released');
    expect(await stockOf(productId)).toBe(10);
  });

  it('when many releases of one reservation race, then stock is restored exactly once', async () => {
    const productId = await newProduct(10);
    const purchaseId = randomUUID();
    await reserve({ purchaseId, productId, quantity: 5 });
    const results = await Promise.all(Array.from({ length: 10 }, () => release(purchaseId)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await stockOf(productId)).toBe(10);
  });

  it('when a released purchaseId reserves again, then 409 RESERVATION_RELEASED and stock stays', async () => {
    const productId = await newProduct(10);
    const body = { purchaseId: randomUUID(), productId, quantity: 1 };
    await reserve(body);
    await release(body.purchaseId);
    const res = await reserve(body);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RESERVATION_RELEASED');
    expect(await stockOf(productId)).toBe(10);
  });

  it('when releasing or reading a purchase that never reserved, then 404 RESERVATION_NOT_FOUND', async () => {
    const id = randomUUID();
    const released = await release(id);
    expect(released.status).toBe(404);
    expect(released.body.code).toBe('RESERVATION_NOT_FOUND');
    expect((await call('GET', `/internal/reservations/${id}`, { token: t.service })).status).toBe(404);
  });

  it('when a reservation changes stock, then a cached product shows the new stock at once', async () => {
    const productId = await newProduct(10);
    expect((await call('GET', `/products/${productId}`, { token: t.customer })).body.stock).toBe(10);
    const purchaseId = randomUUID();
    await reserve({ purchaseId, productId, quantity: 3 });
    expect((await call('GET', `/products/${productId}`, { token: t.customer })).body.stock).toBe(7);
    await release(purchaseId);
    expect((await call('GET', `/products/${productId}`, { token: t.customer })).body.stock).toBe(10);
  });

  describe('bad input', () => {
    const valid = () => ({ purchaseId: randomUUID(), productId: randomUUID(), quantity: 1 });
    it.each([
      ['quantity 0', { quantity: 0 }, 'body.quantity'],
      ['quantity -1', { quantity: -1 }, 'body.quantity'],
      ['quantity 1.5', { quantity: 1.5 }, 'body.quantity'],
      ['quantity 1e9', { quantity: 1e9 }, 'body.quantity'],
      ['quantity 101', { quantity: 101 }, 'body.quantity'],
      ['quantity as a string', { quantity: '1' }, 'body.quantity'],
      ['a productId that is not a uuid', { productId: 'abc' }, 'body.productId'],
      ['a purchaseId as a number', { purchaseId: 42 }, 'body.purchaseId'],
      ['no purchaseId', { purchaseId: undefined }, 'body.purchaseId'],
      ['an unknown field', { note: 'x' }, 'body'],
    ])('when the body has %s, then 400 naming %s and nothing changes', async (_what, over, field) => {
      const productId = await newProduct(10);
      const before = await reservationCount();
      const res = await reserve({ ...valid(), productId, ...over });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(await reservationCount()).toBe(before);
      expect(await stockOf(productId)).toBe(10);
    });

    it('when the body is a JSON string, an array or not JSON, then 400 and nothing changes', async () => {
      const before = await reservationCount();
      for (const rawBody of ['"reserve"', '[]', '{"purchaseId":']) {
        const res = await call('POST', '/internal/reservations', { token: t.service, rawBody });
        expect(res.status).toBe(400);
      }
      expect(await reservationCount()).toBe(before);
    });

    it('when the purchaseId in the path is not a uuid, then 400', async () => {
      expect((await release('nope')).status).toBe(400);
      expect((await call('GET', '/internal/reservations/nope', { token: t.service })).status).toBe(400);
    });

    it('when called without an internal token, then 401 and stock is untouched', async () => {
      const productId = await newProduct(10);
      const res = await call('POST', '/internal/reservations', {
        body: { purchaseId: randomUUID(), productId, quantity: 1 },
      });
      expect(res.status).toBe(401);
      expect(await stockOf(productId)).toBe(10);
      expect((await call('POST', `/internal/reservations/${randomUUID()}/release`)).status).toBe(401);
    });

    it('when called with a forged internal token, then 401', async () => {
      const res = await reserve(valid(), 'eyJhbGciOiJIUzI1NiJ9.e30.forged');
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('INTERNAL_TOKEN_INVALID');
    });
  });
});
