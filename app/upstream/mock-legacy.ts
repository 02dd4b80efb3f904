/**
 * The offline mock's legacy completions and moderations: deterministic answers in OpenAI's
 * shapes (CreateCompletionResponse, CreateModerationResponse), derived from the chat mock so the
 * same prompt gets the same words.
 */
import { createHash } from 'node:crypto';
import { mockChatCompletion, type CompletionUsage, type MockOptions } from './mock-responses';

export interface CompletionRequest {
  model: string;
  prompt?: unknown;
  max_tokens?: number | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  [key: string]: unknown;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: Array<{ text: string; index: number; logprobs: null; finish_reason: 'stop' | 'length' | null }>;
  system_fingerprint: string;
  usage?: CompletionUsage | null;
}

/** OpenAI's default for completions when max_tokens is absent. */
const DEFAULT_COMPLETION_TOKENS = 16;

function prompts(prompt: unknown): string[] {
  if (typeof prompt === 'string') return [prompt];
  if (Array.isArray(prompt) && prompt.every((p) => typeof p === 'string')) return prompt.length ? (prompt as string[]) : [''];
  // token arrays: the mock answers them as text of their numbers
  if (Array.isArray(prompt)) return [JSON.stringify(prompt)];
  return [''];
}

function completionId(body: unknown): string {
  return `cmpl-${createHash('sha256').update(JSON.stringify(body) ?? '').digest('hex').slice(0, 29)}`;
}

function answers(body: CompletionRequest, opts: MockOptions) {
  const n = typeof body.n === 'number' && body.n > 0 ? Math.min(128, Math.floor(body.n)) : 1;
  const maxTokens = body.max_tokens ?? DEFAULT_COMPLETION_TOKENS;
  return prompts(body.prompt).map((p) =>
    mockChatCompletion({ model: body.model, messages: [{ role: 'user', content: p }], max_tokens: maxTokens, n }, opts),
  );
}

function sumUsage(list: Array<{ usage: CompletionUsage }>): CompletionUsage {
  const prompt = list.reduce((s, c) => s + c.usage.prompt_tokens, 0);
  const completion = list.reduce((s, c) => s + c.usage.completion_tokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export function mockCompletion(body: CompletionRequest, opts: MockOptions = {}): TextCompletion {
  const list = answers(body, opts);
  let index = 0;
  const choices = list.flatMap((c) =>
    c.choices.map((ch) => ({
      text: ch.message.content ?? '',
      index: index++,
      logprobs: null,
      finish_reason: ch.finish_reason === 'tool_calls' ? ('stop' as const) : ch.finish_reason,
    })),
  );
  return {
    id: completionId(body),
    object: 'text_completion',
    created: list[0].created,
    model: String(body.model),
    choices,
    system_fingerprint: 'fp_mock',
    usage: sumUsage(list),
  };
}

/** Streamed completions: a chunk per word per choice, a finish chunk each, and a usage chunk if asked. */
export function mockCompletionChunks(body: CompletionRequest, opts: MockOptions = {}): TextCompletion[] {
  const whole = mockCompletion(body, opts);
  const includeUsage = body.stream_options?.include_usage === true;
  const base = { id: whole.id, object: 'text_completion' as const, created: whole.created, model: whole.model, system_fingerprint: 'fp_mock' };
  const chunk = (choices: TextCompletion['choices']): TextCompletion => (includeUsage ? { ...base, choices, usage: null } : { ...base, choices });
  const chunks: TextCompletion[] = [];
  for (const ch of whole.choices) {
    for (const word of ch.text.match(/\S+\s*/g) ?? []) chunks.push(chunk([{ text: word, index: ch.index, logprobs: null, finish_reason: null }]));
    chunks.push(chunk([{ text: '', index: ch.index, logprobs: null, finish_reason: ch.finish_reason }]));
  }
  if (includeUsage) chunks.push({ ...base, choices: [], usage: whole.usage });
  return chunks;
}

const CATEGORIES = [
  'hate', 'hate/threatening', 'harassment', 'harassment/threatening', 'illicit', 'illicit/violent', 'self-harm',
  'self-harm/intent', 'self-harm/instructions', 'sexual', 'sexual/minors', 'violence', 'violence/graphic',
] as const;

/** Text the mock flags as violence, so tests can see a flagged result. */
const FLAG_WORD = /\bkill\b/i;

/** Categories OpenAI also judges on images; the rest read text only. */
const IMAGE_CATEGORIES = new Set(['self-harm', 'self-harm/intent', 'self-harm/instructions', 'sexual', 'violence', 'violence/graphic']);

/**
 * The inputs OpenAI judges one result each for: a string, each string of a list, or one
 * multimodal input made of all the text and image parts of an object list.
 */
function moderationInputs(input: unknown): Array<{ text: string; kinds: Set<'text' | 'image'> }> {
  if (typeof input === 'string') return [{ text: input, kinds: new Set(['text']) }];
  if (!Array.isArray(input)) return [];
  if (input.every((x) => typeof x === 'string')) return input.map((text: string) => ({ text, kinds: new Set(['text'] as const) }));
  const parts = input as Array<{ type?: string; text?: string }>;
  return [
    {
      text: parts.map((p) => (p?.type === 'text' ? String(p.text ?? '') : '')).join(' '),
      kinds: new Set(parts.map((p) => (p?.type === 'image_url' ? ('image' as const) : ('text' as const)))),
    },
  ];
}

export function mockModeration(body: { model?: string; input?: unknown }) {
  const results = moderationInputs(body.input).map(({ text, kinds }) => {
    const violent = FLAG_WORD.test(text);
    const flags = Object.fromEntries(CATEGORIES.map((c) => [c, c === 'violence' && violent]));
    const scores = Object.fromEntries(CATEGORIES.map((c) => [c, c === 'violence' && violent ? 0.91 : 0.0001]));
    const applied = Object.fromEntries(
      CATEGORIES.map((c) => [c, [...kinds].filter((k) => k === 'text' || IMAGE_CATEGORIES.has(c))]),
    );
    return { flagged: violent, categories: flags, category_scores: scores, category_applied_input_types: applied };
  });
  return {
    id: `modr-${createHash('sha256').update(JSON.stringify(body) ?? '').digest('hex').slice(0, 24)}`,
    model: typeof body.model === 'string' ? body.model : 'omni-moderation-latest',
    results,
  };
}
