/**
 * Issue 13's "Done when", end to end: one `node dist/server.js` whose routing document (MODELS_CONFIG)
 * names an OpenAI-compatible provider (fake-upstream), the Anthropic API (fake-anthropic) and Amazon
 * Bedrock (fake-bedrock: HTTP/2 + TLS, SigV4, event-stream), driven by the official `openai` and
 * `@anthropic-ai/sdk` clients. Answers and chunks are checked against OpenAI's published schemas and
 * Anthropic's message shape; errors on /v1/messages come back in Anthropic's shape.
 *
 * Fallbacks: names with two deployments (priority 0 `primary`, priority 1 `secondary`, both
 * fake-upstreams) and a fallback name (`claude-spare`, on fake-anthropic). Each fault gets a name of
 * its own so that one test's open circuit never steers another. The access log line names the
 * deployment that served and the attempts; the fakes' counters show the attempt bound
 * (UPSTREAM_MAX_RETRIES + 1) and the circuit (CIRCUIT_FAILURE_THRESHOLD, CIRCUIT_COOLDOWN_MS).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeAnthropic, type FakeAnthropic } from '../../support/fake-anthropic';
import { startFakeBedrock, TEST_CA_PATH, type FakeBedrock } from '../../support/fake-bedrock';
import { startFakeUpstream, type FakeUpstream } from '../../support/fake-upstream';
import { createKeyVia, freePort, type GatewayProcess, startGateway } from '../../support/gateway-process';
import { expectSchema } from '../../support/openapi';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../../support/test-db';

const UPSTREAM_KEY = 'sk-upstream-providers-0123456789';
const ANTHROPIC_KEY = 'sk-ant-providers-0123456789';
const ADMIN_KEY = 'admin-providers-9876543210';

const MAX_RETRIES = 2;
const MAX_ATTEMPTS = MAX_RETRIES + 1;
const THRESHOLD = 3;
// Long enough that circuits opened by a burst are still open when the next request checks them, on a
// busy CI machine too (the storm test waits it out twice).
const COOLDOWN_MS = 5000;
const TIMEOUT_MS = 1200;
/** Longer than TIMEOUT_MS on purpose: which of the two bounds a hanging provider meets shows. */
const IDLE_TIMEOUT_MS = 4000;

const CLAUDE_BEDROCK_ID = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const NOVA_ID = 'amazon.nova-pro-v1:0';
const TITAN_ID = 'amazon.titan-embed-text-v2:0';
const CLAUDE_ID = 'claude-sonnet-5-5';
/** A 1×1 PNG. */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const ACCESS_MESSAGES = new Set(['request completed', 'request failed', 'request aborted by the client', 'stream failed after the response started']);

let openaiUp: FakeUpstream;
let primary: FakeUpstream;
let secondary: FakeUpstream;
let claude: FakeAnthropic;
let bedrock: FakeBedrock;
let db: TestDatabase;
let gw: GatewayProcess;
let key: string;
let narrowKey: string;
let client: OpenAI;
let anthropic: Anthropic;

/** Chat-completion POSTs a fake-upstream received (its /models probes left out). */
const posts = (f: FakeUpstream) => f.requests.filter((r) => r.method === 'POST').length;
const claudePosts = () => claude.requests.filter((r) => r.method === 'POST').length;

function routing(closedPort: number) {
  const twoDeployments = (first = 'primary') => ({
    deployments: [
      { provider: first, model: 'gpt-4o-mini', priority: 0 },
      { provider: 'secondary', model: 'gpt-4o-mini', priority: 1 },
    ],
    fallbacks: ['claude-spare'],
  });
  return {
    providers: {
      openai: { type: 'openai', base_url: openaiUp.url, api_key_env: 'OPENAI_API_KEY' },
      anthropic: { type: 'anthropic', base_url: claude.url, api_key_env: 'ANTHROPIC_API_KEY' },
      bedrock: { type: 'bedrock', region: 'us-east-1', endpoint: bedrock.url },
      primary: { type: 'openai', base_url: primary.url },
      secondary: { type: 'openai', base_url: secondary.url },
      closed: { type: 'openai', base_url: `http://127.0.0.1:${closedPort}/v1` },
    },
    models: {
      'gpt-4o': { deployments: [{ provider: 'openai' }] },
      'claude-direct': { deployments: [{ provider: 'anthropic', model: CLAUDE_ID }] },
      'claude-bedrock': { deployments: [{ provider: 'bedrock', model: CLAUDE_BEDROCK_ID }] },
      nova: { deployments: [{ provider: 'bedrock', model: NOVA_ID }] },
      'titan-embed': { deployments: [{ provider: 'bedrock', model: TITAN_ID }] },
      'claude-spare': { deployments: [{ provider: 'anthropic', model: CLAUDE_ID }] },
      'fb-500': twoDeployments(),
      'fb-429': twoDeployments(),
      'fb-hang': twoDeployments(),
      'fb-refused': twoDeployments('closed'),
      'fb-storm': twoDeployments(),
      'fb-fallback': twoDeployments(),
      'fb-bound': twoDeployments(),
      'fb-bedrock-429': { ...twoDeployments(), deployments: [{ provider: 'bedrock', model: NOVA_ID, priority: 0 }, { provider: 'secondary', model: 'gpt-4o-mini', priority: 1 }] },
      'fb-bedrock-hang': { ...twoDeployments(), deployments: [{ provider: 'bedrock', model: NOVA_ID, priority: 0 }, { provider: 'secondary', model: 'gpt-4o-mini', priority: 1 }] },
    },
  };
}

async function createKey(body: Record<string, unknown>): Promise<string> {
  return (await createKeyVia(gw.url, ADMIN_KEY, body)).key;
}

function accessLines() {
  return gw.logs().filter((l) => ACCESS_MESSAGES.has(l.msg as string) && typeof l.route === 'string');
}

/** The access line of one request (by its x-request-id), once it has been written. */
async function accessLine(reqId: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = accessLines().find((l) => l.reqId === reqId);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no access line for ${reqId}`);
    await sleep(20);
  }
}

let seq = 0;
const rid = (name: string) => `prov-${name}-${++seq}`;

/** One chat through openai-node with its own request id; the answer checked against OpenAI's schema. */
async function chatOn(model: string, id: string, content = 'Say hello') {
  const answer = await client.chat.completions.create({ model, messages: [{ role: 'user', content }] }, { headers: { 'x-request-id': id } });
  expectSchema('CreateChatCompletionResponse', answer);
  return answer;
}

const weatherTool: OpenAI.Chat.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const anthropicTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

beforeAll(async () => {
  [openaiUp, primary, secondary, claude, bedrock] = await Promise.all([
    startFakeUpstream({ apiKey: UPSTREAM_KEY }),
    startFakeUpstream(),
    startFakeUpstream(),
    startFakeAnthropic(ANTHROPIC_KEY),
    startFakeBedrock(),
  ]);
  const closedPort = await freePort();
  db = await createTestDatabase({ migrate: false });
  gw = await startGateway({
    env: {
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      ADMIN_API_KEY: ADMIN_KEY,
      MODELS_CONFIG: JSON.stringify(routing(closedPort)),
      OPENAI_API_KEY: UPSTREAM_KEY,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      NODE_EXTRA_CA_CERTS: TEST_CA_PATH,
      AWS_ACCESS_KEY_ID: 'AKIDPROVIDERSE2E',
      AWS_SECRET_ACCESS_KEY: 'fake-secret-providers-e2e',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      UPSTREAM_MAX_RETRIES: String(MAX_RETRIES),
      UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS),
      UPSTREAM_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      CIRCUIT_FAILURE_THRESHOLD: String(THRESHOLD),
      CIRCUIT_COOLDOWN_MS: String(COOLDOWN_MS),
      DEFAULT_RPM: '100000',
      DEFAULT_TPM: '100000000',
    },
  });
  key = await createKey({ name: 'providers' });
  narrowKey = await createKey({ name: 'narrow', models: ['gpt-4o'] });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 15_000 });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0, timeout: 15_000 });
}, 60_000);

afterEach(() => {
  for (const f of [openaiUp, primary, secondary]) f?.clearFaults();
  claude?.setFault(undefined);
  bedrock?.setFault(undefined);
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([openaiUp?.close(), primary?.close(), secondary?.close(), claude?.close(), bedrock?.close()]);
  await db?.drop();
});

describe('what the gateway says it serves', () => {
  it('/v1/models lists every public name, owned by its provider', async () => {
    const page = await client.models.list();
    for (const m of page.data) expectSchema('Model', m);
    const owners = Object.fromEntries(page.data.map((m) => [m.id, m.owned_by]));
    expect(owners).toMatchObject({
      'gpt-4o': 'openai',
      'claude-direct': 'anthropic',
      'claude-bedrock': 'bedrock',
      nova: 'bedrock',
      'titan-embed': 'bedrock',
      'fb-500': 'primary',
      'fb-refused': 'closed',
    });
  });

  it('/ready reports each provider: the closed port is down, the gateway is still ready', async () => {
    const res = await fetch(`${gw.url}/ready`);
    const body = (await res.json()) as { status: string; checks: { upstream: { ok: boolean; providers: Record<string, { ok: boolean }> } } };
    expect(res.status).toBe(200);
    expect(body.status).toBe('ready');
    const providers = body.checks.upstream.providers;
    expect(Object.keys(providers).sort()).toEqual(['anthropic', 'bedrock', 'closed', 'openai', 'primary', 'secondary']);
    for (const name of ['anthropic', 'bedrock', 'openai', 'primary', 'secondary']) expect(providers[name]).toMatchObject({ ok: true });
    expect(providers.closed).toMatchObject({ ok: false, error: expect.any(String) });
    expect(body.checks.upstream.ok).toBe(true);
  });
});

describe('openai-node on every provider', () => {
  it.each([
    ['gpt-4o', 'openai'],
    ['claude-direct', 'anthropic'],
    ['claude-bedrock', 'bedrock'],
    ['nova', 'bedrock'],
  ])('chat on %s (%s), plain', async (model, provider) => {
    const id = rid('chat');
    const answer = await chatOn(model, id, 'Say hello');
    expect(answer.choices[0].message.content).toBeTruthy();
    expect(answer.choices[0].finish_reason).toBe('stop');
    expect(answer.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
    expect(await accessLine(id)).toMatchObject({ status: 200, provider, deployment: `${model}#0`, attempts: 1 });
  });

  it('the provider ids travel upstream, with the providers\' own credentials', async () => {
    await chatOn('claude-direct', rid('ids'));
    const sent = claude.requests.at(-1)!;
    expect(sent.body).toMatchObject({ model: CLAUDE_ID });
    expect(sent.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(JSON.stringify(sent.headers)).not.toContain(key);
    await chatOn('nova', rid('ids'));
    expect(bedrock.requests.at(-1)).toMatchObject({ route: 'converse', modelId: NOVA_ID });
    expect(String(bedrock.requests.at(-1)!.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDPROVIDERSE2E\/\d{8}\/us-east-1\/bedrock\/aws4_request/);
  });

  it.each([['gpt-4o'], ['claude-direct'], ['claude-bedrock'], ['nova']])('chat on %s, streamed: every chunk matches the schema', async (model) => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Count to three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      expectSchema('CreateChatCompletionStreamResponse', chunk);
      expect(chunk.object).toBe('chat.completion.chunk');
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('stop');
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it.each([['nova', 'converse'], ['claude-bedrock', 'converse']])('tools over two turns on %s (Bedrock %s)', async (model) => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris? Please use a tool.' }];
    const first = await client.chat.completions.create({ model, messages, tools: [weatherTool] });
    expectSchema('CreateChatCompletionResponse', first);
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    const call = first.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(call).toMatchObject({ type: 'function', id: expect.any(String), function: { name: 'get_weather' } });
    expect(typeof JSON.parse(call.function.arguments)).toBe('object');

    const second = await client.chat.completions.create({
      model,
      tools: [weatherTool],
      messages: [...messages, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' }],
    });
    expectSchema('CreateChatCompletionResponse', second);
    expect(second.choices[0].finish_reason).toBe('stop');
    expect(second.choices[0].message.content).toMatch(/\[tool result\]/);
    // Bedrock got the tool's result back under the id it gave.
    const sent = bedrock.requests.at(-1)!.body as { messages: Array<{ role: string; content: Array<Record<string, any>> }> };
    const result = sent.messages.flatMap((m) => m.content).find((b) => b.toolResult);
    expect(result?.toolResult.toolUseId).toBe(call.id);
  });

  it('a streamed tool call on Bedrock (nova): the arguments arrive in fragments that join to JSON', async () => {
    const stream = await client.chat.completions.create({
      model: 'nova',
      messages: [{ role: 'user', content: 'Please use a tool for Paris' }],
      tools: [weatherTool],
      stream: true,
    });
    let args = '';
    let name: string | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      expectSchema('CreateChatCompletionStreamResponse', chunk);
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      args += tc?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(typeof JSON.parse(args)).toBe('object');
    expect(finish).toBe('tool_calls');
  });

  it('an image as a data URL reaches Bedrock as image bytes (nova)', async () => {
    const answer = await client.chat.completions.create({
      model: 'nova',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1X1}` } },
          ],
        },
      ],
    });
    expectSchema('CreateChatCompletionResponse', answer);
    expect(answer.choices[0].message.content).toMatch(/\(1 image\)/);
    const sent = bedrock.requests.at(-1)!;
    expect(sent.route).toBe('converse');
    const blocks = (sent.body as { messages: Array<{ content: Array<Record<string, any>> }> }).messages.at(-1)!.content;
    const image = blocks.find((b) => b.image)!.image;
    expect(image.format).toBe('png');
    // JSON carries the bytes base64-encoded, as the SDK serialises blobs.
    expect(image.source.bytes).toBe(PNG_1X1);
  });

  it('embeddings on Bedrock Titan: one InvokeModel per input, OpenAI\'s shape back', async () => {
    const before = bedrock.counts.invoke;
    const id = rid('embed');
    const result = await client.embeddings.create(
      { model: 'titan-embed', input: ['the first text', 'the second text', 'a third'], encoding_format: 'float' },
      { headers: { 'x-request-id': id } },
    );
    expectSchema('CreateEmbeddingResponse', result);
    expect(result.data.map((d) => d.index)).toEqual([0, 1, 2]);
    for (const d of result.data) expect(d.embedding).toHaveLength(1024);
    expect(result.usage.prompt_tokens).toBeGreaterThan(0);
    expect(bedrock.counts.invoke - before).toBe(3);
    expect(bedrock.requests.at(-1)).toMatchObject({ route: 'invoke', modelId: TITAN_ID });
    expect(await accessLine(id)).toMatchObject({ status: 200, provider: 'bedrock', deployment: 'titan-embed#0' });

    // dimensions reach Titan; the default encoding (base64 from openai-node) decodes to that length
    const small = await client.embeddings.create({ model: 'titan-embed', input: 'short', dimensions: 256 });
    expectSchema('CreateEmbeddingResponse', small);
    expect(small.data[0].embedding).toHaveLength(256);
  });
});

describe('the official Anthropic SDK against the gateway (/v1/messages)', () => {
  const NAMES: Array<[string, string]> = [
    ['claude-direct', 'anthropic'],
    ['claude-bedrock', 'bedrock'],
    ['nova', 'bedrock'],
    ['gpt-4o', 'openai'],
  ];

  function expectMessage(msg: Anthropic.Message) {
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', id: expect.any(String), model: expect.any(String) });
    expect(Array.isArray(msg.content)).toBe(true);
    expect(msg.content.length).toBeGreaterThan(0);
    for (const b of msg.content) expect(['text', 'tool_use']).toContain(b.type);
    expect(['end_turn', 'tool_use', 'max_tokens', 'stop_sequence']).toContain(msg.stop_reason);
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  }

  it.each(NAMES)('messages.create on %s (%s)', async (model, provider) => {
    const id = rid('msg');
    const msg = await anthropic.messages.create(
      { model, max_tokens: 256, system: 'Be brief.', messages: [{ role: 'user', content: 'Say hello' }] },
      { headers: { 'x-request-id': id } },
    );
    expectMessage(msg);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/\S/) });
    expect(await accessLine(id)).toMatchObject({ status: 200, route: '/v1/messages', provider, deployment: `${model}#0`, attempts: 1 });
  });

  it.each(NAMES)('messages.stream with a tool on %s, then the tool result over messages.create', async (model) => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris? Please use a tool.' }];
    const stream = anthropic.messages.stream({ model, max_tokens: 256, tools: [anthropicTool], messages });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const first = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expect(types).toContain('content_block_delta');
    expectMessage(first);
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use).toMatchObject({ name: 'get_weather', id: expect.any(String), input: expect.any(Object) });

    const second = await anthropic.messages.create({
      model,
      max_tokens: 256,
      tools: [anthropicTool],
      messages: [
        ...messages,
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"temp": 21}' }] },
      ],
    });
    expectMessage(second);
    expect(second.stop_reason).toBe('end_turn');
    expect(second.content.some((b) => b.type === 'text')).toBe(true);
  });

  it('Bedrock Claude is called natively (InvokeModel with Anthropic\'s body), the others by translation', async () => {
    const before = { ...bedrock.counts };
    await anthropic.messages.create({ model: 'claude-bedrock', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    await anthropic.messages.stream({ model: 'claude-bedrock', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage();
    await anthropic.messages.create({ model: 'nova', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(bedrock.counts.invoke - before.invoke).toBe(1);
    expect(bedrock.counts['invoke-with-response-stream'] - before['invoke-with-response-stream']).toBe(1);
    expect(bedrock.counts.converse - before.converse).toBe(1);
    expect(bedrock.requests.find((r) => r.route === 'invoke' && r.modelId === CLAUDE_BEDROCK_ID)?.body).toMatchObject({ anthropic_version: 'bedrock-2023-05-31' });
  });

  async function anthropicError(p: Promise<unknown>) {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Anthropic.APIError);
    return err as InstanceType<typeof Anthropic.APIError>;
  }

  function expectAnthropicShape(err: InstanceType<typeof Anthropic.APIError>, status: number, type: string) {
    expect(err.status).toBe(status);
    expect(err.error).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
  }

  it('an unknown model is 404 not_found_error, in Anthropic\'s shape', async () => {
    const err = await anthropicError(anthropic.messages.create({ model: 'no-such-model', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expectAnthropicShape(err, 404, 'not_found_error');
  });

  it('a model the key may not use is 403 permission_error, streamed or not', async () => {
    const narrow = new Anthropic({ baseURL: gw.url, apiKey: narrowKey, maxRetries: 0 });
    const err = await anthropicError(narrow.messages.create({ model: 'claude-direct', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expectAnthropicShape(err, 403, 'permission_error');
    const streamed = await anthropicError(narrow.messages.stream({ model: 'claude-bedrock', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }).finalMessage());
    expectAnthropicShape(streamed, 403, 'permission_error');
    // the same key on its allowed model works
    expectMessage(await narrow.messages.create({ model: 'gpt-4o', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] }));
  });

  it('a bad key is 401 authentication_error and a bad body 400 invalid_request_error', async () => {
    const stranger = new Anthropic({ baseURL: gw.url, apiKey: 'sk-llm-not-a-real-key-0000000000', maxRetries: 0 });
    const denied = await anthropicError(stranger.messages.create({ model: 'claude-direct', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] }));
    expectAnthropicShape(denied, 401, 'authentication_error');
    const bad = await anthropicError(anthropic.messages.create({ model: 'claude-direct', max_tokens: -1, messages: [{ role: 'user', content: 'Hi' }] }));
    expectAnthropicShape(bad, 400, 'invalid_request_error');
  });
});

describe('fallbacks through the bundle', () => {
  it('primary answering 500: one 200 from the secondary, plain and streamed; attempts 2', async () => {
    primary.reset();
    secondary.reset();
    primary.queueFaults([{ kind: 'status', status: 500 }]);
    const id = rid('500');
    const answer = await chatOn('fb-500', id);
    expect(answer.choices[0].message.content).toMatch(/mock answer/);
    expect(await accessLine(id)).toMatchObject({ status: 200, deployment: 'fb-500#1', provider: 'secondary', attempts: 2, retries: 1 });
    expect([posts(primary), posts(secondary)]).toEqual([1, 1]);

    primary.queueFaults([{ kind: 'status', status: 500 }]);
    const sid = rid('500s');
    const stream = await client.chat.completions.create(
      { model: 'fb-500', messages: [{ role: 'user', content: 'Stream it' }], stream: true },
      { headers: { 'x-request-id': sid } },
    );
    let text = '';
    for await (const chunk of stream) {
      expectSchema('CreateChatCompletionStreamResponse', chunk);
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text).toMatch(/mock answer/);
    expect(await accessLine(sid)).toMatchObject({ status: 200, deployment: 'fb-500#1', attempts: 2, stream: 'completed' });
    expect([posts(primary), posts(secondary)]).toEqual([2, 2]);
  });

  it('primary answering 429 with retry-after: the secondary serves, the primary rests that long, then serves again', async () => {
    primary.reset();
    secondary.reset();
    primary.queueFaults([{ kind: 'status', status: 429, retryAfter: '1' }]);
    const id1 = rid('429');
    await chatOn('fb-429', id1);
    const limitedAt = Date.now();
    expect(await accessLine(id1)).toMatchObject({ status: 200, deployment: 'fb-429#1', attempts: 2 });
    expect(posts(primary)).toBe(1);

    // Within the second the primary asked for: not called at all.
    const id2 = rid('429');
    await chatOn('fb-429', id2);
    expect(Date.now() - limitedAt).toBeLessThan(1000);
    expect(await accessLine(id2)).toMatchObject({ status: 200, deployment: 'fb-429#1', attempts: 1 });
    expect(posts(primary)).toBe(1);

    await sleep(Math.max(0, limitedAt + 1100 - Date.now()));
    const id3 = rid('429');
    await chatOn('fb-429', id3);
    expect(await accessLine(id3)).toMatchObject({ status: 200, deployment: 'fb-429#0', attempts: 1 });
    expect(posts(primary)).toBe(2);
  });

  it('primary hanging: after UPSTREAM_TIMEOUT_MS the secondary serves; attempts 2', async () => {
    primary.reset();
    secondary.reset();
    primary.queueFaults([{ kind: 'hang' }]);
    const id = rid('hang');
    const started = Date.now();
    await chatOn('fb-hang', id);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(took).toBeLessThan(TIMEOUT_MS + 5000);
    expect(await accessLine(id)).toMatchObject({ status: 200, deployment: 'fb-hang#1', provider: 'secondary', attempts: 2 });
    expect([posts(primary), posts(secondary)]).toEqual([1, 1]);
    // the gateway hung up on the hanging call
    await primary.waitForAbort(2000);
  });

  it('primary refusing connections (a closed port): the secondary serves; attempts 2', async () => {
    secondary.reset();
    const id = rid('refused');
    await chatOn('fb-refused', id);
    expect(await accessLine(id)).toMatchObject({ status: 200, deployment: 'fb-refused#1', provider: 'secondary', attempts: 2 });
    expect(posts(secondary)).toBe(1);
  });

  it('Bedrock throttling (429 ThrottlingException) on the primary: the secondary serves; attempts 2', async () => {
    secondary.reset();
    const before = bedrock.counts.converse;
    bedrock.queueFaults([{ kind: 'throttle' }]);
    const id = rid('bedrock-429');
    await chatOn('fb-bedrock-429', id);
    expect(await accessLine(id)).toMatchObject({ status: 200, deployment: 'fb-bedrock-429#1', provider: 'secondary', attempts: 2 });
    expect([bedrock.counts.converse - before, posts(secondary)]).toEqual([1, 1]);
  });

  let bedrockHangMs = 0;
  it('Bedrock hanging on the primary: the secondary serves; attempts 2', async () => {
    secondary.reset();
    const before = bedrock.counts.converse;
    bedrock.queueFaults([{ kind: 'hang' }]);
    const id = rid('bedrock-hang');
    const started = Date.now();
    await chatOn('fb-bedrock-hang', id);
    bedrockHangMs = Date.now() - started;
    expect(await accessLine(id)).toMatchObject({ status: 200, deployment: 'fb-bedrock-hang#1', provider: 'secondary', attempts: 2 });
    expect([bedrock.counts.converse - before, posts(secondary)]).toEqual([1, 1]);
  });

  // Bedrock honours UPSTREAM_TIMEOUT_MS like every other provider (app/providers/bedrock-deadline.ts),
  // not only the SDK's inactivity timer (UPSTREAM_IDLE_TIMEOUT_MS, 4 s here).
  it('…and gives up on the hanging Bedrock call after UPSTREAM_TIMEOUT_MS, like every other provider', () => {
    expect(bedrockHangMs).toBeGreaterThan(0);
    expect(bedrockHangMs).toBeLessThan(TIMEOUT_MS + 1500);
  });

  it('both deployments failing: the fallback name serves, within the attempt bound', async () => {
    primary.reset();
    secondary.reset();
    const before = claudePosts();
    primary.queueFaults([{ kind: 'status', status: 500 }]);
    secondary.queueFaults([{ kind: 'status', status: 503 }]);
    const id = rid('fallback');
    const answer = await chatOn('fb-fallback', id);
    expect(answer.choices[0].message.content).toMatch(/fake Claude answer/);
    expect(await accessLine(id)).toMatchObject({ status: 200, deployment: 'claude-spare#0', provider: 'anthropic', attempts: 3 });
    expect([posts(primary), posts(secondary), claudePosts() - before]).toEqual([1, 1, 1]);
  });

  it('a 500 storm opens the circuit: the primary costs THRESHOLD calls, none while open; after the cool-down one probe, and success closes it', async () => {
    primary.reset();
    secondary.reset();
    primary.setFault({ kind: 'status', status: 500 });
    const N = 8;
    const lines: Array<Record<string, unknown>> = [];
    let openedAt = 0;
    for (let i = 0; i < N; i++) {
      const id = rid('storm');
      await chatOn('fb-storm', id);
      if (i === THRESHOLD - 1) openedAt = Date.now();
      lines.push(await accessLine(id));
    }
    expect(Date.now() - openedAt).toBeLessThan(COOLDOWN_MS);
    // every caller got a 200 from the secondary; the first THRESHOLD paid one failed attempt each
    expect(lines.map((l) => l.deployment)).toEqual(Array(N).fill('fb-storm#1'));
    expect(lines.map((l) => l.attempts)).toEqual([...Array(THRESHOLD).fill(2), ...Array(N - THRESHOLD).fill(1)]);
    expect(posts(primary)).toBe(THRESHOLD);
    expect(posts(secondary)).toBe(N);

    // cool-down over, still failing: exactly one probe, which re-opens the circuit at once
    await sleep(Math.max(0, openedAt + COOLDOWN_MS + 150 - Date.now()));
    const probe1 = rid('storm-probe');
    await chatOn('fb-storm', probe1);
    const reopenedAt = Date.now();
    expect(await accessLine(probe1)).toMatchObject({ deployment: 'fb-storm#1', attempts: 2 });
    expect(posts(primary)).toBe(THRESHOLD + 1);
    const during = rid('storm-open');
    await chatOn('fb-storm', during);
    expect(await accessLine(during)).toMatchObject({ deployment: 'fb-storm#1', attempts: 1 });
    expect(posts(primary)).toBe(THRESHOLD + 1);

    // the primary recovers; after the next cool-down the probe succeeds and the circuit closes
    primary.clearFaults();
    await sleep(Math.max(0, reopenedAt + COOLDOWN_MS + 150 - Date.now()));
    const probe2 = rid('storm-probe');
    await chatOn('fb-storm', probe2);
    expect(await accessLine(probe2)).toMatchObject({ deployment: 'fb-storm#0', provider: 'primary', attempts: 1 });
    expect(posts(primary)).toBe(THRESHOLD + 2);
    const closed = rid('storm-closed');
    await chatOn('fb-storm', closed);
    expect(await accessLine(closed)).toMatchObject({ deployment: 'fb-storm#0', attempts: 1 });
    expect(posts(primary)).toBe(THRESHOLD + 3);
  });

  // Last: it opens claude-spare's circuit too.
  it('everything failing, N concurrent callers: each pays at most UPSTREAM_MAX_RETRIES+1 provider calls, then an OpenAI-shaped 5xx', async () => {
    primary.reset();
    secondary.reset();
    const before = claudePosts();
    primary.setFault({ kind: 'status', status: 500 });
    secondary.setFault({ kind: 'status', status: 500 });
    claude.setFault({ kind: 'status', status: 529 });
    const N = 4;
    const ids = Array.from({ length: N }, () => rid('bound'));
    const errors = await Promise.all(
      ids.map((id) =>
        client.chat.completions
          .create({ model: 'fb-bound', messages: [{ role: 'user', content: 'Hi' }] }, { headers: { 'x-request-id': id } })
          .then(
            () => undefined,
            (e: unknown) => e,
          ),
      ),
    );
    for (const err of errors) {
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const e = err as InstanceType<typeof OpenAI.APIError>;
      expect(e.status).toBeGreaterThanOrEqual(500);
      expectSchema('ErrorResponse', { error: e.error });
    }
    // Asked at once, before anything slow (reading the access log), so the cool-down has not run
    // out on a busy machine: each deployment's circuit is open.
    const after = rid('bound-open');
    const err = await client.chat.completions
      .create({ model: 'fb-bound', messages: [{ role: 'user', content: 'Hi' }] }, { headers: { 'x-request-id': after } })
      .then(
        () => undefined,
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    expect(err?.status).toBe(503);
    expect(err?.headers?.get('retry-after')).toMatch(/^\d+$/);
    expectSchema('ErrorResponse', { error: err?.error });
    const total = posts(primary) + posts(secondary) + (claudePosts() - before);
    expect(total).toBeLessThanOrEqual(N * MAX_ATTEMPTS);
    // the same on /v1/messages, in Anthropic's shape
    const msgErr = await anthropic.messages
      .create({ model: 'fb-bound', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => undefined,
        (e: unknown) => e as InstanceType<typeof Anthropic.APIError>,
      );
    expect(msgErr?.status).toBe(503);
    expect(msgErr?.error).toEqual({ type: 'error', error: { type: expect.stringMatching(/^(overloaded_error|api_error)$/), message: expect.any(String) } });
    expect(posts(primary) + posts(secondary) + (claudePosts() - before)).toBe(total);
    for (const id of ids) {
      const line = await accessLine(id);
      expect(line.status).toBeGreaterThanOrEqual(500);
      expect(line.attempts).toBeLessThanOrEqual(MAX_ATTEMPTS);
    }
  });
});
