/** Bedrock's TokenUsage → Usage. Like Anthropic, Bedrock counts cache reads and writes apart from inputTokens. */
import type { TokenUsage } from '@aws-sdk/client-bedrock-runtime';
import type { Usage } from '../pipeline/usage';
import { usageFromMessages } from './usage';

export function usageFromConverse(u: TokenUsage | undefined): Usage {
  return usageFromMessages({
    input_tokens: u?.inputTokens ?? 0,
    output_tokens: u?.outputTokens ?? 0,
    cache_read_input_tokens: u?.cacheReadInputTokens ?? 0,
    cache_creation_input_tokens: u?.cacheWriteInputTokens ?? 0,
  });
}
