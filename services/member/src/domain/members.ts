import { errors, z } from '@msa/service-kit';
import type { Pool, PoolClient } from 'pg';

export type Role = 'customer' | 'admin';

/** A member as every response shows it: never the password hash. */
export interface Member {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

export interface MemberRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  password_hash: string;
  /** Raised on unregister and password change; a token signed with a lower one is revoked (revocations.ts). */
  token_version: number;
  created_at: Date;
  updated_at: Date;
}

export const MEMBER_COLUMNS = 'id, email, name, role, password_hash, token_version, created_at, updated_at';

export const toMember = (row: MemberRow): Member => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

const required = (what: string) => (i: { input: unknown }) =>
  i.input === undefined ? 'is required' : `must be ${what}`;

/** Trimmed and lower-cased before the format check, so " Ann@X.io " and "ann@x.io" are one account. */
export const emailSchema = z
  .string({ error: required('a string') })
  .trim()
  .toLowerCase()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be an email address'));

// Control characters in a display name only ever break logs, CSV exports and terminals.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
export const nameSchema = z
  .string({ error: required('a string') })
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .refine((v) => !CONTROL.test(v), 'must not contain control characters');

const isUuid = (v: string) => z.uuid().safeParse(v).success;

type Queryable = Pool | PoolClient;

/** The active member with this id; a deleted (or never existing) one is 404. */
export async function findActiveMember(db: Queryable, id: string): Promise<MemberRow> {
  // The id comes from a token, not from the URL: anything not a uuid simply is no member.
  if (isUuid(id)) {
    const { rows } = await db.query<MemberRow>(
      `SELECT ${MEMBER_COLUMNS} FROM members WHERE id = $1 AND status = 'active'`,
      [id],
    );
    if (rows[0]) return rows[0];
  }
  throw new errors.NotFoundError('no such member', 'MEMBER_NOT_FOUND');
}

export const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';
