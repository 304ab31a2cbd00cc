import { errors } from '@msa/service-kit';
import { productUnavailable } from './answer';
import type { Member, PurchaseDeps } from './deps';
import { getPurchase } from './get';
import { finishCancel } from './settle';
import type { Purchase } from './store';

/**
 * Cancel a completed purchase and give its stock back. 'cancelling' is saved first, so a crash
 * between the release and the mark is finished by the reconciler. Cancelling a cancelled purchase
 * answers it again (200): a retried cancel whose answer was lost must not look like an error.
 */
export async function cancelPurchase(deps: PurchaseDeps, id: string, member: Member): Promise<Purchase> {
  let purchase = await getPurchase(deps, id, member);
  if (purchase.status === 'completed') {
    purchase = (await deps.store.startCancel(id)) ?? (await getPurchase(deps, id, member));
  }
  switch (purchase.status) {
    case 'cancelled':
      return purchase;
    case 'cancelling': {
      const done = await finishCancel(deps, purchase);
      if (done.status !== 'cancelled') throw productUnavailable(done);
      return done;
    }
    case 'pending':
      throw new errors.ConflictError(
        'this purchase is not settled yet; try again shortly',
        'PURCHASE_PENDING',
        {
          purchase,
        },
      );
    default:
      throw new errors.ConflictError(`a ${purchase.status} purchase cannot be cancelled`, 'NOT_CANCELLABLE', {
        purchase,
      });
  }
}
