/**
 * A chat completions request → Bedrock Converse input. System and developer messages become
 * `system`; tool messages become `toolResult` blocks in a user turn; turns of one role in a row
 * are merged, because Converse wants them to alternate. Images must be data URLs (Converse takes
 * bytes or S3, never an http URL).
 *
 * response_format: Converse has no JSON mode that works for every model, so it rides on a forced
 * tool (json-tool.ts); `jsonTool` names it for the answer's translation back.
 */
import type {
  ContentBlock,
  ConverseStreamRequest,
  ImageFormat,
  Message,
  SystemContentBlock,
  Tool,
  ToolChoice,
  ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import { InvalidRequestError } from '../errors';
import { chatText, parseDataUrl, parseToolArguments } from './content';
import { jsonToolFor } from './json-tool';
import type { ChatMessage, ChatRequest, ChatTool, ChatToolChoice } from './types';

/** Converse input without the model id (the same shape serves Converse and ConverseStream). */
export type ConverseInput = Omit<ConverseStreamRequest, 'modelId'>;

export interface ConverseTranslation {
  input: ConverseInput;
  /** Name of the forced tool that carries a response_format answer, if one was added. */
  jsonTool?: string;
}

const FORMATS: Record<string, ImageFormat> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

function imageBlock(url: string, param: string): ContentBlock {
  const data = parseDataUrl(url);
  if (!data) throw new InvalidRequestError('Images must be sent as data URLs (data:image/png;base64,…) to this model.', param);
  const format = FORMATS[data.mediaType];
  if (!format) throw new InvalidRequestError(`Image type '${data.mediaType}' is not supported; use png, jpeg, gif or webp.`, param);
  return { image: { format, source: { bytes: Buffer.from(data.base64, 'base64') } } };
}

function userContent(content: ChatMessage['content'], at: string): ContentBlock[] {
  if (typeof content === 'string') return content.trim() ? [{ text: content }] : [];
  return (content ?? []).flatMap((part, i): ContentBlock[] => {
    if (part.type === 'text') {
      const text = String((part as { text?: unknown }).text ?? '');
      return text.trim() ? [{ text }] : [];
    }
    if (part.type === 'image_url') {
      return [imageBlock(String((part as { image_url?: { url?: unknown } }).image_url?.url ?? ''), `${at}.content[${i}].image_url.url`)];
    }
    throw new InvalidRequestError(`Content parts of type '${part.type}' are not supported by this model.`, `${at}.content[${i}].type`);
  });
}

function assistantContent(m: ChatMessage, at: string): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  const text = chatText(m.content);
  // Converse refuses blank text blocks.
  if (text.trim()) blocks.push({ text });
  (m.tool_calls ?? []).forEach((call, i) => {
    blocks.push({
      toolUse: {
        toolUseId: call.id,
        name: call.function.name,
        input: parseToolArguments(call.function.arguments, `${at}.tool_calls[${i}].function.arguments`) as never,
      },
    });
  });
  return blocks;
}

function pushTurn(turns: Message[], role: 'user' | 'assistant', blocks: ContentBlock[]): void {
  if (!blocks.length) return;
  const last = turns[turns.length - 1];
  if (last?.role === role) last.content = [...(last.content ?? []), ...blocks];
  else turns.push({ role, content: blocks });
}

function turnsAndSystem(messages: ChatMessage[]): { turns: Message[]; system: SystemContentBlock[]; hasToolBlocks: boolean } {
  const turns: Message[] = [];
  const system: SystemContentBlock[] = [];
  let hasToolBlocks = false;
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = chatText(m.content);
        if (text.trim()) system.push({ text });
        break;
      }
      case 'user':
        pushTurn(turns, 'user', userContent(m.content, at));
        break;
      case 'assistant':
        if (m.tool_calls?.length) hasToolBlocks = true;
        pushTurn(turns, 'assistant', assistantContent(m, at));
        break;
      case 'tool': {
        hasToolBlocks = true;
        const text = chatText(m.content);
        pushTurn(turns, 'user', [{ toolResult: { toolUseId: String(m.tool_call_id ?? ''), content: [{ text: text || '(empty)' }] } }]);
        break;
      }
      default:
        throw new InvalidRequestError(`Messages with role '${String(m.role)}' are not supported.`, `${at}.role`);
    }
  });
  return { turns, system, hasToolBlocks };
}

function toolSpec(t: ChatTool, i: number): Tool {
  if (t.type !== 'function') throw new InvalidRequestError(`Tools of type '${String(t.type)}' are not supported by this model.`, `tools[${i}].type`);
  return {
    toolSpec: {
      name: t.function.name,
      description: t.function.description || t.function.name,
      inputSchema: { json: (t.function.parameters ?? { type: 'object', properties: {} }) as never },
    },
  };
}

function toolChoice(choice: ChatToolChoice | undefined): ToolChoice | undefined {
  if (choice === 'required') return { any: {} };
  if (choice && typeof choice === 'object' && choice.type === 'function') return { tool: { name: choice.function.name } };
  if (choice === 'auto') return { auto: {} };
  return undefined;
}

function toolConfig(body: ChatRequest, hasToolBlocks: boolean): { config?: ToolConfiguration; jsonTool?: string } {
  const json = jsonToolFor(body);
  if (json) {
    const tool: Tool = { toolSpec: { name: json.name, description: json.description, inputSchema: { json: json.schema as never } } };
    return { config: { tools: [tool], toolChoice: { tool: { name: json.name } } }, jsonTool: json.name };
  }
  if (!body.tools?.length) return {};
  // Converse has no "none": without tools the model cannot call one, but tool blocks in the
  // history need the tool definitions, so those keep them (the model is then free to call).
  if (body.tool_choice === 'none' && !hasToolBlocks) return {};
  const config: ToolConfiguration = { tools: body.tools.map(toolSpec) };
  const choice = toolChoice(body.tool_choice);
  if (choice) config.toolChoice = choice;
  return { config };
}

function refuseUntranslatable(body: ChatRequest): void {
  if (typeof body.n === 'number' && body.n > 1) throw new InvalidRequestError('n > 1 is not supported by this model.', 'n');
  if (body.logprobs === true) throw new InvalidRequestError('logprobs are not supported by this model.', 'logprobs');
  if (body.audio != null) throw new InvalidRequestError('audio output is not supported by this model.', 'audio');
}

export function chatToConverse(body: ChatRequest): ConverseTranslation {
  refuseUntranslatable(body);
  const { turns, system, hasToolBlocks } = turnsAndSystem(body.messages ?? []);
  const input: ConverseInput = { messages: turns };
  if (system.length) input.system = system;
  const inference: NonNullable<ConverseInput['inferenceConfig']> = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') inference.maxTokens = maxTokens;
  if (typeof body.temperature === 'number') inference.temperature = body.temperature;
  if (typeof body.top_p === 'number') inference.topP = body.top_p;
  if (body.stop != null) {
    const stops = (Array.isArray(body.stop) ? body.stop : [body.stop]).filter((s) => s !== '');
    if (stops.length) inference.stopSequences = stops;
  }
  if (Object.keys(inference).length) input.inferenceConfig = inference;
  const { config, jsonTool } = toolConfig(body, hasToolBlocks);
  if (config) input.toolConfig = config;
  return jsonTool ? { input, jsonTool } : { input };
}
