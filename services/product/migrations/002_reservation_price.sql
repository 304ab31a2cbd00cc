-- A reservation keeps the price its stock was taken at. Purchase used to learn the price from the
-- product when it settled a purchase late (after a crash or an outage): a price changed meanwhile was
-- charged instead, and a product deleted meanwhile left the purchase completed with no price at all.
-- Existing reservations get today's price (what purchase would have used); one whose product is
-- already gone keeps null, and purchase fails such a purchase and releases its stock.
ALTER TABLE reservations ADD COLUMN unit_price numeric(12, 2);
UPDATE reservations r SET unit_price = p.price FROM products p WHERE p.id = r.product_id;
