import { AppError, errors, type Reply } from '@msa/service-kit';
import { answerFor } from './answer';
import { InjectedFault, type PurchaseDeps } from './deps';
import { settlePending } from './settle';
import type { Purchase } from './store';

export interface BuyRequest {
  memberId: string;
  productId: string;
  quantity: number;
  idempotencyKey: string;
}

/**
 * Buy: check the shop's limits, record the purchase pending (committed), reserve at product outside
 * any transaction, then settle it from product's answer. A repeated Idempotency-Key returns what the
 * first one recorded. Everything refused before the reservation writes nothing.
 */
export async function buy(deps: PurchaseDeps, request: BuyRequest): Promise<Reply> {
  const { maxQuantityPerOrder } = deps.policy;
  if (request.quantity > maxQuantityPerOrder) {
    throw new errors.ValidationError(`at most ${maxQuantityPerOrder} per purchase`, [
      {
        field: 'body.quantity',
        message: `must be at most ${maxQuantityPerOrder} (this shop's limit per purchase)`,
      },
    ]);
  }
  const pending = await insertWithinCap(deps, request);
  if (!pending) return repeat(deps, request);

  const outcome = await deps.product.reserve(pending.id, request.productId, request.quantity);
  let settled: Purchase | undefined;
  switch (outcome.kind) {
    case 'reserved':
      if (deps.fault === 'crash-after-reserve') throw new InjectedFault(deps.fault);
      settled = await deps.store.complete(pending.id, outcome.unitPrice);
      if (!settled) return answerFor(await compensateIfFailed(deps, pending), true);
      break;
    case 'out-of-stock':
      settled = await deps.store.fail(pending.id, 'out-of-stock');
      break;
    case 'product-not-found':
      // Nothing was reserved and nothing is left to settle: keep no row, so made-up product ids cost
      // no storage. A repeat of the key asks product again and gets the same 404.
      await deps.store.discard(pending.id);
      throw new errors.NotFoundError('no product with this id', 'PRODUCT_NOT_FOUND');
    case 'rejected':
      deps.logger.error(
        { purchaseId: pending.id, status: outcome.status, body: outcome.body },
        'product refused a reservation',
      );
      settled = await deps.store.fail(pending.id, 'product-rejected');
      break;
    case 'unavailable':
      // Product may have reserved before the answer was lost: only the reconciler may decide.
      deps.logger.warn(
        { purchaseId: pending.id, reason: outcome.reason },
        'product unavailable; purchase left pending',
      );
      settled = pending;
      break;
  }
  return answerFor(settled ?? (await deps.store.byId(pending.id)) ?? pending, true);
}

/** The pending row (undefined for a repeated key), or 409 when the member's cap for this product is reached. */
async function insertWithinCap(deps: PurchaseDeps, request: BuyRequest): Promise<Purchase | undefined> {
  const { memberProductLimit: limit, memberProductWindowMs: windowMs } = deps.policy;
  if (limit === 0) return deps.store.insertPending(request);
  const result = await deps.store.insertPendingCapped(request, { limit, windowMs });
  if (result.kind === 'repeat') return undefined;
  if (result.kind === 'inserted') return result.purchase;
  throw new errors.ConflictError(
    `at most ${limit} of one product per member within ${windowMs / 3_600_000} h; ${result.held} already bought or on the way`,
    'MEMBER_LIMIT_REACHED',
    { limit, windowMs, held: result.held, requested: request.quantity },
  );
}

async function repeat(deps: PurchaseDeps, request: BuyRequest): Promise<Reply> {
  const existing = await deps.store.byKey(request.memberId, request.idempotencyKey);
  if (!existing) throw new Error('idempotency key conflicted but no purchase holds it');
  if (existing.productId !== request.productId || existing.quantity !== request.quantity) {
    throw new AppError(
      422,
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was already used for a different purchase; use a new key',
      { purchaseId: existing.id },
    );
  }
  const purchase = existing.status === 'pending' ? await settlePending(deps, existing, false) : existing;
  return answerFor(purchase, false);
}

/**
 * Our reservation succeeded but the purchase had left 'pending' meanwhile: only the reconciler
 * failing it (it found no reservation while ours was still on its way) does that, so give the
 * stock back. Completed by a concurrent repeat is fine as it is.
 */
async function compensateIfFailed(deps: PurchaseDeps, pending: Purchase): Promise<Purchase> {
  const now = (await deps.store.byId(pending.id)) ?? pending;
  if (now.status === 'failed') {
    const released = await deps.product.release(pending.id);
    if (released.kind === 'unavailable') {
      deps.logger.error(
        { purchaseId: pending.id, reason: released.reason },
        'stock reserved for a failed purchase could not be released',
      );
    }
  }
  return now;
}
