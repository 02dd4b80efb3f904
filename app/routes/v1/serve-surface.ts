import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PipelineAnswer, Pipeline } from '../../pipeline/pipeline';
import { abortOnHangUp } from '../../plugins/request-context';
import type { AnyCodec } from '../../surfaces/codec';
import { forwardHeaders, wantsNoCache } from './forward-headers';

/** Sends a pipeline answer: JSON, an event stream, or the error for the root handler to shape. */
export function sendAnswer(reply: FastifyReply, answer: PipelineAnswer) {
  reply.headers(answer.headers);
  if (answer.kind === 'error') throw answer.error;
  if (answer.kind === 'json') return reply.type('application/json').send(answer.body);
  return reply
    .type('text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(answer.stream);
}

/** Runs one request through the pipeline with the codec of its surface. */
export async function runSurface(
  pipeline: Pipeline,
  codec: AnyCodec,
  request: FastifyRequest,
  reply: FastifyReply,
  body: unknown = request.body,
) {
  const result = await pipeline.run({
    codec,
    key: request.apiKey!,
    body,
    requestId: request.id,
    forwardHeaders: forwardHeaders(request.headers, codec.surface),
    noCache: wantsNoCache(request.headers),
    signal: abortOnHangUp(reply),
    startedAt: request.startedAt,
  });
  request.callOutcome = result.outcome;
  return sendAnswer(reply, result.answer);
}

/** `POST <codec.route>`: everything else is the pipeline's. */
export function serveSurface(app: FastifyInstance, pipeline: Pipeline, codec: AnyCodec) {
  // Bodies over the structural caps reach the pipeline as RefusedBody, so they count against rpm.
  app.post(codec.route, { config: { errorShape: codec.errorShape, deferBodyRefusal: true } }, (request, reply) =>
    runSurface(pipeline, codec, request, reply),
  );
}
