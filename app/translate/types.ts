/**
 * The wire shapes the translators read and write: OpenAI chat completions, Anthropic Messages and
 * OpenAI Responses, as far as translation needs them. One place, so every translator agrees.
 *
 * Written here rather than imported from the `openai` / `@anthropic-ai/sdk` packages: those are
 * development dependencies (the bundle must not need them), and bodies arrive as validated JSON,
 * not SDK objects. The SDK types remain the reference; tests compare against them.
 */

export type Json = Record<string, unknown>;

// ---------------------------------------------------------------- OpenAI chat completions

export interface ChatTextPart {
  type: 'text';
  text: string;
}
export interface ChatImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
}
export type ChatContentPart = ChatTextPart | ChatImagePart | { type: string; [key: string]: unknown };

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content?: string | ChatContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  refusal?: string | null;
}

export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Json; strict?: boolean | null };
}

export type ChatToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ChatResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; description?: string; schema?: Json; strict?: boolean | null } };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  tools?: ChatTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  response_format?: ChatResponseFormat;
  user?: string;
  n?: number | null;
  [key: string]: unknown;
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number; [key: string]: number | undefined };
  /** Not OpenAI's: cache writes that a provider reported, kept so usage can be counted exactly. */
  cache_creation_input_tokens?: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: string | null;
      tool_calls?: ChatToolCall[];
      annotations?: unknown[];
    };
    logprobs: null;
    finish_reason: ChatFinishReason;
  }>;
  usage?: ChatUsage;
  system_fingerprint?: string;
  service_tier?: string | null;
}

export interface ChatToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; refusal?: string | null; tool_calls?: ChatToolCallDelta[] };
    logprobs: null;
    finish_reason: ChatFinishReason | null;
  }>;
  usage?: ChatUsage | null;
  system_fingerprint?: string;
}

// ---------------------------------------------------------------- Anthropic Messages

export interface CacheControl {
  type: 'ephemeral';
  ttl?: string;
}
export interface MsgTextBlock {
  type: 'text';
  text: string;
  cache_control?: CacheControl | null;
  citations?: unknown;
}
export interface MsgImageBlock {
  type: 'image';
  source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
  cache_control?: CacheControl | null;
}
export interface MsgToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
  cache_control?: CacheControl | null;
}
export interface MsgToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | Array<MsgTextBlock | MsgImageBlock>;
  is_error?: boolean;
  cache_control?: CacheControl | null;
}
export interface MsgThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}
export interface MsgRedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}
export type MsgContentBlock =
  | MsgTextBlock
  | MsgImageBlock
  | MsgToolUseBlock
  | MsgToolResultBlock
  | MsgThinkingBlock
  | MsgRedactedThinkingBlock;

export interface MsgMessage {
  role: 'user' | 'assistant';
  content: string | MsgContentBlock[];
}

export interface MsgTool {
  name: string;
  description?: string;
  input_schema: Json;
  type?: string;
  cache_control?: CacheControl | null;
}

export type MsgToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export interface MessagesRequest {
  model: string;
  messages: MsgMessage[];
  max_tokens: number;
  system?: string | MsgTextBlock[];
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  tools?: MsgTool[];
  tool_choice?: MsgToolChoice;
  stream?: boolean;
  metadata?: { user_id?: string | null };
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'disabled' };
  [key: string]: unknown;
}

export type MsgStopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal';

export interface MsgUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

export interface MessagesResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: MsgContentBlock[];
  stop_reason: MsgStopReason | null;
  stop_sequence: string | null;
  usage: MsgUsage;
}

/** Anthropic's stream events (`event:` name equals `type`). */
export type MsgStreamEvent =
  | { type: 'message_start'; message: MessagesResponse }
  | { type: 'content_block_start'; index: number; content_block: MsgContentBlock }
  | {
      type: 'content_block_delta';
      index: number;
      delta:
        | { type: 'text_delta'; text: string }
        | { type: 'input_json_delta'; partial_json: string }
        | { type: 'thinking_delta'; thinking: string }
        | { type: 'signature_delta'; signature: string };
    }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: MsgStopReason | null; stop_sequence: string | null };
      usage: Partial<MsgUsage> & { output_tokens: number };
    }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | { type: 'error'; error: { type: string; message: string } };

// ---------------------------------------------------------------- OpenAI Responses

export interface ResponsesInputMessage {
  type?: 'message';
  role: 'user' | 'assistant' | 'system' | 'developer';
  content: string | Array<{ type: string; [key: string]: unknown }>;
  id?: string;
  status?: string;
}
export interface ResponsesFunctionCall {
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string;
  id?: string;
  status?: string;
}
export interface ResponsesFunctionCallOutput {
  type: 'function_call_output';
  call_id: string;
  output: string | Array<{ type: string; [key: string]: unknown }>;
  id?: string;
  status?: string;
}
export type ResponsesInputItem =
  | ResponsesInputMessage
  | ResponsesFunctionCall
  | ResponsesFunctionCallOutput
  | { type: string; [key: string]: unknown };

export interface ResponsesFunctionTool {
  type: 'function';
  name: string;
  description?: string | null;
  parameters?: Json | null;
  strict?: boolean | null;
}

export interface ResponsesRequest {
  model: string;
  input?: string | ResponsesInputItem[];
  instructions?: string | null;
  tools?: Array<ResponsesFunctionTool | { type: string; [key: string]: unknown }>;
  tool_choice?: 'none' | 'auto' | 'required' | { type: string; name?: string };
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  parallel_tool_calls?: boolean | null;
  text?: { format?: { type: string; name?: string; schema?: Json; strict?: boolean | null; description?: string } };
  stream?: boolean | null;
  store?: boolean | null;
  previous_response_id?: string | null;
  conversation?: unknown;
  metadata?: Record<string, string> | null;
  user?: string;
  [key: string]: unknown;
}

export interface ResponsesOutputText {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}
export interface ResponsesOutputMessage {
  type: 'message';
  id: string;
  role: 'assistant';
  status: 'in_progress' | 'completed' | 'incomplete';
  content: ResponsesOutputText[];
}
export interface ResponsesOutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}
export type ResponsesOutputItem = ResponsesOutputMessage | ResponsesOutputFunctionCall;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: 'completed' | 'incomplete' | 'in_progress' | 'failed';
  completed_at?: number | null;
  error: null | { code: string; message: string };
  incomplete_details: null | { reason: 'max_output_tokens' | 'content_filter' };
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: ResponsesOutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: null;
  store: boolean;
  temperature: number | null;
  text: { format: Json };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: 'disabled';
  usage?: ResponsesUsage;
  user?: string | null;
  metadata: Record<string, string>;
}
