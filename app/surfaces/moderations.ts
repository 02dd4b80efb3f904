import { z } from 'zod';
import { estimateJsonTokens } from '../lib/tokens';
import { modelId } from '../schemas/requests';
import type { SurfaceCodec } from './codec';
import { embeddingsCodec } from './embeddings';

/** OpenAI's default when a moderation request names no model; routed like any other name. */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

export const moderationBody = z
  .looseObject({
    model: modelId.optional(),
    input: z.union([z.string(), z.array(z.unknown()).min(1)]),
  })
  .transform((b) => ({ ...b, model: b.model ?? DEFAULT_MODERATION_MODEL }));
export type ModerationBody = z.infer<typeof moderationBody>;

/** POST /v1/moderations: input only, no usage in the answer (the estimate is recorded). */
export const moderationsCodec: SurfaceCodec<ModerationBody> = {
  surface: 'moderations',
  route: '/v1/moderations',
  errorShape: 'openai',
  schema: moderationBody as unknown as z.ZodType<ModerationBody>,
  shape: (body) => ({
    model: body.model,
    stream: false,
    inputTokens: estimateJsonTokens(body.input),
    maxOutputTokens: 0,
    cacheable: false,
  }),
  upstreamBody: (body) => body,
  usageFromJson: () => undefined,
  inspectEvent: () => ({}),
  streamText: () => '',
  streamError: embeddingsCodec.streamError,
};
