/**
 * Hostile and broken input against the bundle: a generated set of malformed bodies and headers, sent
 * byte for byte over raw sockets. Every answer must be a 4xx carrying OpenAI's ErrorResponse (all four
 * fields), never a 500 or a dropped connection, and the server must keep serving afterwards.
 */
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { startGateway, type GatewayProcess } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { rawRequest, type RawRequest, type RawResponse } from '../../support/raw-http';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const ADMIN_KEY = 'admin-bad-input-0123456789';
// The cases are sized around a 1 MiB limit (the default is 32 MiB, for image inputs).
const BODY_LIMIT = 1_048_576;

let up: FakeUpstream;
let db: TestDatabase;
let gw: GatewayProcess;
let key: string;

const valid = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] };

interface Case {
  name: string;
  path?: string;
  method?: string;
  /** A string is sent as UTF-8; a Buffer as is; anything else as JSON. */
  body?: unknown;
  headers?: Array<[string, string]>;
  /** Send no credentials at all. */
  anonymous?: boolean;
  /** The request line, headers and body exactly, for framing the helpers would fix. */
  raw?: Buffer;
  status?: number;
  /** Expected `error.param` (undefined: not checked). */
  param?: string | null;
}

function bodyBytes(body: unknown): string | Buffer | undefined {
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) return body as string | Buffer | undefined;
  return JSON.stringify(body);
}

function toRequest(c: Case): RawRequest | Buffer {
  if (c.raw) return c.raw;
  const path = c.path ?? '/v1/chat/completions';
  const auth: Array<[string, string]> = c.anonymous
    ? []
    : [['authorization', `Bearer ${path.startsWith('/admin') ? ADMIN_KEY : key}`]];
  const hasType = (c.headers ?? []).some(([k]) => k.toLowerCase() === 'content-type');
  const type: Array<[string, string]> = hasType || c.body === undefined ? [] : [['content-type', 'application/json']];
  return { method: c.method ?? 'POST', path, headers: [...auth, ...type, ...(c.headers ?? [])], body: bodyBytes(c.body) };
}

/** `{...valid}` with `path` (dotted, [i] for indexes) set to `value`. */
function withField(path: string, value: unknown): Record<string, unknown> {
  const body = structuredClone(valid) as Record<string, any>;
  const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let target = body;
  for (const p of parts.slice(0, -1)) {
    target[p] ??= {};
    target = target[p];
  }
  target[parts.at(-1)!] = value;
  return body;
}

// ---- generated cases ------------------------------------------------------------------------

const NOT_OBJECTS: Array<[string, string]> = [
  ['an array', '[1,2,3]'],
  ['an empty array', '[]'],
  ['a string', '"hello"'],
  ['a number', '42'],
  ['null', 'null'],
  ['true', 'true'],
];

/** Values of the wrong type (or out of range) for each field the gateway validates. */
const WRONG: Record<string, unknown[]> = {
  model: [null, 123, true, [], {}, '', 'm'.repeat(257), ['gpt-4o']],
  messages: [null, 'hello', 42, {}, [], [null], ['hello'], [[]], [42]],
  'messages[0].role': [null, 42, '', true, [], {}],
  temperature: ['hot', '0.5', true, [], {}, -0.1, 2.01, 1e308, -1e308, 'NaN', 'Infinity'],
  top_p: ['1', false, [], {}, -1, 1.5, 1e308],
  n: ['1', 0, -1, 1.5, 129, 2 ** 53 + 1, 1e308, true],
  max_tokens: ['100', 0, -1, 1.5, 2 ** 53 + 1, 1e308, 10_000_001, [], 'NaN'],
  max_completion_tokens: ['100', 0, -1, 2 ** 31, 1e308],
  stream: ['true', 1, 0, [], {}, 'yes'],
  stream_options: ['x', 1, true, []],
  'stream_options.include_usage': ['yes', 1, null, []],
};

const generated: Case[] = [
  ...NOT_OBJECTS.map(([what, text]): Case => ({ name: `chat body is ${what}`, body: text, status: 400, param: null })),
  ...Object.entries(WRONG).flatMap(([field, values]) =>
    values.map(
      (v): Case => ({
        name: `chat ${field} = ${JSON.stringify(v).slice(0, 40)}`,
        body: withField(field, v),
        status: 400,
        param: field === 'messages' && Array.isArray(v) && v.length > 0 ? 'messages[0]' : field,
      }),
    ),
  ),
];

// ---- hand-written cases ---------------------------------------------------------------------

const nested = (depth: number, open: string, close: string, inner = '1') =>
  `{"model":"gpt-4o","messages":[{"role":"user","content":${open.repeat(depth)}${inner}${close.repeat(depth)}}]}`;

/** Transfer-encoding: chunked framing, 64 KiB a chunk. */
function chunked(text: string): Buffer {
  const body = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += 65_536) {
    const piece = body.subarray(at, at + 65_536);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

const invalidUtf8 = (bytes: number[]) =>
  Buffer.concat([
    Buffer.from('{"model":"gpt-4o","messages":[{"role":"user","content":"'),
    Buffer.from(bytes),
    Buffer.from('"}]}'),
  ]);

const handWritten: Case[] = [
  // numbers JSON.parse turns into Infinity
  { name: 'temperature written as 1e400', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":1e400}', status: 400, param: 'temperature' },
  { name: 'max_tokens written as -1e400', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"max_tokens":-1e400}', status: 400, param: 'max_tokens' },
  // malformed JSON
  { name: 'truncated JSON', body: '{"model": "gpt-4o", ', status: 400 },
  { name: 'trailing garbage', body: `${JSON.stringify(valid)} trailing`, status: 400 },
  { name: 'single quotes', body: "{'model': 'gpt-4o'}", status: 400 },
  { name: 'trailing comma', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x"},]}', status: 400 },
  { name: 'NaN literal', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":NaN}', status: 400 },
  { name: 'a lone byte-order mark', body: '\ufeff', status: 400 },
  { name: 'whitespace only', body: '   \n\t  ', status: 400 },
  { name: 'an empty body', body: '', status: 400 },
  { name: 'a NUL byte', body: Buffer.from([0]), status: 400 },
  // deep nesting
  { name: '10,000 nested arrays in a message', body: nested(10_000, '[', ']'), status: 400 },
  { name: '10,000 nested objects in a message', body: nested(10_000, '{"a":', '}'), status: 400 },
  { name: '300,000 nested arrays (under the body limit)', body: nested(300_000, '[', ']'), status: 400 },
  { name: '100,000 unclosed arrays', body: `{"model":"gpt-4o","x":${'['.repeat(100_000)}`, status: 400 },
  // invalid UTF-8
  { name: 'invalid UTF-8: 0xFF 0xFE in a string', body: invalidUtf8([0xff, 0xfe]), status: 400 },
  { name: 'invalid UTF-8: overlong "/"', body: invalidUtf8([0xc0, 0xaf]), status: 400 },
  { name: 'invalid UTF-8: encoded surrogate', body: invalidUtf8([0xed, 0xa0, 0x80]), status: 400 },
  { name: 'invalid UTF-8: truncated sequence', body: invalidUtf8([0xe2, 0x82]), status: 400 },
  { name: 'invalid UTF-8: stray continuation bytes', body: invalidUtf8([0x80, 0x80, 0x80]), status: 400 },
  { name: 'invalid UTF-8 outside strings', body: Buffer.from([0x7b, 0xff, 0x7d]), status: 400 },
  { name: 'UTF-16 body', body: Buffer.from(JSON.stringify(valid), 'utf16le'), status: 400 },
  // sizes
  { name: 'a 10 MB string', body: JSON.stringify(withField('messages[0].content', 'x'.repeat(10 * 1024 * 1024))), status: 413 },
  { name: 'just over the body limit', body: JSON.stringify(withField('messages[0].content', 'y'.repeat(BODY_LIMIT))), status: 413 },
  { name: '50,000 empty messages', body: { model: 'gpt-4o', messages: Array.from({ length: 50_000 }, () => ({})) }, status: 400, param: 'messages' },
  { name: 'a 10 MB chunked body (no content-length)', body: chunked(`{"model":"${'z'.repeat(10 * 1024 * 1024)}"}`), headers: [['transfer-encoding', 'chunked']], status: 413 },
  // duplicate keys: JSON.parse keeps the last one, and that is the one validated (and forwarded)
  { name: 'duplicate model, last one a number', body: '{"model":"gpt-4o","model":123,"messages":[{"role":"user","content":"x"}]}', status: 400, param: 'model' },
  { name: 'duplicate messages, last one empty', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"messages":[]}', status: 400, param: 'messages' },
  { name: 'duplicate role, last one empty', body: '{"model":"gpt-4o","messages":[{"role":"user","role":"","content":"x"}]}', status: 400, param: 'messages[0].role' },
  // prototype pollution
  { name: '__proto__ at the top', body: '{"__proto__":{"polluted":true},"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}', status: 400 },
  { name: '__proto__ in a message', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x","__proto__":{"isAdmin":true}}]}', status: 400 },
  { name: 'constructor.prototype at the top', body: '{"constructor":{"prototype":{"polluted":true}},"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}', status: 400 },
  { name: 'constructor.prototype in stream_options', body: '{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream_options":{"constructor":{"prototype":{"include_usage":true}}}}', status: 400 },
  // strings the database cannot store
  { name: 'a NUL character in the model name', body: withField('model', 'gpt-4o\u0000'), status: 400, param: 'model' },
  { name: 'control characters in the model name', body: withField('model', 'gpt\r\n-4o'), status: 400, param: 'model' },
  // content types
  { name: 'form-encoded body', body: 'model=gpt-4o&messages=hi', headers: [['content-type', 'application/x-www-form-urlencoded']], status: 400 },
  { name: 'multipart body', body: '--b\r\ncontent-disposition: form-data; name="model"\r\n\r\ngpt-4o\r\n--b--\r\n', headers: [['content-type', 'multipart/form-data; boundary=b']], status: 400 },
  { name: 'a content type that is no media type', body: JSON.stringify(valid).slice(0, 10), headers: [['content-type', ';;;']], status: 400 },
  // headers
  { name: 'no credentials', anonymous: true, body: valid, status: 401 },
  { name: 'a 12 KB Authorization header', anonymous: true, headers: [['authorization', `Bearer ${'k'.repeat(12 * 1024)}`]], body: valid, status: 401 },
  { name: 'a 64 KB Authorization header', anonymous: true, headers: [['authorization', `Bearer ${'k'.repeat(64 * 1024)}`]], body: valid, status: 431 },
  { name: 'Authorization with latin-1 bytes', anonymous: true, headers: [['authorization', `Bearer \xe9\xff\xfe${'x'.repeat(40)}`]], body: valid, status: 401 },
  { name: 'Authorization with two tokens', anonymous: true, headers: [['authorization', 'Bearer a, Bearer b']], body: valid, status: 401 },
  { name: 'Authorization "Bearer" with no token', anonymous: true, headers: [['authorization', 'Bearer ']], body: valid, status: 401 },
  { name: 'Basic auth instead of Bearer', anonymous: true, headers: [['authorization', 'Basic dXNlcjpwYXNz']], body: valid, status: 401 },
  { name: 'a control character in a header value', headers: [['x-request-id', 'abc\x01def']], body: valid, status: 400 },
  { name: 'a header name with a space', headers: [['bad header', 'x']], body: valid, status: 400 },
  { name: '2,000 headers', headers: Array.from({ length: 2000 }, (_, i): [string, string] => [`x-h-${i}`, 'vvvvvvvvvv']), body: valid, status: 431 },
  { name: 'an invalid content-length', headers: [['content-length', 'abc']], body: JSON.stringify(valid), status: 400 },
  { name: 'content-length and chunked together', headers: [['content-length', '5'], ['transfer-encoding', 'chunked']], body: '0\r\n\r\n', status: 400 },
  { name: 'broken chunk framing', headers: [['transfer-encoding', 'chunked']], body: 'zz\r\n{}\r\n0\r\n\r\n', status: 400 },
  // URLs and methods
  { name: 'GET on a POST route', method: 'GET', status: 404 },
  { name: 'PUT on a POST route', method: 'PUT', body: valid, status: 404 },
  { name: 'a malformed percent-escape in the path', path: '/v1/%zz', body: valid, status: 400 },
  { name: 'a 20 KB URL', path: `/v1/${'u'.repeat(20 * 1024)}`, body: valid, status: 431 },
  { name: 'a request line that is not HTTP', raw: Buffer.from('HELLO THERE\r\n\r\n'), status: 400 },
  { name: 'HTTP/1.1 without a Host header', raw: Buffer.from('GET /health HTTP/1.1\r\nconnection: close\r\n\r\n'), status: 400 },

  // /v1/embeddings
  ...[
    ['malformed JSON', '{"model":'],
    ['a JSON array', '[]'],
    ['input of the wrong type', { model: 'text-embedding-3-small', input: 123 }],
    ['an empty input array', { model: 'text-embedding-3-small', input: [] }],
    ['an array of empty arrays', { model: 'text-embedding-3-small', input: [[]] }],
    ['mixed input', { model: 'text-embedding-3-small', input: ['a', 1] }],
    ['fractional token ids', { model: 'text-embedding-3-small', input: [1.5] }],
    ['no model', { input: 'x' }],
    ['a numeric model', { model: 7, input: 'x' }],
    ['dimensions -1', { model: 'text-embedding-3-small', input: 'x', dimensions: -1 }],
    ['dimensions 1e308', { model: 'text-embedding-3-small', input: 'x', dimensions: 1e308 }],
    ['an unknown encoding_format', { model: 'text-embedding-3-small', input: 'x', encoding_format: 'hex' }],
    ['a 10 MB input', { model: 'text-embedding-3-small', input: 'e'.repeat(10 * 1024 * 1024) }],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"model":"m","input":"'), Buffer.from([0xff]), Buffer.from('"}')])],
  ].map(([what, body]): Case => ({
    name: `embeddings: ${what}`,
    path: '/v1/embeddings',
    body,
    status: what === 'a 10 MB input' ? 413 : 400,
  })),

  // /v1/batch (the envelope; bad items are answered per item, see below)
  ...[
    ['malformed JSON', '{"requests": [', 400],
    ['a JSON array', '[{"model":"gpt-4o"}]', 400],
    ['no requests', {}, 400],
    ['requests as an object', { requests: { a: 1 } }, 400],
    ['an empty requests array', { requests: [] }, 400],
    ['more items than BATCH_MAX_ITEMS', { requests: Array.from({ length: 101 }, () => valid) }, 400],
    ['max_concurrency 0', { requests: [valid], max_concurrency: 0 }, 400],
    ['max_concurrency "5"', { requests: [valid], max_concurrency: '5' }, 400],
    ['deeply nested items', `{"requests":[${'['.repeat(50_000)}${']'.repeat(50_000)}]}`, 400],
  ].map(([what, body, status]): Case => ({ name: `batch: ${String(what)}`, path: '/v1/batch', body, status: status as number })),

  // /admin/keys
  ...[
    ['malformed JSON', '{"name":', 400],
    ['a JSON string', '"key"', 400],
    ['no name', { rpm: 5 }, 400],
    ['an empty name', { name: '   ' }, 400],
    ['a numeric name', { name: 123 }, 400],
    ['a 201-character name', { name: 'n'.repeat(201) }, 400],
    ['a NUL character in the name', { name: 'evil\u0000name' }, 400],
    ['rpm -1', { name: 'k', rpm: -1 }, 400],
    ['rpm 1.5', { name: 'k', rpm: 1.5 }, 400],
    ['rpm "5"', { name: 'k', rpm: '5' }, 400],
    ['rpm 2^31 (past the integer column)', { name: 'k', rpm: 2 ** 31 }, 400],
    ['tpm 2^53+1', { name: 'k', tpm: 2 ** 53 + 1 }, 400],
    ['monthly_token_budget 1e308', { name: 'k', monthly_token_budget: 1e308 }, 400],
    ['models []', { name: 'k', models: [] }, 400],
    ['models [1]', { name: 'k', models: [1] }, 400],
    ['models with a NUL character', { name: 'k', models: ['gpt\u0000'] }, 400],
    ['__proto__', '{"name":"k","__proto__":{"rpm":1}}', 400],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 400],
  ].map(([what, body, status]): Case => ({ name: `admin keys: ${String(what)}`, path: '/admin/keys', body, status: status as number })),
  { name: 'admin keys without the admin token', path: '/admin/keys', anonymous: true, body: { name: 'k' }, status: 401 },
  { name: 'admin usage with a bad key_id', method: 'GET', path: '/admin/usage?key_id=nope', status: 400, param: 'key_id' },
  { name: 'admin usage with a bad date', method: 'GET', path: '/admin/usage?since=yesterday', status: 400, param: 'since' },
  { name: 'admin usage with a repeated key_id', method: 'GET', path: '/admin/usage?key_id=a&key_id=b', status: 400, param: 'key_id' },
  { name: 'admin delete with an undecodable id', method: 'DELETE', path: '/admin/keys/%00%ff', status: 400 },
  { name: 'admin delete of a non-uuid id', method: 'DELETE', path: '/admin/keys/nope', status: 404 },
];

const cases = [...generated, ...handWritten];

function expectErrorResponse(res: RawResponse, c: Case) {
  const context = `${c.name}: ${res.status} ${res.body.slice(0, 300)}`;
  expect({ context, status: res.status }).toEqual({ context, status: c.status ?? expect.any(Number) });
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expectSchema('ErrorResponse', res.json);
  const e = (res.json as { error: Record<string, unknown> }).error;
  expect(Object.keys(e).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(e.type).toBe('invalid_request_error');
  if (c.param !== undefined) expect({ context, param: e.param }).toEqual({ context, param: c.param });
  // a 4xx names what was wrong; it never echoes internals
  expect(String(e.message)).not.toMatch(/\bat \S+:\d+|node_modules|127\.0\.0\.1|Error:/);
}

beforeAll(async () => {
  up = await startFakeUpstream();
  db = await createTestDatabase();
  const created = await (await import('../../../app/stores/keys')).createKeyStore({ db: db.db }).create({ name: 'bad-input' });
  key = created.key;
  gw = await startGateway({
    env: {
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      OPENAI_BASE_URL: up.url,
      OPENAI_API_KEY: 'sk-upstream-bad-input',
      ADMIN_API_KEY: ADMIN_KEY,
      DEFAULT_RPM: '100000',
      DEFAULT_TPM: '1000000000',
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await up?.close();
  await db?.drop();
});

describe('bad input gets a 4xx ErrorResponse, never a 500', () => {
  it('the generated set is large and covers every validated field', () => {
    expect(cases.length).toBeGreaterThan(150);
    for (const field of Object.keys(WRONG)) expect(generated.some((c) => c.name.startsWith(`chat ${field} `))).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await rawRequest(gw.port, toRequest(c), 15_000);
    expectErrorResponse(res, c);
    expect(gw.child.exitCode).toBeNull();
  });
});

describe('and the server is unharmed', () => {
  it('a bad batch item is answered in its slot with an ErrorResponse; the good ones succeed', async () => {
    const res = await rawRequest(gw.port, toRequest({
      name: 'batch',
      path: '/v1/batch',
      body: { requests: [valid, 1, null, 'x', { ...valid, temperature: 9 }, { ...valid, stream: true }, valid] },
    }));
    expect(res.status).toBe(200);
    const results = (res.json as { results: Array<{ status: number; body: unknown }> }).results;
    expect(results.map((r) => r.status)).toEqual([200, 400, 400, 400, 400, 400, 200]);
    for (const r of results.filter((x) => x.status !== 200)) expectSchema('ErrorResponse', r.body);
  });

  it('duplicate keys: the value validated is the value forwarded (the last one)', async () => {
    up.reset();
    const res = await rawRequest(gw.port, toRequest({
      name: 'dup',
      body: '{"model":123,"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"max_tokens":"a","max_tokens":5}',
    }));
    expect(res.status).toBe(200);
    expect(up.requests.at(-1)!.body).toMatchObject({ model: 'gpt-4o', max_tokens: 5 });
  });

  it('a bad x-request-id is replaced by a generated one, not echoed', async () => {
    for (const id of ['caf\xc3\xa9-\xe2\x98\x83', 'a'.repeat(500), 'with space', '<script>']) {
      const res = await rawRequest(gw.port, toRequest({ name: 'rid', headers: [['x-request-id', id]], body: valid }));
      expect(res.status).toBe(200);
      expect(res.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    }
  });

  it('nothing polluted Object.prototype and normal requests still succeed', async () => {
    const res = await rawRequest(gw.port, toRequest({ name: 'ok', body: { ...valid, stream: true } }));
    expect(res.status).toBe(200);
    expect(res.body.endsWith('data: [DONE]\n\n')).toBe(true);
    const health = await fetch(`${gw.url}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    const created = await rawRequest(gw.port, toRequest({ name: 'admin', path: '/admin/keys', body: { name: 'after' } }));
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ rpm: null, tpm: null });
  });

  it('logged no unhandled error and did not restart', async () => {
    expect(gw.child.exitCode).toBeNull();
    const unhandled = gw.logs().filter((l) => (l.msg === 'request failed' && l.status === 500) || l.msg === 'unhandled rejection');
    expect(unhandled).toEqual([]);
    // The check above can only fail if the access log is really read: the 4xx answers are in it.
    const refused = gw.logs().filter((l) => l.msg === 'request completed' && l.status === 400);
    expect(refused.length).toBeGreaterThan(20);
    const started = gw.logs().filter((l) => l.msg === 'llm-api listening');
    expect(started).toHaveLength(1);
  });
});
