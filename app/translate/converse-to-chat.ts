/** A Converse answer → a chat completion. */
import type { ConverseResponse } from '@aws-sdk/client-bedrock-runtime';
import { assistantMessage, randomId } from './content';
import { usageFromConverse } from './converse-usage';
import { finishFromStopReason } from './stop-reasons';
import { chatUsage } from './usage';
import type { ChatCompletion, ChatFinishReason, ChatToolCall } from './types';

export interface ConverseToChatOptions {
  model: string;
  /** Chat id; Converse answers have none. @default a random `chatcmpl-…` */
  id?: string;
  /** The forced tool that carries a response_format answer: its input becomes the content. */
  jsonTool?: string;
}

export function newChatId(): string {
  return `chatcmpl-${randomId(29)}`;
}

export function converseToChat(res: Pick<ConverseResponse, 'output' | 'stopReason' | 'usage'>, opts: ConverseToChatOptions): ChatCompletion {
  const text: string[] = [];
  const calls: ChatToolCall[] = [];
  let finish: ChatFinishReason = finishFromStopReason(res.stopReason);
  for (const block of res.output?.message?.content ?? []) {
    if (block.text !== undefined) text.push(block.text);
    else if (block.toolUse) {
      if (opts.jsonTool && block.toolUse.name === opts.jsonTool) {
        text.push(JSON.stringify(block.toolUse.input ?? {}));
        if (finish === 'tool_calls') finish = 'stop';
      } else {
        calls.push({
          id: block.toolUse.toolUseId ?? `call_${calls.length}`,
          type: 'function',
          function: { name: block.toolUse.name ?? '', arguments: JSON.stringify(block.toolUse.input ?? {}) },
        });
      }
    }
    // reasoningContent and other block kinds have no place in a chat completion
  }
  const message = assistantMessage(text, calls);
  return {
    id: opts.id ?? newChatId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: opts.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: chatUsage(usageFromConverse(res.usage)),
  };
}
