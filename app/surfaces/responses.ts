import { z } from 'zod';
import { estimateJsonTokens } from '../lib/tokens';
import { modelId, tokenCount } from '../schemas/requests';
import type { SurfaceCodec } from './codec';
import { field, parseObject } from './sse-data';
import { fromResponsesUsage } from './usage-shapes';

const objectId = z.string().min(1).max(256).regex(/^[\w.:-]+$/, 'must be an id');

export const responseBody = z.looseObject({
  model: modelId,
  input: z.union([z.string(), z.array(z.unknown())]).optional(),
  instructions: z.string().nullish(),
  stream: z.boolean().nullish(),
  max_output_tokens: tokenCount.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  store: z.boolean().nullish(),
  background: z.boolean().nullish(),
  previous_response_id: objectId.nullish(),
  conversation: z.union([objectId, z.looseObject({ id: objectId })]).nullish(),
  tools: z.array(z.unknown()).nullish(),
});
export type ResponseBody = z.infer<typeof responseBody>;

/** The ids of stored objects a request builds on: each must belong to the caller's key. */
export function referencedIds(body: ResponseBody): string[] {
  const ids: string[] = [];
  if (body.previous_response_id) ids.push(body.previous_response_id);
  const conversation = typeof body.conversation === 'string' ? body.conversation : body.conversation?.id;
  if (conversation) ids.push(conversation);
  return ids;
}

const FINAL_EVENTS = new Set(['response.completed', 'response.failed', 'response.incomplete']);

/** POST /v1/responses */
export const responsesCodec: SurfaceCodec<ResponseBody> = {
  surface: 'responses',
  route: '/v1/responses',
  errorShape: 'openai',
  schema: responseBody,
  shape(body, defaultReserve) {
    return {
      model: body.model,
      stream: body.stream === true,
      inputTokens:
        estimateJsonTokens(body.input) +
        (body.instructions ? estimateJsonTokens(body.instructions) : 0) +
        (body.tools ? estimateJsonTokens(body.tools) : 0),
      maxOutputTokens: body.max_output_tokens ?? defaultReserve,
      // OpenAI stores responses unless told not to; a stored or chained answer is state, not a
      // deterministic function of the request.
      cacheable:
        body.temperature === 0 &&
        body.store === false &&
        !body.background &&
        !body.previous_response_id &&
        !body.conversation,
    };
  },
  upstreamBody: (body) => body,
  usageFromJson: (json) => fromResponsesUsage(field(json, 'usage')),
  createdIdFromJson(json) {
    const id = field(json, 'id');
    return typeof id === 'string' ? id : undefined;
  },
  inspectEvent({ data }) {
    // Only the lifecycle events carry the response object; deltas are passed on unread.
    if (!data.startsWith('{"type":"response.') && !data.includes('"type":"error"')) {
      if (!data.includes('"response"') && !data.includes('"error"')) return {};
    }
    const event = parseObject(data);
    const type = field(event, 'type');
    if (type === 'error') return { error: true };
    if (type === 'response.created') {
      const id = field(field(event, 'response'), 'id');
      return typeof id === 'string' ? { createdId: id } : {};
    }
    if (typeof type === 'string' && FINAL_EVENTS.has(type)) {
      return { final: true, usage: fromResponsesUsage(field(field(event, 'response'), 'usage')), error: type === 'response.failed' };
    }
    return {};
  },
  streamText(events) {
    let text = '';
    for (const data of events) {
      if (!data.includes('.delta"')) continue;
      const event = parseObject(data);
      const type = field(event, 'type');
      if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') {
        text += String(field(event, 'delta') ?? '');
      }
    }
    return text;
  },
  streamError: (message) => ({
    event: 'error',
    data: JSON.stringify({ type: 'error', code: 'upstream_error', message, param: null, sequence_number: 0 }),
  }),
};
