/**
 * The offline mock's Responses API, built from the chat mock through the same translators the
 * gateway uses for non-OpenAI providers (leniently: the mock plays an OpenAI server, so stored and
 * stateful requests are accepted and answered statelessly).
 */
import { createHash } from 'node:crypto';
import { ChatToResponsesStream, type ResponsesStreamEvent } from '../translate/chat-stream-to-responses';
import { chatToResponse } from '../translate/chat-to-response';
import { responsesToChatRequest } from '../translate/responses-to-chat-request';
import type { ResponseObject, ResponsesRequest } from '../translate/types';
import { mockChatChunks, mockChatCompletion, type ChatCompletionRequest, type MockOptions } from './mock-responses';

function responseId(body: unknown): string {
  return `resp_${createHash('sha256').update(JSON.stringify(body) ?? '').digest('hex').slice(0, 40)}`;
}

function chatBody(body: ResponsesRequest): ChatCompletionRequest {
  return responsesToChatRequest(body, { lenient: true }) as ChatCompletionRequest;
}

export function mockResponse(body: ResponsesRequest, opts: MockOptions = {}): ResponseObject {
  const completion = mockChatCompletion(chatBody(body), opts);
  const response = chatToResponse(completion, body, { id: responseId(body), createdAt: completion.created });
  // The mock plays OpenAI, which stores by default.
  response.store = body.store !== false;
  response.previous_response_id = body.previous_response_id ?? null;
  return response;
}

export function mockResponseEvents(body: ResponsesRequest, opts: MockOptions = {}): ResponsesStreamEvent[] {
  const chat = { ...chatBody(body), stream: true, stream_options: { include_usage: true } };
  const t = new ChatToResponsesStream(body, { id: responseId(body), createdAt: opts.created });
  const events = mockChatChunks(chat, opts).flatMap((c) => t.push(c));
  return [...events, ...t.end()];
}
