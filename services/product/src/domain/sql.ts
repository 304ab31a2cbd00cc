import { inTransaction } from '@msa/service-kit';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/**
 * The pool plus a transaction helper. (On the embedded engine a transaction holds the whole engine
 * until it ends: see packages/service-kit/src/data/pglite-server.ts.)
 */
export class Sql implements Queryable {
  constructor(private readonly pool: Pool) {}

  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  /** Runs fn in one transaction on one connection; keep it short: only database calls inside. */
  transaction<T>(fn: (tx: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, fn);
  }
}
