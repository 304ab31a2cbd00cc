-- A completed purchase always has its price and total. The reconciler once completed a pending purchase
-- whose product had been deleted with neither (it priced from the product, and there was none); it now
-- prices from the reservation and fails what cannot be priced, and this check refuses the old outcome.
-- NOT VALID: rows written before it are left as they are (checked from here on, not rewritten).
ALTER TABLE purchases
  ADD CONSTRAINT purchases_completed_priced
  CHECK (status <> 'completed' OR (unit_price IS NOT NULL AND total IS NOT NULL)) NOT VALID;
