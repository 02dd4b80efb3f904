/** A chat completion → an Anthropic Messages response (the answer to a translated Messages call). */
import { randomId, toolInputFromArguments } from './content';
import { stopReasonFromFinish } from './stop-reasons';
import { messagesUsage, usageFromChat } from './usage';
import type { ChatCompletion, MessagesResponse, MsgContentBlock } from './types';

/** Anthropic ids look like `msg_…`; a chat id is reused when there is one, so logs can be joined. */
export function messageIdFrom(chatId: string | undefined): string {
  return `msg_${(chatId ?? '').replace(/^chatcmpl-/, '') || randomId()}`;
}

export function chatToMessagesResponse(completion: ChatCompletion): MessagesResponse {
  const choice = completion.choices?.[0];
  const content: MsgContentBlock[] = [];
  const text = choice?.message?.content;
  if (typeof text === 'string' && text !== '') content.push({ type: 'text', text });
  for (const call of choice?.message?.tool_calls ?? []) {
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: toolInputFromArguments(call.function.arguments ?? ''),
    });
  }
  const usage = usageFromChat(completion.usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  return {
    id: messageIdFrom(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content,
    stop_reason: stopReasonFromFinish(choice?.finish_reason),
    stop_sequence: null,
    usage: messagesUsage(usage),
  };
}
