-- One row per (member, Idempotency-Key): the key is what makes a retried POST return the same purchase.
CREATE TABLE purchases (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  member_id uuid NOT NULL,
  product_id uuid NOT NULL,
  quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
  unit_price numeric(12, 2),
  total numeric(12, 2),
  -- 'cancelling' is written before the stock is released, so a crash between release and mark is finished later.
  status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'cancelling', 'cancelled')),
  failure_reason text,
  idempotency_key text NOT NULL,
  -- A reconciler instance's claim: others skip the row until this time passes (it expires if that instance dies).
  reconcile_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT purchases_member_key UNIQUE (member_id, idempotency_key)
);

CREATE INDEX purchases_member_recent ON purchases (member_id, created_at DESC, id DESC);
CREATE INDEX purchases_unsettled ON purchases (updated_at) WHERE status IN ('pending', 'cancelling');
