-- Callers' API keys: only a SHA-256 hash and a short display prefix are kept.
CREATE TABLE IF NOT EXISTS api_keys (
  id                    uuid PRIMARY KEY,
  name                  text NOT NULL,
  key_hash              char(64) NOT NULL UNIQUE,
  prefix                text NOT NULL,
  rpm                   integer CHECK (rpm IS NULL OR rpm > 0),
  tpm                   integer CHECK (tpm IS NULL OR tpm > 0),
  monthly_token_budget  bigint CHECK (monthly_token_budget IS NULL OR monthly_token_budget > 0),
  models                text[],
  created_at            timestamptz NOT NULL DEFAULT now(),
  revoked_at            timestamptz
);
