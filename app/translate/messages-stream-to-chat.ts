/**
 * Anthropic stream events → chat completion chunks, one event at a time. Input tokens arrive in
 * message_start, output tokens in message_delta; the usage chunk (`choices: []`) closes the stream.
 */
import { ApiError, UpstreamError } from '../errors';
import { chatIdFrom } from './messages-to-chat-response';
import { finishFromStopReason } from './stop-reasons';
import { chatUsage, usageFromMessages } from './usage';
import type { ChatChunk, MsgStreamEvent, MsgUsage } from './types';
import type { Usage } from '../pipeline/usage';

export class MessagesToChatStream {
  private id = 'chatcmpl-';
  private model: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private usage: Partial<MsgUsage> = {};
  /** Anthropic block index → chat tool-call index. */
  private readonly tools = new Map<number, number>();
  /** Blocks that carry the response_format answer: their input is streamed as content. */
  private readonly jsonBlocks = new Set<number>();
  private finished = false;

  constructor(
    model: string,
    private readonly jsonTool?: string,
  ) {
    this.model = model;
  }

  push(event: MsgStreamEvent): ChatChunk[] {
    switch (event.type) {
      case 'message_start':
        this.id = chatIdFrom(event.message.id);
        this.model = event.message.model || this.model;
        this.usage = { ...event.message.usage };
        return [this.chunk({ role: 'assistant', content: '' })];
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'tool_use' && this.jsonTool && block.name === this.jsonTool) {
          this.jsonBlocks.add(event.index);
          return [];
        }
        if (block.type === 'tool_use') {
          const index = this.tools.size;
          this.tools.set(event.index, index);
          return [this.chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] })];
        }
        if (block.type === 'text' && block.text) return [this.chunk({ content: block.text })];
        return [];
      }
      case 'content_block_delta': {
        const d = event.delta;
        if (d.type === 'text_delta') return d.text ? [this.chunk({ content: d.text })] : [];
        if (d.type === 'input_json_delta' && this.jsonBlocks.has(event.index)) {
          return d.partial_json ? [this.chunk({ content: d.partial_json })] : [];
        }
        if (d.type === 'input_json_delta') {
          const index = this.tools.get(event.index);
          if (index === undefined || !d.partial_json) return [];
          return [this.chunk({ tool_calls: [{ index, function: { arguments: d.partial_json } }] })];
        }
        return [];
      }
      case 'message_delta':
        this.usage = { ...this.usage, ...stripNulls(event.usage) };
        if (event.delta?.stop_reason) {
          this.finished = true;
          let finish = finishFromStopReason(event.delta.stop_reason);
          if (finish === 'tool_calls' && this.tools.size === 0) finish = 'stop';
          return [this.chunk({}, finish)];
        }
        return [];
      case 'message_stop':
        return [this.usageChunk()];
      case 'error':
        throw streamError(event.error);
      default:
        return [];
    }
  }

  get reportedUsage(): Usage {
    return usageFromMessages(this.usage);
  }

  /** Whether the stream reached its stop reason (a stream that ends before is cut short). */
  get complete(): boolean {
    return this.finished;
  }

  private chunk(delta: ChatChunk['choices'][number]['delta'], finish: ChatChunk['choices'][number]['finish_reason'] = null): ChatChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
  }

  private usageChunk(): ChatChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: chatUsage(this.reportedUsage) };
  }
}

function stripNulls<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

/** An Anthropic `error` event mid-stream → the API error to throw; overload and server errors are 502. */
export function streamError(error: { type?: string; message?: string } | undefined): ApiError {
  if (error?.type === 'rate_limit_error') return new ApiError(429, 'The upstream model server is rate limited.', 'rate_limit_error', 'rate_limit_exceeded');
  return new UpstreamError('The upstream model server failed during the stream.');
}
