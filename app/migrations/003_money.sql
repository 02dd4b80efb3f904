-- Teams: limits and dollar budgets shared by a group of keys.
CREATE TABLE IF NOT EXISTS teams (
  id                  uuid PRIMARY KEY,
  name                text NOT NULL,
  rpm                 integer CHECK (rpm IS NULL OR rpm > 0),
  tpm                 integer CHECK (tpm IS NULL OR tpm > 0),
  monthly_budget_usd  numeric(16,6) CHECK (monthly_budget_usd IS NULL OR monthly_budget_usd > 0),
  daily_budget_usd    numeric(16,6) CHECK (daily_budget_usd IS NULL OR daily_budget_usd > 0),
  models              text[],
  created_at          timestamptz NOT NULL DEFAULT now()
);

-- A key's own dollar budgets and its team. Deleting a team is refused while live keys belong to it
-- (the route checks); revoked keys just lose the link.
ALTER TABLE api_keys
  ADD COLUMN IF NOT EXISTS team_id uuid REFERENCES teams (id) ON DELETE SET NULL,
  ADD COLUMN IF NOT EXISTS monthly_budget_usd numeric(16,6) CHECK (monthly_budget_usd IS NULL OR monthly_budget_usd > 0),
  ADD COLUMN IF NOT EXISTS daily_budget_usd numeric(16,6) CHECK (daily_budget_usd IS NULL OR daily_budget_usd > 0);
CREATE INDEX IF NOT EXISTS api_keys_team ON api_keys (team_id);

-- The token detail a cost is computed from, and the cost. Old rows read as no cache, no reasoning,
-- cost unknown (null), not estimated.
ALTER TABLE usage_records
  ADD COLUMN IF NOT EXISTS team_id uuid,
  ADD COLUMN IF NOT EXISTS cached_input_tokens integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS cache_write_tokens integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS reasoning_tokens integer NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS cost_usd numeric(20,10),
  ADD COLUMN IF NOT EXISTS estimated boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS provider text,
  ADD COLUMN IF NOT EXISTS deployment text,
  ADD COLUMN IF NOT EXISTS surface text;

-- One row per UTC day, key, team and model, upserted in the same statement that inserts the raw
-- rows: reports and budget re-seeding read this instead of scanning usage_records.
CREATE TABLE IF NOT EXISTS usage_daily (
  day                  date NOT NULL,
  key_id               uuid NOT NULL,
  team_id              uuid,
  model                text NOT NULL,
  requests             bigint NOT NULL DEFAULT 0,
  cached_requests      bigint NOT NULL DEFAULT 0,
  unpriced_requests    bigint NOT NULL DEFAULT 0,
  prompt_tokens        bigint NOT NULL DEFAULT 0,
  completion_tokens    bigint NOT NULL DEFAULT 0,
  cached_input_tokens  bigint NOT NULL DEFAULT 0,
  cache_write_tokens   bigint NOT NULL DEFAULT 0,
  reasoning_tokens     bigint NOT NULL DEFAULT 0,
  cost_usd             numeric(24,10) NOT NULL DEFAULT 0
);
-- team_id may be null: the identity treats "no team" as one value (works before Postgres 15's
-- NULLS NOT DISTINCT). The upsert names this exact expression.
CREATE UNIQUE INDEX IF NOT EXISTS usage_daily_identity
  ON usage_daily (day, key_id, (coalesce(team_id, '00000000-0000-0000-0000-000000000000'::uuid)), model);
CREATE INDEX IF NOT EXISTS usage_daily_key_day ON usage_daily (key_id, day);
CREATE INDEX IF NOT EXISTS usage_daily_team_day ON usage_daily (team_id, day) WHERE team_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS usage_daily_day ON usage_daily (day);

-- Rows written before this migration join the rollup once, so reports over old periods still add up.
INSERT INTO usage_daily (day, key_id, team_id, model, requests, cached_requests, unpriced_requests,
                         prompt_tokens, completion_tokens)
SELECT (created_at AT TIME ZONE 'UTC')::date, key_id, NULL, model, count(*), count(*) FILTER (WHERE cached),
       count(*), sum(prompt_tokens), sum(completion_tokens)
  FROM usage_records
 GROUP BY 1, 2, 4
ON CONFLICT DO NOTHING;
