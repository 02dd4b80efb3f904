import type { Surface } from '../providers/types';
import type { UpstreamErrorKind } from '../routing/router';
import type { LimitKind } from '../stores/types';
import type { Usage } from './usage';

export type CacheResult = 'hit' | 'miss' | 'bypass';
export type StreamEnd = 'completed' | 'error' | 'client_closed';

/**
 * What one model call did, returned by the pipeline once the call is over (for streams: once the
 * stream ended). The access log, Prometheus and EMF read it in one place (observability/instrument);
 * nothing else writes it. Keys appear only by id.
 */
export interface CallOutcome {
  surface?: Surface;
  keyId?: string;
  /** The public model name the caller asked for. */
  model?: string;
  /** Provider and deployment that served the answer, or of the last failed attempt. */
  provider?: string;
  deployment?: string;
  /** Provider calls made (0: refused, cached, or invalid before any call). */
  attempts: number;
  promptTokens: number;
  completionTokens: number;
  usage?: Usage;
  costUsd?: number | null;
  cache?: CacheResult;
  /** Time spent waiting on providers (headers of every attempt, plus the body), in ms. */
  upstreamMs: number;
  /** Streams: from the request arriving to the first byte sent, in ms. */
  ttftMs?: number;
  /** Attempts after the first. */
  retries: number;
  upstreamStatus?: number;
  upstreamError?: UpstreamErrorKind;
  rateLimited?: LimitKind;
  stream?: StreamEnd;
  /** `/v1/batch`: each item's own outcome (this one's token and time fields hold their sums). */
  items?: CallOutcome[];
}

export function emptyOutcome(): CallOutcome {
  return { attempts: 0, promptTokens: 0, completionTokens: 0, upstreamMs: 0, retries: 0 };
}

/** A batch's outcome: its items, with their tokens and upstream time summed. */
export function batchOutcome(items: CallOutcome[]): CallOutcome {
  const o: CallOutcome = { ...emptyOutcome(), surface: 'chat', items };
  for (const i of items) {
    o.promptTokens += i.promptTokens;
    o.completionTokens += i.completionTokens;
    o.upstreamMs += i.upstreamMs;
    o.retries += i.retries;
    o.attempts += i.attempts;
  }
  return o;
}
