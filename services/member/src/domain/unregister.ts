import { errors, z } from '@msa/service-kit';
import type { Pool } from 'pg';

/**
 * Unregister: a soft delete. The row stays, so purchases (owned by the purchase service, keyed by
 * member id) keep pointing at a member for the shop's records; the email is freed for a new account
 * and the password hash replaced by a value no password matches. No call to another service.
 */
export async function unregister(db: Pool, memberId: string): Promise<void> {
  const { rowCount } = z.uuid().safeParse(memberId).success
    ? await db.query(
        `UPDATE members
            SET status = 'deleted',
                email = 'deleted+' || id::text || '@deleted.invalid',
                password_hash = '!',
                deleted_at = now(),
                updated_at = now()
          WHERE id = $1 AND status = 'active'`,
        [memberId],
      )
    : { rowCount: 0 };
  if (!rowCount) throw new errors.NotFoundError('no such member', 'MEMBER_NOT_FOUND');
}
