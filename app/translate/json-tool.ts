/**
 * response_format for models without a JSON mode (Claude on Anthropic, Converse models): the
 * schema becomes the input schema of one tool that the request forces, the way Anthropic documents
 * JSON output for Claude; the answer's tool input is then handed back as the message content.
 * It cannot be mixed with the caller's own tools: the model can be forced to only one.
 */
import { InvalidRequestError } from '../errors';
import type { ChatRequest, Json } from './types';

export interface JsonTool {
  name: string;
  description: string;
  schema: Json;
}

const DEFAULT_NAME = 'json_response';

export function jsonToolFor(body: Pick<ChatRequest, 'response_format' | 'tools'>): JsonTool | undefined {
  const format = body.response_format;
  if (!format || format.type === 'text') return undefined;
  if (body.tools?.length) throw new InvalidRequestError('response_format cannot be combined with tools on this model.', 'response_format');
  if (format.type === 'json_schema') {
    return {
      name: format.json_schema.name || DEFAULT_NAME,
      description: format.json_schema.description || 'Give the whole answer as this tool input.',
      schema: format.json_schema.schema ?? { type: 'object' },
    };
  }
  if (format.type === 'json_object') return { name: DEFAULT_NAME, description: 'Give the whole answer as this tool input.', schema: { type: 'object' } };
  throw new InvalidRequestError(`response_format '${String((format as { type: unknown }).type)}' is not supported by this model.`, 'response_format');
}
