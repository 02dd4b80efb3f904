/** An Anthropic Messages response → a chat completion (chat callers on Claude). */
import { assistantMessage } from './content';
import { finishFromStopReason } from './stop-reasons';
import { chatUsage, usageFromMessages } from './usage';
import type { ChatCompletion, ChatToolCall, MessagesResponse } from './types';

export function chatIdFrom(messageId: string | undefined): string {
  return `chatcmpl-${(messageId ?? '').replace(/^msg_/, '')}`;
}

export interface MessagesToChatOptions {
  /** The forced tool that carries a response_format answer: its input becomes the content. */
  jsonTool?: string;
  created?: number;
}

export function messagesToChatResponse(msg: MessagesResponse, opts: MessagesToChatOptions = {}): ChatCompletion {
  const text: string[] = [];
  const calls: ChatToolCall[] = [];
  for (const block of msg.content ?? []) {
    if (block.type === 'text') text.push(block.text);
    else if (block.type === 'tool_use' && opts.jsonTool && block.name === opts.jsonTool) text.push(JSON.stringify(block.input ?? {}));
    else if (block.type === 'tool_use') {
      calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
    // thinking blocks have no place in a chat completion
  }
  const message = assistantMessage(text, calls);
  let finish = finishFromStopReason(msg.stop_reason);
  if (finish === 'tool_calls' && !calls.length) finish = 'stop';
  return {
    id: chatIdFrom(msg.id),
    object: 'chat.completion',
    created: opts.created ?? Math.floor(Date.now() / 1000),
    model: msg.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: chatUsage(usageFromMessages(msg.usage ?? { input_tokens: 0, output_tokens: 0 })),
  };
}
