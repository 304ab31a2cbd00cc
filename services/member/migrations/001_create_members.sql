-- Members. Emails are stored normalised (trimmed, lower case); the unique index on lower(email) keeps
-- "Ann@x.io" and "ann@x.io" one account even if a row ever bypassed the normalisation.
CREATE TABLE members (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL,
  name          text NOT NULL,
  password_hash text NOT NULL,
  role          text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz
);

CREATE UNIQUE INDEX members_email_key ON members (lower(email));
