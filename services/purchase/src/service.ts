// The purchase service: buy with an Idempotency-Key, list mine, get one, cancel; a reconciler behind.
import path from 'node:path';
import { MAX_QUANTITY } from '@msa/contracts';
import { defineService, z, type ServiceContext } from '@msa/service-kit';
import type { Fault, PurchaseDeps, PurchasePolicy } from './domain/deps';
import { ProductClient } from './domain/product-client';
import { startReconciler } from './domain/reconcile';
import { PurchaseStore } from './domain/store';
import { purchaseRoutes } from './routes';

const config = {
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(5000),
  RECONCILE_AFTER_MS: z.coerce.number().int().min(0).max(86_400_000).default(10000),
  RECONCILE_LEASE_MS: z.coerce.number().int().min(100).max(3_600_000).default(30000),
  // Purchase limits: docs/security.md says what each does and why its default.
  MAX_QUANTITY_PER_ORDER: z.coerce.number().int().min(1).max(MAX_QUANTITY).default(10),
  /** 0 = no per-member cap. */
  MEMBER_PRODUCT_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(0),
  MEMBER_PRODUCT_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(31 * 86_400_000)
    .default(86_400_000),
  HOLD_EXPIRY_MS: z.coerce
    .number()
    .int()
    .min(1000)
    .max(7 * 86_400_000)
    .default(900_000),
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
  if (ctx.config.HOLD_EXPIRY_MS <= ctx.config.RECONCILE_AFTER_MS) {
    // A hold shorter than the reconciler's wait would give up purchases a request is still reserving.
    throw new Error('HOLD_EXPIRY_MS must be longer than RECONCILE_AFTER_MS');
  }
  const policy: PurchasePolicy = {
    maxQuantityPerOrder: ctx.config.MAX_QUANTITY_PER_ORDER,
    memberProductLimit: ctx.config.MEMBER_PRODUCT_LIMIT,
    memberProductWindowMs: ctx.config.MEMBER_PRODUCT_WINDOW_MS,
    holdExpiryMs: ctx.config.HOLD_EXPIRY_MS,
  };
  return {
    store: new PurchaseStore(ctx.db),
    policy,
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
