import { createScrubber, secretForms } from '../../../app/security/scrub';
import { looksSecret } from '../../../app/security/tokens';

const PROVIDER_KEY = 'vllm-token-QmFzZTY0IGlzIG5vdCBlbmNyeXB0aW9u';
const SHORT_PROVIDER_KEY = 'local-key-abcdef'; // no entropy at all: only the configured list can catch it
const ADMIN = 'admin-super-secret-value';
const REDIS_PASSWORD = 'p@ss/word+with=chars"and\\quotes';

const scrub = createScrubber({ secrets: [PROVIDER_KEY, SHORT_PROVIDER_KEY, ADMIN, REDIS_PASSWORD, undefined, 'abc'] });

function leaks(text: string): string[] {
  const found: string[] = [];
  for (const secret of [PROVIDER_KEY, SHORT_PROVIDER_KEY, ADMIN, REDIS_PASSWORD]) {
    for (const form of secretForms(secret)) if (text.includes(form)) found.push(form);
  }
  return found;
}

describe('scrubber: text', () => {
  it.each([
    ['as is', (s: string) => `Incorrect API key provided: ${s}.`],
    ['URL-encoded', (s: string) => `GET /v1/models?key=${encodeURIComponent(s)}`],
    ['JSON-escaped', (s: string) => `body was ${JSON.stringify({ k: s })}`],
    ['JSON-escaped twice', (s: string) => JSON.stringify(JSON.stringify({ k: s }))],
    ['base64', (s: string) => `token ${Buffer.from(s).toString('base64')}`],
    ['base64url', (s: string) => `token ${Buffer.from(s).toString('base64url')}`],
    ['inside Basic auth (offset 1)', (s: string) => `Basic ${Buffer.from(`u:${s}`).toString('base64')}`],
    ['inside base64 (offset 2)', (s: string) => Buffer.from(`ab${s}xyz`).toString('base64')],
    ['inside base64 (offset 0, with a tail)', (s: string) => Buffer.from(`abc${s}x`).toString('base64')],
  ])('removes every configured secret %s', (_name, embed) => {
    for (const secret of [PROVIDER_KEY, SHORT_PROVIDER_KEY, ADMIN, REDIS_PASSWORD]) {
      const out = scrub.text(embed(secret));
      expect(leaks(out)).toEqual([]);
      expect(out).toContain('[redacted]');
    }
  });

  it.each([
    ['a bearer token', 'auth=Bearer abc.def-123_456', 'abc.def-123_456'],
    ['an OpenAI key', 'key sk-proj-AbCdEf0123456789 is wrong', 'sk-proj-AbCdEf0123456789'],
    ['an Anthropic key', 'x-api-key: sk-ant-api03-AbCdEfGh', 'sk-ant-api03-AbCdEfGh'],
    ['a masked key', 'Incorrect API key provided: sk-proj-****abcd.', 'sk-proj-****abcd'],
    ['an AWS access key id', 'The security token AKIAIOSFODNN7EXAMPLE is invalid', 'AKIAIOSFODNN7EXAMPLE'],
    ['an STS key id', 'creds ASIAY34FZKBOKMUTVV7A expired', 'ASIAY34FZKBOKMUTVV7A'],
    ['a random token of another shape', 'invalid token vllm-token-9f8e7d6c5b4a39281706f5e4', '9f8e7d6c5b4a39281706f5e4'],
    ['an api_key= value', 'https://x.example/v1?api_key=zzzzzzzzzzzz&x=1', 'zzzzzzzzzzzz'],
    ['a password: value', 'password: "hunter2hunter2"', 'hunter2hunter2'],
    ['a JWT', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc', 'eyJhbGciOiJIUzI1NiJ9'],
  ])('removes %s it was never told about', (_name, input, secret) => {
    const out = scrub.text(input);
    expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
  });

  it.each([
    "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (max_tokens=100).",
    'The model `us.anthropic.claude-sonnet-4-5-20250929-v1:0` does not exist.',
    'meta-llama/Llama-3.1-8B-Instruct is not served here; try gpt-4o-mini-2024-07-18 or text-embedding-3-large.',
    'Invalid value for messages[0].content: expected a string. Request id 6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b.',
    'Bearer authentication failed; check your configuration.',
    'Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.',
    'InternalServerError: the server had an error while processing your request.',
  ])('leaves ordinary prose alone: %s', (prose) => {
    expect(scrub.text(prose)).toBe(prose);
  });

  it('ignores secrets too short to look for safely', () => {
    expect(scrub.text('abc is a word')).toBe('abc is a word');
  });

  it('tells random tokens from identifiers', () => {
    expect(looksSecret('QmFzZTY0IGlzIG5vdCBlbmNyeXB0aW9u')).toBe(true);
    expect(looksSecret('0123456789abcdef0123')).toBe(true);
    expect(looksSecret('context_length_exceeded')).toBe(false);
    expect(looksSecret('claude-sonnet-4-5-20250929')).toBe(false);
    expect(looksSecret('ThisIsCamelCaseIdentifierName')).toBe(false);
    expect(looksSecret('HTTPSConnectionPoolError')).toBe(false);
    expect(looksSecret('QmFzZTYwIGlzIGZvdCBlbmNyeXB')).toBe(true);
  });
});

describe('scrubber: errorBody (OpenAI shape)', () => {
  it('builds every field from the allow-list when the upstream echoes the key everywhere', () => {
    const raw = {
      error: { message: `bad key ${PROVIDER_KEY}`, type: PROVIDER_KEY, param: PROVIDER_KEY, code: PROVIDER_KEY, extra: PROVIDER_KEY },
    };
    const body = scrub.errorBody(400, raw);
    expect(body).toEqual({ error: { message: 'bad key [redacted]', type: 'invalid_request_error', param: null, code: null } });
    expect(leaks(JSON.stringify(body))).toEqual([]);
  });

  it('drops a short configured key from code and param too', () => {
    const body = scrub.errorBody(401, { error: { message: 'no', type: 'x', param: SHORT_PROVIDER_KEY, code: SHORT_PROVIDER_KEY } });
    expect(body.error).toMatchObject({ param: null, code: null, type: 'invalid_request_error' });
  });

  it('keeps what clients switch on: known types, identifier codes, field paths', () => {
    const body = scrub.errorBody(400, {
      error: { message: 'too long', type: 'invalid_request_error', param: 'messages[3].content', code: 'context_length_exceeded' },
    });
    expect(body).toEqual({
      error: { message: 'too long', type: 'invalid_request_error', param: 'messages[3].content', code: 'context_length_exceeded' },
    });
  });

  it.each([
    ['a header dump', 'authorization: Bearer abcdef'],
    ['a sentence', 'the model field'],
    ['a random name', 'x9f8e7d6c5b4a39281706f5e4'],
    ['a number', 3],
  ])('keeps param only when it is a field path, not %s', (_name, param) => {
    expect(scrub.errorBody(400, { error: { message: 'm', param } }).error.param).toBeNull();
  });

  it.each([
    [429, 'rate_limit_error'],
    [404, 'invalid_request_error'],
    [500, 'api_error'],
  ])('defaults an unknown type by status (%i → %s)', (status, type) => {
    expect(scrub.errorBody(status, { error: { message: 'm', type: 'SomethingElse' } }).error.type).toBe(type);
  });

  it("reads vLLM's top-level error, a string error, plain text and nonsense", () => {
    expect(scrub.errorBody(400, { object: 'error', message: 'bad', type: 'BadRequestError', param: null, code: 400 })).toEqual({
      error: { message: 'bad', type: 'invalid_request_error', param: null, code: '400' },
    });
    expect(scrub.errorBody(400, '{"error":"just text"}').error.message).toBe('just text');
    expect(scrub.errorBody(502, `upstream said ${PROVIDER_KEY}`).error.message).toBe('upstream said [redacted]');
    expect(scrub.errorBody(500, null).error).toEqual({
      message: 'The upstream model server failed to answer.',
      type: 'api_error',
      param: null,
      code: null,
    });
  });

  it('cuts very long messages', () => {
    expect(scrub.errorBody(400, { error: { message: 'x '.repeat(5000) } }).error.message.length).toBeLessThanOrEqual(2001);
  });
});

describe('scrubber: anthropicErrorBody', () => {
  it("speaks Anthropic's vocabulary and scrubs the message", () => {
    expect(scrub.anthropicErrorBody(429, { error: { type: 'insufficient_quota', message: `key ${ADMIN}` } })).toEqual({
      type: 'error',
      error: { type: 'billing_error', message: 'key [redacted]' },
    });
    expect(scrub.anthropicErrorBody(529, { type: 'error', error: { type: PROVIDER_KEY, message: 'busy' } })).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'busy' },
    });
    expect(scrub.anthropicErrorBody(401, {}).error.type).toBe('authentication_error');
  });
});

describe('scrubber: sseEvent', () => {
  it('passes ordinary data events through unchanged', () => {
    const event = 'data: {"id":"c1","choices":[{"delta":{"content":"hi"}}]}';
    expect(scrub.sseEvent(event)).toBe(event);
    expect(scrub.sseEvent('data: [DONE]')).toBe('data: [DONE]');
    expect(scrub.sseEvent('event: message_start\ndata: {"type":"message_start"}', 'anthropic')).toBe(
      'event: message_start\ndata: {"type":"message_start"}',
    );
  });

  it('drops comment lines, and the event when nothing else is left', () => {
    expect(scrub.sseEvent(`: debug auth=Bearer ${PROVIDER_KEY}`)).toBeUndefined();
    expect(scrub.sseEvent(`: debug ${PROVIDER_KEY}\ndata: {"id":"c1"}`)).toBe('data: {"id":"c1"}');
  });

  it('rebuilds an error event from the allow-list', () => {
    const raw = `data: ${JSON.stringify({ error: { message: `k=${PROVIDER_KEY}`, type: PROVIDER_KEY, param: PROVIDER_KEY, code: PROVIDER_KEY } })}`;
    const out = scrub.sseEvent(raw)!;
    expect(leaks(out)).toEqual([]);
    expect(JSON.parse(out.slice(6))).toEqual({ error: { message: 'k=[redacted]', type: 'api_error', param: null, code: null } });
  });

  it("rebuilds Anthropic's error event", () => {
    const raw = `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: `x ${ADMIN}` } })}`;
    const out = scrub.sseEvent(raw, 'anthropic')!;
    expect(out.split('\n')[0]).toBe('event: error');
    expect(JSON.parse(out.split('\n')[1].slice(6))).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'x [redacted]' } });
  });
});

describe('scrubber: cost', () => {
  it('scrubs a 2,000-character message in well under a millisecond', () => {
    const many = createScrubber({ secrets: Array.from({ length: 20 }, (_, i) => `provider-secret-number-${i}-abcdef`) });
    const message = 'The model produced an invalid tool call near messages[12].content; '.repeat(30);
    const started = performance.now();
    for (let i = 0; i < 1000; i++) many.errorBody(400, { error: { message, type: 'invalid_request_error' } });
    expect((performance.now() - started) / 1000).toBeLessThan(1);
  });
});
