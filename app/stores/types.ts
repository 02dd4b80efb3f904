/**
 * The contracts between the HTTP layer and its stores. Each store has a Redis/Postgres
 * implementation and an embedded (in-process / PGlite) one behind the same interface.
 */

/** A caller's API key as stored (never the plaintext). */
export interface ApiKeyRecord {
  id: string;
  name: string;
  /** Short display prefix, e.g. `sk-llm-AbC1`. */
  prefix: string;
  rpm: number | null;
  tpm: number | null;
  monthlyTokenBudget: number | null;
  /** Model allow-list; null means every model. */
  models: string[] | null;
  createdAt: Date;
  revokedAt: Date | null;
  /** The team whose limits the key also obeys; null for none. */
  teamId: string | null;
  /** Dollar budgets per calendar month / day (UTC); null for none. */
  monthlyBudgetUsd: number | null;
  dailyBudgetUsd: number | null;
  /** The key's team, loaded with the key in the same lookup (so the authenticator's cache holds it). */
  team: TeamRecord | null;
}

/** A group of keys sharing limits and dollar budgets (each key also keeps its own). */
export interface TeamRecord {
  id: string;
  name: string;
  /** Null: the team adds no rate limit of its own (its keys' limits still apply). */
  rpm: number | null;
  tpm: number | null;
  monthlyBudgetUsd: number | null;
  dailyBudgetUsd: number | null;
  /** Models the team's keys may use; null means every model. */
  models: string[] | null;
  createdAt: Date;
}

/** Minimal query surface shared by `pg.Pool` and PGlite. */
export interface Db {
  readonly kind: 'postgres' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` on one dedicated connection (advisory locks, transactions). */
  withConnection<T>(fn: (conn: Pick<Db, 'query' | 'exec'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type LimitKind = 'requests' | 'tokens' | 'budget';
/** Whose limit: the key's own, or its team's. */
export type LimitScope = 'key' | 'team';
/** Calendar periods of budgets, in UTC. */
export type BudgetPeriod = 'day' | 'month';

/** A team's share of a check: null rpm/tpm/budgets add no limit of the team's. */
export interface TeamLimits {
  id: string;
  rpm: number | null;
  tpm: number | null;
  dailyBudgetUsd: number | null;
  monthlyBudgetUsd: number | null;
}

export interface LimitCheck {
  keyId: string;
  rpm: number;
  tpm: number;
  /** Monthly token budget, or null for none. */
  budget: number | null;
  /** Tokens to reserve now: prompt estimate + max_tokens. */
  tokens: number;
  /** USD to reserve against dollar budgets: the request's maximum cost (0 when unpriced). @default 0 */
  costUsd?: number;
  /** The key's dollar budgets per UTC day / month. @default null */
  dailyBudgetUsd?: number | null;
  monthlyBudgetUsd?: number | null;
  /** The key's team: its limits are checked in the same atomic step. @default null */
  team?: TeamLimits | null;
}

/** The calendar periods a reservation was counted in (`YYYY-MM-DD`, `YYYY-MM`, UTC). */
export interface LimitPeriods {
  day: string;
  month: string;
}

export interface LimitDecision {
  allowed: boolean;
  /** Which limit refused the request (only when `allowed` is false). */
  refusedBy?: LimitKind;
  /** Whose limit refused it. */
  refusedScope?: LimitScope;
  /** The budget that refused it (refusedBy 'budget'): its period, unit and size. */
  refusedBudget?: { period: BudgetPeriod; unit: 'tokens' | 'usd'; limit: number; resetsAt: Date };
  /** The tightest request limit of key and team: its size, what is left, when it is full again. */
  limitRequests: number;
  remainingRequests: number;
  /** Milliseconds until the request window is full again. */
  resetRequestsMs: number;
  limitTokens: number;
  remainingTokens: number;
  resetTokensMs: number;
  /** Milliseconds the caller should wait before retrying (when refused). */
  retryAfterMs: number;
  /** True when the decision came from a fallback because the shared store was unavailable. */
  degraded?: boolean;
  /** Where the reservation was counted: hand back to `reconcile`. */
  periods?: LimitPeriods;
}

/** Settles one reservation: what the check reserved (in `check`) against what was really used. */
export interface LimitReconcile {
  check: LimitCheck;
  /** `decision.periods` of the check; @default the current periods */
  periods?: LimitPeriods;
  tokens: number;
  costUsd: number;
}

/** A dollar budget's settled spend reached 80 % or 100 % (reported once per crossing). */
export interface BudgetThresholdEvent {
  scope: LimitScope;
  id: string;
  period: BudgetPeriod;
  percent: 80 | 100;
  spent_usd: number;
  budget_usd: number;
}

/**
 * Per-key rpm, tpm, monthly token budget and dollar budgets, and the key's team's rpm, tpm and
 * dollar budgets. `check` is atomic: it either reserves one request, `tokens` tokens and `costUsd`
 * dollars against every limit, or reserves nothing.
 */
export interface RateLimiter {
  check(req: LimitCheck): Promise<LimitDecision>;
  /** Settles a reservation with the real usage (may give tokens and dollars back). */
  reconcile(req: LimitReconcile): Promise<void>;
  /** Readiness: throws when the backing store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A cached chat answer: a JSON body, or the SSE `data:` payloads of a stream (without `[DONE]`). */
export type CachedAnswer =
  | { kind: 'json'; body: string }
  | { kind: 'stream'; events: string[] };

export interface ResponseCache {
  get(key: string): Promise<CachedAnswer | null>;
  set(key: string, value: CachedAnswer, ttlSeconds: number): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One row per request. */
export interface UsageRecord {
  keyId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  cached: boolean;
  status: number;
  upstreamMs: number;
  totalMs: number;
  requestId: string;
  createdAt: Date;
  /** The key's team when the request was made; usage stays with that team if the key moves. */
  teamId: string | null;
  /** Subsets of promptTokens / completionTokens (0 when unknown). */
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** USD; null when the model has no price. */
  costUsd: number | null;
  /** True when the gateway counted the tokens itself (no usage reported). */
  estimated: boolean;
  provider?: string;
  deployment?: string;
  /** chat, responses, embeddings, messages, … */
  surface?: string;
}

/** Sums over a set of usage rows. */
export interface UsageTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cached_requests: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  /** USD over the priced rows. */
  cost_usd: number;
  /** Rows whose model had no price (not in cost_usd). */
  unpriced_requests: number;
}

export interface UsageSummary extends UsageTotals {
  by_model: Record<string, UsageTotals>;
}
