/**
 * Chat completion chunks → the Responses stream, one chunk at a time: response.created and
 * response.in_progress first; then per output item its added/delta/done events (a message with
 * one output_text part, or a function call with argument deltas); response.completed (or
 * response.incomplete) last, carrying the whole response with usage. Every event has a
 * sequence_number, counted from 0.
 */
import { UpstreamError } from '../errors';
import { buildResponse, newResponseId, outputItemId, type ResponseState } from './chat-to-response';
import { ToolCallKeys } from './tool-call-keys';
import { usageFromChat } from './usage';
import type { ChatChunk, ChatToolCallDelta, ResponsesOutputFunctionCall, ResponsesOutputMessage, ResponsesRequest } from './types';
import type { Usage } from '../pipeline/usage';

export type ResponsesStreamEvent = { type: string; sequence_number: number; [key: string]: unknown };

type Open =
  | { kind: 'message'; index: number; item: ResponsesOutputMessage; text: string }
  | { kind: 'call'; index: number; item: ResponsesOutputFunctionCall; chatIndex: number };

export class ChatToResponsesStream {
  private seq = 0;
  private started = false;
  private ended = false;
  private open: Open | undefined;
  private readonly keys = new ToolCallKeys();
  private readonly state: ResponseState;

  constructor(request: ResponsesRequest, opts: { id?: string; createdAt?: number } = {}) {
    this.state = {
      id: opts.id ?? newResponseId(),
      createdAt: opts.createdAt ?? Math.floor(Date.now() / 1000),
      request,
      model: request.model,
      status: 'in_progress',
      output: [],
    };
  }

  get responseId(): string {
    return this.state.id;
  }

  get reportedUsage(): Usage | undefined {
    return this.state.usage;
  }

  push(chunk: ChatChunk | { error?: unknown }): ResponsesStreamEvent[] {
    if ('error' in chunk && chunk.error !== undefined) throw new UpstreamError('The upstream model server failed during the stream.');
    const c = chunk as ChatChunk;
    const out = this.start(c);
    if (c.usage) this.state.usage = usageFromChat(c.usage);
    const choice = c.choices?.find((ch) => ch.index === 0);
    if (!choice) return out;
    const text = choice.delta?.content;
    if (typeof text === 'string' && text !== '') out.push(...this.textDelta(text));
    for (const call of choice.delta?.tool_calls ?? []) out.push(...this.callDelta(call));
    if (choice.finish_reason) this.state.finish = choice.finish_reason;
    return out;
  }

  end(): ResponsesStreamEvent[] {
    if (this.ended) return [];
    this.ended = true;
    const out = this.start(undefined);
    out.push(...this.close());
    this.state.status = 'completed';
    const response = buildResponse({ ...this.state, usage: this.state.usage ?? { inputTokens: 0, outputTokens: 0 } });
    out.push(this.event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response }));
    return out;
  }

  private event(type: string, fields: Record<string, unknown>): ResponsesStreamEvent {
    return { type, ...fields, sequence_number: this.seq++ };
  }

  private start(c: ChatChunk | undefined): ResponsesStreamEvent[] {
    if (this.started) return [];
    this.started = true;
    if (c?.model) this.state.model = c.model;
    const response = buildResponse(this.state);
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  private textDelta(delta: string): ResponsesStreamEvent[] {
    const out: ResponsesStreamEvent[] = [];
    if (this.open?.kind !== 'message') {
      out.push(...this.close());
      const item: ResponsesOutputMessage = { type: 'message', id: outputItemId('msg'), role: 'assistant', status: 'in_progress', content: [] };
      const index = this.state.output.length;
      this.state.output.push(item);
      this.open = { kind: 'message', index, item, text: '' };
      out.push(this.event('response.output_item.added', { output_index: index, item: { ...item, content: [] } }));
      out.push(
        this.event('response.content_part.added', {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
        }),
      );
    }
    const open = this.open as Extract<Open, { kind: 'message' }>;
    open.text += delta;
    out.push(
      this.event('response.output_text.delta', { item_id: open.item.id, output_index: open.index, content_index: 0, delta, logprobs: [] }),
    );
    return out;
  }

  private callDelta(call: ChatToolCallDelta): ResponsesStreamEvent[] {
    const out: ResponsesStreamEvent[] = [];
    const key = this.keys.keyOf(call);
    if (this.open?.kind !== 'call' || this.open.chatIndex !== key) {
      out.push(...this.close());
      const item: ResponsesOutputFunctionCall = {
        type: 'function_call',
        id: outputItemId('fc'),
        call_id: call.id ?? `call_${this.state.output.length}`,
        name: call.function?.name ?? '',
        arguments: '',
        status: 'in_progress',
      };
      const index = this.state.output.length;
      this.state.output.push(item);
      this.open = { kind: 'call', index, item, chatIndex: key };
      out.push(this.event('response.output_item.added', { output_index: index, item: { ...item } }));
    }
    const open = this.open as Extract<Open, { kind: 'call' }>;
    const delta = call.function?.arguments;
    if (delta) {
      open.item.arguments += delta;
      out.push(this.event('response.function_call_arguments.delta', { item_id: open.item.id, output_index: open.index, delta }));
    }
    return out;
  }

  /** Closes the open item: its done events, with the item as it now stands. */
  private close(): ResponsesStreamEvent[] {
    const open = this.open;
    if (!open) return [];
    this.open = undefined;
    const status = this.state.finish === 'length' ? 'incomplete' : 'completed';
    if (open.kind === 'message') {
      const part = { type: 'output_text' as const, text: open.text, annotations: [], logprobs: [] };
      open.item.content = [part];
      open.item.status = status;
      return [
        this.event('response.output_text.done', { item_id: open.item.id, output_index: open.index, content_index: 0, text: open.text, logprobs: [] }),
        this.event('response.content_part.done', { item_id: open.item.id, output_index: open.index, content_index: 0, part }),
        this.event('response.output_item.done', { output_index: open.index, item: { ...open.item } }),
      ];
    }
    open.item.status = 'completed';
    return [
      this.event('response.function_call_arguments.done', {
        item_id: open.item.id,
        name: open.item.name,
        output_index: open.index,
        arguments: open.item.arguments,
      }),
      this.event('response.output_item.done', { output_index: open.index, item: { ...open.item } }),
    ];
  }
}
