import { Client } from 'pg';
import { shouldSeed, SEED_CATALOG } from '../src/domain/seed';
import { DB_KIND, client, sharedDatabase, startProduct, tokens } from './helpers';

describe(`seed catalogue (${DB_KIND})`, () => {
  it.each([
    ['auto', 'development', true],
    ['auto', 'production', false],
    ['auto', 'test', false],
    ['true', 'production', true],
    ['false', 'development', false],
  ] as const)('when SEED_CATALOG is %s in %s, then seeding is %s', (setting, env, expected) => {
    expect(shouldSeed(setting, env)).toBe(expected);
  });

  it('when several instances start at once on a fresh database, then the catalogue is loaded once and a new user sees it', async () => {
    const db = await sharedDatabase();
    try {
      const env = { DATABASE_URL: db.url, SEED_CATALOG: 'true' };
      const instances = await Promise.all([startProduct(env), startProduct(env), startProduct(env)]);
      const t = await tokens();
      const page = await client(instances[0]!.url)('GET', '/products?limit=100', { token: t.customer });
      expect(page.body.total).toBe(SEED_CATALOG.length);
      expect(new Set(page.body.items.map((p: { category: string }) => p.category))).toEqual(
        new Set(['electronics', 'books', 'kitchen', 'sports']),
      );
      expect(page.body.items.every((p: { stock: number }) => p.stock > 0)).toBe(true);

      // A product an admin removed stays removed when an instance starts again.
      const victim = page.body.items[0].id;
      expect(
        (await client(instances[1]!.url)('DELETE', `/products/${victim}`, { token: t.admin })).status,
      ).toBe(204);
      await Promise.all(instances.map((i) => i.stop()));
      const again = await startProduct(env);
      try {
        const after = await client(again.url)('GET', '/products?limit=100', { token: t.customer });
        expect(after.body.total).toBe(SEED_CATALOG.length - 1);
      } finally {
        await again.stop();
      }
    } finally {
      await db.close();
    }
  });

  it('when SEED_CATALOG is false, then the catalogue starts empty', async () => {
    const db = await sharedDatabase();
    try {
      const svc = await startProduct({ DATABASE_URL: db.url, SEED_CATALOG: 'false' });
      await svc.stop();
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        expect((await c.query('SELECT count(*)::int AS n FROM products')).rows[0].n).toBe(0);
      } finally {
        await c.end();
      }
    } finally {
      await db.close();
    }
  });
});
