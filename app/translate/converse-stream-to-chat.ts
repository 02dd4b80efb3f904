/**
 * ConverseStream events → chat completion chunks, one event at a time. Text deltas arrive without
 * a block start; a tool call starts with contentBlockStart (id, name) and its input follows as
 * JSON fragments. Usage comes last, in `metadata`, after messageStop: the finish chunk is held
 * until then so the usage chunk follows it, as OpenAI orders them.
 */
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import { usageFromConverse } from './converse-usage';
import { newChatId } from './converse-to-chat';
import { finishFromStopReason } from './stop-reasons';
import { chatUsage } from './usage';
import type { ChatChunk, ChatFinishReason } from './types';
import type { Usage } from '../pipeline/usage';

export class ConverseToChatStream {
  private readonly id: string;
  private readonly created = Math.floor(Date.now() / 1000);
  /** Converse block index → chat tool-call index. */
  private readonly tools = new Map<number, number>();
  /** Blocks that carry the response_format answer: their input is streamed as content. */
  private readonly jsonBlocks = new Set<number>();
  private finish: ChatFinishReason | undefined;
  private usage: Usage | undefined;

  constructor(
    private readonly model: string,
    private readonly jsonTool?: string,
    id?: string,
  ) {
    this.id = id ?? newChatId();
  }

  /** The chunks for one event. Exception members are not handled here: the SDK throws them. */
  push(event: ConverseStreamOutput): ChatChunk[] {
    if (event.messageStart) return [this.chunk({ role: 'assistant', content: '' })];
    if (event.contentBlockStart) {
      const index = event.contentBlockStart.contentBlockIndex ?? 0;
      const tool = event.contentBlockStart.start?.toolUse;
      if (!tool) return [];
      if (this.jsonTool && tool.name === this.jsonTool) {
        this.jsonBlocks.add(index);
        return [];
      }
      const toolIndex = this.tools.size;
      this.tools.set(index, toolIndex);
      return [this.chunk({ tool_calls: [{ index: toolIndex, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })];
    }
    if (event.contentBlockDelta) {
      const index = event.contentBlockDelta.contentBlockIndex ?? 0;
      const delta = event.contentBlockDelta.delta;
      if (delta?.text) return [this.chunk({ content: delta.text })];
      const input = delta?.toolUse?.input;
      if (!input) return [];
      if (this.jsonBlocks.has(index)) return [this.chunk({ content: input })];
      const toolIndex = this.tools.get(index);
      return toolIndex === undefined ? [] : [this.chunk({ tool_calls: [{ index: toolIndex, function: { arguments: input } }] })];
    }
    if (event.messageStop) {
      this.finish = finishFromStopReason(event.messageStop.stopReason);
      if (this.finish === 'tool_calls' && this.jsonBlocks.size && !this.tools.size) this.finish = 'stop';
      return [];
    }
    if (event.metadata) {
      this.usage = usageFromConverse(event.metadata.usage);
      return this.closing();
    }
    return [];
  }

  /** Call when the stream has ended: the closing chunks if metadata never came. */
  end(): ChatChunk[] {
    return this.finish !== undefined ? this.closing() : [];
  }

  /** Whether the stream reached its stop reason (one that ends before is cut short). */
  get complete(): boolean {
    return this.closed;
  }

  get reportedUsage(): Usage | undefined {
    return this.usage;
  }

  private closed = false;

  private closing(): ChatChunk[] {
    if (this.closed || this.finish === undefined) return [];
    this.closed = true;
    const usage = chatUsage(this.usage ?? { inputTokens: 0, outputTokens: 0 });
    return [
      this.chunk({}, this.finish),
      { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage },
    ];
  }

  private chunk(delta: ChatChunk['choices'][number]['delta'], finish: ChatFinishReason | null = null): ChatChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
  }
}
