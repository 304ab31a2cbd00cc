import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { inTransaction } from './transaction';

// One lock key for every service's migrations: each service has its own database, so they never contend.
const MIGRATION_LOCK_KEY = 7_204_319_001;

export interface Migration {
  version: string;
  sql: string;
  /** sha256 of the file's text (line endings as \n, so a checkout's CRLF does not count as an edit). */
  checksum: string;
}

/** Raised before anything is applied: the service must not start on a schema its files no longer describe. */
export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

/** `migrations/001_create_members.sql` … in file-name order. */
export function readMigrations(dir: string): Migration[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const sql = readFileSync(path.join(dir, f), 'utf8');
      return { version: f.replace(/\.sql$/, ''), sql, checksum: migrationChecksum(sql) };
    });
}

/**
 * Applies the migrations not yet applied, in one transaction holding an advisory lock, so several
 * instances starting at once never race: the first applies them, the others wait on the lock and
 * then find nothing left to do. (On the embedded engine the transaction alone serializes them.)
 *
 * Each applied migration's checksum is recorded; an applied migration whose file has changed since stops the
 * start (MigrationError naming the file), since the database was not built from what the file now says. A
 * database from before checksums were recorded gets them filled in from the files as they are (once, no failure).
 */
export async function migrate(pool: Pool, migrations: Migration[], logger: Logger): Promise<string[]> {
  const applied: string[] = [];
  const backfilled: string[] = [];
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await ensureTable(client);
    const { rows } = await client.query<{ version: string; checksum: string | null }>(
      'SELECT version, checksum FROM schema_migrations',
    );
    const recorded = new Map(rows.map((r) => [r.version, r.checksum]));
    for (const m of migrations) {
      if (!recorded.has(m.version)) continue;
      const checksum = recorded.get(m.version);
      if (checksum === null || checksum === undefined) {
        await client.query('UPDATE schema_migrations SET checksum = $2 WHERE version = $1', [
          m.version,
          m.checksum,
        ]);
        backfilled.push(m.version);
      } else if (checksum !== m.checksum) {
        throw new MigrationError(
          `migration ${m.version}.sql was edited after it was applied (applied sha256 ${checksum.slice(0, 12)}…, ` +
            `the file now ${m.checksum.slice(0, 12)}…): put the file back as it was and add the change as a new ` +
            'migration (npm run migration:new -w <service> -- <name>)',
        );
      }
    }
    for (const m of migrations) {
      if (recorded.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [
        m.version,
        m.checksum,
      ]);
      applied.push(m.version);
    }
  });
  if (backfilled.length)
    logger.info({ backfilled }, `recorded the checksums of ${backfilled.length} migration(s)`);
  if (applied.length) logger.info({ applied }, `applied ${applied.length} migration(s)`);
  return applied;
}

async function ensureTable(client: PoolClient): Promise<void> {
  await client.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text)',
  );
  // Databases made before checksums were recorded have the table without the column.
  await client.query('ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text');
}
