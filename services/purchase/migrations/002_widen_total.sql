-- The domain's limits, held by the types: a price is at most 9,999,999,999.99 (product's MAX_PRICE) and a
-- purchase at most 100 units (the buy route), so a total reaches 999,999,999,999.00: 12 digits before the
-- point. numeric(12, 2) held 10, and a big purchase failed with "numeric field overflow" after its stock
-- was reserved (the purchase then stayed pending, cancel answered 409 and the reconciler retried forever).
ALTER TABLE purchases ALTER COLUMN total TYPE numeric(14, 2);
