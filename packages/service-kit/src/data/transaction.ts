import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in one transaction on one connection of the pool: COMMIT when it resolves, ROLLBACK when it throws
 * (the error is rethrown) or when it called `rollback()` (for an outcome that must leave nothing behind, e.g. a
 * limit found exceeded inside the transaction; its result is still returned). Keep it short: only database
 * calls inside. On the embedded engine a transaction holds the whole engine until it ends
 * (see pglite-server.ts).
 */
export async function inTransaction<T>(
  pool: Pool,
  fn: (tx: PoolClient, rollback: () => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let rollBack = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client, () => {
      rollBack = true;
    });
    await client.query(rollBack ? 'ROLLBACK' : 'COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
