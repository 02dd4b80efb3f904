/**
 * The seam that lets one adapter serve surfaces it does not speak: a provider exposes its chat
 * completions as parsed objects (ChatCall), and the Messages and Responses surfaces are built on
 * top by translation (via-chat.ts). Chat answers go back to the pipeline as JSON text or SSE data.
 */
import { toJson } from '../lib/json';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../translate/types';
import type { ProviderRequest, ProviderResponse, StreamEvent } from './types';

export type ChatResult =
  | { kind: 'json'; completion: ChatCompletion; headers: Record<string, string> }
  | { kind: 'stream'; chunks: AsyncIterable<ChatChunk>; headers: Record<string, string> };

/** One chat call on the provider; `body.stream` decides the result's kind. */
export type ChatCall = (body: ChatRequest, req: ProviderRequest) => Promise<ChatResult>;

export const DONE: StreamEvent = Object.freeze({ data: '[DONE]' });

/**
 * A chat result as the chat surface's answer. Streams always end with a usage chunk
 * (`choices: []`) whatever the caller asked: the pipeline counts from it and drops it when the
 * caller did not ask for `stream_options.include_usage`, as it does for OpenAI's.
 */
export function chatResultToResponse(result: ChatResult): ProviderResponse {
  if (result.kind === 'json') return { kind: 'json', body: toJson(result.completion), headers: result.headers };
  return { kind: 'stream', events: chunkEvents(result.chunks), headers: result.headers };
}

async function* chunkEvents(chunks: AsyncIterable<ChatChunk>): AsyncGenerator<StreamEvent> {
  for await (const chunk of chunks) yield { data: JSON.stringify(chunk) };
  yield DONE;
}
