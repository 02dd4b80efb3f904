import fp from 'fastify-plugin';
import type { Pipeline } from '../../pipeline/pipeline';
import { InvalidRequestError } from '../../errors';
import { countTokens } from '../../lib/tokenizer';
import { jsonText } from '../../lib/tokens';
import { parseBody } from '../../schemas/requests';
import { responseBody, responsesCodec } from '../../surfaces/responses';
import { ownedObjects, type OwnedObjectsOptions } from './owned-objects';
import { runSurface } from './serve-surface';

export interface ResponsesRouteOptions extends OwnedObjectsOptions {
  pipeline: Pipeline;
}

/** The ids a create request builds on; read before validation, only where they are strings. */
function referenced(body: unknown): string[] {
  if (body === null || typeof body !== 'object') return [];
  const b = body as { previous_response_id?: unknown; conversation?: unknown };
  const conversation = typeof b.conversation === 'object' && b.conversation !== null ? (b.conversation as { id?: unknown }).id : b.conversation;
  return [b.previous_response_id, conversation].filter((v): v is string => typeof v === 'string' && v !== '');
}

/**
 * The Responses API. Every key shares the gateway's provider account, so a response id belongs to
 * the key that created it: any other key gets 404, on every route that takes one and for
 * `previous_response_id` / `conversation`.
 */
export const responsesRoute = fp<ResponsesRouteOptions>(
  async (app, { pipeline, ...objects }) => {
    const stored = ownedObjects({ pipeline, ...objects }, { collection: 'responses', noun: 'response', surface: 'responses' });
    const { passThrough } = stored;

    app.post('/v1/responses', async (request, reply) => {
      for (const id of referenced(request.body)) await stored.ownedBy(request, id);
      return runSurface(pipeline, responsesCodec as never, request, reply);
    });
    app.get('/v1/responses/:id', (request, reply) => passThrough(request, reply, 'GET', ''));
    app.delete('/v1/responses/:id', (request, reply) => passThrough(request, reply, 'DELETE', ''));
    app.post('/v1/responses/:id/cancel', (request, reply) => passThrough(request, reply, 'POST', '/cancel'));
    app.get('/v1/responses/:id/input_items', (request, reply) => passThrough(request, reply, 'GET', '/input_items'));

    // Counted here with a real tokenizer, whatever the provider: cheap, offline, never billed.
    app.post('/v1/responses/input_tokens', async (request) => {
      const body = parseBody(responseBody.partial({ model: true }), request.body);
      if (body.input === undefined && !body.instructions) throw new InvalidRequestError("Missing required parameter: 'input'.", 'input');
      const text = jsonText([body.instructions ?? '', body.input ?? '', body.tools ?? []]);
      return { object: 'response.input_tokens', input_tokens: countTokens(text) };
    });
  },
  { name: 'route-responses', fastify: '5.x', dependencies: ['client-auth'] },
);
