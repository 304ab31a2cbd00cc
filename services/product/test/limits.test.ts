import { MAX_PRICE, MAX_QUANTITY, MAX_STOCK, numericCapacity } from '@msa/contracts';
import { createTestDatabase, type TestDatabase } from '@msa/service-kit/testing';
import { DB_KIND, startProduct, type ProductService } from './helpers';

// The shop's limits (packages/contracts) against the column types the migrations really made: a limit
// raised without a migration to hold it fails here, not as "numeric field overflow" in production.
describe(`domain limits held by the SQL types (${DB_KIND})`, () => {
  let db: TestDatabase;
  let svc: ProductService;

  beforeAll(async () => {
    db = await createTestDatabase();
    svc = await startProduct({ DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await svc?.stop();
    await db?.drop();
  });

  const column = async (table: string, name: string) => {
    const { rows } = await svc.ctx.db.query(
      `SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns
       WHERE table_name = $1 AND column_name = $2`,
      [table, name],
    );
    return rows[0] as { data_type: string; numeric_precision: number; numeric_scale: number };
  };

  it.each([
    ['products', 'price'],
    ['reservations', 'unit_price'],
  ])('when a price is at MAX_PRICE, then %s.%s holds it', async (table, name) => {
    const type = await column(table, name);
    expect(type.data_type).toBe('numeric');
    expect(type.numeric_scale).toBe(2);
    expect(numericCapacity(type.numeric_precision, type.numeric_scale)).toBeGreaterThanOrEqual(MAX_PRICE);
  });

  it('when stock is at MAX_STOCK, then products.stock (integer) holds it', async () => {
    expect((await column('products', 'stock')).data_type).toBe('integer');
    expect(MAX_STOCK).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('when a reservation takes MAX_QUANTITY, then the table check allows it and nothing more', async () => {
    const { rows } = await svc.ctx.db.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
       WHERE conrelid = 'reservations'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%quantity%'`,
    );
    expect(rows[0].def).toMatch(new RegExp(`quantity <= ${MAX_QUANTITY}\\b`));
  });
});
