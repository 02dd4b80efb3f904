/**
 * A chat completions request → an Anthropic Messages request (chat callers on Claude). System and
 * developer messages become `system`; tool messages become `tool_result` blocks in a user turn;
 * consecutive turns of one role are merged, as Anthropic wants turns to alternate.
 * response_format rides on a forced tool (json-tool.ts); `jsonTool` names it for the way back.
 * Refused (400 naming the field): n > 1, logprobs, audio.
 * Dropped: frequency/presence penalties, seed, logit_bias — Claude has no equivalent.
 */
import { InvalidRequestError } from '../errors';
import { chatText, parseDataUrl, parseToolArguments } from './content';
import { jsonToolFor } from './json-tool';
import type {
  ChatContentPart,
  ChatMessage,
  ChatRequest,
  ChatTool,
  ChatToolChoice,
  MessagesRequest,
  MsgContentBlock,
  MsgMessage,
  MsgTextBlock,
  MsgTool,
  MsgToolChoice,
} from './types';

/** Claude needs max_tokens; chat callers often leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

function imageBlock(url: string, param: string): MsgContentBlock {
  const data = parseDataUrl(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data.mediaType, data: data.base64 } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new InvalidRequestError('Image URLs must be data URLs or http(s) URLs.', param);
}

/** Anthropic refuses empty text blocks, so empty text is left out. */
function userBlocks(content: ChatMessage['content'], at: string): MsgContentBlock[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return (content ?? []).flatMap((part: ChatContentPart, i): MsgContentBlock[] => {
    if (part.type === 'text') {
      const text = String((part as { text: unknown }).text ?? '');
      return text ? [{ type: 'text', text }] : [];
    }
    if (part.type === 'image_url') {
      const url = (part as { image_url?: { url?: unknown } }).image_url?.url;
      return [imageBlock(String(url ?? ''), `${at}.content[${i}].image_url.url`)];
    }
    throw new InvalidRequestError(`Content parts of type '${part.type}' are not supported by this model.`, `${at}.content[${i}].type`);
  });
}

function assistantBlocks(m: ChatMessage, at: string): MsgContentBlock[] {
  const blocks: MsgContentBlock[] = [];
  const text = chatText(m.content);
  if (text) blocks.push({ type: 'text', text });
  (m.tool_calls ?? []).forEach((call, i) => {
    blocks.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: parseToolArguments(call.function.arguments, `${at}.tool_calls[${i}].function.arguments`),
    });
  });
  return blocks;
}

/** Appends a turn, merging it into the previous one when the role repeats. */
function pushTurn(turns: MsgMessage[], role: 'user' | 'assistant', blocks: MsgContentBlock[]): void {
  if (blocks.length === 0) return;
  const last = turns[turns.length - 1];
  if (last && last.role === role && Array.isArray(last.content)) last.content.push(...blocks);
  else turns.push({ role, content: blocks });
}

function turnsAndSystem(messages: ChatMessage[]): { turns: MsgMessage[]; system: MsgTextBlock[] } {
  const turns: MsgMessage[] = [];
  const system: MsgTextBlock[] = [];
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = chatText(m.content);
        if (text) system.push({ type: 'text', text });
        break;
      }
      case 'user':
        pushTurn(turns, 'user', userBlocks(m.content, at));
        break;
      case 'assistant':
        pushTurn(turns, 'assistant', assistantBlocks(m, at));
        break;
      case 'tool':
        pushTurn(turns, 'user', [{ type: 'tool_result', tool_use_id: String(m.tool_call_id ?? ''), content: chatText(m.content) }]);
        break;
      default:
        throw new InvalidRequestError(`Messages with role '${String(m.role)}' are not supported.`, `${at}.role`);
    }
  });
  return { turns, system };
}

function messagesTools(tools: ChatTool[]): MsgTool[] {
  return tools.map((t, i) => {
    if (t.type !== 'function') {
      throw new InvalidRequestError(`Tools of type '${String(t.type)}' are not supported by this model.`, `tools[${i}].type`);
    }
    const tool: MsgTool = {
      name: t.function.name,
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    };
    if (t.function.description) tool.description = t.function.description;
    return tool;
  });
}

function messagesToolChoice(choice: ChatToolChoice, parallel: boolean | undefined): MsgToolChoice {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any', ...noParallel };
  if (typeof choice === 'object' && choice.type === 'function') return { type: 'tool', name: choice.function.name, ...noParallel };
  return { type: 'auto', ...noParallel };
}

/** Fields a chat request may carry that Claude cannot honour: refused rather than ignored. */
function refuseUntranslatable(body: ChatRequest): void {
  if (typeof body.n === 'number' && body.n > 1) throw new InvalidRequestError('n > 1 is not supported by this model.', 'n');
  if (body.logprobs === true) throw new InvalidRequestError('logprobs are not supported by this model.', 'logprobs');
  if (body.audio != null) throw new InvalidRequestError('audio output is not supported by this model.', 'audio');
}

export interface MessagesTranslation {
  request: MessagesRequest;
  /** Name of the forced tool that carries a response_format answer, if one was added. */
  jsonTool?: string;
}

export function chatToMessagesRequest(body: ChatRequest): MessagesTranslation {
  refuseUntranslatable(body);
  const json = jsonToolFor(body);
  const { turns, system } = turnsAndSystem(body.messages ?? []);
  const out: MessagesRequest = {
    model: body.model,
    messages: turns,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
  };
  if (system.length === 1) out.system = system[0].text;
  else if (system.length > 1) out.system = system;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (body.stop != null) {
    const stops = (Array.isArray(body.stop) ? body.stop : [body.stop]).filter((s) => s.trim() !== '');
    if (stops.length) out.stop_sequences = stops;
  }
  if (json) {
    out.tools = [{ name: json.name, description: json.description, input_schema: json.schema }];
    out.tool_choice = { type: 'tool', name: json.name };
  } else if (body.tools?.length) {
    out.tools = messagesTools(body.tools);
    out.tool_choice = messagesToolChoice(body.tool_choice ?? 'auto', body.parallel_tool_calls);
  }
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  if (body.stream) out.stream = true;
  return json ? { request: out, jsonTool: json.name } : { request: out };
}
