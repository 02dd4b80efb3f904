/**
 * Chat completion chunks → Anthropic's stream events, one chunk at a time. Anthropic's stream is a
 * sequence of content blocks, each opened, filled with deltas and closed; chat interleaves text and
 * tool-call deltas freely, so a block is closed whenever the kind of delta changes.
 */
import { UpstreamError } from '../errors';
import { messageIdFrom } from './chat-to-messages-response';
import { stopReasonFromFinish } from './stop-reasons';
import { ToolCallKeys } from './tool-call-keys';
import { messagesUsage, usageFromChat } from './usage';
import type { ChatChunk, ChatFinishReason, MsgStreamEvent } from './types';
import type { Usage } from '../pipeline/usage';

type Open = { kind: 'text'; index: number } | { kind: 'tool'; index: number; toolIndex: number };

export class ChatToMessagesStream {
  private started = false;
  private open: Open | undefined;
  private blocks = 0;
  /** Chat tool-call index → the Anthropic block index it was given. */
  private readonly toolBlocks = new Map<number, number>();
  private readonly keys = new ToolCallKeys();
  private finish: ChatFinishReason | null = null;
  private usage: Usage | undefined;
  private ended = false;

  constructor(private readonly model: string) {}

  /** The events one chunk produces (none, often). Throws UpstreamError for an `{error}` payload. */
  push(chunk: ChatChunk | { error?: unknown }): MsgStreamEvent[] {
    if ('error' in chunk && chunk.error !== undefined) {
      throw new UpstreamError('The upstream model server failed during the stream.');
    }
    const c = chunk as ChatChunk;
    const out: MsgStreamEvent[] = [];
    if (!this.started) out.push(this.start(c));
    if (c.usage) this.usage = usageFromChat(c.usage);
    const choice = c.choices?.find((ch) => ch.index === 0);
    if (!choice) return out;
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (this.open?.kind !== 'text') out.push(...this.openBlock({ kind: 'text', index: this.blocks }));
      out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'text_delta', text: delta.content } });
    }
    for (const call of delta.tool_calls ?? []) out.push(...this.toolDelta(call));
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return out;
  }

  /** The closing events: the open block's stop, message_delta (stop reason, usage), message_stop. */
  end(): MsgStreamEvent[] {
    if (this.ended) return [];
    this.ended = true;
    const out: MsgStreamEvent[] = [];
    if (!this.started) out.push(this.start(undefined));
    out.push(...this.closeBlock());
    const usage = messagesUsage(this.usage ?? { inputTokens: 0, outputTokens: 0 });
    out.push({
      type: 'message_delta',
      delta: { stop_reason: stopReasonFromFinish(this.finish), stop_sequence: null },
      usage,
    });
    out.push({ type: 'message_stop' });
    return out;
  }

  /** What the stream reported, for the caller's accounting. */
  get reportedUsage(): Usage | undefined {
    return this.usage;
  }

  private start(c: ChatChunk | undefined): MsgStreamEvent {
    this.started = true;
    return {
      type: 'message_start',
      message: {
        id: messageIdFrom(c?.id),
        type: 'message',
        role: 'assistant',
        model: c?.model || this.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Chat reports usage only at the end; message_delta carries the real counts.
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    };
  }

  private toolDelta(call: NonNullable<ChatChunk['choices'][number]['delta']['tool_calls']>[number]): MsgStreamEvent[] {
    const out: MsgStreamEvent[] = [];
    const key = this.keys.keyOf(call);
    let index = this.toolBlocks.get(key);
    if (index === undefined) {
      index = this.blocks;
      this.toolBlocks.set(key, index);
      out.push(...this.closeBlock());
      this.blocks++;
      this.open = { kind: 'tool', index, toolIndex: key };
      out.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: call.id ?? `toolu_${index}`, name: call.function?.name ?? '', input: {} },
      });
    }
    const args = call.function?.arguments;
    if (args) out.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } });
    return out;
  }

  private openBlock(open: Open): MsgStreamEvent[] {
    const out = this.closeBlock();
    this.blocks++;
    this.open = open;
    out.push({ type: 'content_block_start', index: open.index, content_block: { type: 'text', text: '' } });
    return out;
  }

  private closeBlock(): MsgStreamEvent[] {
    if (!this.open) return [];
    const index = this.open.index;
    this.open = undefined;
    return [{ type: 'content_block_stop', index }];
  }
}
