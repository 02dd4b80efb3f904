import type { FastifyInstance } from 'fastify';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Config } from '../../config';
import { ApiError, InternalError, InvalidRequestError } from '../../errors';
import { newRequestStats, type RequestStats } from '../../lib/request-stats';
import { abortOnHangUp } from '../../plugins/request-context';
import { batchBody, chatCompletionBody, parseBody } from '../../schemas/requests';
import type { ChatService } from '../../services/chat';

/** Runs `worker` over `items` with at most `limit` in flight, keeping results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, worker: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await worker(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * Several chat completions in one call. Each item goes through the same allow-list, limits, cache
 * and usage accounting as a single request; one failed item does not sink the rest.
 */
export function batchRoute(
  app: FastifyInstance,
  chat: ChatService,
  config: Pick<Config, 'BATCH_MAX_CONCURRENCY' | 'BATCH_MAX_ITEMS'>,
) {
  app.post('/v1/batch', async (request, reply) => {
    request.stats.route = '/v1/batch';
    const body = parseBody(batchBody, request.body);
    if (body.requests.length > config.BATCH_MAX_ITEMS) {
      throw new InvalidRequestError(
        `A batch holds at most ${config.BATCH_MAX_ITEMS} requests; this one has ${body.requests.length}.`,
        'requests',
      );
    }
    const concurrency = Math.min(config.BATCH_MAX_CONCURRENCY, body.max_concurrency ?? Infinity);
    const signal = abortOnHangUp(reply);
    // Every item in flight listens on it (the upstream request and, for early starts, its link).
    setMaxListeners(Math.max(10, 2 * concurrency + 2), signal);
    const key = request.apiKey!;
    const items: RequestStats[] = [];
    request.stats.items = items;
    const results = await mapLimited(body.requests, concurrency, async (item, i) => {
      const stats = newRequestStats();
      items.push(stats);
      try {
        const parsed = parseBody(chatCompletionBody, item);
        if (parsed.stream) throw new InvalidRequestError('Streaming is not available inside a batch.', 'stream');
        const result = await chat.complete({
          key,
          body: parsed,
          requestId: `${request.id}-${i}`,
          signal,
          stats,
          startedAt: performance.now(),
        });
        return { status: 200, body: result.kind === 'json' ? JSON.parse(result.body) : null };
      } catch (err) {
        const e = err instanceof ApiError ? err : new InternalError();
        if (!(err instanceof ApiError)) request.log.error({ err, requestId: request.id, item: i }, 'batch item failed');
        return { status: e.status, body: e.toBody() };
      } finally {
        request.stats.promptTokens += stats.promptTokens;
        request.stats.completionTokens += stats.completionTokens;
        request.stats.upstreamMs += stats.upstreamMs;
        request.stats.retries += stats.retries;
      }
    });
    return { object: 'list', results };
  });
}
