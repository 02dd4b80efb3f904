import { performance } from 'node:perf_hooks';
import { PassThrough, Readable } from 'node:stream';
import { cacheKey, isCacheable } from '../cache/cache-key';
import { ApiError, PermissionDeniedError, QuotaExceededError, RateLimitError } from '../errors';
import type { RequestStats } from '../lib/request-stats';
import { estimateChatPromptTokens } from '../lib/tokens';
import type { ChatCompletionBody } from '../schemas/requests';
import type { UpstreamClient, UpstreamResponse } from '../upstream/client';
import { forward, readJsonBody, type UpstreamStats } from '../upstream/forward';
import { DONE_EVENT, frameEvent, inspectEvent } from '../upstream/sse';
import { relayStream } from '../upstream/stream-relay';
import { usageFromJson } from '../upstream/usage';
import type { ApiKeyRecord, CachedAnswer, RateLimiter, ResponseCache, UsageRecord } from '../stores/types';
import type { Headroom } from './headroom';
import { reserve, type LimitDefaults, type Reservation } from './limits';

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

const noop = (): void => undefined;

export type ChatResult =
  | { kind: 'json'; body: string; headers: Record<string, string> }
  | { kind: 'stream'; stream: Readable; headers: Record<string, string> };

export interface ChatServiceDeps {
  upstream: UpstreamClient;
  limiter: RateLimiter;
  /** Must not throw: failures read as misses (see cache-fail-safe). */
  cache: ResponseCache;
  usage: { record(r: UsageRecord): void };
  limits: LimitDefaults;
  cacheTtlSeconds: number;
  /** Tokens reserved for the answer when the request sets no max_tokens. */
  defaultCompletionReserve?: number;
  /** Lets requests of keys with ample headroom start upstream before their limit check answers. */
  headroom?: Headroom;
  onBackgroundError?: (err: unknown) => void;
}

export interface ChatService {
  complete(req: ChatRequest): Promise<ChatResult>;
}

export function createChatService(deps: ChatServiceDeps): ChatService {
  const completionReserve = deps.defaultCompletionReserve ?? 1024;

  function recordUsage(req: ChatRequest, status: number, cached: boolean) {
    const s = req.stats;
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
    });
  }

  function takeUsage(stats: RequestStats, usage: { prompt_tokens?: number; completion_tokens?: number } | undefined) {
    if (!usage) return;
    stats.promptTokens = usage.prompt_tokens ?? 0;
    stats.completionTokens = usage.completion_tokens ?? 0;
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
      if (key.models && !key.models.includes(body.model)) {
        throw new PermissionDeniedError(`This key may not use the model '${body.model}'.`, 'model_not_allowed', 'model');
      }
      const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? completionReserve;
      const reserved = estimateChatPromptTokens(body.messages) + maxTokens * (body.n ?? 1);
      const streaming = body.stream === true;
      const cacheable = isCacheable(body, { 'cache-control': req.cacheControl });
      const entryKey = cacheable ? `${streaming ? 's' : 'j'}:${cacheKey(key.id, body)}` : undefined;
      // The cache read goes out with the limit check (one Redis round trip, auto-pipelined); its
      // answer is used only once the check allowed the request.
      const lookup = entryKey ? deps.cache.get(entryKey).catch(() => null) : undefined;
      const pending = reserve(deps.limiter, key, reserved, deps.limits, deps.onBackgroundError, req.stats);
      // With ample headroom the upstream call starts alongside the check (see headroom.ts).
      const early =
        !entryKey && key.monthlyTokenBudget === null && deps.headroom?.admitEarly(key.id, reserved)
          ? startEarly(req)
          : undefined;
      let reservation: Reservation;
      try {
        reservation = await pending;
      } catch (err) {
        early?.cancel();
        // A refusal makes the key's last known headroom wrong: no more early starts until a check allows.
        if (err instanceof RateLimitError || err instanceof QuotaExceededError) deps.headroom?.forget(key.id);
        throw err;
      } finally {
        if (early) deps.headroom?.settled(key.id, reserved);
      }
      deps.headroom?.note(key.id, reservation.decision);
      try {
        return await completeWithinLimits(req, reservation, entryKey, lookup, early?.adopt());
      } catch (err) {
        if (err instanceof ApiError) Object.assign(err.headers, { ...reservation.headers, ...err.headers });
        reservation.settle(0);
        recordUsage(req, req.signal.aborted ? 499 : ((err as { status?: number }).status ?? 500), false);
        throw err;
      }
    },
  };

  function upstreamCall(req: ChatRequest, signal: AbortSignal, stats: UpstreamStats = req.stats): Promise<UpstreamResponse> {
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

  /**
   * The upstream call, started before the limit check answered: `adopt` it once the check allowed,
   * `cancel` it if the check refused or failed. Until adopted it records into its own stats, so a
   * cancelled call never shows up in the refused request's log line or upstream metrics.
   */
  function startEarly(req: ChatRequest) {
    const own: UpstreamStats = { upstreamMs: 0, retries: 0 };
    let response: Promise<UpstreamResponse>;
    let stop: () => void;
    let unlink = noop;
    if (req.abort) {
      // The signal is this request's alone: aborting it stops the upstream call, no second controller.
      stop = req.abort;
      response = upstreamCall(req, req.signal, own);
      // Awaited only if the check allows; until then a failure must not surface as unhandled.
      response.catch(noop);
    } else {
      // A shared signal (a batch): one controller for both reasons to stop (AbortSignal.any costs
      // ~20 µs a call on Node 20), linked until the upstream body closes.
      const controller = new AbortController();
      const hangUp = req.signal;
      const onHangUp = () => controller.abort(hangUp.reason);
      unlink = () => hangUp.removeEventListener('abort', onHangUp);
      if (hangUp.aborted) controller.abort(hangUp.reason);
      else hangUp.addEventListener('abort', onHangUp, { once: true });
      stop = () => controller.abort();
      response = upstreamCall(req, controller.signal, own);
      response.then((res) => res.body.once('close', unlink), unlink);
    }
    const merge = () => {
      const s = req.stats;
      s.earlyStart = 'used';
      s.upstreamMs += own.upstreamMs;
      s.retries += own.retries;
      if (own.upstreamStatus !== undefined) s.upstreamStatus = own.upstreamStatus;
      if (own.upstreamError !== undefined) s.upstreamError = own.upstreamError;
    };
    return {
      adopt(): Promise<UpstreamResponse> {
        return response.then(
          (res) => {
            merge();
            return res;
          },
          (err: unknown) => {
            merge();
            throw err;
          },
        );
      },
      cancel() {
        req.stats.earlyStart = 'cancelled';
        stop();
        unlink();
        response.then((res) => res.body.destroy(), () => undefined);
      },
    };
  }

  async function completeWithinLimits(
    req: ChatRequest,
    reservation: Reservation,
    entryKey: string | undefined,
    lookup: Promise<CachedAnswer | null> | undefined,
    started: Promise<UpstreamResponse> | undefined,
  ): Promise<ChatResult> {
    const { body, stats } = req;
    const streaming = body.stream === true;
    const headers: Record<string, string> = { ...reservation.headers };

    if (entryKey && lookup) {
      const hit = await lookup;
      if (hit && hit.kind === (streaming ? 'stream' : 'json')) {
        stats.cache = 'hit';
        headers['x-cache'] = 'HIT';
        reservation.settle(0);
        return answerFromCache(req, hit, headers);
      }
      stats.cache = 'miss';
      headers['x-cache'] = 'MISS';
    } else {
      stats.cache = 'bypass';
      headers['x-cache'] = 'BYPASS';
    }

    const res = await (started ?? upstreamCall(req, req.signal));

    if (!streaming) {
      const { text, json } = await readJsonBody(res, stats, req.signal);
      takeUsage(stats, (json as { usage?: { prompt_tokens?: number; completion_tokens?: number } } | null)?.usage);
      reservation.settle(stats.promptTokens + stats.completionTokens);
      recordUsage(req, 200, false);
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
        reservation.settle(stats.promptTokens + stats.completionTokens);
        recordUsage(req, outcome.completed ? 200 : outcome.clientClosed ? 499 : 502, false);
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
