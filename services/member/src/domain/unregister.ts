import { errors, z } from '@msa/service-kit';
import type { Pool } from 'pg';
import type { RevocationFeed } from './revocations';

/**
 * Unregister: a soft delete. The row stays, so purchases (owned by the purchase service, keyed by
 * member id) keep pointing at a member for the shop's records; the email is freed for a new account
 * and the password hash replaced by a value no password matches. No call to another service. Every token the
 * member holds is revoked (token_version raised), and the gateways are told through `revocations`.
 */
export async function unregister(db: Pool, memberId: string, revocations: RevocationFeed): Promise<void> {
  if (!z.uuid().safeParse(memberId).success) {
    throw new errors.NotFoundError('no such member', 'MEMBER_NOT_FOUND');
  }
  const { rows } = await db.query<{ token_version: number }>(
    `UPDATE members
        SET status = 'deleted',
            email = 'deleted+' || id::text || '@deleted.invalid',
            password_hash = '!',
            token_version = token_version + 1,
            tokens_revoked_at = now(),
            deleted_at = now(),
            updated_at = now()
      WHERE id = $1 AND status = 'active'
      RETURNING token_version`,
    [memberId],
  );
  if (!rows[0]) throw new errors.NotFoundError('no such member', 'MEMBER_NOT_FOUND');
  revocations.announce({ sub: memberId, ver: rows[0].token_version });
}
