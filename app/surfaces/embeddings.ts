import { estimateEmbeddingTokens } from '../lib/tokens';
import { embeddingsBody, type EmbeddingsBody } from '../schemas/requests';
import type { SurfaceCodec } from './codec';
import { field } from './sse-data';
import { fromOpenAIUsage } from './usage-shapes';

/** POST /v1/embeddings: no output tokens, never streamed, never cached. */
export const embeddingsCodec: SurfaceCodec<EmbeddingsBody> = {
  surface: 'embeddings',
  route: '/v1/embeddings',
  errorShape: 'openai',
  schema: embeddingsBody,
  shape: (body) => ({
    model: body.model,
    stream: false,
    inputTokens: estimateEmbeddingTokens(body.input),
    maxOutputTokens: 0,
    cacheable: false,
  }),
  upstreamBody: (body) => body,
  usageFromJson: (json) => fromOpenAIUsage(field(json, 'usage')),
  inspectEvent: () => ({}),
  streamText: () => '',
  streamError: (message) => ({ data: JSON.stringify({ error: { message, type: 'api_error', param: null, code: null } }) }),
};
