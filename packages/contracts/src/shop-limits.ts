// The shop's domain limits, in one place. Product validates prices and stock with them, purchase
// validates quantities with them, and each service's SQL column types are chosen to hold them: a test
// in each service reads the column types back from the database and checks these values fit, so a
// limit raised here without a migration fails a test instead of overflowing at run time (as
// `purchases.total numeric(12,2)` once did, after the stock had been reserved).

/** The highest price a product may have: 10 digits and cents, held by `products.price numeric(12,2)`. */
export const MAX_PRICE = 9_999_999_999.99;

/** The most units one purchase (and so one reservation) may take; the buy route may be configured lower. */
export const MAX_QUANTITY = 100;

/** The most units a product may have in stock (`products.stock integer`). */
export const MAX_STOCK = 1_000_000;

/** The largest total a purchase can reach, computed in whole cents so no floating-point rounding creeps in. */
export const MAX_TOTAL = (Math.round(MAX_PRICE * 100) * MAX_QUANTITY) / 100;

/** A `numeric(precision, scale)` column's largest value, e.g. numeric(12,2) holds up to 9,999,999,999.99. */
export const numericCapacity = (precision: number, scale: number): number =>
  (10 ** precision - 1) / 10 ** scale;
