// The purchases table and its state changes. Every change is one statement guarded by the state it
// expects, so two instances (or a request and the reconciler) racing on one purchase cannot both win.
import { inTransaction } from '@msa/service-kit';
import type { Pool } from 'pg';

export type PurchaseStatus = 'pending' | 'completed' | 'failed' | 'cancelling' | 'cancelled';
export type FailureReason =
  | 'out-of-stock'
  | 'product-not-found'
  | 'product-unavailable'
  | 'product-rejected'
  /** Reserved, but no price could be learned for it (so it was released rather than completed unpriced). */
  | 'unpriced'
  /** Still pending when its hold expired (product unreachable for that long): released, not completed late. */
  | 'expired';

export interface Purchase {
  id: string;
  memberId: string;
  productId: string;
  quantity: number;
  unitPrice: number | null;
  total: number | null;
  status: PurchaseStatus;
  failureReason?: FailureReason;
  idempotencyKey: string;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  id: string;
  member_id: string;
  product_id: string;
  quantity: number;
  unit_price: string | null;
  total: string | null;
  status: PurchaseStatus;
  failure_reason: FailureReason | null;
  idempotency_key: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, member_id, product_id, quantity, unit_price, total, status, failure_reason, idempotency_key, created_at, updated_at';

// numeric comes back from pg as a string (it may not fit a double); money here always does.
const money = (v: string | null) => (v === null ? null : Number(v));

function toPurchase(r: Row): Purchase {
  return {
    id: r.id,
    memberId: r.member_id,
    productId: r.product_id,
    quantity: r.quantity,
    unitPrice: money(r.unit_price),
    total: money(r.total),
    status: r.status,
    ...(r.failure_reason ? { failureReason: r.failure_reason } : {}),
    idempotencyKey: r.idempotency_key,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export interface NewPurchase {
  memberId: string;
  productId: string;
  quantity: number;
  idempotencyKey: string;
}

const INSERT_PENDING = `INSERT INTO purchases (member_id, product_id, quantity, status, idempotency_key)
  VALUES ($1, $2, $3, 'pending', $4)
  ON CONFLICT ON CONSTRAINT purchases_member_key DO NOTHING
  RETURNING ${COLUMNS}`;

export class PurchaseStore {
  constructor(private readonly db: Pool) {}

  /** The pending row, or undefined when this member already used the key (then read it with byKey). */
  async insertPending(p: NewPurchase): Promise<Purchase | undefined> {
    const { rows } = await this.db.query<Row>(INSERT_PENDING, [
      p.memberId,
      p.productId,
      p.quantity,
      p.idempotencyKey,
    ]);
    return rows[0] && toPurchase(rows[0]);
  }

  /**
   * insertPending under a cap: the member's open and completed units of this product made within the
   * window, this one included, must stay at or below `limit`. One short transaction holding an
   * advisory lock per (member, product), so two requests at once cannot both slip under the cap;
   * over it, the insert is rolled back and nothing is written.
   */
  async insertPendingCapped(
    p: NewPurchase,
    cap: { limit: number; windowMs: number },
  ): Promise<
    { kind: 'inserted'; purchase: Purchase } | { kind: 'repeat' } | { kind: 'over-cap'; held: number }
  > {
    return inTransaction(this.db, async (client, rollback) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `purchase-cap:${p.memberId}:${p.productId}`,
      ]);
      const { rows } = await client.query<Row>(INSERT_PENDING, [
        p.memberId,
        p.productId,
        p.quantity,
        p.idempotencyKey,
      ]);
      if (!rows[0]) return { kind: 'repeat' as const };
      const held = await client.query<{ n: number }>(
        `SELECT coalesce(sum(quantity), 0)::int AS n FROM purchases
         WHERE member_id = $1 AND product_id = $2 AND status IN ('pending', 'completed', 'cancelling')
           AND created_at > now() - make_interval(secs => $3::double precision / 1000)`,
        [p.memberId, p.productId, cap.windowMs],
      );
      const total = held.rows[0]?.n ?? 0;
      if (total > cap.limit) {
        rollback();
        return { kind: 'over-cap' as const, held: total - p.quantity };
      }
      return { kind: 'inserted' as const, purchase: toPurchase(rows[0]) };
    });
  }

  async byKey(memberId: string, idempotencyKey: string): Promise<Purchase | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM purchases WHERE member_id = $1 AND idempotency_key = $2`,
      [memberId, idempotencyKey],
    );
    return rows[0] && toPurchase(rows[0]);
  }

  async byId(id: string): Promise<Purchase | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM purchases WHERE id = $1`, [id]);
    return rows[0] && toPurchase(rows[0]);
  }

  async listByMember(memberId: string, limit: number, offset: number) {
    const [items, count] = await Promise.all([
      this.db.query<Row>(
        `SELECT ${COLUMNS} FROM purchases WHERE member_id = $1
         ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3`,
        [memberId, limit, offset],
      ),
      this.db.query<{ n: string }>('SELECT count(*) AS n FROM purchases WHERE member_id = $1', [memberId]),
    ]);
    return { items: items.rows.map(toPurchase), total: Number(count.rows[0]?.n ?? 0) };
  }

  /**
   * pending → completed, at the price the reservation was taken at: never without one (the table's
   * purchases_completed_priced check says so too). undefined when it was no longer pending.
   */
  async complete(id: string, unitPrice: number): Promise<Purchase | undefined> {
    return this.transition(
      id,
      'pending',
      `status = 'completed', unit_price = $3::numeric, total = round($3::numeric * quantity, 2)`,
      [unitPrice],
    );
  }

  /**
   * Removes a pending purchase that product refused outright (no such product): nothing was reserved,
   * nothing is left to settle, and a repeat of its key gets the same refusal again from product.
   */
  async discard(id: string): Promise<void> {
    await this.db.query(`DELETE FROM purchases WHERE id = $1 AND status = 'pending'`, [id]);
  }

  async fail(id: string, reason: FailureReason): Promise<Purchase | undefined> {
    return this.transition(id, 'pending', `status = 'failed', failure_reason = $3`, [reason]);
  }

  /** completed → cancelling: the intent is saved before the stock is released. */
  async startCancel(id: string): Promise<Purchase | undefined> {
    return this.transition(id, 'completed', `status = 'cancelling'`, []);
  }

  async finishCancel(id: string): Promise<Purchase | undefined> {
    return this.transition(id, 'cancelling', `status = 'cancelled'`, []);
  }

  private async transition(id: string, from: PurchaseStatus, set: string, args: unknown[]) {
    const { rows } = await this.db.query<Row>(
      `UPDATE purchases SET ${set}, reconcile_at = NULL, updated_at = now()
       WHERE id = $1 AND status = $2 RETURNING ${COLUMNS}`,
      [id, from, ...args],
    );
    return rows[0] && toPurchase(rows[0]);
  }

  /**
   * Claims a batch of purchases left pending or cancelling for longer than `afterMs`, for `leaseMs`.
   * One short statement: SKIP LOCKED lets several instances claim disjoint batches at once, and a
   * claim that outlives a crashed instance simply expires.
   */
  async claimUnsettled(afterMs: number, leaseMs: number, batch: number): Promise<Purchase[]> {
    const { rows } = await this.db.query<Row>(
      `UPDATE purchases SET reconcile_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE id IN (
         SELECT id FROM purchases
         WHERE status IN ('pending', 'cancelling')
           AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
           AND (reconcile_at IS NULL OR reconcile_at < now())
         ORDER BY updated_at
         LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [afterMs, leaseMs, batch],
    );
    return rows.map(toPurchase);
  }
}
