import fp from 'fastify-plugin';
import { setMaxListeners } from 'node:events';
import type { Config } from '../../config';
import { ApiError, InternalError, InvalidRequestError } from '../../errors';
import { batchOutcome, type CallOutcome } from '../../pipeline/outcome';
import type { Pipeline } from '../../pipeline/pipeline';
import { errorAnswer } from '../../plugins/error-handler';
import { abortOnHangUp } from '../../plugins/request-context';
import type { Scrubber } from '../../security/scrub';
import { batchBody, parseBody } from '../../schemas/requests';
import { chatCodec } from '../../surfaces/chat';
import type { AnyCodec } from '../../surfaces/codec';
import { embeddingsCodec } from '../../surfaces/embeddings';
import { responsesCodec } from '../../surfaces/responses';
import { forwardHeaders, wantsNoCache } from './forward-headers';

/** What a batch item may call; a bare body is a chat completion (the original form). */
const CODECS: Record<string, AnyCodec> = {
  '/v1/chat/completions': chatCodec as never,
  '/v1/responses': responsesCodec as never,
  '/v1/embeddings': embeddingsCodec as never,
};

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

function itemOf(raw: unknown): { codec: AnyCodec; body: unknown } {
  const r = raw as { url?: unknown; body?: unknown } | null;
  if (r && typeof r === 'object' && typeof r.url === 'string') {
    const codec = CODECS[r.url];
    if (!codec) throw new InvalidRequestError(`A batch item may call ${Object.keys(CODECS).join(', ')}; not '${r.url}'.`, 'url');
    return { codec, body: r.body };
  }
  return { codec: CODECS['/v1/chat/completions'], body: raw };
}

/**
 * Several calls in one request, each through the same pipeline as a single call (allow-list, limits,
 * cache, usage, bounded attempts); one failed item does not sink the rest.
 */
export const batchRoute = fp<{
  pipeline: Pipeline;
  config: Pick<Config, 'BATCH_MAX_CONCURRENCY' | 'BATCH_MAX_ITEMS'>;
  /** Each item's error body is rebuilt like any other answer's. */
  scrubber: Scrubber;
}>(
  async (app, { pipeline, config, scrubber }) => {
    app.post('/v1/batch', async (request, reply) => {
      const body = parseBody(batchBody, request.body);
      if (body.requests.length > config.BATCH_MAX_ITEMS) {
        throw new InvalidRequestError(
          `A batch holds at most ${config.BATCH_MAX_ITEMS} requests; this one has ${body.requests.length}.`,
          'requests',
        );
      }
      const concurrency = Math.min(config.BATCH_MAX_CONCURRENCY, body.max_concurrency ?? Infinity);
      const signal = abortOnHangUp(reply);
      setMaxListeners(Math.max(10, 2 * concurrency + 2), signal);
      const outcomes: Array<Promise<CallOutcome>> = [];
      const results = await mapLimited(body.requests, concurrency, async (raw, i) => {
        try {
          const { codec, body: itemBody } = itemOf(raw);
          if ((itemBody as { stream?: unknown } | null)?.stream === true) {
            throw new InvalidRequestError('Streaming is not available inside a batch.', 'stream');
          }
          const result = await pipeline.run({
            codec,
            key: request.apiKey!,
            body: itemBody,
            requestId: `${request.id}-${i}`,
            forwardHeaders: forwardHeaders(request.headers, codec.surface),
            noCache: wantsNoCache(request.headers),
            signal,
            startedAt: performance.now(),
          });
          outcomes.push(result.outcome);
          const a = result.answer;
          if (a.kind === 'error') throw a.error;
          return { status: 200, body: a.kind === 'json' ? JSON.parse(a.body) : null };
        } catch (err) {
          const e = err instanceof ApiError ? err : new InternalError();
          if (!(err instanceof ApiError)) request.log.error({ err, item: i }, 'batch item failed');
          return { status: e.status, body: errorAnswer(scrubber, e) };
        }
      });
      request.callOutcome = Promise.all(outcomes).then(batchOutcome);
      return { object: 'list', results };
    });
  },
  { name: 'route-batch', fastify: '5.x', dependencies: ['client-auth'] },
);
