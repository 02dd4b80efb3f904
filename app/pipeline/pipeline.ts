import { PassThrough, Readable } from 'node:stream';
import { ApiError, InternalError, InvalidRequestError, NotFoundError, PermissionDeniedError, QuotaExceededError, RateLimitError } from '../errors';
import { countTokensSoon } from '../lib/tokenizer';
import type { StreamEvent } from '../providers/types';
import type { Pricing } from '../pricing/pricing';
import type { AttemptTrace, Router, RoutePlan } from '../routing/router';
import { cacheKey } from '../cache/cache-key';
import { parseBody } from '../schemas/requests';
import { reserve, type Amounts, type LimitDefaults, type Reservation } from '../services/limits';
import { modelAllowed } from '../services/model-access';
import { RefusedBody } from '../plugins/json-body';
import type { ObjectOwners } from '../stores/object-owners';
import type { ApiKeyRecord, CachedAnswer, RateLimiter, ResponseCache, UsageRecord } from '../stores/types';
import type { AnyCodec, RequestShape } from '../surfaces/codec';
import { emptyOutcome, type CallOutcome } from './outcome';
import { relay, type RelayResult } from './relay';
import { scrubErrorEvent } from './scrub-event';
import type { Scrubber } from '../security/scrub';
import { frameEvent } from './sse-frame';
import type { Usage } from './usage';

/** `gateway` is our own time so far, `upstream` the time spent waiting on providers (ms). */
export function serverTiming(totalMs: number, upstreamMs: number): string {
  return `gateway;dur=${Math.max(0, totalMs - upstreamMs).toFixed(3)}, upstream;dur=${upstreamMs.toFixed(3)}`;
}


export interface PipelineDeps {
  router: Router;
  limiter: RateLimiter;
  limits: LimitDefaults;
  /** Must not throw: failures read as misses (see cache-fail-safe). */
  cache: ResponseCache;
  cacheTtlSeconds: number;
  usage: { record(r: UsageRecord): void };
  owners: ObjectOwners;
  pricing?: Pricing;
  /** Output tokens reserved when a request sets no maximum. */
  defaultCompletionReserve: number;
  /** Rebuilds provider errors for callers (credentials out, known types and codes only). */
  scrubber: Pick<Scrubber, 'errorBody' | 'anthropicErrorBody'>;
  onBackgroundError: (err: unknown) => void;
}

export interface PipelineRequest {
  codec: AnyCodec;
  key: ApiKeyRecord;
  /** The parsed JSON body, not yet validated. */
  body: unknown;
  requestId: string;
  /** Caller headers that may travel to the provider. */
  forwardHeaders: Record<string, string>;
  /** The caller sent Cache-Control: no-cache / no-store. */
  noCache: boolean;
  /** Aborted when the caller leaves. */
  signal: AbortSignal;
  /** performance.now() when the request arrived. */
  startedAt: number;
}

export type PipelineAnswer =
  | { kind: 'json'; body: string; headers: Record<string, string> }
  | { kind: 'stream'; stream: Readable; headers: Record<string, string> }
  | { kind: 'error'; error: unknown; headers: Record<string, string> };

export interface PipelineResult {
  answer: PipelineAnswer;
  /** Settles when the call is over (streams: when they end); never rejects. */
  outcome: Promise<CallOutcome>;
}

type Body = Record<string, unknown> & { model: string };

/** What a request that used nothing settles (refused, invalid, failed, or served from the cache). */
const NOTHING: Amounts = { tokens: 0, costUsd: 0 };

/**
 * The one path every model call takes, whatever its surface:
 * validate → authorize the model → route → admit (reserve limits; the cache read rides along) →
 * cache hit, or call providers (bounded attempts) → relay JSON or SSE → settle → usage row.
 * Surfaces differ only in their codec (app/surfaces).
 */
export function createPipeline(deps: PipelineDeps) {
  /** Usage when the provider reported none: the estimate in, what was relayed out, marked estimated. */
  function servedUsage(codec: AnyCodec, shape: RequestShape, reported: Partial<Usage> | undefined, events: StreamEvent[]): Usage {
    const out = reported?.outputTokens ?? countTokensSoon(codec.streamText(events.map((e) => e.data)));
    return { ...reported, inputTokens: reported?.inputTokens ?? shape.inputTokens, outputTokens: out, estimated: true };
  }

  async function run(req: PipelineRequest): Promise<PipelineResult> {
    const { codec, key } = req;
    const o = emptyOutcome();
    o.surface = codec.surface;
    o.keyId = key.id;
    const headers: Record<string, string> = {};
    let reservation: Reservation | undefined;
    let shape: RequestShape | undefined;
    let plan: RoutePlan | undefined;
    const trace: AttemptTrace = { attempts: 0, upstreamMs: 0 };

    const record = (status: number, usage: Usage | undefined, cached: boolean, cost: number | null) => {
      o.usage = usage;
      o.promptTokens = usage?.inputTokens ?? 0;
      o.completionTokens = usage?.outputTokens ?? 0;
      o.costUsd = cost;
      deps.usage.record({
        keyId: key.id,
        teamId: key.teamId,
        model: o.model ?? 'unknown',
        promptTokens: o.promptTokens,
        completionTokens: o.completionTokens,
        cachedInputTokens: usage?.cachedInputTokens ?? 0,
        cacheWriteTokens: usage?.cacheWriteTokens ?? 0,
        reasoningTokens: usage?.reasoningTokens ?? 0,
        costUsd: cost,
        estimated: usage?.estimated === true,
        cached,
        status,
        upstreamMs: Math.round(o.upstreamMs),
        totalMs: Math.round(performance.now() - req.startedAt),
        requestId: req.requestId,
        createdAt: new Date(),
        provider: o.provider,
        deployment: o.deployment,
        surface: codec.surface,
      });
    };
    const takeTrace = () => {
      o.attempts = trace.attempts;
      o.retries = Math.max(0, trace.attempts - 1);
      o.upstreamMs = trace.upstreamMs;
      o.upstreamStatus = trace.upstreamStatus;
      o.upstreamError = trace.upstreamError;
      o.deployment = trace.deployment?.id;
      o.provider = trace.deployment?.provider.name;
    };
    const fail = (err: unknown): PipelineResult => {
      takeTrace();
      if (err instanceof RateLimitError || err instanceof QuotaExceededError) {
        o.rateLimited = err.refusedBy;
      }
      if (err instanceof ApiError) Object.assign(err.headers, { ...headers, ...err.headers });
      if (reservation) {
        reservation.settle(NOTHING);
        record(req.signal.aborted ? 499 : err instanceof ApiError ? err.status : 500, undefined, false, null);
      }
      return { answer: { kind: 'error', error: err, headers }, outcome: Promise.resolve(o) };
    };

    try {
      let body: Body;
      try {
        if (req.body instanceof RefusedBody) throw req.body.error;
        body = parseBody(codec.schema, req.body) as Body;
      } catch (err) {
        // An invalid request still counts against rpm: a flood of bad bodies meets 429s, not 400s.
        if (err instanceof InvalidRequestError) await countRequest(key);
        throw err;
      }
      o.model = body.model;
      if (!modelAllowed(key, body.model)) {
        throw new PermissionDeniedError(`This key may not use the model '${body.model}'.`, 'model_not_allowed', 'model');
      }
      plan = deps.router.resolve(body.model);
      if (!plan) {
        throw new NotFoundError(`The model '${body.model}' does not exist or you do not have access to it.`, 'model_not_found');
      }
      shape = codec.shape(body, deps.defaultCompletionReserve);
      // Never more than a per-minute limit (the key's or its team's): a large max_tokens then waits
      // for an empty window instead of failing forever; actual usage still reconciles.
      const tpm = Math.min(key.tpm ?? deps.limits.tpm, key.team?.tpm ?? Infinity);
      const tokens = Math.min(shape.inputTokens + shape.maxOutputTokens, tpm);
      // A dollar budget reserves the most this request can cost, on the dearest deployment it may reach.
      const costUsd = deps.pricing?.maxCostOf(deps.router.reachable(plan), shape.inputTokens, shape.maxOutputTokens) ?? null;
      const entryKey =
        shape.cacheable && !req.noCache ? `${codec.surface}:${shape.stream ? 's' : 'j'}:${cacheKey(key.id, body)}` : undefined;
      // The cache read goes out with the limit check (one Redis round trip, auto-pipelined); its
      // answer is used only once the check allowed the request.
      const lookup = entryKey ? deps.cache.get(entryKey).catch(() => null) : undefined;
      reservation = await admit(key, { tokens, costUsd });
      Object.assign(headers, reservation.headers);

      if (codec.surface !== 'embeddings' && codec.surface !== 'moderations') {
        headers['x-cache'] = entryKey ? 'MISS' : 'BYPASS';
      }
      o.cache = entryKey ? 'miss' : 'bypass';
      const hit = lookup ? await lookup : null;
      if (hit && hit.kind === (shape.stream ? 'stream' : 'json')) {
        o.cache = 'hit';
        headers['x-cache'] = 'HIT';
        reservation.settle(NOTHING);
        return fromCache(req, hit, body, headers, o, record);
      }

      const routed = await deps.router.send(
        plan,
        { surface: codec.surface, body: codec.upstreamBody(body), stream: shape.stream, signal: req.signal, headers: req.forwardHeaders },
        tokens,
        trace,
      );
      takeTrace();
      Object.assign(headers, routed.response.headers);
      const priced = (usage: Usage) => deps.pricing?.cost(routed.model, usage, routed.deployment.price) ?? null;
      const served = reservation;
      const remember = (ids: string[]) => {
        for (const id of ids) deps.owners.remember(id, { keyId: key.id, provider: routed.deployment.provider.name });
      };

      if (routed.response.kind === 'json') {
        routed.release();
        const text = routed.response.body;
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          o.upstreamError = 'stream';
          throw new InternalError();
        }
        const usage = codec.usageFromJson(json) ?? { inputTokens: shape.inputTokens, outputTokens: 0, estimated: true };
        const cost = priced(usage);
        served.settle({ tokens: usage.inputTokens + usage.outputTokens, costUsd: cost });
        record(200, usage, false, cost);
        const created = codec.createdIdFromJson?.(json, body);
        if (created) remember([created]);
        if (entryKey) deps.cache.set(entryKey, { kind: 'json', body: text }, deps.cacheTtlSeconds).catch(deps.onBackgroundError);
        headers['server-timing'] = serverTiming(performance.now() - req.startedAt, o.upstreamMs);
        return { answer: { kind: 'json', body: text, headers }, outcome: Promise.resolve(o) };
      }

      headers['server-timing'] = serverTiming(performance.now() - req.startedAt, o.upstreamMs);
      const sink = new PassThrough();
      const requestShape = shape;
      const outcome = relay({
        codec,
        body,
        events: routed.response.events,
        sink,
        signal: req.signal,
        scrubError: (data) => scrubErrorEvent(deps.scrubber, codec.surface, data),
        startedAt: req.startedAt,
      })
        .then(async (r: RelayResult) => {
          routed.release();
          o.upstreamMs += r.bodyMs;
          o.ttftMs = r.ttftMs;
          o.stream = r.completed ? 'completed' : r.clientClosed ? 'client_closed' : 'error';
          if (r.failed && !o.upstreamError) o.upstreamError = 'stream';
          remember(r.createdIds);
          const complete = r.completed && r.usage?.inputTokens !== undefined && r.usage.outputTokens !== undefined;
          const usage: Usage = complete ? (r.usage as Usage) : servedUsage(codec, requestShape, r.usage, r.received);
          const cost = priced(usage);
          served.settle({ tokens: usage.inputTokens + usage.outputTokens, costUsd: cost });
          record(r.completed ? 200 : r.clientClosed ? 499 : 502, usage, false, cost);
          if (entryKey && r.completed) {
            deps.cache
              .set(entryKey, { kind: 'stream', events: r.received.map((e) => JSON.stringify(e)) }, deps.cacheTtlSeconds)
              .catch(deps.onBackgroundError);
          }
          return o;
        })
        .catch((err: unknown) => {
          deps.onBackgroundError(err);
          return o;
        });
      return { answer: { kind: 'stream', stream: sink, headers }, outcome };
    } catch (err) {
      return fail(err);
    }
  }

  function admit(key: ApiKeyRecord, amounts: Amounts): Promise<Reservation> {
    return reserve(deps.limiter, key, amounts, deps.limits, deps.onBackgroundError);
  }

  /** A cached answer, replayed as the surface's JSON or stream; its usage recorded as cached. */
  function fromCache(
    req: PipelineRequest,
    hit: CachedAnswer,
    body: Body,
    headers: Record<string, string>,
    o: CallOutcome,
    record: (status: number, usage: Usage | undefined, cached: boolean, cost: number | null) => void,
  ): PipelineResult {
    const { codec } = req;
    if (hit.kind === 'json') {
      record(200, codec.usageFromJson(JSON.parse(hit.body)), true, 0);
      return { answer: { kind: 'json', body: hit.body, headers }, outcome: Promise.resolve(o) };
    }
    let usage: Partial<Usage> | undefined;
    let text = '';
    for (const stored of hit.events) {
      const event = JSON.parse(stored) as StreamEvent;
      const info = codec.inspectEvent(event, body);
      if (info.usage) usage = { ...usage, ...info.usage };
      if (!info.drop) text += frameEvent(event);
    }
    o.ttftMs = performance.now() - req.startedAt;
    o.stream = 'completed';
    record(200, usage as Usage | undefined, true, 0);
    return { answer: { kind: 'stream', stream: Readable.from([text]), headers }, outcome: Promise.resolve(o) };
  }

  /**
   * One request against the key's and its team's request limits, nothing else reserved, for calls
   * that reach a provider outside run() (stored objects). Throws the 429; returns the limit headers.
   */
  async function countRequest(key: ApiKeyRecord): Promise<Record<string, string>> {
    const reservation = await admit(key, NOTHING);
    reservation.settle(NOTHING);
    return reservation.headers;
  }

  return { run, countRequest };
}

export type Pipeline = ReturnType<typeof createPipeline>;
