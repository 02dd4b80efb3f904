import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { InvalidRequestError } from '../../../app/errors';
import {
  batchBody,
  chatCompletionBody,
  createKeyBody,
  embeddingsBody,
  parseBody,
  usageQuery,
} from '../../../app/schemas/requests';

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

/** The 400 parseBody throws, as its body's error object. */
function rejection(schema: z.ZodType, value: unknown) {
  try {
    parseBody(schema, value);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).status).toBe(400);
    return (err as InvalidRequestError).toBody().error;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
}

describe('parseBody: naming the offending field', () => {
  it('names a missing top-level field with missing_required_parameter', () => {
    expect(rejection(chatCompletionBody, { messages: CHAT.messages })).toEqual({
      message: "Missing required parameter: 'model'.",
      type: 'invalid_request_error',
      param: 'model',
      code: 'missing_required_parameter',
    });
  });

  it('names a missing nested field OpenAI-style', () => {
    expect(rejection(chatCompletionBody, { ...CHAT, messages: [CHAT.messages[0], { content: 'x' }] })).toMatchObject({
      param: 'messages[1].role',
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'messages[1].role'.",
    });
  });

  it.each([
    [{ ...CHAT, messages: [{ role: 5 }] }, 'messages[0].role'],
    [{ ...CHAT, messages: [{ role: '' }] }, 'messages[0].role'],
    [{ ...CHAT, messages: 'hi' }, 'messages'],
    [{ ...CHAT, messages: [] }, 'messages'],
    [{ ...CHAT, model: 42 }, 'model'],
    [{ ...CHAT, temperature: 2.5 }, 'temperature'],
    [{ ...CHAT, top_p: -0.1 }, 'top_p'],
    [{ ...CHAT, n: 1.5 }, 'n'],
    [{ ...CHAT, max_tokens: 0 }, 'max_tokens'],
    [{ ...CHAT, stream: 'yes' }, 'stream'],
    [{ ...CHAT, stream_options: { include_usage: 'yes' } }, 'stream_options.include_usage'],
  ])('names a present but invalid field with invalid_value: %j → %s', (body, param) => {
    const e = rejection(chatCompletionBody, body);
    expect(e).toMatchObject({ param, code: 'invalid_value', type: 'invalid_request_error' });
    expect(e.message).toMatch(new RegExp(`^Invalid value for '${param.replace(/[.[\]]/g, '\\$&')}': `));
  });

  it.each(['gpt\u0000x', 'gpt\nx', 'x'.repeat(257)])('refuses a model id %j that cannot be logged or stored', (model) => {
    expect(rejection(chatCompletionBody, { ...CHAT, model })).toMatchObject({ param: 'model', code: 'invalid_value' });
    expect(rejection(embeddingsBody, { model, input: 'x' })).toMatchObject({ param: 'model', code: 'invalid_value' });
  });

  it('treats an explicit null for a required field as invalid, not missing', () => {
    expect(rejection(chatCompletionBody, { ...CHAT, model: null })).toMatchObject({ param: 'model', code: 'invalid_value' });
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', 'hello'],
    ['a number', 42],
    ['an array', [CHAT]],
  ])('refuses %s as a body with param null', (_, body) => {
    expect(rejection(chatCompletionBody, body)).toEqual({
      message: 'The request body must be a JSON object.',
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
  });
});

describe('parseBody: chat completions', () => {
  it('passes unknown fields through untouched, at the top and inside messages', () => {
    const body = {
      ...CHAT,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }], name: 'ann' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
      response_format: { type: 'json_object' },
      logit_bias: { '50256': -100 },
    };
    expect(parseBody(chatCompletionBody, body)).toEqual(body);
  });

  it('accepts null for the optional fields OpenAI allows null in', () => {
    const body = { ...CHAT, stream: null, stream_options: null, temperature: null, top_p: null, n: null, max_tokens: null };
    expect(parseBody(chatCompletionBody, body)).toEqual(body);
  });

  it('keeps stream options it does not know', () => {
    const body = { ...CHAT, stream: true, stream_options: { include_usage: true, include_obfuscation: false } };
    expect(parseBody(chatCompletionBody, body).stream_options).toEqual(body.stream_options);
  });
});

describe('parseBody: embeddings input', () => {
  it.each([
    ['a string', 'hello'],
    ['strings', ['a', 'b']],
    ['one token array', [1, 2, 3]],
    ['token arrays', [[1, 2], [3]]],
  ])('accepts %s', (_, input) => {
    expect(parseBody(embeddingsBody, { model: 'text-embedding-3-small', input, user: 'u1' })).toEqual({
      model: 'text-embedding-3-small',
      input,
      user: 'u1',
    });
  });

  it.each([
    ['an empty list', []],
    ['a mixed list', ['a', 1]],
    ['fractional tokens', [1.5]],
    ['a number', 5],
    ['an object', { text: 'a' }],
  ])('refuses %s as input, naming input', (_, input) => {
    expect(rejection(embeddingsBody, { model: 'm', input })).toMatchObject({ param: 'input', code: 'invalid_value' });
  });

  it('names the empty token array inside a list of them', () => {
    expect(rejection(embeddingsBody, { model: 'm', input: [[1], []] })).toMatchObject({ param: 'input[1]' });
  });

  it('reports a missing input as missing', () => {
    expect(rejection(embeddingsBody, { model: 'm' })).toMatchObject({ param: 'input', code: 'missing_required_parameter' });
  });

  it.each([
    [{ encoding_format: 'hex' }, 'encoding_format'],
    [{ dimensions: 0 }, 'dimensions'],
  ])('refuses %j', (extra, param) => {
    expect(rejection(embeddingsBody, { model: 'm', input: 'x', ...extra })).toMatchObject({ param, code: 'invalid_value' });
  });
});

describe('parseBody: admin and batch bodies', () => {
  it('trims a key name and drops fields it does not know', () => {
    expect(parseBody(createKeyBody, { name: '  ci  ', rpm: 10, admin: true })).toEqual({ name: 'ci', rpm: 10 });
  });

  it('accepts every key option, nulls included', () => {
    const body = { name: 'k', rpm: null, tpm: 1000, monthly_token_budget: 5_000_000_000, models: ['gpt-4o-mini'] };
    expect(parseBody(createKeyBody, body)).toEqual(body);
  });

  it.each([
    [{}, 'name', 'missing_required_parameter'],
    [{ name: '   ' }, 'name', 'invalid_value'],
    [{ name: 'x'.repeat(201) }, 'name', 'invalid_value'],
    [{ name: 'a\u0000b' }, 'name', 'invalid_value'],
    [{ name: 'k', rpm: 0 }, 'rpm', 'invalid_value'],
    [{ name: 'k', rpm: 2 ** 31 }, 'rpm', 'invalid_value'],
    [{ name: 'k', models: ['gpt\u0000'] }, 'models[0]', 'invalid_value'],
    [{ name: 'k', tpm: 2.5 }, 'tpm', 'invalid_value'],
    [{ name: 'k', monthly_token_budget: -1 }, 'monthly_token_budget', 'invalid_value'],
    [{ name: 'k', models: [] }, 'models', 'invalid_value'],
    [{ name: 'k', models: [''] }, 'models[0]', 'invalid_value'],
  ])('refuses key body %j naming %s', (body, param, code) => {
    expect(rejection(createKeyBody, body)).toMatchObject({ param, code });
  });

  it('requires a non-empty batch', () => {
    expect(rejection(batchBody, { requests: [] })).toMatchObject({ param: 'requests', code: 'invalid_value' });
    expect(rejection(batchBody, {})).toMatchObject({ param: 'requests', code: 'missing_required_parameter' });
    expect(parseBody(batchBody, { requests: [CHAT], max_concurrency: 2 })).toEqual({ requests: [CHAT], max_concurrency: 2 });
  });
});

describe('parseBody: usage query', () => {
  it('accepts a key id and ISO dates or date-times with an offset', () => {
    const q = { key_id: randomUUID(), since: '2030-01-01', until: '2030-02-01T00:00:00+02:00' };
    expect(parseBody(usageQuery, q)).toEqual(q);
    expect(parseBody(usageQuery, {})).toEqual({});
    expect(parseBody(usageQuery, { since: '2030-01-01T10:00:00Z' })).toEqual({ since: '2030-01-01T10:00:00Z' });
  });

  it.each([
    [{ key_id: 'abc' }, 'key_id'],
    [{ since: 'yesterday' }, 'since'],
    [{ until: '2030-13-01' }, 'until'],
  ])('refuses %j naming %s', (q, param) => {
    expect(rejection(usageQuery, q)).toMatchObject({ param, code: 'invalid_value' });
  });
});
