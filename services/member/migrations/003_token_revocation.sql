-- Token revocation. A member token carries the member's token_version as its `ver` claim; unregistering and
-- changing the password raise it, and the gateway refuses a token whose `ver` is below the member's current one.
-- tokens_revoked_at says when it was last raised: only members revoked within one token lifetime are sent to
-- gateways (any older token has expired anyway), found through the partial index.
ALTER TABLE members
  ADD COLUMN token_version     integer NOT NULL DEFAULT 0,
  ADD COLUMN tokens_revoked_at timestamptz;

CREATE INDEX members_tokens_revoked_at ON members (tokens_revoked_at) WHERE tokens_revoked_at IS NOT NULL;
