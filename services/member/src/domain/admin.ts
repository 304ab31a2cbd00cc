import type { Logger } from '@msa/service-kit';
import type { Pool } from 'pg';
import { hashPassword } from './passwords';

/**
 * The admin account from config, created when missing. Idempotent and safe when several instances
 * start at once: the unique email index decides, ON CONFLICT DO NOTHING lets the others pass.
 * An existing account with that email is left alone: never promoted, never given a new password.
 */
export async function ensureAdmin(
  db: Pool,
  admin: { email: string; password: string },
  logger: Logger,
): Promise<'created' | 'exists'> {
  const { rows } = await db.query<{ role: string }>('SELECT role FROM members WHERE lower(email) = $1', [
    admin.email,
  ]);
  if (rows[0]) {
    if (rows[0].role !== 'admin') {
      logger.warn({ email: admin.email }, 'ADMIN_EMAIL belongs to a customer account; it is not promoted');
    }
    return 'exists';
  }
  const passwordHash = await hashPassword(admin.password);
  const inserted = await db.query(
    `INSERT INTO members (email, name, password_hash, role) VALUES ($1, 'Administrator', $2, 'admin')
     ON CONFLICT DO NOTHING`,
    [admin.email, passwordHash],
  );
  if (inserted.rowCount) logger.info({ email: admin.email }, 'admin account created');
  return inserted.rowCount ? 'created' : 'exists';
}
