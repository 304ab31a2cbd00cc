import { ConfigError, z } from '@msa/service-kit';
import { passwordSchema } from './domain/passwords';

export const DEV_ADMIN_PASSWORD = 'admin-password-change-me';

/** Member's own environment variables, on top of the kit's base ones. */
export const configShape = {
  /** The admin account created at first start (for product management). */
  ADMIN_EMAIL: z.string().trim().toLowerCase().pipe(z.email()).default('admin@msa.local'),
  /** Required in production; development and tests fall back to DEV_ADMIN_PASSWORD with a warning. */
  ADMIN_PASSWORD: z.preprocess((v) => (v === '' ? undefined : v), passwordSchema.optional()),
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
