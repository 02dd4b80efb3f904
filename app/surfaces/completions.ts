import { z } from 'zod';
import { estimateJsonTokens } from '../lib/tokens';
import { modelId, tokenCount } from '../schemas/requests';
import type { SurfaceCodec } from './codec';
import { chatCodec, inspectOpenAIChunk } from './chat';
import { field, parseObject } from './sse-data';
import { fromOpenAIUsage } from './usage-shapes';

export const completionBody = z.looseObject({
  model: modelId,
  prompt: z.union([
    z.string(),
    z.array(z.string()),
    z.array(z.number().int()),
    z.array(z.array(z.number().int())),
  ]),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: tokenCount.nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  best_of: z.number().int().min(1).max(128).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
});
export type CompletionBody = z.infer<typeof completionBody>;

/** POST /v1/completions (legacy): chat's stream framing and usage, a prompt instead of messages. */
export const completionsCodec: SurfaceCodec<CompletionBody> = {
  surface: 'completions',
  route: '/v1/completions',
  errorShape: 'openai',
  schema: completionBody,
  shape(body, defaultReserve) {
    const choices = Math.max(body.n ?? 1, body.best_of ?? 1);
    return {
      model: body.model,
      stream: body.stream === true,
      inputTokens: estimateJsonTokens(body.prompt),
      maxOutputTokens: (body.max_tokens ?? defaultReserve) * choices,
      cacheable: body.temperature === 0 && choices === 1,
    };
  },
  upstreamBody(body) {
    if (body.stream !== true) return body;
    return { ...body, stream_options: { ...(body.stream_options ?? {}), include_usage: true } };
  },
  usageFromJson: (json) => fromOpenAIUsage(field(json, 'usage')),
  inspectEvent: ({ data }, body) => inspectOpenAIChunk(data, body.stream_options?.include_usage === true),
  streamText(events) {
    let text = '';
    for (const data of events) {
      const choices = field(parseObject(data), 'choices');
      if (Array.isArray(choices)) for (const c of choices) text += String(field(c, 'text') ?? '');
    }
    return text;
  },
  streamError: chatCodec.streamError,
};
