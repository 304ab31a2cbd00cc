// Purchase's view of product's internal reservation API (services/product/src/routes.ts serves it).
import { MAX_PRICE } from '@msa/contracts';
import { AppError, type InternalClient } from '@msa/service-kit';

export type ReserveOutcome =
  | { kind: 'reserved'; unitPrice: number }
  | { kind: 'out-of-stock'; details: { available?: number; requested?: number } }
  | { kind: 'product-not-found' }
  /** No answer, or a 5xx: the reservation may or may not exist, so the purchase stays pending. */
  | { kind: 'unavailable'; reason: string }
  /** A 4xx we did not expect: product refused it, so nothing was reserved. */
  | { kind: 'rejected'; status: number; body: unknown };

export type LookupOutcome =
  | { kind: 'reserved'; unitPrice?: number }
  | { kind: 'released' }
  | { kind: 'none' }
  | { kind: 'unavailable'; reason: string };

export type ReleaseOutcome =
  { kind: 'released' } | { kind: 'none' } | { kind: 'unavailable'; reason: string };

interface ReservationBody {
  reservation?: { status?: string; unitPrice?: number | string | null };
  product?: { price?: number | string } | null;
  status?: string;
}

const PRODUCT = 'product';

/** Turns "could not get an answer" from the kit's client into a value: callers decide, nothing throws. */
async function call<T>(http: InternalClient, run: (http: InternalClient) => Promise<T>) {
  try {
    return { ok: true as const, value: await run(http) };
  } catch (err) {
    if (err instanceof AppError && (err.status === 503 || err.status === 504)) {
      return { ok: false as const, reason: err.message };
    }
    throw err;
  }
}

/**
 * The price the stock was taken at, as product recorded it on the reservation (the product's own price
 * only from a product that predates it). undefined when neither is there: the purchase cannot be priced.
 */
const priceOf = (body: ReservationBody | undefined): number | undefined => {
  const recorded = body?.reservation?.unitPrice ?? body?.product?.price;
  if (recorded === undefined || recorded === null || recorded === '') return undefined;
  const price = Number(recorded);
  return Number.isFinite(price) && price >= 0 && price <= MAX_PRICE ? price : undefined;
};

export class ProductClient {
  constructor(private readonly http: InternalClient) {}

  /** Idempotent per purchase id at product, so the kit may retry it on another instance. */
  async reserve(purchaseId: string, productId: string, quantity: number): Promise<ReserveOutcome> {
    const res = await call(this.http, (http) =>
      http.request<ReservationBody & { code?: string; available?: number; requested?: number }>(PRODUCT, {
        method: 'POST',
        path: '/internal/reservations',
        body: { purchaseId, productId, quantity },
        headers: { 'idempotency-key': purchaseId },
      }),
    );
    if (!res.ok) return { kind: 'unavailable', reason: res.reason };
    const { status, data } = res.value;
    if (status === 200 || status === 201) {
      const unitPrice = priceOf(data);
      if (unitPrice === undefined) return { kind: 'unavailable', reason: 'product answered without a price' };
      return { kind: 'reserved', unitPrice };
    }
    // Product's problem details: `code`, and how many were asked and left as extension members.
    if (status === 409 && data?.code === 'OUT_OF_STOCK') {
      return { kind: 'out-of-stock', details: { available: data.available, requested: data.requested } };
    }
    if (status === 404 && data?.code === 'PRODUCT_NOT_FOUND') return { kind: 'product-not-found' };
    if (status >= 500) return { kind: 'unavailable', reason: `product answered ${status}` };
    return { kind: 'rejected', status, body: data };
  }

  /** What the reconciler asks to decide a pending purchase. */
  async findReservation(purchaseId: string): Promise<LookupOutcome> {
    const res = await call(this.http, (http) =>
      http.request<ReservationBody>(PRODUCT, {
        method: 'GET',
        path: `/internal/reservations/${encodeURIComponent(purchaseId)}`,
      }),
    );
    if (!res.ok) return { kind: 'unavailable', reason: res.reason };
    const { status, data } = res.value;
    if (status === 404) return { kind: 'none' };
    if (status !== 200) return { kind: 'unavailable', reason: `product answered ${status}` };
    const reservationStatus = data?.reservation?.status ?? data?.status;
    if (reservationStatus === 'released') return { kind: 'released' };
    return { kind: 'reserved', unitPrice: priceOf(data) };
  }

  /** Releasing twice changes stock once at product; 404 means there was nothing to release. */
  async release(purchaseId: string): Promise<ReleaseOutcome> {
    const res = await call(this.http, (http) =>
      http.request(PRODUCT, {
        method: 'POST',
        path: `/internal/reservations/${encodeURIComponent(purchaseId)}/release`,
        headers: { 'idempotency-key': purchaseId },
      }),
    );
    if (!res.ok) return { kind: 'unavailable', reason: res.reason };
    if (res.value.status === 200) return { kind: 'released' };
    if (res.value.status === 404) return { kind: 'none' };
    return { kind: 'unavailable', reason: `product answered ${res.value.status}` };
  }
}
