import path from 'node:path';
import { defineService, z } from '@msa/service-kit';
import { ProductCache } from './domain/product-cache';
import { seedCatalog, shouldSeed } from './domain/seed';
import { Sql } from './domain/sql';
import { productRoutes } from './routes';

export const productConfig = {
  /** 'auto': load the demo catalogue in development only. */
  SEED_CATALOG: z.enum(['auto', 'true', 'false']).default('auto'),
  PRODUCT_CACHE_TTL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
};

// Per running instance (tests start several in one process): what routes and onStart share.
const parts = new WeakMap<object, { sql: Sql; cache: ProductCache }>();

export const service = defineService({
  name: 'product',
  version: '0.1.0',
  config: productConfig,
  database: { migrationsDir: path.join(__dirname, '..', 'migrations') },
  cache: true,
  routes: (ctx) => {
    const sql = new Sql(ctx.db);
    const cache = new ProductCache(ctx.cache, ctx.config.PRODUCT_CACHE_TTL_MS, ctx.logger);
    parts.set(ctx, { sql, cache });
    return productRoutes(sql, cache);
  },
  onStart: async (ctx) => {
    const own = parts.get(ctx);
    if (!own) throw new Error('product: routes were not built before start');
    await own.cache.listen();
    if (shouldSeed(ctx.config.SEED_CATALOG, ctx.config.NODE_ENV)) {
      const inserted = await seedCatalog(own.sql);
      if (inserted) ctx.logger.info({ inserted }, 'loaded the demo catalogue');
    }
  },
});
