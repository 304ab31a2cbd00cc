import type { PurchaseDeps } from './deps';
import { finishCancel, settlePending } from './settle';

export interface ReconcilerOptions {
  intervalMs: number;
  /** Only purchases unsettled for longer than this: by then no request can still be reserving them. */
  afterMs: number;
  /** How long a claim keeps other instances away from a purchase (it expires if this one dies). */
  leaseMs: number;
  batch?: number;
}

/** One pass: claim a batch (one short statement, no transaction held), then settle each outside it. */
export async function reconcileOnce(deps: PurchaseDeps, opts: ReconcilerOptions): Promise<number> {
  const claimed = await deps.store.claimUnsettled(opts.afterMs, opts.leaseMs, opts.batch ?? 20);
  for (const purchase of claimed) {
    try {
      const after =
        purchase.status === 'pending'
          ? await settlePending(deps, purchase, true)
          : await finishCancel(deps, purchase);
      if (after.status !== purchase.status) {
        deps.logger.info(
          { purchaseId: purchase.id, from: purchase.status, to: after.status },
          'purchase reconciled',
        );
      }
    } catch (err) {
      deps.logger.warn(
        { purchaseId: purchase.id, err: (err as Error).message },
        'reconcile failed; will retry',
      );
    }
  }
  return claimed.length;
}

/** Settles, every `intervalMs`, what crashes and outages left pending or cancelling. Returns the stop hook. */
export function startReconciler(deps: PurchaseDeps, opts: ReconcilerOptions): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return; // a slow pass is never overlapped by the next
    running = reconcileOnce(deps, opts)
      .catch((err) => deps.logger.warn({ err: (err as Error).message }, 'reconcile pass failed'))
      .finally(() => (running = undefined));
  }, opts.intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
