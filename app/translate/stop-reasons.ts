/** Why a model stopped, between the formats. */
import type { ChatFinishReason, MsgStopReason } from './types';

/** Anthropic's stop_reason (Bedrock Converse uses the same names, plus a few) → chat's finish_reason. */
export function finishFromStopReason(reason: string | null | undefined): ChatFinishReason {
  switch (reason) {
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and anything new: the model ended its turn.
      return 'stop';
  }
}

export function stopReasonFromFinish(finish: string | null | undefined, stopSequence?: string | null): MsgStopReason {
  switch (finish) {
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'length':
      return 'max_tokens';
    case 'content_filter':
      return 'refusal';
    default:
      return stopSequence ? 'stop_sequence' : 'end_turn';
  }
}
