/**
 * An Anthropic Messages request → a chat completions request, so a Messages caller (Claude Code)
 * can run on any OpenAI-compatible model. Tool results, which Anthropic carries inside a user turn,
 * become `tool` messages placed first so they follow the assistant's tool calls as chat requires.
 * Not translatable, and dropped: `top_k`, `thinking` (and thinking blocks), `cache_control` marks.
 */
import { InvalidRequestError } from '../errors';
import { toDataUrl } from './content';
import type {
  ChatContentPart,
  ChatMessage,
  ChatRequest,
  ChatTool,
  ChatToolCall,
  ChatToolChoice,
  MessagesRequest,
  MsgContentBlock,
  MsgImageBlock,
  MsgMessage,
  MsgTextBlock,
  MsgTool,
  MsgToolChoice,
} from './types';

function imagePart(block: MsgImageBlock): ChatContentPart {
  const src = block.source;
  const url = src.type === 'base64' ? toDataUrl(src.media_type, src.data) : src.url;
  return { type: 'image_url', image_url: { url } };
}

function systemText(system: MessagesRequest['system']): string {
  if (typeof system === 'string') return system;
  return (system ?? []).map((b: MsgTextBlock) => b.text).join('\n\n');
}

function toolResultContent(content: string | Array<MsgTextBlock | MsgImageBlock> | undefined): {
  text: string;
  images: ChatContentPart[];
} {
  if (typeof content === 'string') return { text: content, images: [] };
  const blocks = content ?? [];
  return {
    text: blocks
      .filter((b): b is MsgTextBlock => b.type === 'text')
      .map((b) => b.text)
      .join('\n'),
    images: blocks.filter((b): b is MsgImageBlock => b.type === 'image').map(imagePart),
  };
}

function userMessages(content: MsgContentBlock[], at: string): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: ChatContentPart[] = [];
  content.forEach((block, i) => {
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: block.text });
        break;
      case 'image':
        parts.push(imagePart(block));
        break;
      case 'tool_result': {
        const { text, images } = toolResultContent(block.content);
        // Chat has no error flag on tool results; say it in the text so the model still knows.
        tools.push({ role: 'tool', tool_call_id: block.tool_use_id, content: block.is_error ? `Error: ${text}` : text });
        // Tool messages carry text only: images a tool returned follow as user content.
        parts.push(...images);
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        break;
      default:
        throw new InvalidRequestError(
          `Content blocks of type '${(block as { type: string }).type}' cannot be sent to this model.`,
          `${at}.content[${i}].type`,
        );
    }
  });
  const out = [...tools];
  if (parts.length) {
    const onlyText = parts.every((p) => p.type === 'text');
    out.push({
      role: 'user',
      content: onlyText ? parts.map((p) => (p as { text: string }).text).join('\n') : parts,
    });
  }
  return out;
}

function assistantMessage(content: MsgContentBlock[], at: string): ChatMessage {
  const text: string[] = [];
  const calls: ChatToolCall[] = [];
  content.forEach((block, i) => {
    if (block.type === 'text') text.push(block.text);
    else if (block.type === 'tool_use') {
      calls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') {
      throw new InvalidRequestError(
        `Assistant content blocks of type '${block.type}' cannot be sent to this model.`,
        `${at}.content[${i}].type`,
      );
    }
  });
  const msg: ChatMessage = { role: 'assistant', content: text.length ? text.join('') : null };
  if (calls.length) msg.tool_calls = calls;
  return msg;
}

function chatMessages(messages: MsgMessage[]): ChatMessage[] {
  return messages.flatMap((m, i) => {
    const at = `messages[${i}]`;
    if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
    return m.role === 'assistant' ? [assistantMessage(m.content, at)] : userMessages(m.content, at);
  });
}

function chatTools(tools: MsgTool[]): ChatTool[] {
  return tools.map((t, i) => {
    if (t.type !== undefined && t.type !== 'custom') {
      throw new InvalidRequestError(`Server tools ('${t.type}') are not available on this model.`, `tools[${i}].type`);
    }
    const fn: ChatTool['function'] = { name: t.name, parameters: t.input_schema };
    if (t.description) fn.description = t.description;
    return { type: 'function', function: fn };
  });
}

function chatToolChoice(choice: MsgToolChoice): ChatToolChoice {
  switch (choice.type) {
    case 'any':
      return 'required';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
    case 'none':
      return 'none';
    default:
      return 'auto';
  }
}

/** The chat request for a Messages request; `stream` asks for usage in the last chunk. */
export function messagesToChatRequest(body: MessagesRequest): ChatRequest {
  const messages = chatMessages(body.messages ?? []);
  const system = systemText(body.system);
  if (system) messages.unshift({ role: 'system', content: system });
  const out: ChatRequest = { model: body.model, messages, max_completion_tokens: body.max_tokens };
  if (body.temperature !== undefined) out.temperature = body.temperature;
  if (body.top_p !== undefined) out.top_p = body.top_p;
  if (body.stop_sequences?.length) out.stop = body.stop_sequences;
  if (body.tools?.length) out.tools = chatTools(body.tools);
  if (body.tool_choice) {
    out.tool_choice = chatToolChoice(body.tool_choice);
    if ('disable_parallel_tool_use' in body.tool_choice && body.tool_choice.disable_parallel_tool_use && out.tools) {
      out.parallel_tool_calls = false;
    }
  }
  if (body.tool_choice?.type === 'none' && !out.tools) delete out.tool_choice;
  if (typeof body.metadata?.user_id === 'string') out.user = body.metadata.user_id;
  if (body.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}
