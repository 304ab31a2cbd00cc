import type { Member, PurchaseDeps } from './deps';

/** The member's own purchases, newest first. */
export async function listPurchases(
  deps: PurchaseDeps,
  member: Member,
  page: { limit: number; offset: number },
) {
  const { items, total } = await deps.store.listByMember(member.id, page.limit, page.offset);
  return { items, total, limit: page.limit, offset: page.offset };
}
