/**
 * The Messages API on Claude models in Bedrock: Anthropic's own body through InvokeModel, with
 * `anthropic_version: "bedrock-2023-05-31"` in place of the model and version headers, and the
 * answer or stream events passed back in Anthropic's format.
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { UpstreamError } from '../errors';
import { invokeJson, invokeStream } from './bedrock-invoke';
import type { ProviderRequest, ProviderResponse, StreamEvent } from './types';

export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** Claude models and the cross-region inference profiles that name them (`us.anthropic.claude-…`). */
export function isBedrockClaude(modelId: string): boolean {
  return modelId.includes('anthropic.claude');
}

/**
 * Fields of the Messages API body that Bedrock refuses as extraneous: `metadata` (Claude Code
 * sends a user id) and `service_tier`; the model travels in the path and the stream flag in the
 * operation.
 */
const NOT_ON_BEDROCK = new Set(['model', 'stream', 'metadata', 'service_tier']);

export function bedrockClaudeBody(req: ProviderRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { anthropic_version: BEDROCK_ANTHROPIC_VERSION };
  for (const [k, v] of Object.entries(req.body)) if (!NOT_ON_BEDROCK.has(k)) body[k] = v;
  const beta = req.headers['anthropic-beta'];
  if (beta) body.anthropic_beta = beta.split(',').map((b) => b.trim()).filter(Boolean);
  return body;
}

export async function claudeMessages(client: BedrockRuntimeClient, req: ProviderRequest): Promise<ProviderResponse> {
  const body = bedrockClaudeBody(req);
  if (!req.stream) {
    const out = await invokeJson(client, req.model, body, req.signal);
    return { kind: 'json', body: out.text, headers: out.requestId ? { 'x-upstream-request-id': out.requestId } : {} };
  }
  const out = await invokeStream(client, req.model, body, req.signal);
  return { kind: 'stream', events: claudeEvents(out.chunks), headers: out.requestId ? { 'x-upstream-request-id': out.requestId } : {} };
}

/** Bedrock's chunks hold Anthropic's events; its own invocation metrics are dropped from message_stop. */
async function* claudeEvents(chunks: AsyncIterable<string>): AsyncGenerator<StreamEvent> {
  let finished = false;
  for await (const text of chunks) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new UpstreamError('The upstream model server sent a malformed event.');
    }
    const type = String(event.type ?? '');
    if ('amazon-bedrock-invocationMetrics' in event) {
      delete event['amazon-bedrock-invocationMetrics'];
      yield { event: type, data: JSON.stringify(event) };
    } else {
      yield { event: type, data: text };
    }
    if (type === 'message_stop' || type === 'error') finished = true;
  }
  if (!finished) throw new UpstreamError('The upstream model server ended the stream early.');
}
