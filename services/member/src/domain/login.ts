import { errors, z } from '@msa/service-kit';
import type { Pool } from 'pg';
import { MEMBER_COLUMNS, emailSchema, toMember, type Member, type MemberRow } from './members';
import { PASSWORD_MAX, verifyAgainstDummy, verifyPassword } from './passwords';
import type { LoginThrottle } from './login-throttle';
import type { SigningKeys } from './signing-keys';

// No length rule here beyond a bound: a login must not tell which rule an old password breaks.
export const loginBody = z
  .object({
    email: emailSchema,
    password: z
      .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
      .min(1, 'is required')
      .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`),
  })
  .strict();

export type LoginInput = z.infer<typeof loginBody>;

export interface LoginResult {
  token: string;
  tokenType: 'Bearer';
  expiresIn: number;
  member: Member;
}

/**
 * Email and password → a signed member token. An unknown email and a wrong password get the same
 * answer after the same work (one query, one scrypt), so neither the body nor the timing says which.
 */
export async function login(db: Pool, keys: SigningKeys, input: LoginInput): Promise<LoginResult> {
  const { rows } = await db.query<MemberRow>(
    `SELECT ${MEMBER_COLUMNS} FROM members WHERE lower(email) = $1 AND status = 'active'`,
    [input.email],
  );
  const row = rows[0];
  const ok = row
    ? await verifyPassword(input.password, row.password_hash)
    : await verifyAgainstDummy(input.password);
  if (!row || !ok) throw new errors.UnauthorizedError('email or password is wrong', 'INVALID_CREDENTIALS');

  const { token, expiresIn } = await keys.sign({
    sub: row.id,
    role: row.role,
    email: row.email,
    ver: row.token_version,
  });
  return { token, tokenType: 'Bearer', expiresIn, member: toMember(row) };
}

/** 429 with Retry-After: this client (or this account) has failed too often; the route sets the header. */
export class LoginThrottledError extends errors.AppError {
  constructor(readonly retryAfterS: number) {
    super(429, 'LOGIN_THROTTLED', `too many failed logins; try again in ${retryAfterS} s`);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A login behind the throttle: counted before the password is checked (refused, or slowed after a few
 * failures), refunded on success. `client` is the caller's address as the gateway decided it.
 */
export async function throttledLogin(
  db: Pool,
  keys: SigningKeys,
  throttle: LoginThrottle,
  input: LoginInput,
  client: string,
): Promise<LoginResult> {
  // input.email is already trimmed and lower-cased by the schema: " Ann@X.io " counts against ann@x.io.
  const admission = await throttle.admit(input.email, client);
  if (!admission.ok) throw new LoginThrottledError(admission.retryAfterS);
  if (admission.delayMs > 0) await sleep(admission.delayMs);
  let result: LoginResult;
  try {
    result = await login(db, keys, input);
  } catch (err) {
    const guessed = err instanceof errors.AppError && err.code === 'INVALID_CREDENTIALS';
    if (!guessed) await throttle.refund(input.email, client);
    throw err;
  }
  await throttle.succeeded(input.email, client);
  return result;
}
