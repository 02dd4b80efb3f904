import fp from 'fastify-plugin';
import { NotFoundError, PermissionDeniedError } from '../../errors';
import { countTokens } from '../../lib/tokenizer';
import { jsonText } from '../../lib/tokens';
import type { Pipeline } from '../../pipeline/pipeline';
import type { Router } from '../../routing/router';
import { parseBody } from '../../schemas/requests';
import { modelAllowed } from '../../services/model-access';
import { countTokensBody, messagesCodec } from '../../surfaces/messages';
import { serveSurface } from './serve-surface';

/** Anthropic's Messages API (what Claude Code and the Anthropic SDKs speak), on any routed model. */
export const messagesRoute = fp<{ pipeline: Pipeline; router: Router }>(
  async (app, { pipeline, router }) => {
    serveSurface(app, pipeline, messagesCodec as never);

    // Counted here with a real tokenizer (an approximation for Claude models), never billed.
    app.post('/v1/messages/count_tokens', { config: { errorShape: 'anthropic' } }, async (request) => {
      const body = parseBody(countTokensBody, request.body);
      const key = request.apiKey!;
      if (!modelAllowed(key, body.model)) {
        throw new PermissionDeniedError(`This key may not use the model '${body.model}'.`, 'model_not_allowed', 'model');
      }
      if (!router.resolve(body.model)) throw new NotFoundError(`model: ${body.model}`, 'model_not_found');
      const text = jsonText([body.system ?? '', body.messages, body.tools ?? []]);
      return { input_tokens: countTokens(text) };
    });
  },
  { name: 'route-messages', fastify: '5.x', dependencies: ['client-auth'] },
);
