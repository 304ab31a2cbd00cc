import { errors } from '@msa/service-kit';
import type { Member, PurchaseDeps } from './deps';
import type { Purchase } from './store';

/** Someone else's purchase is "not found", not "forbidden": its existence is not the caller's business. */
export async function getPurchase(deps: PurchaseDeps, id: string, member: Member): Promise<Purchase> {
  const purchase = await deps.store.byId(id);
  if (!purchase || (purchase.memberId !== member.id && member.role !== 'admin')) {
    throw new errors.NotFoundError('no purchase with this id', 'PURCHASE_NOT_FOUND');
  }
  return purchase;
}
