/**
 * Translated surfaces as the official SDKs see them: a Claude Code-like Anthropic client on an
 * OpenAI-compatible model and on Bedrock Converse, and OpenAI clients (chat, Responses) on Claude
 * and Bedrock. The SDKs parse and accumulate the streams themselves, so a framing mistake shows.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createAnthropicProvider } from '../../../app/providers/anthropic';
import { createBedrockProvider } from '../../../app/providers/bedrock';
import { createOpenAIProvider } from '../../../app/providers/openai';
import type { ProviderAdapter } from '../../../app/providers/types';
import { startCannedOpenAI, type CannedOpenAI } from '../../support/canned-openai';
import { startFakeAnthropic, type FakeAnthropic } from '../../support/fake-anthropic';
import { fakeBedrockRequestHandler, startFakeBedrock, type FakeBedrock } from '../../support/fake-bedrock';
import { startRelay, type Relay } from '../../support/provider-relay';

const readTool: Anthropic.Tool = { name: 'read_file', description: 'Reads a file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } };

describe('official SDKs on translated surfaces', () => {
  let canned: CannedOpenAI;
  let claude: FakeAnthropic;
  let bedrock: FakeBedrock;
  const providers: ProviderAdapter[] = [];
  const relays: Relay[] = [];

  async function relay(provider: ProviderAdapter, model?: string): Promise<string> {
    providers.push(provider);
    const r = await startRelay(provider, model);
    relays.push(r);
    return r.url;
  }

  beforeAll(async () => {
    [canned, claude, bedrock] = await Promise.all([startCannedOpenAI(), startFakeAnthropic('sk-ant-x'), startFakeBedrock()]);
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.close()));
    await Promise.all(providers.map((p) => p.close()));
    await Promise.all([canned.close(), claude.close(), bedrock.close()]);
  });

  const bedrockProvider = () =>
    createBedrockProvider({
      name: 'b',
      region: 'us-east-1',
      endpoint: bedrock.url,
      credentials: { accessKeyId: 'AKIDX', secretAccessKey: 'secret' },
      requestHandler: fakeBedrockRequestHandler(),
    });

  it('Anthropic SDK on an OpenAI-compatible model: a streamed tool call, then the tool result', async () => {
    const url = await relay(createOpenAIProvider({ name: 'oa', baseUrl: canned.url, timeoutMs: 2000, idleTimeoutMs: 2000 }), 'llama');
    const client = new Anthropic({ apiKey: 'gateway-key', baseURL: url, maxRetries: 0 });
    const first = await client.messages
      .stream({ model: 'claude-code-model', max_tokens: 200, system: 'You are a coding agent.', tools: [readTool], messages: [{ role: 'user', content: 'Read the readme' }] })
      .finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content).toMatchObject([
      { type: 'text', text: 'Reading it.' },
      { type: 'tool_use', id: 'call_canned', name: 'read_file', input: { path: 'README.md' } },
    ]);
    expect(first.usage).toMatchObject({ input_tokens: 30, cache_read_input_tokens: 20, output_tokens: 9 });

    const second = await client.messages.create({
      model: 'claude-code-model',
      max_tokens: 200,
      tools: [readTool],
      messages: [
        { role: 'user', content: 'Read the readme' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_canned', content: '# Title' }] },
      ],
    });
    expect(second.content[1]).toMatchObject({ type: 'tool_use', input: { path: 'README.md' } });
    const sent = canned.requests[canned.requests.length - 1];
    expect(sent.messages).toEqual([
      { role: 'user', content: 'Read the readme' },
      { role: 'assistant', content: 'Reading it.', tool_calls: [{ id: 'call_canned', type: 'function', function: { name: 'read_file', arguments: '{"path":"README.md"}' } }] },
      { role: 'tool', tool_call_id: 'call_canned', content: '# Title' },
    ]);
  });

  it('Anthropic SDK on a Bedrock Converse model, streamed', async () => {
    const url = await relay(bedrockProvider(), 'us.amazon.nova-pro-v1:0');
    const client = new Anthropic({ apiKey: 'k', baseURL: url, maxRetries: 0 });
    const msg = await client.messages
      .stream({ model: 'x', max_tokens: 100, tools: [readTool], messages: [{ role: 'user', content: 'please use a tool' }] })
      .finalMessage();
    expect(msg.content).toMatchObject([{ type: 'tool_use', name: 'read_file', input: { query: 'please use a tool', limit: 3 } }]);
  });

  it('Anthropic SDK on Claude in Bedrock (native InvokeModel stream)', async () => {
    const url = await relay(bedrockProvider(), 'us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    const client = new Anthropic({ apiKey: 'k', baseURL: url, maxRetries: 0 });
    const msg = await client.messages.stream({ model: 'x', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] }).finalMessage();
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'This is a fake Claude answer to: hello' });
    expect(msg.id).toMatch(/^msg_bdrk_/);
  });

  it('OpenAI SDK chat on Claude: streamed tool call accumulated by the SDK', async () => {
    const url = await relay(createAnthropicProvider({ name: 'c', apiKey: 'sk-ant-x', baseUrl: claude.url, timeoutMs: 2000, idleTimeoutMs: 2000 }), 'claude-sonnet-5-5');
    const client = new OpenAI({ apiKey: 'k', baseURL: `${url}/v1`, maxRetries: 0 });
    const stream = client.chat.completions.stream({
      model: 'x',
      messages: [{ role: 'user', content: 'please use a tool' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }],
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(final.choices[0].message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'lookup', arguments: '{"query":"please use a tool","limit":3}' } });
  });

  it('OpenAI SDK Responses on Bedrock and on Claude: streamed function call and text', async () => {
    for (const [provider, model] of [
      [bedrockProvider(), 'us.amazon.nova-pro-v1:0'],
      [createAnthropicProvider({ name: 'c', apiKey: 'sk-ant-x', baseUrl: claude.url, timeoutMs: 2000, idleTimeoutMs: 2000 }), 'claude-sonnet-5-5'],
    ] as const) {
      const url = await relay(provider, model);
      const client = new OpenAI({ apiKey: 'k', baseURL: `${url}/v1`, maxRetries: 0 });
      const stream = client.responses.stream({
        model: 'x',
        input: 'please use a tool',
        tools: [{ type: 'function', name: 'lookup', parameters: { type: 'object', properties: {} }, strict: false }],
      });
      const final = await stream.finalResponse();
      const call = final.output.find((o) => o.type === 'function_call');
      expect(call).toMatchObject({ name: 'lookup', arguments: '{"query":"please use a tool","limit":3}', status: 'completed' });
      expect(final.usage?.output_tokens).toBeGreaterThan(0);
      const text = await client.responses.create({ model: 'x', input: 'hello', instructions: 'be brief' });
      expect(text.output_text).toMatch(/answer to: hello/);
    }
  });
});
