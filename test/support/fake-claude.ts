/**
 * What a fake Claude answers, as pure functions shared by the fake Anthropic API and the fake
 * Bedrock runtime (InvokeModel with Anthropic's body): a message, and the stream events that
 * build the same message, in Anthropic's order.
 *
 * The answer is a tool call when tools are given and the caller forces one (tool_choice any/tool,
 * then without preamble text) or the last user text contains "use a tool"; otherwise text echoing
 * the last user text. A
 * `cache_control` mark on the system prompt reports its tokens as read from the prompt cache.
 */
import { createHash } from 'node:crypto';
import type { MessagesRequest, MessagesResponse, MsgContentBlock, MsgStreamEvent } from '../../app/translate/types';

const tokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

function lastUserText(body: MessagesRequest): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return last.content.map((b) => (b.type === 'text' ? b.text : b.type === 'tool_result' ? '[tool result]' : '')).join(' ');
}

function systemText(body: MessagesRequest): { text: string; cached: boolean } {
  if (typeof body.system === 'string') return { text: body.system, cached: false };
  const blocks = body.system ?? [];
  return { text: blocks.map((b) => b.text).join('\n'), cached: blocks.some((b) => b.cache_control) };
}

function wantsTool(body: MessagesRequest, userText: string): string | undefined {
  const tools = body.tools ?? [];
  if (!tools.length || body.tool_choice?.type === 'none') return undefined;
  if (body.tool_choice?.type === 'tool') return body.tool_choice.name;
  if (body.tool_choice?.type === 'any' || /use a tool/i.test(userText)) return tools[0].name;
  return undefined;
}

export function fakeClaudeMessage(body: MessagesRequest): MessagesResponse {
  const userText = lastUserText(body);
  const system = systemText(body);
  const id = `msg_${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 24)}`;
  const inputTotal = 3 + tokens(userText) + (body.messages?.length ?? 0) * 3;
  const cached = system.cached ? tokens(system.text) : 0;
  const input = inputTotal + (system.cached ? 0 : system.text ? tokens(system.text) : 0);
  const tool = wantsTool(body, userText);
  let content: MsgContentBlock[];
  let stop: MessagesResponse['stop_reason'] = 'end_turn';
  if (tool) {
    const use: MsgContentBlock = { type: 'tool_use', id: `toolu_${id.slice(4, 20)}`, name: tool, input: { query: userText.slice(0, 30), limit: 3 } };
    // A forced tool (any/tool) comes without a preamble, as Anthropic prefills the turn for it.
    const forced = body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool';
    content = forced ? [use] : [{ type: 'text', text: 'Let me check.' }, use];
    stop = 'tool_use';
  } else {
    let words = `This is a fake Claude answer to: ${userText.slice(0, 40)}`.trim().split(/(?<=\s)/);
    if (body.max_tokens < words.length) {
      words = words.slice(0, body.max_tokens);
      stop = 'max_tokens';
    }
    content = [{ type: 'text', text: words.join('') }];
  }
  const output = content.reduce((s, b) => s + (b.type === 'text' ? tokens(b.text) : 12), 0);
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: body.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: cached },
  };
}

/** The stream for the same message: text in word deltas, tool input in JSON fragments. */
export function fakeClaudeEvents(body: MessagesRequest): MsgStreamEvent[] {
  const message = fakeClaudeMessage(body);
  const events: MsgStreamEvent[] = [
    {
      type: 'message_start',
      message: { ...message, content: [], stop_reason: null, usage: { ...message.usage, output_tokens: 1 } },
    },
  ];
  message.content.forEach((block, index) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      if (index === 0) events.push({ type: 'ping' });
      for (const word of block.text.split(/(?<=\s)/)) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: word } });
      }
    } else if (block.type === 'tool_use') {
      events.push({ type: 'content_block_start', index, content_block: { ...block, input: {} } });
      const json = JSON.stringify(block.input);
      for (let at = 0; at < json.length; at += 7) {
        events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: json.slice(at, at + 7) } });
      }
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({
    type: 'message_delta',
    delta: { stop_reason: message.stop_reason, stop_sequence: null },
    usage: { output_tokens: message.usage.output_tokens },
  });
  events.push({ type: 'message_stop' });
  return events;
}
