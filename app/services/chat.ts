import { performance } from 'node:perf_hooks';
import { PassThrough, Readable } from 'node:stream';
import { cacheKey, isCacheable } from '../cache/cache-key';
import { ApiError, PermissionDeniedError } from '../errors';
import type { Usage } from '../pipeline/usage';
import type { Pricing } from '../pricing/pricing';
import { usageFromChat } from '../pricing/usage-blocks';
import type { RequestStats } from '../lib/request-stats';
import { estimateChatPromptTokens } from '../lib/tokens';
import type { ChatCompletionBody } from '../schemas/requests';
import type { UpstreamClient, UpstreamResponse } from '../upstream/client';
import { forward, readJsonBody, type UpstreamStats } from '../upstream/forward';
import { DONE_EVENT, frameEvent, inspectEvent } from '../upstream/sse';
import { relayStream } from '../upstream/stream-relay';
import { usageFromJson } from '../upstream/usage';
import type { ApiKeyRecord, CachedAnswer, ResponseCache, UsageRecord } from '../stores/types';
import { admit, type AdmissionDeps } from './admission';
import type { Reservation } from './limits';
import { modelAllowed } from './model-access';

export interface ChatRequest {
  key: ApiKeyRecord;
  body: ChatCompletionBody;
  requestId: string;
  /** The caller's Cache-Control header, if any. */
  cacheControl?: string;
  /** Aborted when the caller goes away. */
  signal: AbortSignal;
  /**
   * Aborts `signal`: given only when the signal is this request's alone (not a batch's shared one),
   * so an upstream call started early can be stopped without a controller of its own.
   */
  abort?: () => void;
  stats: RequestStats;
  /** performance.now() when the request arrived. */
  startedAt: number;
}

export type ChatResult =
  | { kind: 'json'; body: string; headers: Record<string, string> }
  | { kind: 'stream'; stream: Readable; headers: Record<string, string> };

/** Limiter, limit defaults, headroom and background-error callback: see AdmissionDeps. */
export interface ChatServiceDeps extends AdmissionDeps {
  upstream: UpstreamClient;
  /** Must not throw: failures read as misses (see cache-fail-safe). */
  cache: ResponseCache;
  usage: { record(r: UsageRecord): void };
  cacheTtlSeconds: number;
  /** Tokens reserved for the answer when the request sets no max_tokens. */
  defaultCompletionReserve?: number;
  /** Prices usage (cost_usd on the row, dollar budgets). Without it cost is null and nothing is reserved in dollars. */
  pricing?: Pricing;
}

export interface ChatService {
  complete(req: ChatRequest): Promise<ChatResult>;
}

export function createChatService(deps: ChatServiceDeps): ChatService {
  const completionReserve = deps.defaultCompletionReserve ?? 1024;
  // The usage block's detail (cached and reasoning tokens) per request, beside the stats' totals.
  const details = new WeakMap<RequestStats, Usage>();

  /** What the request really used, and its cost (a cache hit costs nothing upstream). */
  function actual(req: ChatRequest, cached: boolean): { usage: Usage; costUsd: number | null } {
    const s = req.stats;
    const usage = { ...details.get(s), inputTokens: s.promptTokens, outputTokens: s.completionTokens };
    const costUsd = cached ? 0 : deps.pricing ? deps.pricing.cost(req.body.model, usage) : null;
    return { usage, costUsd };
  }

  /** Settles the reservation and records the row from one pricing of the usage (it is counted when unpriced). */
  function finish(req: ChatRequest, reservation: Reservation, status: number) {
    const used = actual(req, false);
    reservation.settle({ tokens: used.usage.inputTokens + used.usage.outputTokens, costUsd: used.costUsd });
    recordUsage(req, status, false, used);
  }

  function recordUsage(req: ChatRequest, status: number, cached: boolean, used = actual(req, cached)) {
    const s = req.stats;
    const { usage, costUsd } = used;
    deps.usage.record({
      keyId: req.key.id,
      model: req.body.model,
      promptTokens: s.promptTokens,
      completionTokens: s.completionTokens,
      cached,
      status,
      upstreamMs: Math.round(s.upstreamMs),
      totalMs: Math.round(performance.now() - req.startedAt),
      requestId: req.requestId,
      createdAt: new Date(),
      teamId: req.key.teamId,
      cachedInputTokens: usage.cachedInputTokens ?? 0,
      cacheWriteTokens: usage.cacheWriteTokens ?? 0,
      reasoningTokens: usage.reasoningTokens ?? 0,
      costUsd,
      estimated: false,
      surface: 'chat',
    });
  }

  function takeUsage(stats: RequestStats, usage: { prompt_tokens?: number; completion_tokens?: number } | undefined) {
    if (!usage) return;
    stats.promptTokens = usage.prompt_tokens ?? 0;
    stats.completionTokens = usage.completion_tokens ?? 0;
    details.set(stats, usageFromChat(usage as Record<string, unknown>));
  }

  function answerFromCache(req: ChatRequest, hit: CachedAnswer, headers: Record<string, string>): ChatResult {
    if (hit.kind === 'json') {
      // Stored only after a full parse on the way in; here only its usage is read.
      takeUsage(req.stats, usageFromJson(hit.body));
      recordUsage(req, 200, true);
      return { kind: 'json', body: hit.body, headers };
    }
    const wantsUsage = req.body.stream_options?.include_usage === true;
    const events: string[] = [];
    for (const data of hit.events) {
      // The same inspection the live relay does: usage noted, the usage-only chunk dropped unless asked for.
      const info = inspectEvent(data);
      if (info.usage) takeUsage(req.stats, info.usage);
      if (info.usageOnly && !wantsUsage) continue;
      events.push(frameEvent(data));
    }
    events.push(DONE_EVENT);
    req.stats.ttftMs = performance.now() - req.startedAt;
    req.stats.streamOutcome = 'completed';
    recordUsage(req, 200, true);
    return { kind: 'stream', stream: Readable.from([events.join('')]), headers };
  }

  return {
    async complete(req) {
      const { key, body, stats } = req;
      stats.model = body.model;
      if (!modelAllowed(key, body.model)) {
        throw new PermissionDeniedError(`This key may not use the model '${body.model}'.`, 'model_not_allowed', 'model');
      }
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? completionReserve;
      const promptTokens = estimateChatPromptTokens(body.messages);
      const reserved = promptTokens + maxTokens * (body.n ?? 1);
      const costUsd = deps.pricing?.maxCost(body.model, promptTokens, maxTokens * (body.n ?? 1)) ?? null;
      const streaming = body.stream === true;
      const cacheable = isCacheable(body, { 'cache-control': req.cacheControl });
      const entryKey = cacheable ? `${streaming ? 's' : 'j'}:${cacheKey(key.id, body)}` : undefined;
      // The cache read goes out with the limit check (one Redis round trip, auto-pipelined); its
      // answer is used only once the check allowed the request.
      const lookup = entryKey ? deps.cache.get(entryKey).catch(() => null) : undefined;
      const { reservation, upstream } = await admit(deps, {
        key,
        tokens: reserved,
        costUsd,
        stats,
        hangUp: req,
        // A cacheable request may be answered from the cache: it waits for its check.
        mayStartEarly: entryKey === undefined,
        call: (signal, upstreamStats) => upstreamCall(req, signal, upstreamStats),
      });
      try {
        return await completeWithinLimits(req, reservation, entryKey, lookup, upstream);
      } catch (err) {
        if (err instanceof ApiError) Object.assign(err.headers, { ...reservation.headers, ...err.headers });
        reservation.settle({ tokens: 0, costUsd: 0 });
        recordUsage(req, req.signal.aborted ? 499 : ((err as { status?: number }).status ?? 500), false);
        throw err;
      }
    },
  };

  function upstreamCall(req: ChatRequest, signal: AbortSignal, stats: UpstreamStats): Promise<UpstreamResponse> {
    const { body } = req;
    const streaming = body.stream === true;
    // Streams always ask for usage so tokens can be counted; the extra chunk is dropped again for
    // callers that did not ask for it.
    const upstreamBody = streaming
      ? { ...body, stream_options: { ...(body.stream_options ?? {}), include_usage: true } }
      : body;
    return forward(
      deps.upstream,
      {
        method: 'POST',
        path: '/chat/completions',
        body: JSON.stringify(upstreamBody),
        signal,
        headers: streaming ? { accept: 'text/event-stream' } : undefined,
      },
      stats,
    );
  }

  async function completeWithinLimits(
    req: ChatRequest,
    reservation: Reservation,
    entryKey: string | undefined,
    /** The cache read for `entryKey`, issued with the limit check; undefined when not cacheable. */
    lookup: Promise<CachedAnswer | null> | undefined,
    upstream: () => Promise<UpstreamResponse>,
  ): Promise<ChatResult> {
    const { body, stats } = req;
    const streaming = body.stream === true;
    const headers: Record<string, string> = { ...reservation.headers };

    if (lookup) {
      const hit = await lookup;
      if (hit && hit.kind === (streaming ? 'stream' : 'json')) {
        stats.cache = 'hit';
        headers['x-cache'] = 'HIT';
        reservation.settle({ tokens: 0, costUsd: 0 });
        return answerFromCache(req, hit, headers);
      }
      stats.cache = 'miss';
      headers['x-cache'] = 'MISS';
    } else {
      stats.cache = 'bypass';
      headers['x-cache'] = 'BYPASS';
    }

    const res = await upstream();

    if (!streaming) {
      const { text, json } = await readJsonBody(res, stats, req.signal);
      takeUsage(stats, (json as { usage?: { prompt_tokens?: number; completion_tokens?: number } } | null)?.usage);
      finish(req, reservation, 200);
      if (entryKey) {
        deps.cache.set(entryKey, { kind: 'json', body: text }, deps.cacheTtlSeconds).catch(deps.onBackgroundError);
      }
      return { kind: 'json', body: text, headers };
    }

    const out = new PassThrough();
    relayStream({
      source: res.body,
      sink: out,
      signal: req.signal,
      stats,
      startedAt: req.startedAt,
      keepUsageChunk: body.stream_options?.include_usage === true,
      collect: entryKey !== undefined,
    })
      .then((outcome) => {
        if (outcome.usage) takeUsage(stats, outcome.usage);
        finish(req, reservation, outcome.completed ? 200 : outcome.clientClosed ? 499 : 502);
        if (entryKey && outcome.completed && outcome.events) {
          deps.cache
            .set(entryKey, { kind: 'stream', events: outcome.events }, deps.cacheTtlSeconds)
            .catch(deps.onBackgroundError);
        }
      })
      .catch(deps.onBackgroundError);
    return { kind: 'stream', stream: out, headers };
  }
}
