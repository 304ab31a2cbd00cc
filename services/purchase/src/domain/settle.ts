// Settling a purchase whose outcome is not known here: a reservation may or may not exist at product.
import { InjectedFault, type PurchaseDeps } from './deps';
import type { Purchase } from './store';

/**
 * Asks product whether the pending purchase's reservation exists. Reserved → completed at the price the
 * stock was taken at. Not there → failed, but only when `mayFail` (the reconciler, once the purchase is
 * old enough that no request can still be reserving it); a repeat of a young request leaves it pending
 * for the original to finish. Product unreachable → unchanged, tried again later.
 *
 * Never completed without a price, and never completed late: a reservation that carries no price, or
 * one still pending when its hold expired, is released and the purchase failed ('unpriced', 'expired').
 */
export async function settlePending(
  deps: PurchaseDeps,
  purchase: Purchase,
  mayFail: boolean,
): Promise<Purchase> {
  const found = await deps.product.findReservation(purchase.id);
  // Past the hold no request can still be reserving it (holdExpiryMs > RECONCILE_AFTER_MS), so anyone may give it up.
  const expired = Date.now() - Date.parse(purchase.createdAt) > deps.policy.holdExpiryMs;
  switch (found.kind) {
    case 'reserved': {
      if (expired) return giveUp(deps, purchase, 'expired');
      if (found.unitPrice === undefined) return mayFail ? giveUp(deps, purchase, 'unpriced') : purchase;
      return (await deps.store.complete(purchase.id, found.unitPrice)) ?? (await current(deps, purchase));
    }
    case 'none':
    case 'released':
      if (!mayFail && !expired) return purchase;
      return (await deps.store.fail(purchase.id, 'product-unavailable')) ?? (await current(deps, purchase));
    case 'unavailable':
      deps.logger.warn({ purchaseId: purchase.id, reason: found.reason }, 'cannot settle purchase yet');
      return purchase;
  }
}

/**
 * Releases the stock first, then fails the purchase: a crash in between leaves it pending with its
 * reservation released, which the next pass fails. The other order could strand the stock.
 */
async function giveUp(
  deps: PurchaseDeps,
  purchase: Purchase,
  reason: 'unpriced' | 'expired',
): Promise<Purchase> {
  const released = await deps.product.release(purchase.id);
  if (released.kind === 'unavailable') {
    deps.logger.warn({ purchaseId: purchase.id, reason: released.reason }, 'cannot release stock yet');
    return purchase;
  }
  deps.logger.warn({ purchaseId: purchase.id, reason }, 'purchase given up; its stock was released');
  return (await deps.store.fail(purchase.id, reason)) ?? (await current(deps, purchase));
}

/**
 * Finishes a cancel: release at product (404 = nothing was reserved), then mark cancelled. Safe to
 * run twice or from two places at once: product releases once, the mark is guarded by 'cancelling'.
 */
export async function finishCancel(deps: PurchaseDeps, purchase: Purchase): Promise<Purchase> {
  const released = await deps.product.release(purchase.id);
  if (released.kind === 'unavailable') {
    deps.logger.warn({ purchaseId: purchase.id, reason: released.reason }, 'cannot release stock yet');
    return purchase;
  }
  if (deps.fault === 'crash-after-release') throw new InjectedFault(deps.fault);
  return (await deps.store.finishCancel(purchase.id)) ?? (await current(deps, purchase));
}

async function current(deps: PurchaseDeps, purchase: Purchase): Promise<Purchase> {
  return (await deps.store.byId(purchase.id)) ?? purchase;
}
