import type { Usage } from '../pipeline/usage';
import { usageFromChat, usageFromMessages, usageFromResponses } from '../translate/usage';
import type { ChatUsage, MsgUsage, ResponsesUsage } from '../translate/types';

/**
 * The codecs' guard around the one set of usage readers (app/translate/usage.ts): a `usage` that is
 * missing, null or carries no counts reads as undefined, so the pipeline can tell "not reported"
 * (estimate it) from "reported as zero".
 */
function counts(raw: unknown, a: string, b: string): Record<string, unknown> | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const u = raw as Record<string, unknown>;
  return u[a] === undefined && u[b] === undefined ? undefined : u;
}

/** Chat completions, legacy completions and embeddings: `prompt_tokens`, `completion_tokens`, details. */
export function fromOpenAIUsage(raw: unknown): Usage | undefined {
  const u = counts(raw, 'prompt_tokens', 'completion_tokens');
  return u && usageFromChat(u as unknown as ChatUsage);
}

/** The Responses API: `input_tokens`, `output_tokens`, `*_tokens_details`. */
export function fromResponsesUsage(raw: unknown): Usage | undefined {
  const u = counts(raw, 'input_tokens', 'output_tokens');
  return u && usageFromResponses(u as unknown as ResponsesUsage);
}

/** Anthropic's Messages API: cache reads and writes added back into the input (see Usage). */
export function fromAnthropicUsage(raw: unknown): Usage | undefined {
  const u = counts(raw, 'input_tokens', 'output_tokens');
  return u && usageFromMessages(u as unknown as Partial<MsgUsage>);
}
