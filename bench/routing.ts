/**
 * `npm run bench:routing` (also a short step of `npm run bench`): the CPU time routing and
 * translation add to one request, measured in process, without HTTP or a network.
 *
 * - Routing: a routing document of three providers (OpenAI, Bedrock, Anthropic), weights,
 *   priorities and fallbacks, over fake adapters that answer at once. Requests cycle over a routed
 *   name with a fallback, a name on two providers, and an unlisted name that lands on `*`.
 * - Translation: one chat request and its answer to and from Bedrock Converse and Anthropic
 *   Messages, and one Messages request and its answer through chat (app/translate). Only the
 *   translation functions: serialising the body is the provider client's work either way.
 *
 * CPU time is process.cpuUsage() over batches of calls after a warm-up; the median batch is
 * reported. Goal (issue 13): routing ≤ 10 µs of CPU per request.
 *
 * Environment: BENCH_QUICK=1 (fewer calls).
 */
import type { ProviderAdapter, ProviderResponse } from '../app/providers/types';
import { createPricing } from '../app/pricing/pricing';
import { parseRoutingDocument } from '../app/routing/document';
import { buildRoutes, createRouter, orderDeployments, type AttemptTrace, type RoutePlan, type Router } from '../app/routing/router';
import { chatToConverse } from '../app/translate/chat-to-converse';
import { chatToMessagesRequest } from '../app/translate/chat-to-messages-request';
import { chatToMessagesResponse } from '../app/translate/chat-to-messages-response';
import { converseToChat } from '../app/translate/converse-to-chat';
import { messagesToChatRequest } from '../app/translate/messages-to-chat-request';
import { messagesToChatResponse } from '../app/translate/messages-to-chat-response';
import type { ChatCompletion, ChatRequest, MessagesRequest, MessagesResponse } from '../app/translate/types';

const ROUTING_GOAL_US = 10;

/** What a three-provider deployment could look like (prices on two deployments override the table). */
const DOCUMENT = parseRoutingDocument({
  providers: {
    openai: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY' },
    bedrock: { type: 'bedrock', region: 'us-east-1' },
    anthropic: { type: 'anthropic', api_key_env: 'ANTHROPIC_API_KEY' },
  },
  models: {
    'gpt-4o-mini': {
      deployments: [
        { provider: 'openai', weight: 3 },
        { provider: 'openai', model: 'gpt-4o-mini-2024-07-18', weight: 1 },
      ],
      fallbacks: ['claude-haiku'],
    },
    'gpt-4o': { deployments: [{ provider: 'openai' }] },
    'claude-sonnet': {
      deployments: [
        { provider: 'anthropic', model: 'claude-sonnet-4-5', priority: 0 },
        { provider: 'bedrock', model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', priority: 1, weight: 2 },
        { provider: 'bedrock', model: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0', priority: 1, weight: 1 },
      ],
      fallbacks: ['gpt-4o'],
    },
    'claude-haiku': {
      deployments: [
        { provider: 'anthropic', model: 'claude-haiku-4-5', price: { input: 1, output: 5 } },
        { provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0', price: { input: 1, output: 5 } },
      ],
    },
    'llama-3-70b': { deployments: [{ provider: 'bedrock', model: 'meta.llama3-70b-instruct-v1:0' }] },
    '*': { deployments: [{ provider: 'openai' }] },
  },
});

/** The caller's model names, in turn: a fallback chain, two providers by priority, the `*` route. */
const MODELS = ['gpt-4o-mini', 'claude-sonnet', 'gpt-4.1-nano'];

const ANSWER: ProviderResponse = { kind: 'json', body: '{}', headers: {} };

function fakeAdapter(name: string, type: ProviderAdapter['type']): ProviderAdapter {
  return {
    name,
    type,
    supports: () => true,
    send: async () => ANSWER,
    probe: async () => undefined,
    close: async () => undefined,
  };
}

const CHAT_REQUEST: ChatRequest = {
  model: 'claude-sonnet',
  messages: [
    { role: 'system', content: 'You are a terse assistant. Answer in one sentence.' },
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'Paris.' },
    { role: 'user', content: 'And what is the weather there right now?' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ],
  max_tokens: 256,
  temperature: 0.2,
};

const ANSWER_TEXT = 'I cannot see live data, but Paris in late November is usually cool and cloudy, around 8 °C.';

const CONVERSE_ANSWER = {
  output: { message: { role: 'assistant' as const, content: [{ text: ANSWER_TEXT }] } },
  stopReason: 'end_turn' as const,
  usage: { inputTokens: 71, outputTokens: 24, totalTokens: 95 },
};

const MESSAGES_ANSWER: MessagesResponse = {
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5',
  content: [{ type: 'text', text: ANSWER_TEXT }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 71, output_tokens: 24 },
};

const MESSAGES_REQUEST: MessagesRequest = {
  model: 'gpt-4o-mini',
  max_tokens: 256,
  system: 'You are a terse assistant. Answer in one sentence.',
  messages: [
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'Paris.' },
    { role: 'user', content: [{ type: 'text', text: 'And what is the weather there right now?' }] },
  ],
  tools: [
    {
      name: 'get_weather',
      description: 'Current weather for a city',
      input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  ],
  temperature: 0.2,
};

const CHAT_ANSWER: ChatCompletion = {
  id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
  object: 'chat.completion',
  created: 1764540000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: ANSWER_TEXT, refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 71, completion_tokens: 24, total_tokens: 95 },
};

export interface RoutingBenchResult {
  calls: number;
  /** µs of CPU per request, by measured step. */
  us: Record<string, number>;
  goalUs: number;
  pass: boolean;
}

/** Median µs of CPU per call over `batches` batches of `calls` calls, after a warm-up batch. */
async function cpuPerCall(calls: number, fn: (i: number) => unknown): Promise<number> {
  const batches = 5;
  const perBatch: number[] = [];
  for (let b = 0; b <= batches; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) {
      const r = fn(i);
      if (r instanceof Promise) await r;
    }
    const used = process.cpuUsage(start);
    if (b > 0) perBatch.push((used.user + used.system) / calls); // batch 0 is the warm-up
  }
  perBatch.sort((a, b) => a - b);
  return perBatch[Math.floor(batches / 2)];
}

export async function runRoutingBench(opts: { quick?: boolean } = {}): Promise<RoutingBenchResult> {
  const calls = opts.quick ? 10_000 : 50_000;
  const providers = new Map<string, ProviderAdapter>([
    ['openai', fakeAdapter('openai', 'openai')],
    ['bedrock', fakeAdapter('bedrock', 'bedrock')],
    ['anthropic', fakeAdapter('anthropic', 'anthropic')],
  ]);
  const router: Router = createRouter({ routes: buildRoutes(DOCUMENT, providers), maxAttempts: 3, maxInflightPerProvider: 1000 });
  const pricing = createPricing();
  const signal = new AbortController().signal;
  const inputTokens = 40;
  const maxOutputTokens = 256;

  // The pipeline's budget reservation: the dearest deployment the request may reach.
  const maxCost = (plan: RoutePlan) => pricing.maxCostOf(router.reachable(plan), inputTokens, maxOutputTokens);

  const us: Record<string, number> = {};
  us['router.resolve + order deployments (route and fallbacks)'] = await cpuPerCall(calls, (i) => {
    const plan = router.resolve(MODELS[i % MODELS.length])!;
    const ordered = orderDeployments(plan.route.deployments);
    for (const f of plan.route.fallbacks) ordered.push(...orderDeployments(router.resolve(f)!.route.deployments));
    return ordered;
  });
  us['budget reservation: largest cost over reachable deployments'] = await cpuPerCall(calls, (i) =>
    maxCost(router.resolve(MODELS[i % MODELS.length])!),
  );
  us['all routing: resolve, reservation, router.send to a fake adapter'] = await cpuPerCall(calls, async (i) => {
    const plan = router.resolve(MODELS[i % MODELS.length])!;
    maxCost(plan);
    const trace: AttemptTrace = { attempts: 0, upstreamMs: 0 };
    const routed = await router.send(plan, { surface: 'chat', body: CHAT_REQUEST, stream: false, signal, headers: {} }, 300, trace);
    routed.release();
  });
  us['translate chat → Bedrock Converse → chat'] = await cpuPerCall(calls, () => {
    const { jsonTool } = chatToConverse(CHAT_REQUEST);
    return converseToChat(CONVERSE_ANSWER, { model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', jsonTool });
  });
  us['translate chat → Anthropic Messages → chat'] = await cpuPerCall(calls, () => {
    const { jsonTool } = chatToMessagesRequest(CHAT_REQUEST);
    return messagesToChatResponse(MESSAGES_ANSWER, { jsonTool });
  });
  us['translate Messages → chat → Messages'] = await cpuPerCall(calls, () => {
    messagesToChatRequest(MESSAGES_REQUEST);
    return chatToMessagesResponse(CHAT_ANSWER);
  });

  const routingUs = us['all routing: resolve, reservation, router.send to a fake adapter'];
  return { calls, us, goalUs: ROUTING_GOAL_US, pass: routingUs <= ROUTING_GOAL_US };
}

export function formatRoutingBench(r: RoutingBenchResult): string {
  const names = Object.keys(r.us);
  const width = Math.max(...names.map((n) => n.length));
  return [
    `routing and translation in process: CPU per request, median of 5 batches × ${r.calls.toLocaleString('en')} calls`,
    ...names.map((n) => `  ${n.padEnd(width)}  ${r.us[n].toFixed(2).padStart(6)} µs`),
    `all routing ≤ ${r.goalUs} µs per request: ${r.pass ? 'PASS' : 'MISS'}`,
  ].join('\n');
}

if (require.main === module) {
  runRoutingBench({ quick: process.env.BENCH_QUICK === '1' }).then(
    (r) => process.stdout.write(`${formatRoutingBench(r)}\n`),
    (err: Error) => {
      process.stderr.write(`bench:routing failed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
