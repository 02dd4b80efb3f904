-- One row per request, written in batches off the request path.
CREATE TABLE IF NOT EXISTS usage_records (
  id                 bigserial PRIMARY KEY,
  key_id             uuid NOT NULL,
  model              text NOT NULL,
  prompt_tokens      integer NOT NULL DEFAULT 0,
  completion_tokens  integer NOT NULL DEFAULT 0,
  cached             boolean NOT NULL DEFAULT false,
  status             smallint NOT NULL,
  upstream_ms        integer NOT NULL DEFAULT 0,
  total_ms           integer NOT NULL DEFAULT 0,
  request_id         text NOT NULL,
  created_at         timestamptz NOT NULL
);
-- Per-key time ranges (admin usage, monthly budget reconciliation) and retention deletes.
CREATE INDEX IF NOT EXISTS usage_records_key_time ON usage_records (key_id, created_at);
CREATE INDEX IF NOT EXISTS usage_records_time ON usage_records (created_at);
