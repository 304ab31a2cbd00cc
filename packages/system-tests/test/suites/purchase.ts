// Issue 4: a customer's whole purchase, end to end through the gateway, every service a real process:
// register, log in, list products, buy (and buy again with the same Idempotency-Key), see the purchase,
// stock down by exactly the quantity, cancel, stock back. Another member cannot see or cancel it.
// Run by shop.test.ts, on the system it shares with the bad-input suite.
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { call, expectJsonError } from '../support/http';
import { newMember, type SignedIn } from '../support/members';
import type { TestSystem } from '../support/system';

interface Product {
  id: string;
  name: string;
  price: number;
  stock: number;
}

export function purchaseSuite(system: () => TestSystem): void {
  let gateway: string;
  let ann: SignedIn;
  let bob: SignedIn;
  let product: Product;
  let purchaseId: string;
  const quantity = 2;
  const key = `buy-${randomUUID()}`;

  /** The stock as every reader sees it: product runs twice, and the gateway takes turns between the two. */
  const stockOf = async (id: string) => {
    const seen: number[] = [];
    for (let n = 0; n < 4; n++) {
      const one = await call(gateway, 'GET', `/products/${id}`);
      expect(one.status).toBe(200);
      seen.push((one.body as Product).stock);
    }
    expect(new Set(seen).size).toBe(1);
    return seen[0]!;
  };

  beforeAll(async () => {
    gateway = system().gatewayUrl;
    [ann, bob] = await Promise.all([newMember(gateway, 'Ann'), newMember(gateway, 'Bob')]);
  });

  test('when a member registers and logs in, then the token works through the gateway', async () => {
    const me = await call(gateway, 'GET', '/members/me', { token: ann.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: ann.id, email: ann.email, name: 'Ann', role: 'customer' });
  });

  test('when the JWKS is fetched from the well-known path through the gateway, then it verifies a real token', async () => {
    const jwks = await call(gateway, 'GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=300');
    const set = jwks.body as JSONWebKeySet;
    for (const key of set.keys) expect(key).not.toHaveProperty('d'); // never a private part
    const { payload } = await jwtVerify(ann.token, createLocalJWKSet(set), {
      algorithms: ['ES256'],
      issuer: 'msa-member',
      audience: 'msa',
    });
    expect(payload.sub).toBe(ann.id);
  });

  test("when a token or a member's own data comes back through the gateway, then no cache may store it", async () => {
    const login = await call(gateway, 'POST', '/members/login', {
      body: { email: ann.email, password: ann.password },
    });
    expect(login.status).toBe(200);
    const me = await call(gateway, 'GET', '/members/me', { token: ann.token });
    const mine = await call(gateway, 'GET', '/purchases', { token: ann.token });
    const catalogue = await call(gateway, 'GET', '/products?limit=1');
    expect([login, me, mine].map((a) => a.headers.get('cache-control'))).toEqual([
      'no-store',
      'no-store',
      'no-store',
    ]);
    expect(catalogue.headers.get('cache-control')).toBeNull(); // public: left to the service's choice
  });

  test('when anyone lists products, then the catalogue is there, in stock', async () => {
    const list = await call(gateway, 'GET', '/products?limit=100&sort=-createdAt');
    expect(list.status).toBe(200);
    const items = list.body.items as Product[];
    product = items.find((p) => p.stock >= 10)!;
    expect(product).toBeDefined();
    // Read (and so cache, on Redis) the product at both instances: the purchase must leave no stale copy behind.
    expect(await stockOf(product.id)).toBe(product.stock);
  });

  test('when a member buys with an Idempotency-Key, then 201 completed, and the same key again returns the same purchase', async () => {
    const buy = () =>
      call(gateway, 'POST', '/purchases', {
        token: ann.token,
        headers: { 'idempotency-key': key },
        body: { productId: product.id, quantity },
      });
    const first = await buy();
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      memberId: ann.id,
      productId: product.id,
      quantity,
      unitPrice: product.price,
      status: 'completed',
      idempotencyKey: key,
    });
    purchaseId = first.body.id;

    const again = await buy();
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const otherBody = await call(gateway, 'POST', '/purchases', {
      token: ann.token,
      headers: { 'idempotency-key': key },
      body: { productId: product.id, quantity: quantity + 1 },
    });
    expectJsonError(otherBody, 422, 'IDEMPOTENCY_KEY_REUSED');
  });

  test('when the member lists their purchases, then it is there, once; stock went down by exactly the quantity', async () => {
    const mine = await call(gateway, 'GET', '/purchases', { token: ann.token });
    expect(mine.status).toBe(200);
    expect(mine.body.total).toBe(1);
    expect(mine.body.items.map((p: { id: string }) => p.id)).toEqual([purchaseId]);
    const one = await call(gateway, 'GET', `/purchases/${purchaseId}`, { token: ann.token });
    expect(one.status).toBe(200);
    expect(one.body.status).toBe('completed');

    expect(await stockOf(product.id)).toBe(product.stock - quantity);
  });

  test('when another member asks for the purchase or tries to cancel it, then 404, and their list is empty', async () => {
    expectJsonError(
      await call(gateway, 'GET', `/purchases/${purchaseId}`, { token: bob.token }),
      404,
      'PURCHASE_NOT_FOUND',
    );
    expectJsonError(
      await call(gateway, 'POST', `/purchases/${purchaseId}/cancel`, { token: bob.token, body: {} }),
      404,
      'PURCHASE_NOT_FOUND',
    );
    const theirs = await call(gateway, 'GET', '/purchases', { token: bob.token });
    expect(theirs.status).toBe(200);
    expect(theirs.body).toMatchObject({ items: [], total: 0 });
    expectJsonError(await call(gateway, 'GET', `/purchases/${purchaseId}`), 401);
    expect(await stockOf(product.id)).toBe(product.stock - quantity);
  });

  test('when the member cancels, then it is cancelled and the stock is back; cancelling again changes nothing', async () => {
    const cancel = () =>
      call(gateway, 'POST', `/purchases/${purchaseId}/cancel`, { token: ann.token, body: {} });
    const cancelled = await cancel();
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ id: purchaseId, status: 'cancelled' });
    expect(await stockOf(product.id)).toBe(product.stock);

    const again = await cancel();
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('cancelled');
    expect(await stockOf(product.id)).toBe(product.stock);
    const one = await call(gateway, 'GET', `/purchases/${purchaseId}`, { token: ann.token });
    expect(one.body.status).toBe('cancelled');
  });
}
