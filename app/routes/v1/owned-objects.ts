import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError } from '../../errors';
import { toJson } from '../../lib/json';
import type { Pipeline, PipelineAnswer } from '../../pipeline/pipeline';
import { frameEvent } from '../../pipeline/sse-frame';
import { abortOnHangUp } from '../../plugins/request-context';
import type { ProviderAdapter, Surface } from '../../providers/types';
import type { ObjectOwner, ObjectOwners } from '../../stores/object-owners';
import { forwardHeaders } from './forward-headers';
import { sendAnswer } from './serve-surface';

export interface OwnedObjectsOptions {
  /** Each call counts against the key's request limits, as every call that may reach a provider does. */
  pipeline: Pick<Pipeline, 'countRequest'>;
  owners: ObjectOwners;
  /** The providers by name: a call on a stored object goes to the one that holds it. */
  provider(name: string): ProviderAdapter | undefined;
}

/** What kind of stored object: where it lives below the provider's base URL and what to call it. */
export interface ObjectKind {
  /** `responses` or `chat/completions`. */
  collection: string;
  /** `response`, `chat completion`: for the 404 message. */
  noun: string;
  surface: Surface;
}

const OBJECT_ID = /^[\w.:-]{1,256}$/;

/**
 * Calls on objects a provider stores: responses, and chat completions made with `store: true`.
 * Every key shares the gateway's provider account, so an object belongs to the key that created it
 * (app/stores/object-owners.ts): to any other key it does not exist (404), whatever the call. Each
 * call counts against the key's rpm.
 */
export function ownedObjects({ pipeline, owners, provider }: OwnedObjectsOptions, kind: ObjectKind) {
  const notFound = (id: string) => new NotFoundError(`No ${kind.noun} found with id '${id}'.`, null);

  /** Throws the 404 unless the calling key created `id`. */
  async function ownedBy(request: FastifyRequest, id: string): Promise<ObjectOwner> {
    const owner = OBJECT_ID.test(id) ? await owners.owner(id) : null;
    if (!owner || owner.keyId !== request.apiKey!.id) throw notFound(id);
    return owner;
  }

  /** Passes `method /{collection}/{id}{suffix}` (query and any JSON body included) to the holder. */
  async function passThrough(request: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST' | 'DELETE', suffix = '') {
    const id = (request.params as { id: string }).id;
    // Counted before the owner is looked up: probing other keys' ids costs requests too.
    reply.headers(await pipeline.countRequest(request.apiKey!));
    const p = provider((await ownedBy(request, id)).provider);
    if (!p?.objectRequest) throw notFound(id);
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const res = await p.objectRequest!({
      method,
      path: `/${kind.collection}/${encodeURIComponent(id)}${suffix}${query}`,
      body: request.body === undefined || request.body === null ? undefined : toJson(request.body),
      signal: abortOnHangUp(reply),
      headers: forwardHeaders(request.headers, kind.surface),
    });
    if (method === 'DELETE' && suffix === '') await owners.forget(id);
    const answer: PipelineAnswer =
      res.kind === 'json'
        ? { kind: 'json', body: res.body, headers: res.headers }
        : { kind: 'stream', stream: Readable.from(frames(res.events)), headers: res.headers };
    return sendAnswer(reply, answer);
  }

  return { ownedBy, passThrough };
}

async function* frames(events: AsyncIterable<{ event?: string; data: string }>) {
  for await (const e of events) yield frameEvent(e);
}
