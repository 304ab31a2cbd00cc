import path from 'node:path';
import { defineService, type ServiceContext } from '@msa/service-kit';
import { adminPassword, configShape, DEV_ADMIN_PASSWORD } from './config';
import { ensureAdmin } from './domain/admin';
import { LoginThrottle } from './domain/login-throttle';
import { RevocationFeed } from './domain/revocations';
import { SigningKeys } from './domain/signing-keys';
import { buildRoutes } from './routes';

type Ctx = ServiceContext<typeof configShape>;

// routes() and onStart() receive the same context; the key holder and the revocation feed are shared through it.
const keysByContext = new WeakMap<Ctx, SigningKeys>();
const signingKeys = (ctx: Ctx): SigningKeys => {
  let keys = keysByContext.get(ctx);
  if (!keys) keysByContext.set(ctx, (keys = new SigningKeys(ctx.db)));
  return keys;
};
const feedsByContext = new WeakMap<Ctx, RevocationFeed>();
const revocationFeed = (ctx: Ctx): RevocationFeed => {
  let feed = feedsByContext.get(ctx);
  if (!feed) feedsByContext.set(ctx, (feed = new RevocationFeed(ctx.db)));
  return feed;
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
    return buildRoutes(ctx, signingKeys(ctx), loginThrottle(ctx), revocationFeed(ctx));
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
    return endFeedOnShutdown(ctx);
  },
});

/**
 * The kit drains in-flight requests before it runs the stop hooks, and a revocation stream never ends by itself: end
 * the streams as soon as shutdown begins (ctx.ready turns false), so shutdown does not wait for its timeout. Gateways
 * keep the other instances' streams.
 */
function endFeedOnShutdown(ctx: Ctx): () => void {
  const feed = revocationFeed(ctx);
  let wasReady = false;
  const timer = setInterval(() => {
    if (ctx.ready) wasReady = true;
    else if (wasReady) {
      clearInterval(timer);
      feed.close();
    }
  }, 50).unref();
  return () => {
    clearInterval(timer);
    feed.close();
  };
}
