import { MAX_QUANTITY } from '@msa/contracts';
import { errors, z } from '@msa/service-kit';
import type { Sql } from './sql';

export const reserveBody = z
  .object({
    purchaseId: z.uuid(),
    productId: z.uuid(),
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
  })
  .strict();
export type ReserveRequest = z.infer<typeof reserveBody>;

export const purchaseParams = z.object({ purchaseId: z.uuid() }).strict();

export interface Reservation {
  purchaseId: string;
  productId: string;
  quantity: number;
  status: 'reserved' | 'released';
  /**
   * The product's price when the stock was taken: what the purchase is charged, even if the price
   * changes or the product is deleted before the purchase is settled. null only for a reservation
   * taken before prices were recorded (migration 002) whose product was already gone.
   */
  unitPrice: number | null;
  createdAt: string;
}

export interface StockView {
  id: string;
  name: string;
  price: number;
  stock: number;
}

export interface ReserveOutcome {
  /** false when this purchase id had already reserved: nothing changed this time. */
  created: boolean;
  reservation: Reservation;
  product: StockView | null;
}

interface ReservationRow {
  purchase_id: string;
  product_id: string;
  quantity: number;
  status: 'reserved' | 'released';
  unit_price: string | null;
  created_at: Date;
}

const RESERVATION_COLUMNS = 'purchase_id, product_id, quantity, status, unit_price, created_at';

const toReservation = (r: ReservationRow): Reservation => ({
  purchaseId: r.purchase_id,
  productId: r.product_id,
  quantity: r.quantity,
  status: r.status,
  unitPrice: r.unit_price === null ? null : Number(r.unit_price),
  createdAt: r.created_at.toISOString(),
});

const toStock = (r: { id: string; name: string; price: string; stock: number }): StockView => ({
  id: r.id,
  name: r.name,
  price: Number(r.price),
  stock: r.stock,
});

class Rollback extends Error {
  constructor(readonly reason: 'no-stock') {
    super(reason);
  }
}

/**
 * Takes stock for one purchase, once. The reservation row and the stock change commit together or
 * not at all; the conditional UPDATE is what keeps stock from going below zero under concurrency
 * (a second writer waits for the row lock and re-checks `stock >= q` on the committed value).
 */
export async function reserve(db: Sql, req: ReserveRequest): Promise<ReserveOutcome> {
  let taken: { reservation: Reservation; product: StockView } | undefined;
  try {
    taken = await db.transaction(async (tx) => {
      const inserted = await tx.query<ReservationRow>(
        `INSERT INTO reservations (purchase_id, product_id, quantity, status) VALUES ($1, $2, $3, 'reserved')
         ON CONFLICT (purchase_id) DO NOTHING RETURNING ${RESERVATION_COLUMNS}`,
        [req.purchaseId, req.productId, req.quantity],
      );
      if (!inserted.rows[0]) return undefined;
      const updated = await tx.query<{ id: string; name: string; price: string; stock: number }>(
        `UPDATE products SET stock = stock - $2, updated_at = now() WHERE id = $1 AND stock >= $2
         RETURNING id, name, price, stock`,
        [req.productId, req.quantity],
      );
      if (!updated.rows[0]) throw new Rollback('no-stock');
      const priced = await tx.query<ReservationRow>(
        `UPDATE reservations SET unit_price = $2 WHERE purchase_id = $1 RETURNING ${RESERVATION_COLUMNS}`,
        [req.purchaseId, updated.rows[0].price],
      );
      return { reservation: toReservation(priced.rows[0]!), product: toStock(updated.rows[0]) };
    });
  } catch (err) {
    if (!(err instanceof Rollback)) throw err;
    // Rolled back: tell a missing product from a short one, outside the transaction.
    const { rows } = await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [
      req.productId,
    ]);
    if (!rows[0]) throw new errors.NotFoundError(`no product with id ${req.productId}`, 'PRODUCT_NOT_FOUND');
    throw new errors.ConflictError('not enough stock', 'OUT_OF_STOCK', {
      productId: req.productId,
      requested: req.quantity,
      available: rows[0].stock,
    });
  }
  if (taken) return { created: true, ...taken };

  // Already reserved under this purchase id: answer what was reserved, change nothing.
  const existing = await findReservation(db, req.purchaseId);
  if (!existing) throw new Error(`reservation ${req.purchaseId} vanished`);
  if (existing.productId !== req.productId || existing.quantity !== req.quantity) {
    throw new errors.ConflictError(
      'this purchase id already reserved a different product or quantity',
      'RESERVATION_MISMATCH',
      { reserved: { productId: existing.productId, quantity: existing.quantity } },
    );
  }
  if (existing.status === 'released') {
    throw new errors.ConflictError(
      'the reservation for this purchase id was released; a new purchase needs a new id',
      'RESERVATION_RELEASED',
    );
  }
  const { rows } = await db.query<{ id: string; name: string; price: string; stock: number }>(
    'SELECT id, name, price, stock FROM products WHERE id = $1',
    [existing.productId],
  );
  return { created: false, reservation: existing, product: rows[0] ? toStock(rows[0]) : null };
}

/**
 * Gives the stock back, once: only the call that flips the row from reserved to released adds the
 * quantity back; a repeat finds it released and changes nothing.
 */
export async function release(
  db: Sql,
  purchaseId: string,
): Promise<{ reservation: Reservation; restocked: boolean }> {
  const flipped = await db.transaction(async (tx) => {
    const { rows } = await tx.query<ReservationRow>(
      `UPDATE reservations SET status = 'released', released_at = now()
       WHERE purchase_id = $1 AND status = 'reserved' RETURNING ${RESERVATION_COLUMNS}`,
      [purchaseId],
    );
    if (!rows[0]) return undefined;
    // The product may have been deleted since; then there is nothing to give back to.
    await tx.query('UPDATE products SET stock = stock + $2, updated_at = now() WHERE id = $1', [
      rows[0].product_id,
      rows[0].quantity,
    ]);
    return toReservation(rows[0]);
  });
  if (flipped) return { reservation: flipped, restocked: true };
  const existing = await findReservation(db, purchaseId);
  if (!existing) throw reservationNotFound(purchaseId);
  return { reservation: existing, restocked: false };
}

export async function findReservation(db: Sql, purchaseId: string): Promise<Reservation | undefined> {
  const { rows } = await db.query<ReservationRow>(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE purchase_id = $1`,
    [purchaseId],
  );
  return rows[0] && toReservation(rows[0]);
}

export const reservationNotFound = (purchaseId: string) =>
  new errors.NotFoundError(`no reservation for purchase ${purchaseId}`, 'RESERVATION_NOT_FOUND');
