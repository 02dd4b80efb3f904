import { chatUsage, messagesUsage, responsesUsage, usageFromChat, usageFromMessages, usageFromResponses } from '../../../app/translate/usage';

describe('usage mapping', () => {
  const anthropic = { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 20 };

  it('Anthropic counts cache reads and writes apart; Usage counts them in', () => {
    expect(usageFromMessages(anthropic)).toEqual({ inputTokens: 130, outputTokens: 5, cachedInputTokens: 100, cacheWriteTokens: 20 });
  });

  it('round-trips through chat, Messages and Responses shapes', () => {
    const u = usageFromMessages(anthropic);
    expect(usageFromChat(chatUsage(u))).toEqual(u);
    expect(messagesUsage(u)).toEqual(anthropic);
    expect(usageFromResponses(responsesUsage(u))).toEqual(u);
    expect(chatUsage(u)).toMatchObject({ prompt_tokens: 130, completion_tokens: 5, total_tokens: 135, prompt_tokens_details: { cached_tokens: 100 } });
  });

  it('claims nothing that was not reported', () => {
    expect(usageFromChat({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 })).toEqual({ inputTokens: 3, outputTokens: 2 });
  });
});
