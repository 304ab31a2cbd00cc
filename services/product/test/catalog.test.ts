import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@msa/service-kit/testing';
import { DB_KIND, client, product, startProduct, tokens, type ProductService, type Tokens } from './helpers';

describe(`catalogue (${DB_KIND})`, () => {
  let db: TestDatabase;
  let svc: ProductService;
  let t: Tokens;
  let call: ReturnType<typeof client>;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startProduct({ DATABASE_URL: db.url });
    t = await tokens();
    call = client(svc.url);
    const fixtures = [
      { name: 'Apple', category: 'fruit', price: 1.5, stock: 10 },
      { name: 'Banana', category: 'fruit', price: 0.99, stock: 20 },
      { name: 'Cherry', category: 'fruit', price: 7.25, stock: 0 },
      { name: 'Drill', category: 'tools', price: 89.9, stock: 3 },
      { name: 'Hammer', category: 'tools', price: 19.99, stock: 8 },
      { name: 'Saw', category: 'tools', price: 24, stock: 4 },
    ];
    // One after the other, so createdAt follows the array.
    for (const f of fixtures) {
      const res = await call('POST', '/products', { token: t.admin, body: product(f) });
      expect(res.status).toBe(201);
      ids[f.name] = res.body.id;
    }
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const names = (body: { items: Array<{ name: string }> }) => body.items.map((p) => p.name);

  describe('listing', () => {
    it('when listing with no query, then every product comes back by name with total, limit 20 and offset 0', async () => {
      const res = await call('GET', '/products', { token: t.customer });
      expect(res.status).toBe(200);
      expect(names(res.body)).toEqual(['Apple', 'Banana', 'Cherry', 'Drill', 'Hammer', 'Saw']);
      expect(res.body).toMatchObject({ total: 6, limit: 20, offset: 0 });
      expect(res.body.items[0]).toEqual({
        id: ids.Apple,
        name: 'Apple',
        description: 'for tests',
        category: 'fruit',
        price: 1.5,
        stock: 10,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
    });

    it('when filtering by category, then only that category comes back and total counts only those', async () => {
      const res = await call('GET', '/products?category=tools', { token: t.service });
      expect(names(res.body)).toEqual(['Drill', 'Hammer', 'Saw']);
      expect(res.body.total).toBe(3);
    });

    it('when filtering by a price range, then both bounds are inclusive', async () => {
      const res = await call('GET', '/products?minPrice=1.5&maxPrice=24', { token: t.customer });
      expect(names(res.body)).toEqual(['Apple', 'Cherry', 'Hammer', 'Saw']);
    });

    it('when combining category, price and sort by -price, then the filtered set comes back most expensive first', async () => {
      const res = await call('GET', '/products?category=fruit&minPrice=1&sort=-price', { token: t.customer });
      expect(names(res.body)).toEqual(['Cherry', 'Apple']);
    });

    it.each([
      ['price', ['Banana', 'Apple', 'Cherry', 'Hammer', 'Saw', 'Drill']],
      ['-price', ['Drill', 'Saw', 'Hammer', 'Cherry', 'Apple', 'Banana']],
      ['-name', ['Saw', 'Hammer', 'Drill', 'Cherry', 'Banana', 'Apple']],
      ['createdAt', ['Apple', 'Banana', 'Cherry', 'Drill', 'Hammer', 'Saw']],
      ['-createdAt', ['Saw', 'Hammer', 'Drill', 'Cherry', 'Banana', 'Apple']],
    ])('when sorting by %s, then the order follows it', async (sort, expected) => {
      const res = await call('GET', `/products?sort=${sort}`, { token: t.customer });
      expect(names(res.body)).toEqual(expected);
    });

    it('when paging with limit and offset, then pages neither repeat nor skip and total stays the whole count', async () => {
      const seen: string[] = [];
      for (let offset = 0; offset < 6; offset += 4) {
        const res = await call('GET', `/products?sort=price&limit=4&offset=${offset}`, { token: t.customer });
        expect(res.body).toMatchObject({ total: 6, limit: 4, offset });
        seen.push(...names(res.body));
      }
      expect(seen).toEqual(['Banana', 'Apple', 'Cherry', 'Hammer', 'Saw', 'Drill']);
    });

    it('when the offset is past the end, then the page is empty and total is still right', async () => {
      const res = await call('GET', '/products?offset=50', { token: t.customer });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ items: [], total: 6 });
    });

    it.each([
      ['limit=-1', 'query.limit'],
      ['limit=0', 'query.limit'],
      ['limit=101', 'query.limit'],
      ['limit=abc', 'query.limit'],
      ['limit=', 'query.limit'],
      ['offset=-5', 'query.offset'],
      ['offset=1.5', 'query.offset'],
      ['minPrice=-1', 'query.minPrice'],
      ['maxPrice=1.234', 'query.maxPrice'],
      ['minPrice=10&maxPrice=5', 'query.minPrice'],
      ['sort=stock', 'query.sort'],
      ['sort=price&sort=name', 'query.sort'],
      ['colour=red', 'query'],
    ])('when the query is %s, then 400 VALIDATION_FAILED names %s', async (qs, field) => {
      const res = await call('GET', `/products?${qs}`, { token: t.customer });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    });
  });

  describe('one product', () => {
    it('when getting a product by id, then it comes back whole', async () => {
      const res = await call('GET', `/products/${ids.Drill}`, { token: t.customer });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: ids.Drill, name: 'Drill', price: 89.9, stock: 3 });
    });

    it('when the id is unknown, then 404 PRODUCT_NOT_FOUND', async () => {
      const res = await call('GET', `/products/${randomUUID()}`, { token: t.customer });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('PRODUCT_NOT_FOUND');
    });

    it('when the id is not a uuid, then 400, not 500', async () => {
      const res = await call('GET', '/products/not-a-uuid', { token: t.customer });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'params.id' })]);
    });

    it('when called without an internal token, then 401 and no data', async () => {
      const res = await call('GET', `/products/${ids.Drill}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('INTERNAL_TOKEN_REQUIRED');
    });
  });

  describe('admin writes', () => {
    const count = async () => (await svc.ctx.db.query('SELECT count(*)::int AS n FROM products')).rows[0].n;

    it('when an admin creates, patches and deletes a product, then each change is visible and the delete is 404 after', async () => {
      const made = await call('POST', '/products', {
        token: t.admin,
        body: { name: '  Lamp ', category: 'home', price: 12.3, stock: 7 },
      });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({
        name: 'Lamp',
        description: '',
        category: 'home',
        price: 12.3,
        stock: 7,
      });

      const patched = await call('PATCH', `/products/${made.body.id}`, {
        token: t.admin,
        body: { price: 15, stock: 9 },
      });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ name: 'Lamp', price: 15, stock: 9 });
      expect(Date.parse(patched.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(made.body.updatedAt));
      expect((await call('GET', `/products/${made.body.id}`, { token: t.customer })).body.price).toBe(15);

      const deleted = await call('DELETE', `/products/${made.body.id}`, { token: t.admin });
      expect(deleted.status).toBe(204);
      expect((await call('GET', `/products/${made.body.id}`, { token: t.customer })).status).toBe(404);
      expect((await call('DELETE', `/products/${made.body.id}`, { token: t.admin })).status).toBe(404);
      expect(
        (await call('PATCH', `/products/${made.body.id}`, { token: t.admin, body: { stock: 1 } })).status,
      ).toBe(404);
    });

    it('when a customer tries to create, patch or delete, then 403 and nothing changes', async () => {
      const before = await count();
      const tries = [
        call('POST', '/products', { token: t.customer, body: product() }),
        call('PATCH', `/products/${ids.Saw}`, { token: t.customer, body: { price: 1 } }),
        call('DELETE', `/products/${ids.Saw}`, { token: t.customer }),
      ];
      for (const res of await Promise.all(tries)) {
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('FORBIDDEN');
      }
      expect(await count()).toBe(before);
      const saw = await call('GET', `/products/${ids.Saw}`, { token: t.customer });
      expect(saw.body.price).toBe(24);
    });

    it('when another service calls an admin route with no member behind it, then 401', async () => {
      const res = await call('POST', '/products', { token: t.service, body: product() });
      expect(res.status).toBe(401);
    });

    it.each([
      ['no name', 'body.name', product({ name: undefined })],
      ['an empty name', 'body.name', product({ name: '   ' })],
      ['a negative price', 'body.price', product({ price: -1 })],
      ['three decimals', 'body.price', product({ price: 1.005 })],
      ['a tiny fraction of a cent', 'body.price', product({ price: 2.6e-219 })],
      ['a price as a string', 'body.price', product({ price: '10' })],
      ['fractional stock', 'body.stock', product({ stock: 1.5 })],
      ['negative stock', 'body.stock', product({ stock: -1 })],
      ['an unknown field', 'body', product({ colour: 'red' })],
      ['a bad category', 'body.category', product({ category: '<script>' })],
    ])('when creating with %s, then 400 naming %s and nothing is written', async (_what, field, body) => {
      const before = await count();
      const res = await call('POST', '/products', { token: t.admin, body });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
      expect(await count()).toBe(before);
    });

    it('when the body is not JSON, then 400 MALFORMED_JSON', async () => {
      const res = await call('POST', '/products', { token: t.admin, rawBody: '{"name":' });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('MALFORMED_JSON');
    });

    it('when a patch is empty or has one bad field among good ones, then 400 and the product is unchanged', async () => {
      expect((await call('PATCH', `/products/${ids.Hammer}`, { token: t.admin, body: {} })).status).toBe(400);
      const res = await call('PATCH', `/products/${ids.Hammer}`, {
        token: t.admin,
        body: { name: 'Big hammer', stock: -3 },
      });
      expect(res.status).toBe(400);
      const hammer = await call('GET', `/products/${ids.Hammer}`, { token: t.customer });
      expect(hammer.body).toMatchObject({ name: 'Hammer', stock: 8 });
    });
  });

  // Only a shared cache is used (see ProductCache): with no REDIS_URL every read goes to the database.
  (process.env.REDIS_URL ? describe : describe.skip)('cache-aside (needs REDIS_URL)', () => {
    it('when a product was read once, then the next read is served from the cache, and a PATCH through the API invalidates it', async () => {
      const id = ids.Banana;
      expect((await call('GET', `/products/${id}`, { token: t.customer })).body.name).toBe('Banana');
      // Changed behind the service's back: a cached read cannot see it.
      await svc.ctx.db.query(`UPDATE products SET name = 'Changed in SQL' WHERE id = $1`, [id]);
      expect((await call('GET', `/products/${id}`, { token: t.customer })).body.name).toBe('Banana');

      await call('PATCH', `/products/${id}`, { token: t.admin, body: { price: 1.25 } });
      const after = await call('GET', `/products/${id}`, { token: t.customer });
      expect(after.body).toMatchObject({ name: 'Changed in SQL', price: 1.25 });
    });

    it('when a product is deleted, then a cached copy is not served any more', async () => {
      const made = await call('POST', '/products', {
        token: t.admin,
        body: product({ name: 'Short-lived' }),
      });
      expect((await call('GET', `/products/${made.body.id}`, { token: t.customer })).status).toBe(200);
      await call('DELETE', `/products/${made.body.id}`, { token: t.admin });
      expect((await call('GET', `/products/${made.body.id}`, { token: t.customer })).status).toBe(404);
    });
  });
});
