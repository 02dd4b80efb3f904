/**
 * A cheap prompt-size estimate for reserving tokens before the upstream answers (≈ 4 characters a
 * token, plus per-message framing). It only has to be close: the reservation is reconciled with the
 * upstream's real usage afterwards.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimateChatPromptTokens(messages: readonly unknown[]): number {
  let chars = 0;
  for (const m of messages) chars += contentLength((m as { content?: unknown })?.content) + 16;
  return Math.ceil(chars / 4) + 3;
}

function contentLength(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (Array.isArray(content)) {
    let n = 0;
    for (const part of content) {
      const text = (part as { text?: unknown })?.text;
      // Images and audio are billed by the upstream in ways we cannot see; count a flat amount.
      n += typeof text === 'string' ? text.length : 340;
    }
    return n;
  }
  return 0;
}

export function estimateEmbeddingTokens(input: unknown): number {
  if (typeof input === 'string') return estimateTokens(input);
  if (Array.isArray(input)) {
    let n = 0;
    for (const item of input) {
      if (typeof item === 'string') n += estimateTokens(item);
      else if (typeof item === 'number') n += 1;
      else if (Array.isArray(item)) n += item.length;
    }
    return n;
  }
  return 0;
}
