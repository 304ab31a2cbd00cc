import { MAX_PRICE, MAX_STOCK } from '@msa/contracts';
import { errors, z } from '@msa/service-kit';
import type { Sql } from './sql';

export interface Product {
  id: string;
  name: string;
  description: string;
  category: string;
  /** Money: a number with at most 2 decimals (numeric(12,2) in the database). */
  price: number;
  stock: number;
  createdAt: string;
  updatedAt: string;
}

export interface ProductRow {
  id: string;
  name: string;
  description: string;
  category: string;
  price: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
}

export const PRODUCT_COLUMNS = 'id, name, description, category, price, stock, created_at, updated_at';

// pg returns numeric as a string so no precision is lost on the way; 2 decimals fit a double exactly enough.
export const toProduct = (r: ProductRow): Product => ({
  id: r.id,
  name: r.name,
  description: r.description,
  category: r.category,
  price: Number(r.price),
  stock: r.stock,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

// 19.99 * 100 is 1998.9999999999998 in floating point: compare with a tolerance, not ===.
// Whole cents, as numeric(12,2) stores them: a price like 1e-300 is within 1e-6 of 0 cents but is not 0.
const hasAtMostTwoDecimals = (v: number) => {
  const cents = Math.round(v * 100);
  return Math.abs(v * 100 - cents) < 1e-6 && (cents !== 0 || v === 0);
};

const price = z.number().min(0).max(MAX_PRICE).refine(hasAtMostTwoDecimals, 'must have at most 2 decimals');
const name = z.string().trim().min(1).max(200);
const description = z.string().trim().max(2000);
const category = z
  .string()
  .trim()
  .min(1)
  .max(50)
  .regex(/^[\p{L}\p{N} &'-]+$/u, "letters, digits, spaces and - & ' only");
const stock = z.number().int().min(0).max(MAX_STOCK);

export const idParams = z.object({ id: z.uuid() }).strict();

export const createProductBody = z
  .object({ name, description: description.default(''), category, price, stock })
  .strict();
export type CreateProduct = z.infer<typeof createProductBody>;

export const patchProductBody = z
  .object({
    name: name.optional(),
    description: description.optional(),
    category: category.optional(),
    price: price.optional(),
    stock: stock.optional(),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'give at least one field to change');
export type PatchProduct = z.infer<typeof patchProductBody>;

const SORTS = {
  price: 'price ASC',
  '-price': 'price DESC',
  name: 'name ASC',
  '-name': 'name DESC',
  createdAt: 'created_at ASC',
  '-createdAt': 'created_at DESC',
} as const;

// Query strings are strings: coerce, but never let '' or 'abc' slip through as 0 or NaN.
const queryNumber = z
  .string()
  .regex(/^\d+(\.\d{1,2})?$/, 'must be a non-negative number with at most 2 decimals')
  .transform(Number);
const queryInt = z
  .string()
  .regex(/^\d{1,9}$/, 'must be a non-negative integer')
  .transform(Number);

export const listProductsQuery = z
  .object({
    limit: queryInt.pipe(z.number().min(1).max(100)).default(20),
    offset: queryInt.pipe(z.number().max(1_000_000)).default(0),
    category: category.optional(),
    minPrice: queryNumber.pipe(z.number().max(MAX_PRICE)).optional(),
    maxPrice: queryNumber.pipe(z.number().max(MAX_PRICE)).optional(),
    sort: z.enum(Object.keys(SORTS) as [keyof typeof SORTS, ...(keyof typeof SORTS)[]]).default('name'),
  })
  .strict()
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    message: 'minPrice must not be greater than maxPrice',
    path: ['minPrice'],
  });
export type ListProductsQuery = z.infer<typeof listProductsQuery>;

export interface ProductPage {
  items: Product[];
  total: number;
  limit: number;
  offset: number;
}

export async function listProducts(db: Sql, q: ListProductsQuery): Promise<ProductPage> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.category !== undefined) {
    args.push(q.category);
    where.push(`category = $${args.length}`);
  }
  if (q.minPrice !== undefined) {
    args.push(q.minPrice);
    where.push(`price >= $${args.length}`);
  }
  if (q.maxPrice !== undefined) {
    args.push(q.maxPrice);
    where.push(`price <= $${args.length}`);
  }
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  // The id as the last key makes the order total, so pages never repeat or skip a row.
  const order = `${SORTS[q.sort]}, id ASC`;
  const [page, count] = await Promise.all([
    db.query<ProductRow>(
      `SELECT ${PRODUCT_COLUMNS} FROM products ${filter} ORDER BY ${order} LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
      [...args, q.limit, q.offset],
    ),
    db.query<{ total: number }>(`SELECT count(*)::int AS total FROM products ${filter}`, args),
  ]);
  return {
    items: page.rows.map(toProduct),
    total: count.rows[0]?.total ?? 0,
    limit: q.limit,
    offset: q.offset,
  };
}

export async function findProduct(db: Sql, id: string): Promise<Product | undefined> {
  const { rows } = await db.query<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE id = $1`, [id]);
  return rows[0] && toProduct(rows[0]);
}

export const productNotFound = (id: string) =>
  new errors.NotFoundError(`no product with id ${id}`, 'PRODUCT_NOT_FOUND');

export async function createProduct(db: Sql, p: CreateProduct): Promise<Product> {
  const { rows } = await db.query<ProductRow>(
    `INSERT INTO products (name, description, category, price, stock) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${PRODUCT_COLUMNS}`,
    [p.name, p.description, p.category, p.price.toFixed(2), p.stock],
  );
  return toProduct(rows[0]!);
}

const PATCHABLE = {
  name: 'name',
  description: 'description',
  category: 'category',
  price: 'price',
  stock: 'stock',
};

export async function updateProduct(db: Sql, id: string, patch: PatchProduct): Promise<Product> {
  const sets: string[] = [];
  const args: unknown[] = [id];
  for (const [field, column] of Object.entries(PATCHABLE)) {
    const value = patch[field as keyof PatchProduct];
    if (value === undefined) continue;
    args.push(field === 'price' ? (value as number).toFixed(2) : value);
    sets.push(`${column} = $${args.length}`);
  }
  // One statement: the change is applied whole or not at all.
  const { rows } = await db.query<ProductRow>(
    `UPDATE products SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING ${PRODUCT_COLUMNS}`,
    args,
  );
  if (!rows[0]) throw productNotFound(id);
  return toProduct(rows[0]);
}

export async function deleteProduct(db: Sql, id: string): Promise<void> {
  const { rowCount } = await db.query('DELETE FROM products WHERE id = $1', [id]);
  if (!rowCount) throw productNotFound(id);
}
