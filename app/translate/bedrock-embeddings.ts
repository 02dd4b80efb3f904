/**
 * OpenAI embeddings ↔ Bedrock InvokeModel bodies for Amazon Titan Text Embeddings (one input per
 * call) and Cohere Embed (up to 96 texts per call). Vectors come back as floats; `base64` is
 * OpenAI's encoding: float32 little-endian bytes.
 */
import { InvalidRequestError, UpstreamError } from '../errors';

export type EmbeddingFamily = 'titan' | 'cohere';

export interface EmbeddingsRequest {
  model: string;
  input: unknown;
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  /** Cohere's input_type (search_document, search_query, classification, clustering). */
  input_type?: string;
  [key: string]: unknown;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** Cohere Embed takes at most this many texts per call. */
export const COHERE_BATCH = 96;

export function embeddingFamily(modelId: string): EmbeddingFamily | undefined {
  if (/amazon\.titan-embed-text/.test(modelId)) return 'titan';
  if (/cohere\.embed/.test(modelId)) return 'cohere';
  return undefined;
}

/** The texts to embed; token-id inputs cannot be sent to Bedrock's models. */
export function embeddingTexts(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string')) return input as string[];
  throw new InvalidRequestError('This model takes input as a string or a list of strings (not token ids).', 'input');
}

export function titanBody(text: string, req: EmbeddingsRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { inputText: text };
  if (typeof req.dimensions === 'number') {
    if (!/titan-embed-text-v2/.test(req.model)) throw new InvalidRequestError('dimensions is not supported by this model.', 'dimensions');
    if (![256, 512, 1024].includes(req.dimensions)) {
      throw new InvalidRequestError('dimensions must be 256, 512 or 1024 for this model.', 'dimensions');
    }
    body.dimensions = req.dimensions;
  }
  // Only v2 takes normalize; OpenAI's vectors are unit length, so ask for the same.
  if (/titan-embed-text-v2/.test(req.model)) body.normalize = true;
  return body;
}

export function parseTitan(json: unknown): { vector: number[]; tokens: number } {
  const j = json as { embedding?: unknown; inputTextTokenCount?: unknown };
  if (!Array.isArray(j?.embedding)) throw new UpstreamError('The upstream model server sent a malformed answer.');
  return { vector: j.embedding as number[], tokens: typeof j.inputTextTokenCount === 'number' ? j.inputTextTokenCount : 0 };
}

export function cohereBody(texts: string[], req: EmbeddingsRequest): Record<string, unknown> {
  const body: Record<string, unknown> = {
    texts,
    input_type: typeof req.input_type === 'string' ? req.input_type : 'search_document',
    embedding_types: ['float'],
  };
  if (typeof req.dimensions === 'number') {
    if (!/embed-v4/.test(req.model)) throw new InvalidRequestError('dimensions is not supported by this model.', 'dimensions');
    body.output_dimension = req.dimensions;
  }
  return body;
}

/** Cohere answers `{embeddings: {float: [...]}}` with embedding_types, or `{embeddings: [...]}` without. */
export function parseCohere(json: unknown): number[][] {
  const e = (json as { embeddings?: unknown })?.embeddings;
  const list = Array.isArray(e) ? e : (e as { float?: unknown } | undefined)?.float;
  if (!Array.isArray(list)) throw new UpstreamError('The upstream model server sent a malformed answer.');
  return list as number[][];
}

export function encodeBase64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export function embeddingsResponse(vectors: number[][], model: string, tokens: number, format: EmbeddingsRequest['encoding_format']): EmbeddingsResponse {
  return {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? encodeBase64(v) : v })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}
