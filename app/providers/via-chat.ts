/**
 * The Messages and Responses surfaces on a provider that speaks chat (directly or through its own
 * translation): request translated to chat, one chat call, the answer translated back.
 */
import { toJson } from '../lib/json';
import { ChatToMessagesStream } from '../translate/chat-stream-to-messages';
import { chatToMessagesResponse } from '../translate/chat-to-messages-response';
import { messagesToChatRequest } from '../translate/messages-to-chat-request';
import { ChatToResponsesStream, type ResponsesStreamEvent } from '../translate/chat-stream-to-responses';
import { chatToResponse } from '../translate/chat-to-response';
import { responsesToChatRequest } from '../translate/responses-to-chat-request';
import type { ChatChunk, MessagesRequest, MsgStreamEvent, ResponsesRequest } from '../translate/types';
import type { ChatCall } from './chat-call';
import type { ProviderRequest, ProviderResponse, StreamEvent } from './types';

export function messageEvent(e: MsgStreamEvent): StreamEvent {
  return { event: e.type, data: JSON.stringify(e) };
}

export async function messagesViaChat(call: ChatCall, req: ProviderRequest): Promise<ProviderResponse> {
  const chatBody = messagesToChatRequest({ ...(req.body as MessagesRequest), model: req.model });
  chatBody.stream = req.stream;
  if (req.stream) chatBody.stream_options = { include_usage: true };
  const result = await call(chatBody, req);
  if (result.kind === 'json') {
    return { kind: 'json', body: toJson(chatToMessagesResponse(result.completion)), headers: result.headers };
  }
  return { kind: 'stream', events: messagesEvents(result.chunks, req.model), headers: result.headers };
}

async function* messagesEvents(chunks: AsyncIterable<ChatChunk>, model: string): AsyncGenerator<StreamEvent> {
  const t = new ChatToMessagesStream(model);
  for await (const chunk of chunks) for (const e of t.push(chunk)) yield messageEvent(e);
  for (const e of t.end()) yield messageEvent(e);
}

export function responsesEvent(e: ResponsesStreamEvent): StreamEvent {
  return { event: e.type, data: JSON.stringify(e) };
}

/**
 * Responses on a chat provider. Stateful requests (store: true, previous_response_id,
 * conversation) and fields outside the translated core are refused with a 400 before any call.
 */
export async function responsesViaChat(call: ChatCall, req: ProviderRequest): Promise<ProviderResponse> {
  const body = { ...(req.body as ResponsesRequest), model: req.model };
  const chatBody = responsesToChatRequest(body);
  chatBody.stream = req.stream;
  if (req.stream) chatBody.stream_options = { include_usage: true };
  const result = await call(chatBody, req);
  if (result.kind === 'json') {
    return { kind: 'json', body: toJson(chatToResponse(result.completion, body)), headers: result.headers };
  }
  return { kind: 'stream', events: responseEvents(result.chunks, body), headers: result.headers };
}

async function* responseEvents(chunks: AsyncIterable<ChatChunk>, body: ResponsesRequest): AsyncGenerator<StreamEvent> {
  const t = new ChatToResponsesStream(body);
  for await (const chunk of chunks) for (const e of t.push(chunk)) yield responsesEvent(e);
  for (const e of t.end()) yield responsesEvent(e);
}
