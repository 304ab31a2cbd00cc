import { randomUUID } from 'node:crypto';
import { buyAs, call, eventually, newMember } from './support/client';
import { Shop } from './support/shop';

// The real distributor, product and purchase services, talking through the registry.
describe(`purchase with the real product service (${process.env.DATABASE_URL ? 'Postgres' : 'embedded PGlite'})`, () => {
  const shop = new Shop();
  const getPurchase = (id: string) => call(shop.purchase.url, shop.admin, 'GET', `/purchases/${id}`);

  beforeAll(() => shop.start());
  afterAll(() => shop.stop());

  it('when a member buys, then the purchase is completed, priced, and stock goes down by the quantity', async () => {
    const productId = await shop.createProduct(10, 12.5);
    const alice = newMember();
    const res = await buyAs(shop.purchase.url, alice, { productId, quantity: 3 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      memberId: alice.id,
      productId,
      quantity: 3,
      unitPrice: 12.5,
      total: 37.5,
      status: 'completed',
    });
    expect(await shop.stockOf(productId)).toBe(7);
  });

  it('when the most expensive product is bought 100 at a time, then the total is stored, not overflowed', async () => {
    const productId = await shop.createProduct(200, 9_999_999_999.99);
    const res = await buyAs(shop.purchase.url, newMember(), { productId, quantity: 100 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      unitPrice: 9_999_999_999.99,
      total: 999_999_999_999,
      status: 'completed',
    });
    expect(await shop.stockOf(productId)).toBe(100);
  });

  it('when the same key is sent 5 times, then one purchase and stock goes down once', async () => {
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const key = randomUUID();
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push(await buyAs(shop.purchase.url, alice, { productId, quantity: 2 }, key));
    expect(answers.map((a) => a.status)).toEqual([201, 200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(await shop.stockOf(productId)).toBe(8);
  });

  it('when the same key is sent 5 times at once, then one purchase and stock goes down once', async () => {
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => buyAs(shop.purchase.url, alice, { productId, quantity: 4 }, key)),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const a of answers) expect([200, 201, 202]).toContain(a.status);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const settled = await eventually(
      () => getPurchase(answers[0]!.body.id),
      (r) => r.body.status === 'completed',
    );
    expect(settled.body.status).toBe('completed');
    expect(await shop.stockOf(productId)).toBe(6);
    const list = await call(shop.purchase.url, alice, 'GET', '/purchases');
    expect(list.body.total).toBe(1);
  });

  it('when the same key reaches two purchase instances at once, then still one purchase and one stock change', async () => {
    const other = await shop.startPurchase();
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        buyAs((i % 2 ? other : shop.purchase).url, alice, { productId, quantity: 1 }, key),
      ),
    );
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    await eventually(
      () => getPurchase(answers[0]!.body.id),
      (r) => r.body.status === 'completed',
    );
    expect(await shop.stockOf(productId)).toBe(9);
  });

  it('when stock is short, then 409 OUT_OF_STOCK, the purchase failed, stock unchanged, and a repeat answers the same', async () => {
    const productId = await shop.createProduct(2);
    const alice = newMember();
    const key = randomUUID();
    const res = await buyAs(shop.purchase.url, alice, { productId, quantity: 3 }, key);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('OUT_OF_STOCK');
    expect(res.body.purchase).toMatchObject({
      status: 'failed',
      failureReason: 'out-of-stock',
    });
    expect(await shop.stockOf(productId)).toBe(2);

    const again = await buyAs(shop.purchase.url, alice, { productId, quantity: 3 }, key);
    expect(again.status).toBe(409);
    expect(again.body.purchase.id).toBe(res.body.purchase.id);
  });

  it('when the product does not exist, then 404 PRODUCT_NOT_FOUND and no purchase is kept, even on a repeat of the key', async () => {
    const alice = newMember();
    const key = randomUUID();
    const rowsOf = async () =>
      (await shop.purchase.ctx.db.query('SELECT id FROM purchases WHERE member_id = $1', [alice.id])).rows;
    const body = { productId: randomUUID(), quantity: 1 };
    const res = await buyAs(shop.purchase.url, alice, body, key);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('PRODUCT_NOT_FOUND');
    expect(await rowsOf()).toEqual([]);
    const again = await buyAs(shop.purchase.url, alice, body, key);
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('PRODUCT_NOT_FOUND');
    expect(await rowsOf()).toEqual([]);
  });

  it('when product is stopped, then 503 and nothing is reserved, even after product is back', async () => {
    const productId = await shop.createProduct(5);
    const alice = newMember();
    const key = randomUUID();
    await shop.stopProduct();
    let id: string;
    try {
      const res = await buyAs(shop.purchase.url, alice, { productId, quantity: 1 }, key);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('PRODUCT_UNAVAILABLE');
      id = res.body.purchase.id;
      // Other features keep working while product is down.
      expect((await call(shop.purchase.url, alice, 'GET', `/purchases/${id}`)).body.status).toBe('pending');
    } finally {
      await shop.startProduct();
    }
    expect(await shop.stockOf(productId)).toBe(5);
    // Back up: the reconciler finds no reservation and fails the purchase; nothing is taken.
    const settled = await eventually(
      () => getPurchase(id),
      (r) => r.body.status !== 'pending',
    );
    expect(settled.body).toMatchObject({ status: 'failed', failureReason: 'product-unavailable' });
    expect(await shop.stockOf(productId)).toBe(5);
    const again = await buyAs(shop.purchase.url, alice, { productId, quantity: 1 }, key);
    expect(again.status).toBe(503);
    expect(again.body.purchase.id).toBe(id);
  });

  it('when a request dies right after reserving, then the reconciler completes the purchase and stock goes down once', async () => {
    const faulty = await shop.startPurchase({ FAULT_INJECT: 'crash-after-reserve' });
    const productId = await shop.createProduct(10, 3.33);
    const alice = newMember();
    const key = randomUUID();
    const crashed = await buyAs(faulty.url, alice, { productId, quantity: 3 }, key);
    expect(crashed.status).toBe(500);
    const { rows } = await shop.purchase.ctx.db.query(
      'SELECT id, status FROM purchases WHERE member_id = $1 AND idempotency_key = $2',
      [alice.id, key],
    );
    expect(rows[0].status).toBe('pending');
    expect(await shop.stockOf(productId)).toBe(7);

    const settled = await eventually(
      () => getPurchase(rows[0].id),
      (r) => r.body.status !== 'pending',
    );
    expect(settled.body).toMatchObject({ status: 'completed', unitPrice: 3.33, total: 9.99 });
    expect(await shop.stockOf(productId)).toBe(7);
    const again = await buyAs(shop.purchase.url, alice, { productId, quantity: 3 }, key);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(rows[0].id);
    expect(await shop.stockOf(productId)).toBe(7);
  });

  it('when the member repeats a request that died after reserving, then the repeat settles it', async () => {
    const faulty = await shop.startPurchase({
      FAULT_INJECT: 'crash-after-reserve',
      RECONCILE_AFTER_MS: '600000',
    });
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const key = randomUUID();
    expect((await buyAs(faulty.url, alice, { productId, quantity: 1 }, key)).status).toBe(500);
    const again = await buyAs(shop.purchase.url, alice, { productId, quantity: 1 }, key);
    expect([200, 202]).toContain(again.status); // 202 only if the reconciler had it claimed at that moment
    const settled = await eventually(
      () => getPurchase(again.body.id),
      (r) => r.body.status === 'completed',
    );
    expect(settled.body.status).toBe('completed');
    expect(await shop.stockOf(productId)).toBe(9);
  });

  it('when members list purchases, then each sees only their own, newest first, in pages', async () => {
    const productId = await shop.createProduct(20);
    const alice = newMember();
    const bob = newMember();
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++)
      ids.push((await buyAs(shop.purchase.url, alice, { productId, quantity: i })).body.id);
    await buyAs(shop.purchase.url, bob, { productId, quantity: 1 });

    const first = await call(shop.purchase.url, alice, 'GET', '/purchases?limit=2');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    const second = await call(shop.purchase.url, alice, 'GET', '/purchases?limit=2&offset=2');
    expect(second.body.items).toHaveLength(1);
    const seen = [...first.body.items, ...second.body.items].map((p: { id: string }) => p.id);
    expect(seen).toEqual([...ids].reverse());
    expect(
      [...first.body.items, ...second.body.items].every((p: { memberId: string }) => p.memberId === alice.id),
    ).toBe(true);
    const bobs = await call(shop.purchase.url, bob, 'GET', '/purchases');
    expect(bobs.body.total).toBe(1);
    expect(bobs.body.items[0].memberId).toBe(bob.id);
  });

  it("when a member asks for another member's purchase, then 404 (existence not revealed); an admin gets it", async () => {
    const productId = await shop.createProduct(5);
    const alice = newMember();
    const { body } = await buyAs(shop.purchase.url, alice, { productId, quantity: 1 });
    const other = await call(shop.purchase.url, newMember(), 'GET', `/purchases/${body.id}`);
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('PURCHASE_NOT_FOUND');
    expect((await call(shop.purchase.url, alice, 'GET', `/purchases/${body.id}`)).body.id).toBe(body.id);
    const asAdmin = await call(shop.purchase.url, shop.admin, 'GET', `/purchases/${body.id}`);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.body.memberId).toBe(alice.id);
  });

  it('when a purchase is cancelled, then stock comes back once, and cancelling again answers 200 without another change', async () => {
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const { body } = await buyAs(shop.purchase.url, alice, { productId, quantity: 4 });
    expect(await shop.stockOf(productId)).toBe(6);

    const byOther = await call(shop.purchase.url, newMember(), 'POST', `/purchases/${body.id}/cancel`);
    expect(byOther.status).toBe(404);
    expect(await shop.stockOf(productId)).toBe(6);

    const cancelled = await call(shop.purchase.url, alice, 'POST', `/purchases/${body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(await shop.stockOf(productId)).toBe(10);

    const twice = await call(shop.purchase.url, alice, 'POST', `/purchases/${body.id}/cancel`);
    expect(twice.status).toBe(200);
    expect(twice.body.status).toBe('cancelled');
    expect(await shop.stockOf(productId)).toBe(10);
  });

  it('when an admin cancels a member’s purchase, then it is cancelled', async () => {
    const productId = await shop.createProduct(3);
    const { body } = await buyAs(shop.purchase.url, newMember(), { productId, quantity: 3 });
    const res = await call(shop.purchase.url, shop.admin, 'POST', `/purchases/${body.id}/cancel`);
    expect(res.status).toBe(200);
    expect(await shop.stockOf(productId)).toBe(3);
  });

  it('when a failed purchase is cancelled, then 409 NOT_CANCELLABLE', async () => {
    const productId = await shop.createProduct(1);
    const alice = newMember();
    const res = await buyAs(shop.purchase.url, alice, { productId, quantity: 2 });
    const cancel = await call(shop.purchase.url, alice, 'POST', `/purchases/${res.body.purchase.id}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.code).toBe('NOT_CANCELLABLE');
  });

  it('when a cancel dies between the release and the mark, then the reconciler finishes it and stock comes back once', async () => {
    const faulty = await shop.startPurchase({ FAULT_INJECT: 'crash-after-release' });
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const { body } = await buyAs(shop.purchase.url, alice, { productId, quantity: 5 });
    expect((await call(faulty.url, alice, 'POST', `/purchases/${body.id}/cancel`)).status).toBe(500);
    expect((await shop.purchaseRow(body.id)).status).toBe('cancelling');
    expect(await shop.stockOf(productId)).toBe(10);

    const settled = await eventually(
      () => getPurchase(body.id),
      (r) => r.body.status === 'cancelled',
    );
    expect(settled.body.status).toBe('cancelled');
    expect(await shop.stockOf(productId)).toBe(10);
  });

  it('when product is down during a cancel, then 503 and the cancel is finished once product is back', async () => {
    const productId = await shop.createProduct(10);
    const alice = newMember();
    const { body } = await buyAs(shop.purchase.url, alice, { productId, quantity: 2 });
    await shop.stopProduct();
    try {
      const res = await call(shop.purchase.url, alice, 'POST', `/purchases/${body.id}/cancel`);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('PRODUCT_UNAVAILABLE');
      expect(res.body.purchase.status).toBe('cancelling');
    } finally {
      await shop.startProduct();
    }
    const settled = await eventually(
      () => getPurchase(body.id),
      (r) => r.body.status === 'cancelled',
    );
    expect(settled.body.status).toBe('cancelled');
    expect(await shop.stockOf(productId)).toBe(10);
  });

  describe('a purchase left pending (its request died after reserving), settled by the reconciler later', () => {
    const HOUR = 3_600_000;
    const PAST_RECONCILE_AFTER = 11 * 60_000; // the isolated instance waits 10 minutes; the hold is 15
    // One instance for these tests: its reconciler takes only the purchase a test backdated.
    let isolated: typeof shop.purchase;
    beforeAll(async () => {
      isolated = await shop.startIsolatedPurchase({ FAULT_INJECT: 'crash-after-reserve' });
    });

    /** A purchase whose stock is reserved at product and whose request died before settling it. */
    const crashedPurchase = async (stock: number, price: number, quantity: number) => {
      const purchase = isolated;
      const productId = await shop.createProduct(stock, price);
      shop.initialStock.delete(productId); // its purchases live in the isolated database: checked here instead
      const alice = newMember();
      const key = randomUUID();
      expect((await buyAs(purchase.url, alice, { productId, quantity }, key)).status).toBe(500);
      const { rows } = await purchase.ctx.db.query(
        'SELECT id, status FROM purchases WHERE idempotency_key = $1',
        [key],
      );
      expect(rows[0].status).toBe('pending');
      expect(await shop.stockOf(productId)).toBe(stock - quantity);
      return { purchase, productId, alice, key, id: rows[0].id as string };
    };
    const settledOn = (svc: typeof shop.purchase, id: string) =>
      eventually(
        () => call(svc.url, shop.admin, 'GET', `/purchases/${id}`),
        (r) => r.body.status !== 'pending',
      );

    it('when its product is deleted meanwhile, then it is completed at the price its stock was reserved at, never without one', async () => {
      const c = await crashedPurchase(10, 4.25, 2);
      await shop.deleteProduct(c.productId);
      await shop.backdate(c.purchase, c.id, PAST_RECONCILE_AFTER);
      const settled = await settledOn(c.purchase, c.id);
      expect(settled.body).toMatchObject({ status: 'completed', unitPrice: 4.25, total: 8.5 });
    });

    it('when its price changes meanwhile, then it is charged the price its stock was reserved at', async () => {
      const c = await crashedPurchase(10, 4.25, 2);
      const patched = await call(shop.product.url, shop.admin, 'PATCH', `/products/${c.productId}`, {
        body: { price: 99 },
      });
      expect(patched.status).toBe(200);
      await shop.backdate(c.purchase, c.id, PAST_RECONCILE_AFTER);
      expect((await settledOn(c.purchase, c.id)).body).toMatchObject({
        status: 'completed',
        unitPrice: 4.25,
        total: 8.5,
      });
    });

    it('when its stock cannot be priced (reserved before prices were recorded, product deleted since), then it is failed and the reservation released, never completed', async () => {
      const c = await crashedPurchase(10, 4.25, 2);
      // What migration 002 leaves on a reservation whose product was already gone: no price.
      await shop.product.ctx.db.query('UPDATE reservations SET unit_price = NULL WHERE purchase_id = $1', [
        c.id,
      ]);
      await shop.deleteProduct(c.productId);
      await shop.backdate(c.purchase, c.id, PAST_RECONCILE_AFTER);
      const settled = await settledOn(c.purchase, c.id);
      expect(settled.body).toMatchObject({
        status: 'failed',
        failureReason: 'unpriced',
        unitPrice: null,
        total: null,
      });
      expect((await shop.reservationOf(c.id)).status).toBe('released');
      const again = await buyAs(c.purchase.url, c.alice, { productId: c.productId, quantity: 2 }, c.key);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('PRODUCT_UNPRICED');
    });

    it('when it is still pending after its hold expired, then its stock is given back and it is failed, not completed late', async () => {
      const c = await crashedPurchase(10, 4.25, 3);
      await shop.backdate(c.purchase, c.id, HOUR, true); // HOLD_EXPIRY_MS is 15 minutes by default
      const settled = await settledOn(c.purchase, c.id);
      expect(settled.body).toMatchObject({ status: 'failed', failureReason: 'expired', total: null });
      expect(await shop.stockOf(c.productId)).toBe(10);
      expect((await shop.reservationOf(c.id)).status).toBe('released');
      const again = await buyAs(c.purchase.url, c.alice, { productId: c.productId, quantity: 3 }, c.key);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('PURCHASE_EXPIRED');
      expect(await shop.stockOf(c.productId)).toBe(10);
    });
  });

  describe('with a cap of 5 units of one product per member (MEMBER_PRODUCT_LIMIT=5)', () => {
    let capped: typeof shop.purchase;
    beforeAll(async () => {
      capped = await shop.startPurchase({ MEMBER_PRODUCT_LIMIT: '5' });
    });

    it('when a member would go over it, then 409 MEMBER_LIMIT_REACHED, no row and no stock taken; other products and members are not affected', async () => {
      const productId = await shop.createProduct(50);
      const other = await shop.createProduct(50);
      const alice = newMember();
      expect((await buyAs(capped.url, alice, { productId, quantity: 3 })).status).toBe(201);
      const before = await shop.purchase.ctx.db.query('SELECT count(*)::int AS n FROM purchases');
      const over = await buyAs(capped.url, alice, { productId, quantity: 3 });
      expect(over.status).toBe(409);
      expect(over.body).toMatchObject({ code: 'MEMBER_LIMIT_REACHED', limit: 5, held: 3, requested: 3 });
      expect((await shop.purchase.ctx.db.query('SELECT count(*)::int AS n FROM purchases')).rows).toEqual(
        before.rows,
      );
      expect(await shop.stockOf(productId)).toBe(47);
      expect((await buyAs(capped.url, alice, { productId, quantity: 2 })).status).toBe(201);
      expect((await buyAs(capped.url, alice, { productId: other, quantity: 5 })).status).toBe(201);
      expect((await buyAs(capped.url, newMember(), { productId, quantity: 5 })).status).toBe(201);
      expect(await shop.stockOf(productId)).toBe(40);
    });

    it('when a member sends many buys at once, then together they never pass it', async () => {
      const productId = await shop.createProduct(50);
      const bob = newMember();
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => buyAs(capped.url, bob, { productId, quantity: 2 })),
      );
      expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
      expect(answers.filter((a) => a.status === 409)).toHaveLength(4);
      expect(await shop.stockOf(productId)).toBe(46);
    });

    it('when a repeat of a key that was bought comes, then it answers that purchase, not the cap', async () => {
      const productId = await shop.createProduct(50);
      const carol = newMember();
      const key = randomUUID();
      const first = await buyAs(capped.url, carol, { productId, quantity: 5 }, key);
      expect(first.status).toBe(201);
      const again = await buyAs(capped.url, carol, { productId, quantity: 5 }, key);
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(first.body.id);
    });
  });

  it('after all of the above, initial stock = current stock + completed quantities, and nothing is left unsettled', async () => {
    const { rows: unsettled } = await shop.purchase.ctx.db.query(
      "SELECT id FROM purchases WHERE status IN ('pending', 'cancelling')",
    );
    expect(unsettled).toEqual([]);
    for (const [productId, initial] of shop.initialStock) {
      const { rows } = await shop.purchase.ctx.db.query(
        "SELECT coalesce(sum(quantity), 0)::int AS sold FROM purchases WHERE product_id = $1 AND status = 'completed'",
        [productId],
      );
      expect({ productId, stock: (await shop.stockOf(productId)) + rows[0].sold }).toEqual({
        productId,
        stock: initial,
      });
    }
  });
});
