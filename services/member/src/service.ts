import path from 'node:path';
import { defineService, type ServiceContext } from '@msa/service-kit';
import { adminPassword, configShape, DEV_ADMIN_PASSWORD } from './config';
import { ensureAdmin } from './domain/admin';
import { LoginThrottle } from './domain/login-throttle';
import { SigningKeys } from './domain/signing-keys';
import { buildRoutes } from './routes';

type Ctx = ServiceContext<typeof configShape>;

// routes() and onStart() receive the same context; the key holder is shared through it.
const keysByContext = new WeakMap<Ctx, SigningKeys>();
const signingKeys = (ctx: Ctx): SigningKeys => {
  let keys = keysByContext.get(ctx);
  if (!keys) keysByContext.set(ctx, (keys = new SigningKeys(ctx.db)));
  return keys;
};

// Shared across member replicas through Redis when REDIS_URL is set, so a guesser cannot spread over instances.
const loginThrottle = (ctx: Ctx): LoginThrottle =>
  new LoginThrottle(
    {
      maxFailsPerAccountClient: ctx.config.LOGIN_MAX_FAILS_PER_ACCOUNT_CLIENT,
      maxFailsPerClient: ctx.config.LOGIN_MAX_FAILS_PER_CLIENT,
      maxFailsPerAccount: ctx.config.LOGIN_MAX_FAILS_PER_ACCOUNT,
      windowS: ctx.config.LOGIN_FAILS_WINDOW_S,
      blockS: ctx.config.LOGIN_BLOCK_S,
      slowAfter: ctx.config.LOGIN_SLOW_AFTER,
      slowMs: ctx.config.LOGIN_SLOW_MS,
    },
    { redis: ctx.redis, keyPrefix: `${ctx.config.REDIS_KEY_PREFIX}member:login:` },
  );

export const service = defineService({
  name: 'member',
  version: '0.1.0',
  config: configShape,
  redis: true, // login throttle counts, shared by every member replica
  database: { migrationsDir: path.join(__dirname, '..', 'migrations') },
  routes: (ctx) => {
    // Checked here because routes() runs before the service listens: a production start without
    // ADMIN_PASSWORD fails with one clear line instead of serving without an admin.
    adminPassword(ctx.config);
    return buildRoutes(ctx, signingKeys(ctx), loginThrottle(ctx));
  },
  onStart: async (ctx) => {
    const { password, isDefault } = adminPassword(ctx.config);
    if (isDefault) {
      ctx.logger.warn(
        `ADMIN_PASSWORD not set: the admin account uses the development default '${DEV_ADMIN_PASSWORD}'`,
      );
    }
    await signingKeys(ctx).ensure();
    await ensureAdmin(ctx.db, { email: ctx.config.ADMIN_EMAIL, password }, ctx.logger);
  },
});
