import path from 'node:path';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
import { migrate, readMigrations } from './migrations';

export interface DatabaseOptions {
  service: string;
  url?: string;
  dataDir: string;
  poolMax: number;
  migrationsDir?: string;
  logger: Logger;
}

export interface Database {
  pool: Pool;
  embedded: boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A `pg` pool on DATABASE_URL, or on an embedded PGlite when none is configured; then the
 * service's migrations. Connection and statement timeouts keep a dead database from hanging
 * requests: the caller gets an error in seconds and answers 503.
 */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = opts.url;
  if (!url) {
    const dir = opts.dataDir === 'memory' ? 'memory' : path.resolve(opts.dataDir, opts.service, 'pgdata');
    embedded = await startEmbeddedPostgres(dir, opts.poolMax + 2);
    url = embedded.url;
    opts.logger.info({ dataDir: dir }, 'no DATABASE_URL: using embedded PGlite');
  }
  const pool = new Pool({
    connectionString: url,
    max: opts.poolMax,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30000,
    statement_timeout: 10000,
    query_timeout: 12000,
  });
  // An idle client losing its server (Postgres restarted) must not crash the process; the pool replaces it.
  pool.on('error', (err) => opts.logger.warn({ err: err.message }, 'idle database connection lost'));
  // A connection lost while its client is checked out (a transaction, or every query on the embedded
  // engine) is emitted on that client, where the pool listens no more: without a listener of its own
  // that 'error' crashed the process. Its query fails by itself and the broken client leaves the pool.
  pool.on('connect', (client) =>
    client.on('error', (err) => opts.logger.warn({ err: err.message }, 'database connection lost')),
  );

  const close = async () => {
    await pool.end().catch(() => undefined);
    await embedded?.close().catch(() => undefined);
  };
  try {
    if (await isPglite(pool)) serializeStatements(pool);
    if (opts.migrationsDir) await migrate(pool, readMigrations(opts.migrationsDir), opts.logger);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    pool,
    embedded: Boolean(embedded),
    async ping() {
      await pool.query('SELECT 1');
    },
    close,
  };
}

/** A plain query with no parameters uses the simple protocol (one message): safe on either engine. */
async function isPglite(pool: Pool): Promise<boolean> {
  const { rows } = await pool.query<{ v: string }>('SELECT version() AS v');
  return /PGlite/i.test(rows[0]?.v ?? '');
}

/**
 * pglite-socket queues protocol messages one by one and, outside a transaction, interleaves them
 * across connections, so one connection's Parse/Bind/Execute can be split by another's ("portal
 * does not exist", or a statement bound to the wrong parameters). Inside a transaction it keeps to
 * one connection. So on the embedded engine every `pool.query` runs in a transaction of its own.
 * This covers the runner's shared server too, where several processes connect to one PGlite.
 * Code that takes a client with `pool.connect()` must open a transaction itself (it does: that is
 * what a client is taken for).
 */
function serializeStatements(pool: Pool): void {
  const plain = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const guarded = async (...args: unknown[]) => {
    if (typeof args[args.length - 1] === 'function') return plain(...args); // callback style: not used here
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const result = await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
  (pool as unknown as { query: unknown }).query = guarded;
}
