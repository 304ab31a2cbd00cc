-- Money as numeric(12,2), never float; stock can never go negative, whatever the code does.
CREATE TABLE products (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description text NOT NULL DEFAULT '',
  category text NOT NULL CHECK (char_length(category) BETWEEN 1 AND 50),
  price numeric(12, 2) NOT NULL CHECK (price >= 0),
  stock integer NOT NULL CHECK (stock >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_price_idx ON products (category, price);
CREATE INDEX products_price_idx ON products (price);
CREATE INDEX products_name_idx ON products (name);
CREATE INDEX products_created_at_idx ON products (created_at);

-- One row per purchase: the primary key is what makes a reservation idempotent.
-- No foreign key to products on purpose: deleting a product keeps its reservations as history,
-- and releasing one of them later is still answered (nothing to give back).
CREATE TABLE reservations (
  purchase_id uuid PRIMARY KEY,
  product_id uuid NOT NULL,
  quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 100),
  status text NOT NULL CHECK (status IN ('reserved', 'released')),
  created_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz
);
CREATE INDEX reservations_product_idx ON reservations (product_id);

-- Marks a seed as done, so the catalogue is loaded once even when several instances start together
-- and products an admin deleted do not come back on the next start.
CREATE TABLE seeds (
  name text PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
