import { ConfigError, z } from '@msa/service-kit';
import { DEFAULT_LOGIN_LIMITS } from './domain/login-throttle';
import { passwordSchema } from './domain/passwords';

const count = z.coerce.number().int().min(0);
const seconds = z.coerce.number().int().min(1);

export const DEV_ADMIN_PASSWORD = 'admin-password-change-me';

/** Member's own environment variables, on top of the kit's base ones. */
export const configShape = {
  /** The admin account created at first start (for product management). */
  ADMIN_EMAIL: z.string().trim().toLowerCase().pipe(z.email()).default('admin@msa.local'),
  /** Required in production; development and tests fall back to DEV_ADMIN_PASSWORD with a warning. */
  ADMIN_PASSWORD: z.preprocess((v) => (v === '' ? undefined : v), passwordSchema.optional()),
  // Login throttling (docs/security.md): a max of 0 turns that layer off.
  /** Consecutive failed logins for one email from one client before 429 (a success resets it). */
  LOGIN_MAX_FAILS_PER_ACCOUNT_CLIENT: count.default(DEFAULT_LOGIN_LIMITS.maxFailsPerAccountClient),
  /** Failed logins from one client address, any email, within LOGIN_FAILS_WINDOW_S. */
  LOGIN_MAX_FAILS_PER_CLIENT: count.default(DEFAULT_LOGIN_LIMITS.maxFailsPerClient),
  /** Failed logins for one email from all clients within LOGIN_FAILS_WINDOW_S (a guess spread over addresses). */
  LOGIN_MAX_FAILS_PER_ACCOUNT: count.default(DEFAULT_LOGIN_LIMITS.maxFailsPerAccount),
  LOGIN_FAILS_WINDOW_S: seconds.default(DEFAULT_LOGIN_LIMITS.windowS),
  /** How long a limit, once crossed, refuses (429 with Retry-After). */
  LOGIN_BLOCK_S: seconds.default(DEFAULT_LOGIN_LIMITS.blockS),
  /** After this many consecutive failures (one email, one client), each attempt waits LOGIN_SLOW_MS × the excess. */
  LOGIN_SLOW_AFTER: count.default(DEFAULT_LOGIN_LIMITS.slowAfter),
  LOGIN_SLOW_MS: z.coerce.number().int().min(0).max(10_000).default(DEFAULT_LOGIN_LIMITS.slowMs),
  /**
   * false (default): registering an email that already has an account answers like a new registration (202,
   * nothing about the account), so the form cannot be used to find out who is a member. true: 409 EMAIL_TAKEN.
   */
  REGISTRATION_REVEALS_TAKEN: z.stringbool().default(false),
};

/** A raw zod shape cannot see NODE_ENV, so the production rule is checked here, before the service listens. */
export function adminPassword(config: { NODE_ENV: string; ADMIN_PASSWORD?: string | undefined }): {
  password: string;
  isDefault: boolean;
} {
  if (config.ADMIN_PASSWORD) return { password: config.ADMIN_PASSWORD, isDefault: false };
  if (config.NODE_ENV === 'production') {
    throw new ConfigError(['ADMIN_PASSWORD is required when NODE_ENV=production']);
  }
  return { password: DEV_ADMIN_PASSWORD, isDefault: true };
}
