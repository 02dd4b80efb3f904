import { performance } from 'node:perf_hooks';
import { ApiError, PermissionDeniedError } from '../errors';
import type { Pricing } from '../pricing/pricing';
import type { RequestStats } from '../lib/request-stats';
import { estimateEmbeddingTokens } from '../lib/tokens';
import type { EmbeddingsBody } from '../schemas/requests';
import type { ApiKeyRecord, UsageRecord } from '../stores/types';
import type { UpstreamClient } from '../upstream/client';
import { forward, readJsonBody } from '../upstream/forward';
import { admit, type AdmissionDeps } from './admission';
import { modelAllowed } from './model-access';

export interface EmbeddingsRequest {
  key: ApiKeyRecord;
  body: EmbeddingsBody;
  requestId: string;
  /** Aborted when the caller goes away. */
  signal: AbortSignal;
  /** Aborts `signal` (it is this request's alone): lets a refused early start stop its upstream call. */
  abort?: () => void;
  stats: RequestStats;
  startedAt: number;
}

/** Limiter, limit defaults, headroom and background-error callback: see AdmissionDeps. */
export interface EmbeddingsServiceDeps extends AdmissionDeps {
  upstream: UpstreamClient;
  usage: { record(r: UsageRecord): void };
  pricing?: Pricing;
}

/** Embeddings: allow-list, limits and usage like chat; the answer is passed through as received. */
export function createEmbeddingsService(deps: EmbeddingsServiceDeps) {
  return {
    async create(req: EmbeddingsRequest): Promise<{ body: string; headers: Record<string, string> }> {
      const { key, body, stats } = req;
      stats.model = body.model;
      if (!modelAllowed(key, body.model)) {
        throw new PermissionDeniedError(`This key may not use the model '${body.model}'.`, 'model_not_allowed', 'model');
      }
      const reserved = estimateEmbeddingTokens(body.input);
      const { reservation, upstream } = await admit(deps, {
        key,
        tokens: reserved,
        costUsd: deps.pricing?.maxCost(body.model, reserved, 0) ?? null,
        stats,
        hangUp: req,
        mayStartEarly: true,
        call: (signal, upstreamStats) =>
          forward(deps.upstream, { method: 'POST', path: '/embeddings', body: JSON.stringify(body), signal }, upstreamStats),
      });
      let status = 200;
      try {
        const res = await upstream();
        const { text, json } = await readJsonBody(res, stats, req.signal);
        const usage = (json as { usage?: { prompt_tokens?: number } } | null)?.usage;
        stats.promptTokens = usage?.prompt_tokens ?? reserved;
        return { body: text, headers: reservation.headers };
      } catch (err) {
        status = req.signal.aborted ? 499 : ((err as { status?: number }).status ?? 502);
        if (err instanceof ApiError) Object.assign(err.headers, { ...reservation.headers, ...err.headers });
        throw err;
      } finally {
        const usage = { inputTokens: status === 200 ? stats.promptTokens : 0, outputTokens: 0 };
        const costUsd = status !== 200 ? 0 : deps.pricing ? deps.pricing.cost(body.model, usage) : null;
        reservation.settle({ tokens: usage.inputTokens, costUsd });
        deps.usage.record({
          keyId: key.id,
          model: body.model,
          promptTokens: stats.promptTokens,
          completionTokens: 0,
          cached: false,
          status,
          upstreamMs: Math.round(stats.upstreamMs),
          totalMs: Math.round(performance.now() - req.startedAt),
          requestId: req.requestId,
          createdAt: new Date(),
          teamId: key.teamId,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: 0,
          costUsd,
          estimated: false,
          surface: 'embeddings',
        });
      }
    },
  };
}

export type EmbeddingsService = ReturnType<typeof createEmbeddingsService>;
