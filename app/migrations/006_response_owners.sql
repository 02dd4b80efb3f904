-- Which key created each stored object (Responses API ids, stored chat completions): every caller
-- shares the gateway's provider account, so the provider would show any key any id.
CREATE TABLE IF NOT EXISTS object_owners (
  id          text PRIMARY KEY,
  key_id      uuid NOT NULL,
  provider    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS object_owners_time ON object_owners (created_at);
