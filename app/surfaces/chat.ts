import { estimateJsonTokens } from '../lib/tokens';
import { chatCompletionBody, type ChatCompletionBody } from '../schemas/requests';
import type { EventInfo, SurfaceCodec } from './codec';
import { field, isErrorPayload, mayHoldUsage, parseObject } from './sse-data';
import { fromOpenAIUsage } from './usage-shapes';

const stringField = (value: unknown, name: string) => {
  const v = field(value, name);
  return typeof v === 'string' ? v : undefined;
};

/** POST /v1/chat/completions */
export const chatCodec: SurfaceCodec<ChatCompletionBody> = {
  surface: 'chat',
  route: '/v1/chat/completions',
  errorShape: 'openai',
  schema: chatCompletionBody,

  shape(body, defaultReserve) {
    const perChoice = body.max_completion_tokens ?? body.max_tokens ?? defaultReserve;
    return {
      model: body.model,
      stream: body.stream === true,
      inputTokens: estimateJsonTokens(body.messages) + (body.tools ? estimateJsonTokens(body.tools) : 0),
      maxOutputTokens: perChoice * (body.n ?? 1),
      // An explicit temperature 0 (absent means 1) and one choice: the same question, the same
      // answer. Never one the provider is asked to store: that must create a new object.
      cacheable: body.temperature === 0 && (body.n ?? 1) === 1 && body.store !== true,
    };
  },

  upstreamBody(body) {
    // Streams always ask for usage so tokens can be counted; the extra chunk is dropped again for
    // callers that did not ask for it.
    if (body.stream !== true) return body;
    return { ...body, stream_options: { ...(body.stream_options ?? {}), include_usage: true } };
  },

  usageFromJson: (json) => fromOpenAIUsage(field(json, 'usage')),

  // A completion stored with `store: true` belongs to the key that created it (GET and friends on
  // /v1/chat/completions/{id}, app/routes/v1/chat-completions.ts).
  createdIdFromJson: (json, body) => (body.store === true ? stringField(json, 'id') : undefined),

  inspectEvent: ({ data }, body) => inspectOpenAIChunk(data, body.stream_options?.include_usage === true, body.store === true),

  streamText: (events) => chatStreamText(events),

  streamError: (message) => ({
    data: JSON.stringify({ error: { message, type: 'api_error', param: null, code: 'upstream_error' } }),
  }),
};

/**
 * One event of an OpenAI chunk stream (chat and legacy completions): `[DONE]` last, `{"error": …}`
 * on failure, usage on the last chunk; the usage-only chunk (`choices: []`) is dropped unless the
 * caller asked for it (`stream_options.include_usage`).
 */
export function inspectOpenAIChunk(data: string, callerWantsUsage: boolean, stored = false): EventInfo {
  if (data === '[DONE]') return { final: true };
  if (isErrorPayload(data)) return { error: true };
  if (!mayHoldUsage(data)) return {};
  const chunk = parseObject(data);
  const usage = fromOpenAIUsage(chunk?.usage);
  if (!usage) return {};
  const usageOnly = Array.isArray(chunk?.choices) && chunk.choices.length === 0;
  // The usage chunk (always asked for) names a completion stored with `store: true`, once.
  const createdId = stored ? stringField(chunk, 'id') : undefined;
  return { usage, drop: usageOnly && !callerWantsUsage, ...(createdId ? { createdId } : {}) };
}

/** The text a chat stream has delivered: what a stream cut short is charged for. */
export function chatStreamText(events: readonly string[]): string {
  let text = '';
  for (const data of events) {
    const choices = field(parseObject(data), 'choices');
    if (!Array.isArray(choices)) continue;
    for (const c of choices) {
      const delta = field(c, 'delta');
      const content = field(delta, 'content');
      if (typeof content === 'string') text += content;
      const tools = field(delta, 'tool_calls');
      if (Array.isArray(tools)) for (const t of tools) text += String(field(field(t, 'function'), 'arguments') ?? '');
    }
  }
  return text;
}
