/**
 * A Responses request → a chat completions request, for providers without a Responses API. Only
 * the stateless core translates: text and image input, instructions, function tools and their
 * outputs, tool_choice, max_output_tokens, sampling, text.format. Anything else is refused with a
 * 400 naming the field — silently dropping it would change what the caller asked for.
 */
import { InvalidRequestError } from '../errors';
import { chatText } from './content';
import type {
  ChatContentPart,
  ChatMessage,
  ChatRequest,
  ChatTool,
  ChatToolChoice,
  ResponsesFunctionTool,
  ResponsesInputItem,
  ResponsesRequest,
} from './types';

export interface ResponsesToChatOptions {
  /**
   * Accept stateful and unsupported fields by ignoring them: for the offline mock, which plays an
   * OpenAI server and must take any valid request. @default false
   */
  lenient?: boolean;
}

/** Fields that translate, or that are harmless to drop (annotations for OpenAI's own systems). */
const KNOWN = new Set([
  'model', 'input', 'instructions', 'tools', 'tool_choice', 'max_output_tokens', 'temperature', 'top_p',
  'parallel_tool_calls', 'text', 'stream', 'stream_options', 'store', 'metadata', 'user', 'safety_identifier',
  'prompt_cache_key', 'service_tier', 'truncation', 'previous_response_id', 'conversation', 'include', 'reasoning',
  'background',
]);

function refuse(message: string, param: string): never {
  throw new InvalidRequestError(message, param);
}

/** Checks the request-level fields; stateful ones get their own, clearer message. */
function checkFields(body: ResponsesRequest): void {
  if (body.store === true) {
    refuse('store: true is not available for this model: its responses are not stored. Send store: false.', 'store');
  }
  if (body.previous_response_id != null) {
    refuse('previous_response_id is not available for this model: send the whole conversation in input instead.', 'previous_response_id');
  }
  if (body.conversation != null) {
    refuse('conversation is not available for this model: send the whole conversation in input instead.', 'conversation');
  }
  if (body.background === true) refuse('background responses are not available for this model.', 'background');
  if (body.reasoning != null) refuse('reasoning is not supported by this model.', 'reasoning');
  if (Array.isArray(body.include) && body.include.length) refuse('include is not supported by this model.', 'include');
  if (body.truncation != null && body.truncation !== 'disabled') refuse("Only truncation: 'disabled' is supported by this model.", 'truncation');
  for (const key of Object.keys(body)) {
    if (!KNOWN.has(key) && (body as Record<string, unknown>)[key] != null) refuse(`${key} is not supported by this model.`, key);
  }
}

function userParts(content: unknown, at: string): string | ChatContentPart[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) refuse('Message content must be a string or a list of parts.', `${at}.content`);
  const parts = (content as Array<Record<string, unknown>>).map((part, i): ChatContentPart => {
    const where = `${at}.content[${i}]`;
    if (part.type === 'input_text' || part.type === 'output_text') return { type: 'text', text: String(part.text ?? '') };
    if (part.type === 'input_image') {
      if (typeof part.image_url !== 'string') refuse('Images must be given as image_url (file_id is not supported by this model).', `${where}.image_url`);
      const detail = part.detail === 'low' || part.detail === 'high' ? part.detail : 'auto';
      return { type: 'image_url', image_url: { url: part.image_url as string, detail } };
    }
    return refuse(`Input content of type '${String(part.type)}' is not supported by this model.`, `${where}.type`);
  });
  return parts.every((p) => p.type === 'text') ? parts.map((p) => (p as { text: string }).text).join('') : parts;
}

function toolOutputText(output: unknown, at: string): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) {
    return output
      .map((p: Record<string, unknown>, i) =>
        p.type === 'input_text' ? String(p.text ?? '') : refuse('Function call outputs may only hold text for this model.', `${at}.output[${i}]`),
      )
      .join('');
  }
  return refuse('Function call output must be a string.', `${at}.output`);
}

function chatMessages(input: ResponsesRequest['input'], lenient: boolean): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const out: ChatMessage[] = [];
  /** The assistant message that function calls join, so parallel calls form one turn. */
  const lastAssistant = (): ChatMessage | undefined => {
    const last = out[out.length - 1];
    return last?.role === 'assistant' ? last : undefined;
  };
  (input ?? []).forEach((item: ResponsesInputItem, i) => {
    const at = `input[${i}]`;
    const type = item.type ?? 'message';
    if (type === 'message') {
      const m = item as { role: string; content: unknown };
      if (m.role === 'assistant') {
        const text = typeof m.content === 'string' ? m.content : chatText(m.content as ChatContentPart[]);
        out.push({ role: 'assistant', content: text });
      } else if (m.role === 'system' || m.role === 'developer') {
        const parts = userParts(m.content, at);
        out.push({ role: 'system', content: typeof parts === 'string' ? parts : chatText(parts) });
      } else if (m.role === 'user') {
        out.push({ role: 'user', content: userParts(m.content, at) });
      } else {
        refuse(`Messages with role '${m.role}' are not supported.`, `${at}.role`);
      }
    } else if (type === 'function_call') {
      const c = item as { call_id: string; name: string; arguments: string };
      const call = { id: c.call_id, type: 'function' as const, function: { name: c.name, arguments: c.arguments ?? '' } };
      const prev = lastAssistant();
      if (prev) prev.tool_calls = [...(prev.tool_calls ?? []), call];
      else out.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (type === 'function_call_output') {
      const o = item as { call_id: string; output: unknown };
      out.push({ role: 'tool', tool_call_id: o.call_id, content: toolOutputText(o.output, at) });
    } else if (type === 'reasoning' && lenient) {
      // the mock plays OpenAI: reasoning items from an earlier answer are accepted and ignored
    } else {
      refuse(`Input items of type '${type}' are not supported by this model.`, `${at}.type`);
    }
  });
  return out;
}

function chatTools(tools: NonNullable<ResponsesRequest['tools']>, lenient: boolean): ChatTool[] {
  const out: ChatTool[] = [];
  tools.forEach((t, i) => {
    if (t.type !== 'function') {
      if (lenient) return;
      refuse(`Tools of type '${t.type}' are not supported by this model.`, `tools[${i}].type`);
    }
    const f = t as ResponsesFunctionTool;
    const fn: ChatTool['function'] = { name: f.name, parameters: f.parameters ?? { type: 'object', properties: {} } };
    if (f.description) fn.description = f.description;
    if (f.strict != null) fn.strict = f.strict;
    out.push({ type: 'function', function: fn });
  });
  return out;
}

function chatToolChoice(choice: NonNullable<ResponsesRequest['tool_choice']>): ChatToolChoice {
  if (typeof choice === 'string') return choice;
  if (choice.type === 'function' && typeof choice.name === 'string') return { type: 'function', function: { name: choice.name } };
  return refuse(`tool_choice of type '${choice.type}' is not supported by this model.`, 'tool_choice');
}

export function responsesToChatRequest(body: ResponsesRequest, opts: ResponsesToChatOptions = {}): ChatRequest {
  const lenient = opts.lenient ?? false;
  if (!lenient) checkFields(body);
  const messages = chatMessages(body.input, lenient);
  if (body.instructions) messages.unshift({ role: 'system', content: body.instructions });
  const out: ChatRequest = { model: body.model, messages };
  if (typeof body.max_output_tokens === 'number') out.max_completion_tokens = body.max_output_tokens;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (body.tools?.length) {
    const tools = chatTools(body.tools, lenient);
    if (tools.length) out.tools = tools;
  }
  if (body.tool_choice != null && out.tools) out.tool_choice = chatToolChoice(body.tool_choice);
  if (typeof body.parallel_tool_calls === 'boolean' && out.tools) out.parallel_tool_calls = body.parallel_tool_calls;
  const format = body.text?.format;
  if (format?.type === 'json_schema') {
    out.response_format = {
      type: 'json_schema',
      json_schema: { name: format.name ?? 'response', schema: format.schema, strict: format.strict ?? null, ...(format.description ? { description: format.description } : {}) },
    };
  } else if (format?.type === 'json_object') {
    out.response_format = { type: 'json_object' };
  } else if (format && format.type !== 'text' && !lenient) {
    refuse(`text.format of type '${format.type}' is not supported by this model.`, 'text.format.type');
  }
  if (typeof body.user === 'string') out.user = body.user;
  if (body.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}
