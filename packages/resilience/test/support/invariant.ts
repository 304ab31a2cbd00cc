// The data promise: no lost or double stock change. For every product a test created:
//   initial stock = current stock + Σ quantity of completed purchases
// and product's live reservations match those purchases one for one. Checked once nothing is
// pending or cancelling any more (the reconciler has settled what the fault left behind).
import { eventually, sql, type Shop } from './shop';

const UUID = /^[0-9a-f-]{36}$/i;

export interface InvariantReport {
  /** Σ |initial − (current + completed)| + Σ |reserved − completed| over the products. */
  lost: number;
  unsettled: number;
  details: Array<{ productId: string; initial: number; stock: number; completed: number; reserved: number }>;
}

export async function checkStock(shop: Shop, initial: Map<string, number>): Promise<InvariantReport> {
  const ids = [...initial.keys()];
  for (const id of ids) if (!UUID.test(id)) throw new Error(`not a uuid: ${id}`);
  const list = ids.map((id) => `'${id}'`).join(',');
  const unsettled = await eventually(
    async () =>
      Number(
        (
          await sql<{ n: string }>(
            shop,
            'purchase',
            `SELECT count(*) AS n FROM purchases WHERE product_id IN (${list}) AND status IN ('pending','cancelling')`,
          )
        )[0]!.n,
      ),
    (n) => n === 0,
    20000,
    250,
  );
  const stocks = await sql<{ id: string; stock: number }>(
    shop,
    'product',
    `SELECT id, stock FROM products WHERE id IN (${list})`,
  );
  const reserved = await sql<{ product_id: string; q: string }>(
    shop,
    'product',
    `SELECT product_id, sum(quantity) AS q FROM reservations WHERE product_id IN (${list}) AND status = 'reserved' GROUP BY product_id`,
  );
  const completed = await sql<{ product_id: string; q: string }>(
    shop,
    'purchase',
    `SELECT product_id, sum(quantity) AS q FROM purchases WHERE product_id IN (${list}) AND status = 'completed' GROUP BY product_id`,
  );
  const details = ids.map((productId) => ({
    productId,
    initial: initial.get(productId)!,
    stock: stocks.find((r) => r.id === productId)?.stock ?? NaN,
    completed: Number(completed.find((r) => r.product_id === productId)?.q ?? 0),
    reserved: Number(reserved.find((r) => r.product_id === productId)?.q ?? 0),
  }));
  const lost = details.reduce(
    (sum, d) => sum + Math.abs(d.initial - d.stock - d.completed) + Math.abs(d.reserved - d.completed),
    0,
  );
  return { lost, unsettled, details };
}
