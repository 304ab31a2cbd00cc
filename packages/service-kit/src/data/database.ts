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
  // A connection lost while its client is checked out (a transaction) is emitted on that client, where
  // the pool listens no more: without a listener of its own that 'error' crashed the process. Its query fails by itself and the broken client leaves the pool.
  pool.on('connect', (client) =>
    client.on('error', (err) => opts.logger.warn({ err: err.message }, 'database connection lost')),
  );

  const close = async () => {
    await pool.end().catch(() => undefined);
    await embedded?.close().catch(() => undefined);
  };
  try {
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
