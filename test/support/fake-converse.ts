/**
 * What the fake Bedrock runtime answers to Converse, as pure functions: a tool call when the
 * request forces one (toolChoice any/tool) or the last user text contains "use a tool", otherwise
 * text echoing the last user turn (noting attached images). A `cachePoint` in the system prompt
 * reports its tokens as read from the prompt cache. Also the deterministic embedding vectors.
 */
import { createHash } from 'node:crypto';

export const tokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

export function unitVector(seed: string, dims: number): number[] {
  const values: number[] = [];
  for (let block = 0; values.length < dims; block++) {
    const digest = createHash('sha256').update(`${seed}:${block}`).digest();
    for (let i = 0; i + 4 <= digest.length && values.length < dims; i += 4) values.push(digest.readUInt32LE(i) / 0x7fffffff - 1);
  }
  const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0)) || 1;
  return values.map((v) => Math.fround(v / norm));
}

type ConverseBlock = {
  text?: string;
  image?: unknown;
  toolUse?: { toolUseId: string; name: string; input: unknown };
  toolResult?: unknown;
  cachePoint?: unknown;
};
export interface ConverseBody {
  messages?: Array<{ role: string; content: ConverseBlock[] }>;
  system?: ConverseBlock[];
  inferenceConfig?: { maxTokens?: number };
  toolConfig?: { tools?: Array<{ toolSpec: { name: string } }>; toolChoice?: { any?: unknown; auto?: unknown; tool?: { name: string } } };
}

/** The fake's Converse answer: a forced or requested tool call, or text echoing the last user turn. */
export function fakeConverse(modelId: string, body: ConverseBody) {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  const blocks = last?.content ?? [];
  const images = blocks.filter((b) => b.image).length;
  const userText = blocks.map((b) => (b.text ? b.text : b.toolResult ? '[tool result]' : '')).filter(Boolean).join(' ');
  const tools = body.toolConfig?.tools ?? [];
  const choice = body.toolConfig?.toolChoice;
  const tool = choice?.tool?.name ?? (tools.length && (choice?.any || /use a tool/i.test(userText)) ? tools[0].toolSpec.name : undefined);
  let content: ConverseBlock[];
  let stopReason = 'end_turn';
  if (tool) {
    content = [{ toolUse: { toolUseId: `tooluse_${createHash('sha256').update(userText).digest('hex').slice(0, 16)}`, name: tool, input: { query: userText.slice(0, 30), limit: 3 } } }];
    stopReason = 'tool_use';
  } else {
    let words = `This is a fake Bedrock answer to: ${userText.slice(0, 40)}${images ? ` (${images} image)` : ''}`.split(/(?<=\s)/);
    const max = body.inferenceConfig?.maxTokens;
    if (typeof max === 'number' && max < words.length) {
      words = words.slice(0, max);
      stopReason = 'max_tokens';
    }
    content = [{ text: words.join('') }];
  }
  const systemText = (body.system ?? []).map((b) => b.text ?? '').join('');
  const cached = (body.system ?? []).some((b) => b.cachePoint) ? tokens(systemText) : 0;
  const inputTokens = 3 + tokens(userText) + (cached ? 0 : systemText ? tokens(systemText) : 0) + images * 85;
  const outputTokens = content.reduce((s, b) => s + (b.text ? tokens(b.text) : 12), 0);
  return {
    output: { message: { role: 'assistant', content } },
    stopReason,
    usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens + cached, cacheReadInputTokens: cached, cacheWriteInputTokens: 0 },
    metrics: { latencyMs: 7 },
    modelId,
  };
}

/** The ConverseStream events for the same answer, each as [eventType, payload]. */
export function fakeConverseEvents(modelId: string, body: ConverseBody): Array<[string, unknown]> {
  const answer = fakeConverse(modelId, body);
  const events: Array<[string, unknown]> = [['messageStart', { role: 'assistant' }]];
  answer.output.message.content.forEach((block, contentBlockIndex) => {
    if (block.toolUse) {
      events.push(['contentBlockStart', { contentBlockIndex, start: { toolUse: { toolUseId: block.toolUse.toolUseId, name: block.toolUse.name } } }]);
      const json = JSON.stringify(block.toolUse.input);
      for (let at = 0; at < json.length; at += 9) {
        events.push(['contentBlockDelta', { contentBlockIndex, delta: { toolUse: { input: json.slice(at, at + 9) } } }]);
      }
    } else {
      for (const word of (block.text ?? '').split(/(?<=\s)/)) events.push(['contentBlockDelta', { contentBlockIndex, delta: { text: word } }]);
    }
    events.push(['contentBlockStop', { contentBlockIndex }]);
  });
  events.push(['messageStop', { stopReason: answer.stopReason }]);
  events.push(['metadata', { usage: answer.usage, metrics: answer.metrics }]);
  return events;
}

