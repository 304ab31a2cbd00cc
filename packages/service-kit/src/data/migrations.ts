import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from 'pino';

// One lock key for every service's migrations: each service has its own database, so they never contend.
const MIGRATION_LOCK_KEY = 7_204_319_001;

export interface Migration {
  version: string;
  sql: string;
}

/** `migrations/001_create_members.sql` … in file-name order. */
export function readMigrations(dir: string): Migration[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), sql: readFileSync(path.join(dir, f), 'utf8') }));
}

/**
 * Applies the migrations not yet applied, in one transaction holding an advisory lock, so several
 * instances starting at once never race: the first applies them, the others wait on the lock and
 * then find nothing left to do. (On the embedded engine the transaction alone serializes them.)
 */
export async function migrate(pool: Pool, migrations: Migration[], logger: Logger): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  if (applied.length) logger.info({ applied }, `applied ${applied.length} migration(s)`);
  return applied;
}
