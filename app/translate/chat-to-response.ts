/**
 * A chat completion → a Responses `response` object, echoing the request's settings as OpenAI
 * does. Also builds the response object the stream translator announces and completes.
 */
import { randomId } from './content';
import { responsesUsage, usageFromChat } from './usage';
import type { Usage } from '../pipeline/usage';
import type {
  ChatCompletion,
  ChatFinishReason,
  ResponseObject,
  ResponsesOutputItem,
  ResponsesRequest,
  ResponsesFunctionTool,
} from './types';

export function newResponseId(): string {
  return `resp_${randomId(40)}`;
}

export function outputItemId(prefix: 'msg' | 'fc'): string {
  return `${prefix}_${randomId(40)}`;
}

/** The request's tools as a response echoes them (FunctionTool: strict and parameters present). */
function echoTools(tools: ResponsesRequest['tools']): unknown[] {
  return (tools ?? []).map((t) => {
    if (t.type !== 'function') return t;
    const f = t as ResponsesFunctionTool;
    return { type: 'function', name: f.name, description: f.description ?? null, parameters: f.parameters ?? null, strict: f.strict ?? true };
  });
}

export interface ResponseState {
  id: string;
  createdAt: number;
  request: ResponsesRequest;
  model: string;
  status: ResponseObject['status'];
  output: ResponsesOutputItem[];
  finish?: ChatFinishReason | null;
  usage?: Usage;
}

/** The response object for a state; `completed` adds completed_at. */
export function buildResponse(s: ResponseState): ResponseObject {
  const r = s.request;
  let status = s.status;
  let incomplete: ResponseObject['incomplete_details'] = null;
  if (status === 'completed' && s.finish === 'length') {
    status = 'incomplete';
    incomplete = { reason: 'max_output_tokens' };
  } else if (status === 'completed' && s.finish === 'content_filter') {
    status = 'incomplete';
    incomplete = { reason: 'content_filter' };
  }
  const response: ResponseObject = {
    id: s.id,
    object: 'response',
    created_at: s.createdAt,
    status,
    completed_at: status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: incomplete,
    instructions: typeof r.instructions === 'string' ? r.instructions : null,
    max_output_tokens: typeof r.max_output_tokens === 'number' ? r.max_output_tokens : null,
    model: s.model,
    // A copy: the stream translator keeps filling its items after announcing the response.
    output: s.output.map((item) => structuredClone(item)),
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: typeof r.temperature === 'number' ? r.temperature : 1,
    text: { format: (r.text?.format as Record<string, unknown> | undefined) ?? { type: 'text' } },
    tool_choice: r.tool_choice ?? 'auto',
    tools: echoTools(r.tools),
    top_p: typeof r.top_p === 'number' ? r.top_p : 1,
    truncation: 'disabled',
    metadata: r.metadata ?? {},
  };
  // The schema has no null usage: a response in progress simply has none yet.
  if (s.usage) response.usage = responsesUsage(s.usage);
  if (typeof r.user === 'string') response.user = r.user;
  return response;
}

export function chatToResponse(
  completion: ChatCompletion,
  request: ResponsesRequest,
  opts: { id?: string; createdAt?: number } = {},
): ResponseObject {
  const choice = completion.choices?.[0];
  const output: ResponsesOutputItem[] = [];
  const text = choice?.message?.content;
  const itemStatus = choice?.finish_reason === 'length' ? 'incomplete' : 'completed';
  if (typeof text === 'string' && text !== '') {
    output.push({
      type: 'message',
      id: outputItemId('msg'),
      role: 'assistant',
      status: itemStatus,
      content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
    });
  }
  for (const call of choice?.message?.tool_calls ?? []) {
    output.push({
      type: 'function_call',
      id: outputItemId('fc'),
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments ?? '',
      status: 'completed',
    });
  }
  return buildResponse({
    id: opts.id ?? newResponseId(),
    createdAt: opts.createdAt ?? completion.created ?? Math.floor(Date.now() / 1000),
    request,
    model: completion.model ?? request.model,
    status: 'completed',
    output,
    finish: choice?.finish_reason,
    usage: completion.usage ? usageFromChat(completion.usage) : { inputTokens: 0, outputTokens: 0 },
  });
}
