import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../errors';
import { abortNow, abortOnHangUp } from '../../plugins/request-context';
import { chatCompletionBody, parseBody } from '../../schemas/requests';
import type { ChatService } from '../../services/chat';

export function chatCompletionsRoute(app: FastifyInstance, chat: ChatService) {
  app.post('/v1/chat/completions', async (request, reply) => {
    request.stats.route = '/v1/chat/completions';
    reply.header('x-cache', 'BYPASS');
    const body = parseBody(chatCompletionBody, request.body);
    const cacheControl = request.headers['cache-control'];
    let result;
    try {
      result = await chat.complete({
        key: request.apiKey!,
        body,
        requestId: request.id,
        cacheControl: typeof cacheControl === 'string' ? cacheControl : undefined,
        // Made on first use: an answer from the cache never needs one.
        get signal() {
          return abortOnHangUp(reply);
        },
        // The signal is this request's alone: a refused early start may abort it.
        abort: () => abortNow(reply),
        stats: request.stats,
        startedAt: request.startedAt,
      });
    } catch (err) {
      if (err instanceof ApiError && request.stats.cache) reply.header('x-cache', request.stats.cache.toUpperCase());
      throw err;
    }
    reply.headers(result.headers);
    if (result.kind === 'json') return reply.type('application/json').send(result.body);
    return reply
      .type('text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-accel-buffering', 'no')
      .send(result.stream);
  });
}
