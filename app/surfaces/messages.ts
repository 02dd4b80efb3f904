import { z } from 'zod';
import { estimateJsonTokens } from '../lib/tokens';
import { modelId, tokenCount } from '../schemas/requests';
import type { SurfaceCodec } from './codec';
import { field, parseObject } from './sse-data';
import { fromAnthropicUsage } from './usage-shapes';

export const messagesBody = z.looseObject({
  model: modelId,
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']) })).min(1),
  max_tokens: tokenCount,
  system: z.union([z.string(), z.array(z.unknown())]).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  tools: z.array(z.unknown()).optional(),
});
export type MessagesBody = z.infer<typeof messagesBody>;

export const countTokensBody = messagesBody.omit({ max_tokens: true, stream: true });

/** POST /v1/messages: Anthropic's Messages API, its event names and its error shape. */
export const messagesCodec: SurfaceCodec<MessagesBody> = {
  surface: 'messages',
  route: '/v1/messages',
  errorShape: 'anthropic',
  schema: messagesBody,
  shape: (body) => ({
    model: body.model,
    stream: body.stream === true,
    inputTokens:
      estimateJsonTokens(body.messages) +
      (body.system ? estimateJsonTokens(body.system) : 0) +
      (body.tools ? estimateJsonTokens(body.tools) : 0),
    maxOutputTokens: body.max_tokens,
    cacheable: body.temperature === 0,
  }),
  upstreamBody: (body) => body,
  usageFromJson: (json) => fromAnthropicUsage(field(json, 'usage')),
  inspectEvent({ event, data }) {
    if (event === 'message_stop') return { final: true };
    if (event === 'error') return { error: true };
    if (event === 'message_start') return { usage: fromAnthropicUsage(field(field(parseObject(data), 'message'), 'usage')) };
    if (event === 'message_delta') {
      // Output tokens so far (cumulative); input counts only when the provider repeats them here.
      const usage = field(parseObject(data), 'usage');
      const out = field(usage, 'output_tokens');
      const full = field(usage, 'input_tokens') !== undefined ? fromAnthropicUsage(usage) : undefined;
      return { usage: full ?? (typeof out === 'number' ? { outputTokens: out } : undefined) };
    }
    return {};
  },
  streamText(events) {
    let text = '';
    for (const data of events) {
      if (!data.includes('"content_block_delta"')) continue;
      const delta = field(parseObject(data), 'delta');
      text += String(field(delta, 'text') ?? field(delta, 'partial_json') ?? field(delta, 'thinking') ?? '');
    }
    return text;
  },
  streamError: (message) => ({
    event: 'error',
    data: JSON.stringify({ type: 'error', error: { type: 'api_error', message } }),
  }),
};
