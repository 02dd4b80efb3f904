import type { LimitKind } from '../stores/types';

export type CacheResult = 'hit' | 'miss' | 'bypass';
export type EarlyStartOutcome = 'used' | 'cancelled';
export type UpstreamErrorKind = 'timeout' | 'connection' | 'status_5xx' | 'status_4xx' | 'status_429' | 'stream';

/**
 * What one request did, filled in as it goes and read once when it ends (access log, metrics,
 * Server-Timing). Keys never go in here, only their ids.
 */
export interface RequestStats {
  route?: string;
  keyId?: string;
  model?: string;
  promptTokens: number;
  completionTokens: number;
  cache?: CacheResult;
  /** Time spent waiting on the upstream (headers plus body), in ms. */
  upstreamMs: number;
  /** Streams: time from the request arriving to the first byte sent to the client, in ms. */
  ttftMs?: number;
  retries: number;
  upstreamStatus?: number;
  upstreamError?: UpstreamErrorKind;
  rateLimited?: LimitKind;
  /** The upstream call started before the limit check answered: used, or cancelled (the check refused or failed). */
  earlyStart?: EarlyStartOutcome;
  /** `/v1/batch`: each item's own stats (the request's token and time fields hold their sums). */
  items?: RequestStats[];
  /** Set once a stream has ended (normally, by error, or by the client leaving). */
  streamOutcome?: 'completed' | 'error' | 'client_closed';
}

export function newRequestStats(): RequestStats {
  return { promptTokens: 0, completionTokens: 0, upstreamMs: 0, retries: 0 };
}
