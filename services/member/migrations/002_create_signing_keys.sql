-- The ES256 key pair member tokens are signed with, shared by every member instance. The newest row
-- signs; every row is published in the JWKS, so a future rotation keeps older tokens verifiable.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  private_jwk jsonb NOT NULL,
  public_jwk  jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
