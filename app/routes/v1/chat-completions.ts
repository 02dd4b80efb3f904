import fp from 'fastify-plugin';
import type { Pipeline } from '../../pipeline/pipeline';
import { chatCodec } from '../../surfaces/chat';
import { ownedObjects, type OwnedObjectsOptions } from './owned-objects';
import { serveSurface } from './serve-surface';

export interface ChatRouteOptions extends OwnedObjectsOptions {
  pipeline: Pipeline;
}

/**
 * Chat completions: the pipeline with its codec, and the calls on a completion stored with
 * `store: true` (retrieve, update its metadata, delete, list its messages), only for the key that
 * created it. Listing every stored completion (`GET /v1/chat/completions`) is not offered: the
 * provider's list spans all the gateway's keys.
 */
export const chatRoute = fp<ChatRouteOptions>(
  async (app, { pipeline, ...objects }) => {
    serveSurface(app, pipeline, chatCodec as never);
    const { passThrough } = ownedObjects({ pipeline, ...objects }, { collection: 'chat/completions', noun: 'chat completion', surface: 'chat' });
    app.get('/v1/chat/completions/:id', (request, reply) => passThrough(request, reply, 'GET'));
    app.post('/v1/chat/completions/:id', (request, reply) => passThrough(request, reply, 'POST'));
    app.delete('/v1/chat/completions/:id', (request, reply) => passThrough(request, reply, 'DELETE'));
    app.get('/v1/chat/completions/:id/messages', (request, reply) => passThrough(request, reply, 'GET', '/messages'));
  },
  { name: 'route-chat-completions', fastify: '5.x', dependencies: ['client-auth'] },
);
