import {
  decodeEmbeddingBase64,
  errorResponse,
  errorResponseFor,
  estimateTokens,
  mockChatChunks,
  mockChatCompletion,
  mockEmbeddings,
  mockModels,
  type ChatCompletionRequest,
} from '../../../app/upstream/mock-responses';
import { expectSchema, validate } from '../../support/openapi';

const chat = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is the capital of France?' },
  ],
  ...extra,
});

describe('openapi validators', () => {
  it('reject objects that break the schema', () => {
    const good = mockChatCompletion(chat());
    expect(validate('CreateChatCompletionResponse', good).valid).toBe(true);

    const { choices: _dropped, ...noChoices } = good;
    const missing = validate('CreateChatCompletionResponse', noChoices);
    expect(missing.valid).toBe(false);
    expect(missing.errors).toMatch(/choices/);

    const badEnum = { ...good, choices: [{ ...good.choices[0], finish_reason: 'tired' }] };
    expect(validate('CreateChatCompletionResponse', badEnum).valid).toBe(false);
    expect(() => expectSchema('ErrorResponse', { error: { message: 'x', type: 'y' } })).toThrow(/param/);
    expect(() => expectSchema('NoSuchSchema', {})).toThrow(/no schema named NoSuchSchema/);
  });

  it('map nullable to the null type', () => {
    const [first] = mockChatChunks(chat({ stream_options: { include_usage: true } }));
    expect(first.usage).toBeNull();
    expect(first.choices[0].finish_reason).toBeNull();
    expectSchema('CreateChatCompletionStreamResponse', first);
    expect(validate('CreateChatCompletionStreamResponse', { ...first, usage: 'none' }).valid).toBe(false);
    expectSchema('CreateChatCompletionRequest', { ...chat(), max_tokens: null, n: null, stream: null });
  });

  it('compile the request schemas too', () => {
    expectSchema('CreateChatCompletionRequest', chat({ n: 2, max_tokens: 5 }));
    expectSchema('CreateEmbeddingRequest', { model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(validate('CreateChatCompletionRequest', { model: 'gpt-4o', messages: [{ role: 'robot', content: 'hi' }] }).valid).toBe(false);
  });
});

describe('mockChatCompletion', () => {
  it('answers a valid, deterministic chat completion', () => {
    const res = mockChatCompletion(chat(), { created: 1700000000 });
    expectSchema('CreateChatCompletionResponse', res);
    expect(res).toEqual(mockChatCompletion(chat(), { created: 1700000000 }));
    expect(res.id).toMatch(/^chatcmpl-[0-9a-f]{29}$/);
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]).toMatchObject({
      index: 0,
      message: { role: 'assistant', content: 'This is a mock answer to: What is the capital of France?', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    });
    expect(res.usage.completion_tokens).toBe(12); // one token a word
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens + res.usage.completion_tokens);
    expect(mockChatCompletion(chat({ model: 'other' })).id).not.toBe(res.id);
  });

  it('truncates to max_tokens or max_completion_tokens with finish_reason length', () => {
    const short = mockChatCompletion(chat({ max_tokens: 3 }));
    expectSchema('CreateChatCompletionResponse', short);
    expect(short.choices[0].message.content).toBe('This is a');
    expect(short.choices[0].finish_reason).toBe('length');
    expect(short.usage.completion_tokens).toBe(3);
    expect(mockChatCompletion(chat({ max_completion_tokens: 2, max_tokens: 50 })).choices[0].message.content).toBe('This is');
    expect(mockChatCompletion(chat({ max_tokens: 500 })).choices[0].finish_reason).toBe('stop');
  });

  it('answers n choices and counts their tokens', () => {
    const res = mockChatCompletion(chat({ n: 3 }));
    expectSchema('CreateChatCompletionResponse', res);
    expect(res.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(res.usage.completion_tokens).toBe(36);
  });

  it('reads text content parts and quotes at most 40 characters', () => {
    const res = mockChatCompletion({
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(100) }] }],
    });
    expect(res.choices[0].message.content).toBe(`This is a mock answer to: ${'x'.repeat(40)}`);
  });
});

describe('mockChatChunks', () => {
  it('streams role, words and finish chunks that rebuild the answer', () => {
    const chunks = mockChatChunks(chat(), { created: 1700000000 });
    chunks.forEach((c) => expectSchema('CreateChatCompletionStreamResponse', c));
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(chunks.at(-1)!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(mockChatCompletion(chat()).choices[0].message.content);
    expect(chunks.length).toBeGreaterThan(5);
  });

  it('adds a usage chunk with choices [] when include_usage is set', () => {
    const body = chat({ stream_options: { include_usage: true }, max_tokens: 4 });
    const chunks = mockChatChunks(body);
    chunks.forEach((c) => expectSchema('CreateChatCompletionStreamResponse', c));
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(mockChatCompletion(body).usage);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
  });

  it('interleaves chunks of n choices', () => {
    const chunks = mockChatChunks(chat({ n: 2 }));
    chunks.forEach((c) => expectSchema('CreateChatCompletionStreamResponse', c));
    for (const index of [0, 1]) {
      const mine = chunks.filter((c) => c.choices[0].index === index);
      expect(mine.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(mockChatCompletion(chat()).choices[0].message.content);
      expect(mine.at(-1)!.choices[0].finish_reason).toBe('stop');
    }
  });
});

describe('mockEmbeddings', () => {
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  it.each([
    ['a string', 'hello', 1],
    ['strings', ['hello', 'world', 'again'], 3],
    ['a token array', [1, 2, 3], 1],
    ['token arrays', [[1, 2], [3]], 2],
  ])('embeds %s as deterministic unit vectors', (_name, input, count) => {
    const res = mockEmbeddings({ model: 'text-embedding-3-small', input });
    expectSchema('CreateEmbeddingResponse', res);
    expect(res.data).toHaveLength(count);
    expect(res.data.map((d) => d.index)).toEqual([...Array(count).keys()]);
    for (const d of res.data) {
      expect(d.embedding).toHaveLength(8);
      expect(norm(d.embedding as number[])).toBeCloseTo(1, 5);
    }
    expect(res).toEqual(mockEmbeddings({ model: 'text-embedding-3-small', input }));
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('honours dimensions and differs by input', () => {
    const res = mockEmbeddings({ model: 'm', input: ['a', 'b'], dimensions: 1536 });
    expectSchema('CreateEmbeddingResponse', res);
    expect(res.data[0].embedding).toHaveLength(1536);
    expect(res.data[0].embedding).not.toEqual(res.data[1].embedding);
  });

  it('encodes base64 as little-endian float32, like OpenAI', () => {
    const floats = mockEmbeddings({ model: 'm', input: 'hello', dimensions: 16 });
    const b64 = mockEmbeddings({ model: 'm', input: 'hello', dimensions: 16, encoding_format: 'base64' });
    const encoded = b64.data[0].embedding;
    expect(typeof encoded).toBe('string');
    expect(Buffer.from(encoded as string, 'base64')).toHaveLength(64);
    expect(decodeEmbeddingBase64(encoded as string)).toEqual(floats.data[0].embedding);
    // The published schema types `embedding` as number[] only, so the base64 form cannot pass it.
    expect(validate('CreateEmbeddingResponse', b64).valid).toBe(false);
  });
});

describe('mockModels and errors', () => {
  it('lists models valid against ListModelsResponse and Model', () => {
    const list = mockModels();
    expectSchema('ListModelsResponse', list);
    list.data.forEach((m) => expectSchema('Model', m));
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small']));
  });

  it.each([400, 401, 403, 404, 429, 500, 502, 503, 418])('has an ErrorResponse body for %i', (status) => {
    expectSchema('ErrorResponse', errorResponseFor(status));
  });

  it('builds error bodies with all four fields', () => {
    expect(errorResponse('bad', 'invalid_request_error', 'model')).toEqual({
      error: { message: 'bad', type: 'invalid_request_error', param: 'model', code: null },
    });
  });

  it('estimates about four characters a token', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
  });
});
