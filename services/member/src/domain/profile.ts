import { errors, z } from '@msa/service-kit';
import type { Pool } from 'pg';
import {
  MEMBER_COLUMNS,
  findActiveMember,
  nameSchema,
  toMember,
  type Member,
  type MemberRow,
} from './members';
import { PASSWORD_MAX, hashPassword, passwordSchema, verifyPassword } from './passwords';
import type { RevocationFeed } from './revocations';

export const updateProfileBody = z
  .object({
    name: nameSchema.optional(),
    password: passwordSchema.optional(),
    currentPassword: z.string().max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.name === undefined && v.password === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give at least one of: name, password' });
    }
    if (v.password !== undefined && !v.currentPassword) {
      ctx.addIssue({
        code: 'custom',
        path: ['currentPassword'],
        message: 'is required to change the password',
      });
    }
  });

export type UpdateProfileInput = z.infer<typeof updateProfileBody>;

export async function getProfile(db: Pool, memberId: string): Promise<Member> {
  return toMember(await findActiveMember(db, memberId));
}

/**
 * Name and/or password. A new password needs the current one, so a stolen token alone cannot take
 * over the account. Both fields change in one UPDATE, or neither does. A new password revokes every token issued
 * before it, the caller's own included (token_version raised, gateways told through `revocations`): whoever stole
 * a token loses it, and the member signs in again with the new password.
 */
export async function updateProfile(
  db: Pool,
  memberId: string,
  input: UpdateProfileInput,
  revocations: RevocationFeed,
): Promise<Member> {
  const current = await findActiveMember(db, memberId);
  let passwordHash: string | null = null;
  if (input.password !== undefined) {
    if (!(await verifyPassword(input.currentPassword ?? '', current.password_hash))) {
      throw new errors.AppError(403, 'WRONG_CURRENT_PASSWORD', 'the current password is not correct', [
        { field: 'body.currentPassword', message: 'is not correct' },
      ]);
    }
    passwordHash = await hashPassword(input.password);
  }
  const { rows } = await db.query<MemberRow>(
    `UPDATE members
        SET name = COALESCE($2, name),
            password_hash = COALESCE($3, password_hash),
            token_version = token_version + CASE WHEN $3::text IS NULL THEN 0 ELSE 1 END,
            tokens_revoked_at = CASE WHEN $3::text IS NULL THEN tokens_revoked_at ELSE now() END,
            updated_at = now()
      WHERE id = $1 AND status = 'active'
      RETURNING ${MEMBER_COLUMNS}`,
    [memberId, input.name ?? null, passwordHash],
  );
  // Unregistered between the read and the write.
  if (!rows[0]) throw new errors.NotFoundError('no such member', 'MEMBER_NOT_FOUND');
  if (passwordHash !== null) revocations.announce({ sub: memberId, ver: rows[0].token_version });
  return toMember(rows[0]);
}
