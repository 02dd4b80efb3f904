import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidRequestError, NotFoundError } from '../../errors';
import { countTokens } from '../../lib/tokenizer';
import { jsonText } from '../../lib/tokens';
import type { Pipeline, PipelineAnswer } from '../../pipeline/pipeline';
import { frameEvent } from '../../pipeline/sse-frame';
import { abortOnHangUp } from '../../plugins/request-context';
import type { ProviderAdapter } from '../../providers/types';
import { parseBody } from '../../schemas/requests';
import type { ObjectOwners } from '../../stores/object-owners';
import { responseBody, responsesCodec } from '../../surfaces/responses';
import { forwardHeaders } from './forward-headers';
import { runSurface, sendAnswer } from './serve-surface';
import { Readable } from 'node:stream';

export interface ResponsesRouteOptions {
  pipeline: Pipeline;
  owners: ObjectOwners;
  /** The providers by name: calls on a stored response go to the one that holds it. */
  provider(name: string): ProviderAdapter | undefined;
}

const RESPONSE_ID = /^[\w.:-]{1,256}$/;

function notFound(id: string): NotFoundError {
  return new NotFoundError(`No response found with id '${id}'.`, null);
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
  async (app, { pipeline, owners, provider }) => {
    async function ownedProvider(request: FastifyRequest, id: string): Promise<ProviderAdapter> {
      if (!RESPONSE_ID.test(id)) throw notFound(id);
      const owner = await owners.owner(id);
      if (!owner || owner.keyId !== request.apiKey!.id) throw notFound(id);
      const p = provider(owner.provider);
      if (!p?.objectRequest) throw notFound(id);
      return p;
    }

    async function passThrough(request: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST' | 'DELETE', path: string) {
      const id = (request.params as { id: string }).id;
      const p = await ownedProvider(request, id);
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
      const res = await p.objectRequest!({
        method,
        path: `/responses/${encodeURIComponent(id)}${path}${query}`,
        signal: abortOnHangUp(reply),
        headers: forwardHeaders(request.headers, 'responses'),
      });
      if (method === 'DELETE') await owners.forget(id);
      const answer: PipelineAnswer =
        res.kind === 'json'
          ? { kind: 'json', body: res.body, headers: res.headers }
          : { kind: 'stream', stream: Readable.from(frames(res.events)), headers: res.headers };
      return sendAnswer(reply, answer);
    }

    app.post('/v1/responses', async (request, reply) => {
      for (const id of referenced(request.body)) {
        const owner = RESPONSE_ID.test(id) ? await owners.owner(id) : null;
        if (!owner || owner.keyId !== request.apiKey!.id) throw notFound(id);
      }
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

async function* frames(events: AsyncIterable<{ event?: string; data: string }>) {
  for await (const e of events) yield frameEvent(e);
}
