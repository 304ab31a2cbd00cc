// The purchase service: buy with an Idempotency-Key, list mine, get one, cancel; a reconciler behind.
import path from 'node:path';
import { defineService, z, type ServiceContext } from '@msa/service-kit';
import type { Fault, PurchaseDeps } from './domain/deps';
import { ProductClient } from './domain/product-client';
import { startReconciler } from './domain/reconcile';
import { PurchaseStore } from './domain/store';
import { purchaseRoutes } from './routes';

const config = {
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(5000),
  RECONCILE_AFTER_MS: z.coerce.number().int().min(0).max(86_400_000).default(10000),
  RECONCILE_LEASE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30000),
  /** Tests only: make a request die at a chosen point. Refused when NODE_ENV=production. */
  FAULT_INJECT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.enum(['crash-after-reserve', 'crash-after-release']).optional(),
  ),
};
type Context = ServiceContext<typeof config>;

function depsOf(ctx: Context, withFaults: boolean): PurchaseDeps {
  const fault: Fault | undefined = ctx.config.FAULT_INJECT;
  if (fault && ctx.config.NODE_ENV === 'production') {
    throw new Error(`FAULT_INJECT=${fault} is for tests only and refused when NODE_ENV=production`);
  }
  return {
    store: new PurchaseStore(ctx.db),
    product: new ProductClient(ctx.http),
    logger: ctx.logger,
    // The reconciler never fails on purpose: it is what repairs the injected crash.
    fault: withFaults ? fault : undefined,
  };
}

export const service = defineService({
  name: 'purchase',
  version: '0.1.0',
  config,
  database: { migrationsDir: path.join(__dirname, '..', 'migrations') },
  dependsOn: ['product'],
  routes: (ctx) => purchaseRoutes(depsOf(ctx, true)),
  onStart: async (ctx) =>
    startReconciler(depsOf(ctx, false), {
      intervalMs: ctx.config.RECONCILE_INTERVAL_MS,
      afterMs: ctx.config.RECONCILE_AFTER_MS,
      leaseMs: ctx.config.RECONCILE_LEASE_MS,
    }),
});
