/**
 * Usage between the formats. Anthropic and Bedrock count cache reads and writes apart from
 * `input_tokens`; OpenAI's `prompt_tokens` includes them (cached reads shown again in
 * `prompt_tokens_details.cached_tokens`). `Usage.inputTokens` follows OpenAI: everything in.
 */
import type { Usage } from '../pipeline/usage';
import type { ChatUsage, MsgUsage, ResponsesUsage } from './types';

/** A reported count; anything else (missing, a string, negative) is 0. */
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** Drops zero optional counts so a Usage only claims what a provider reported. */
function compact(u: Usage): Usage {
  const out: Usage = { inputTokens: u.inputTokens, outputTokens: u.outputTokens };
  if (u.cachedInputTokens) out.cachedInputTokens = u.cachedInputTokens;
  if (u.cacheWriteTokens) out.cacheWriteTokens = u.cacheWriteTokens;
  if (u.reasoningTokens) out.reasoningTokens = u.reasoningTokens;
  return out;
}

export function usageFromChat(u: ChatUsage): Usage {
  return compact({
    inputTokens: n(u.prompt_tokens),
    outputTokens: n(u.completion_tokens),
    cachedInputTokens: n(u.prompt_tokens_details?.cached_tokens),
    cacheWriteTokens: n(u.cache_creation_input_tokens),
    reasoningTokens: n(u.completion_tokens_details?.reasoning_tokens),
  });
}

export function usageFromMessages(u: Partial<MsgUsage>): Usage {
  const read = n(u.cache_read_input_tokens);
  const write = n(u.cache_creation_input_tokens);
  return compact({
    inputTokens: n(u.input_tokens) + read + write,
    outputTokens: n(u.output_tokens),
    cachedInputTokens: read,
    cacheWriteTokens: write,
  });
}

export function usageFromResponses(u: ResponsesUsage): Usage {
  return compact({
    inputTokens: n(u.input_tokens),
    outputTokens: n(u.output_tokens),
    cachedInputTokens: n(u.input_tokens_details?.cached_tokens),
    cacheWriteTokens: n(u.input_tokens_details?.cache_write_tokens),
    reasoningTokens: n(u.output_tokens_details?.reasoning_tokens),
  });
}

export function chatUsage(u: Usage): ChatUsage {
  const out: ChatUsage = {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
  };
  if (u.cacheWriteTokens) out.cache_creation_input_tokens = u.cacheWriteTokens;
  return out;
}

export function messagesUsage(u: Usage): MsgUsage {
  const read = u.cachedInputTokens ?? 0;
  const write = u.cacheWriteTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.inputTokens - read - write),
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: write,
    cache_read_input_tokens: read,
  };
}

export function responsesUsage(u: Usage): ResponsesUsage {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens ?? 0, cache_write_tokens: u.cacheWriteTokens ?? 0 },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}
