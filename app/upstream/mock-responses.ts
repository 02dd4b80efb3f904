/**
 * Deterministic OpenAI-protocol payloads for the offline mock upstream and the test fake upstream.
 * Same request in, same content, ids and vectors out; only `created` follows the clock unless given.
 */
import { createHash } from 'node:crypto';
import { mockStructuredAnswer, mockToolCall, type MockToolCall } from './mock-tools';

export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  n?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  [key: string]: unknown;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details?: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: null; annotations: []; tool_calls?: ToolCallOut[] };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: CompletionUsage;
  service_tier: 'default';
  system_fingerprint: string;
}

export interface ToolCallOut {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

function toolCallOut(call: MockToolCall): ToolCallOut {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; refusal?: null; tool_calls?: ToolCallDelta[] };
    logprobs: null;
    finish_reason: FinishReason | null;
  }>;
  service_tier: 'default';
  system_fingerprint: string;
  /** Present on every chunk only when `stream_options.include_usage` is set; non-null on the last. */
  usage?: CompletionUsage | null;
}

export type EmbeddingInput = string | string[] | number[] | number[][];

export interface EmbeddingRequest {
  model: string;
  input: EmbeddingInput;
  dimensions?: number;
  encoding_format?: 'float' | 'base64';
  [key: string]: unknown;
}

export interface EmbeddingResponse {
  object: 'list';
  model: string;
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface ModelList {
  object: 'list';
  data: ModelObject[];
}

export interface ErrorResponse {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface MockOptions {
  /** Unix seconds for `created`; the clock when absent. */
  created?: number;
}

export const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const FINGERPRINT = 'fp_mock';
const MODELS: ReadonlyArray<[id: string, created: number, ownedBy: string]> = [
  ['gpt-4o', 1715367049, 'system'],
  ['gpt-4o-mini', 1721172741, 'system'],
  ['gpt-4.1', 1744316542, 'system'],
  ['gpt-4.1-mini', 1744318173, 'system'],
  ['o3-mini', 1737146383, 'system'],
  ['text-embedding-3-small', 1705948997, 'system'],
  ['text-embedding-3-large', 1705953180, 'system'],
];

/** Rough token count (≈ 4 characters a token), the same rule the gateway uses for estimates. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value) ?? '').digest('hex');
}

function nowSeconds(opts: MockOptions): number {
  return opts.created ?? Math.floor(Date.now() / 1000);
}

/** Text of a message's content: a string, or the `text` of its content parts. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (part && typeof part === 'object' && typeof part.text === 'string' ? part.text : ''))
    .join(' ');
}

function promptTokens(messages: ChatMessage[]): number {
  // OpenAI's chat format costs about 3 tokens per message plus 3 to prime the reply.
  return messages.reduce((sum, m) => sum + 3 + estimateTokens(messageText(m?.content)), 3);
}

function choiceCount(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? Math.min(128, Math.max(1, Math.floor(n))) : 1;
}

/** The answer's words (each keeps its trailing space) after `max_completion_tokens`/`max_tokens`. */
function answerWords(body: ChatCompletionRequest): { words: string[]; finish: FinishReason } {
  const structured = mockStructuredAnswer(body);
  if (structured !== undefined) return { words: [structured], finish: 'stop' };
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const topic = messageText(lastUser?.content).replace(/\s+/g, ' ').trim().slice(0, 40);
  const content = topic ? `This is a mock answer to: ${topic}` : 'This is a mock answer.';
  const words = content.match(/\S+\s*/g) ?? [];
  const limit = body.max_completion_tokens ?? body.max_tokens;
  if (typeof limit === 'number' && limit >= 0 && limit < words.length) {
    const kept = words.slice(0, limit);
    if (kept.length) kept[kept.length - 1] = kept[kept.length - 1].trimEnd();
    return { words: kept, finish: 'length' };
  }
  return { words, finish: 'stop' };
}

function usageFor(body: ChatCompletionRequest, completionPerChoice: number): CompletionUsage {
  const prompt = promptTokens(Array.isArray(body.messages) ? body.messages : []);
  const completion = completionPerChoice * choiceCount(body.n);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function completionId(body: unknown): string {
  return `chatcmpl-${hash(body).slice(0, 29)}`;
}

/** A non-streamed chat completion: one choice per `n`, a token per word of the answer. */
export function mockChatCompletion(body: ChatCompletionRequest, opts: MockOptions = {}): ChatCompletion {
  const call = mockToolCall(body);
  const { words, finish } = call ? { words: [call.arguments], finish: 'tool_calls' as const } : answerWords(body);
  const content = call ? null : words.join('');
  return {
    id: completionId(body),
    object: 'chat.completion',
    created: nowSeconds(opts),
    model: String(body.model),
    choices: Array.from({ length: choiceCount(body.n) }, (_, index) => ({
      index,
      message: {
        role: 'assistant' as const,
        content,
        refusal: null,
        annotations: [] as [],
        ...(call ? { tool_calls: [toolCallOut(call)] } : {}),
      },
      logprobs: null,
      finish_reason: finish,
    })),
    usage: usageFor(body, words.length),
    service_tier: 'default',
    system_fingerprint: FINGERPRINT,
  };
}

/**
 * The chunks of a streamed chat completion, in OpenAI's order: a role chunk per choice, a content
 * chunk per word (choices interleaved), a finish chunk per choice and, with
 * `stream_options.include_usage`, a last `choices: []` chunk carrying usage (the others then carry
 * `usage: null`).
 */
export function mockChatChunks(body: ChatCompletionRequest, opts: MockOptions = {}): ChatCompletionChunk[] {
  const call = mockToolCall(body);
  const { words, finish } = call ? { words: [call.arguments], finish: 'tool_calls' as const } : answerWords(body);
  const includeUsage = body.stream_options?.include_usage === true;
  const base = {
    id: completionId(body),
    object: 'chat.completion.chunk' as const,
    created: nowSeconds(opts),
    model: String(body.model),
    service_tier: 'default' as const,
    system_fingerprint: FINGERPRINT,
  };
  const n = choiceCount(body.n);
  const chunk = (choices: ChatCompletionChunk['choices']): ChatCompletionChunk =>
    includeUsage ? { ...base, choices, usage: null } : { ...base, choices };
  const perChoice = (delta: ChatCompletionChunk['choices'][number]['delta'], finishReason: FinishReason | null) =>
    Array.from({ length: n }, (_, index) =>
      chunk([{ index, delta, logprobs: null, finish_reason: finishReason }]),
    );

  const chunks = call
    ? [
        ...perChoice(
          { role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] },
          null,
        ),
        ...perChoice({ tool_calls: [{ index: 0, function: { arguments: call.arguments } }] }, null),
        ...perChoice({}, finish),
      ]
    : [
        ...perChoice({ role: 'assistant', content: '', refusal: null }, null),
        ...words.flatMap((word) => perChoice({ content: word }, null)),
        ...perChoice({}, finish),
      ];
  if (includeUsage) chunks.push({ ...base, choices: [], usage: usageFor(body, words.length) });
  return chunks;
}

function embeddingItems(input: EmbeddingInput): Array<string | number[]> {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return [];
  // A flat number array is one tokenised input; anything else is a list of inputs.
  if (input.every((x) => typeof x === 'number')) return [input as number[]];
  return input as Array<string | number[]>;
}

/** A unit vector drawn from the hash of the input, rounded to float32 as OpenAI's are. */
function unitVector(item: string | number[], dimensions: number): number[] {
  const seed = hash(item);
  const values: number[] = [];
  for (let block = 0; values.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${seed}:${block}`).digest();
    for (let i = 0; i + 4 <= digest.length && values.length < dimensions; i += 4) {
      values.push(digest.readUInt32LE(i) / 0x7fffffff - 1);
    }
  }
  const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0)) || 1;
  return values.map((v) => Math.fround(v / norm));
}

/** float32 little-endian bytes in base64: what OpenAI returns for `encoding_format: 'base64'`. */
export function encodeEmbeddingBase64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export function decodeEmbeddingBase64(encoded: string): number[] {
  const buf = Buffer.from(encoded, 'base64');
  return Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
}

/** Embeddings for a string, strings, a token array or token arrays; `dimensions` defaults to 8. */
export function mockEmbeddings(body: EmbeddingRequest): EmbeddingResponse {
  const dims =
    typeof body.dimensions === 'number' && body.dimensions >= 1
      ? Math.floor(body.dimensions)
      : DEFAULT_EMBEDDING_DIMENSIONS;
  const items = embeddingItems(body.input);
  const base64 = body.encoding_format === 'base64';
  const tokens = items.reduce(
    (sum, item) => sum + (typeof item === 'string' ? estimateTokens(item) : item.length),
    0,
  );
  return {
    object: 'list',
    model: String(body.model),
    data: items.map((item, index) => {
      const vector = unitVector(item, dims);
      return { object: 'embedding' as const, index, embedding: base64 ? encodeEmbeddingBase64(vector) : vector };
    }),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

export function mockModels(): ModelList {
  return {
    object: 'list',
    data: MODELS.map(([id, created, owned_by]) => ({ id, object: 'model' as const, created, owned_by })),
  };
}

/** One model by id, or undefined (the mock answers chat for any model, but lists only these). */
export function mockModel(id: string): ModelObject | undefined {
  return mockModels().data.find((m) => m.id === id);
}

export function errorResponse(
  message: string,
  type: string,
  param: string | null = null,
  code: string | null = null,
): ErrorResponse {
  return { error: { message, type, param, code } };
}

/** The error body OpenAI sends with a given status, for fakes that need a realistic one. */
export function errorResponseFor(status: number): ErrorResponse {
  switch (status) {
    case 400:
      return errorResponse('Invalid request.', 'invalid_request_error');
    case 401:
      return errorResponse('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key');
    case 403:
      return errorResponse('You are not allowed to sample from this model.', 'invalid_request_error');
    case 404:
      return errorResponse(
        'The model does not exist or you do not have access to it.',
        'invalid_request_error',
        null,
        'model_not_found',
      );
    case 429:
      return errorResponse('Rate limit reached for requests.', 'requests', null, 'rate_limit_exceeded');
    case 503:
      return errorResponse('The engine is currently overloaded, please try again later.', 'server_error');
    default:
      return status >= 500
        ? errorResponse('The server had an error while processing your request. Sorry about that!', 'server_error')
        : errorResponse(`Request failed with status ${status}.`, 'invalid_request_error');
  }
}
