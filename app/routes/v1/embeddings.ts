import type { FastifyInstance } from 'fastify';
import { abortNow, abortOnHangUp } from '../../plugins/request-context';
import { embeddingsBody, parseBody } from '../../schemas/requests';
import type { EmbeddingsService } from '../../services/embeddings';

export function embeddingsRoute(app: FastifyInstance, embeddings: EmbeddingsService) {
  app.post('/v1/embeddings', async (request, reply) => {
    request.stats.route = '/v1/embeddings';
    const body = parseBody(embeddingsBody, request.body);
    const result = await embeddings.create({
      key: request.apiKey!,
      body,
      requestId: request.id,
      signal: abortOnHangUp(reply),
      // The signal is this request's alone: a refused early start may abort it.
      abort: () => abortNow(reply),
      stats: request.stats,
      startedAt: request.startedAt,
    });
    return reply.headers(result.headers).type('application/json').send(result.body);
  });
}
