import { AppError, errors, reply, type Reply } from '@msa/service-kit';
import type { Purchase } from './store';

export const productUnavailable = (purchase: Purchase) =>
  new errors.ServiceUnavailableError(
    'the product service could not be reached; the purchase stays pending until it is settled. ' +
      'Repeat the request with the same Idempotency-Key to see its outcome',
    'PRODUCT_UNAVAILABLE',
    { purchase },
  );

/**
 * The answer for a purchase's state, the same on every repeat of its Idempotency-Key: a failed
 * purchase answers its failure again (with the purchase in details), a settled one 201 then 200,
 * one still pending 503 the first time (product could not be reached) and 202 on repeats.
 */
export function answerFor(purchase: Purchase, first: boolean): Reply {
  switch (purchase.status) {
    case 'pending':
      if (first) throw productUnavailable(purchase);
      return reply(202, purchase);
    case 'failed':
      throw failureError(purchase);
    default:
      return reply(first ? 201 : 200, purchase);
  }
}

function failureError(purchase: Purchase): AppError {
  switch (purchase.failureReason) {
    case 'out-of-stock':
      return new AppError(409, 'OUT_OF_STOCK', 'not enough stock for this quantity', { purchase });
    case 'product-not-found':
      return new AppError(404, 'PRODUCT_NOT_FOUND', 'no product with this id', { purchase });
    case 'product-unavailable':
      return new AppError(
        503,
        'PRODUCT_UNAVAILABLE',
        'the product service was unavailable and nothing was reserved; buy again with a new Idempotency-Key',
        {
          purchase,
        },
      );
    case 'unpriced':
      return new AppError(
        409,
        'PRODUCT_UNPRICED',
        'no price could be found for the stock reserved (its product was removed); nothing was charged and the stock was given back',
        { purchase },
      );
    case 'expired':
      return new AppError(
        409,
        'PURCHASE_EXPIRED',
        'the purchase could not be settled in time; nothing was charged and the stock was given back. Buy again with a new Idempotency-Key',
        { purchase },
      );
    default:
      return new AppError(502, 'PRODUCT_REJECTED', 'the product service refused the reservation', {
        purchase,
      });
  }
}
