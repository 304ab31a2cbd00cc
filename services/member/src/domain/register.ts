import { randomUUID } from 'node:crypto';
import { errors, z } from '@msa/service-kit';
import type { Pool } from 'pg';
import {
  MEMBER_COLUMNS,
  emailSchema,
  isUniqueViolation,
  nameSchema,
  toMember,
  type Member,
  type MemberRow,
} from './members';
import { hashPassword, passwordSchema } from './passwords';

export const registerBody = z
  .object({ email: emailSchema, password: passwordSchema, name: nameSchema })
  .strict()
  .superRefine((v, ctx) => {
    if (v.password.trim().toLowerCase() === v.email) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'must not be your email address' });
    }
  });

export type RegisterInput = z.infer<typeof registerBody>;

/**
 * A new customer. One INSERT: either the member exists afterwards, or nothing was written.
 *
 * An email that already has an account: with `revealsTaken`, 409 EMAIL_TAKEN. Without (the default, see
 * docs/security.md), the same 201 and the same shape as a new account, after the same work (one scrypt, one
 * INSERT), with an id that names no one; the existing account is untouched. The caller learns only to sign in.
 */
export async function register(
  db: Pool,
  input: RegisterInput,
  options: { revealsTaken: boolean } = { revealsTaken: true },
): Promise<Member> {
  const passwordHash = await hashPassword(input.password);
  try {
    const { rows } = await db.query<MemberRow>(
      `INSERT INTO members (email, name, password_hash) VALUES ($1, $2, $3) RETURNING ${MEMBER_COLUMNS}`,
      [input.email, input.name, passwordHash],
    );
    return toMember(rows[0]!);
  } catch (err) {
    if (isUniqueViolation(err) && !options.revealsTaken) return lookalike(input);
    if (isUniqueViolation(err)) {
      throw new errors.ConflictError('an account with this email already exists', 'EMAIL_TAKEN', [
        { field: 'body.email', message: 'is already registered' },
      ]);
    }
    throw err;
  }
}

/** What a new account's answer looks like, for an email that already has one: nothing from the real account. */
function lookalike(input: RegisterInput): Member {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    email: input.email,
    name: input.name,
    role: 'customer',
    createdAt: now,
    updatedAt: now,
  };
}
