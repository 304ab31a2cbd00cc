import type { Sql } from './sql';

const SEED_NAME = 'catalog-v1';

interface SeedProduct {
  name: string;
  description: string;
  category: string;
  price: string;
  stock: number;
}

export const SEED_CATALOG: readonly SeedProduct[] = [
  {
    name: 'Mechanical keyboard',
    description: 'Tenkeyless, hot-swappable switches.',
    category: 'electronics',
    price: '89.00',
    stock: 25,
  },
  {
    name: 'Wireless mouse',
    description: 'Silent clicks, 70 days per charge.',
    category: 'electronics',
    price: '29.90',
    stock: 60,
  },
  {
    name: 'USB-C hub',
    description: 'Seven ports, 100 W pass-through.',
    category: 'electronics',
    price: '39.50',
    stock: 40,
  },
  {
    name: '27" monitor',
    description: '1440p, IPS, height-adjustable stand.',
    category: 'electronics',
    price: '249.99',
    stock: 10,
  },
  {
    name: 'Designing Data-Intensive Applications',
    description: 'Martin Kleppmann.',
    category: 'books',
    price: '42.00',
    stock: 30,
  },
  {
    name: 'Release It!',
    description: 'Michael T. Nygard, 2nd edition.',
    category: 'books',
    price: '35.95',
    stock: 20,
  },
  {
    name: 'Building Microservices',
    description: 'Sam Newman, 2nd edition.',
    category: 'books',
    price: '44.99',
    stock: 15,
  },
  {
    name: 'Pour-over coffee kit',
    description: 'Dripper, filters and a glass carafe.',
    category: 'kitchen',
    price: '34.00',
    stock: 35,
  },
  {
    name: 'Chef knife',
    description: '20 cm, stainless steel.',
    category: 'kitchen',
    price: '59.00',
    stock: 12,
  },
  {
    name: 'Cast-iron skillet',
    description: '26 cm, pre-seasoned.',
    category: 'kitchen',
    price: '27.50',
    stock: 18,
  },
  {
    name: 'Running shoes',
    description: 'Light trainers for road running.',
    category: 'sports',
    price: '119.00',
    stock: 22,
  },
  { name: 'Yoga mat', description: '6 mm, non-slip.', category: 'sports', price: '24.90', stock: 50 },
];

/** Whether to load the demo catalogue: 'auto' means only in development, so a newcomer sees products at once. */
export const shouldSeed = (setting: 'auto' | 'true' | 'false', nodeEnv: string) =>
  setting === 'true' || (setting === 'auto' && nodeEnv === 'development');

/**
 * Loads the catalogue once per database. The marker row and the products commit together; an
 * instance starting at the same moment waits on the marker's key and then finds the seed done.
 * Returns how many products were inserted (0 when already seeded).
 */
export async function seedCatalog(db: Sql): Promise<number> {
  return db.transaction(async (tx) => {
    const marker = await tx.query(
      'INSERT INTO seeds (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING name',
      [SEED_NAME],
    );
    if (!marker.rowCount) return 0;
    await tx.query(
      `INSERT INTO products (name, description, category, price, stock, created_at, updated_at)
       SELECT s.name, s.description, s.category, s.price::numeric, s.stock,
              -- a distinct timestamp each, so "newest first" has a stable order from the start
              now() - (s.ord * interval '1 second'), now() - (s.ord * interval '1 second')
       FROM jsonb_to_recordset($1::jsonb) AS s(name text, description text, category text, price text, stock int, ord int)`,
      [JSON.stringify(SEED_CATALOG.map((p, ord) => ({ ...p, ord })))],
    );
    return SEED_CATALOG.length;
  });
}
