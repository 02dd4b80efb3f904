/**
 * InvokeModel and InvokeModelWithResponseStream with JSON bodies, the calls behind Bedrock
 * embeddings and Claude's Messages API on Bedrock. Bedrock reports token counts for InvokeModel
 * only in response headers, which the SDK's output drops: a middleware on the command reads them.
 */
import {
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type BedrockRuntimeClient,
  type ResponseStream,
} from '@aws-sdk/client-bedrock-runtime';
import { UpstreamError } from '../errors';
import { toJson } from '../lib/json';
import { bedrockError } from '../translate/bedrock-errors';

export interface InvokeResult {
  text: string;
  /** From `x-amzn-bedrock-input-token-count`, when Bedrock sent it. */
  inputTokens?: number;
  outputTokens?: number;
  requestId?: string;
}

function headerNumber(headers: Record<string, string> | undefined, name: string): number | undefined {
  const v = headers?.[name];
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export async function invokeJson(client: BedrockRuntimeClient, modelId: string, body: unknown, signal: AbortSignal): Promise<InvokeResult> {
  const cmd = new InvokeModelCommand({ modelId, body: toJson(body), contentType: 'application/json', accept: 'application/json' });
  let headers: Record<string, string> | undefined;
  cmd.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      headers = (out.response as { headers?: Record<string, string> }).headers;
      return out;
    },
    { step: 'deserialize', name: 'readTokenCountHeaders' },
  );
  try {
    const out = await client.send(cmd, { abortSignal: signal });
    return {
      text: Buffer.from(out.body ?? new Uint8Array()).toString('utf8'),
      inputTokens: headerNumber(headers, 'x-amzn-bedrock-input-token-count'),
      outputTokens: headerNumber(headers, 'x-amzn-bedrock-output-token-count'),
      requestId: out.$metadata.requestId,
    };
  } catch (err) {
    throw bedrockError(err, signal);
  }
}

export async function invokeStream(
  client: BedrockRuntimeClient,
  modelId: string,
  body: unknown,
  signal: AbortSignal,
): Promise<{ chunks: AsyncGenerator<string>; requestId?: string }> {
  const cmd = new InvokeModelWithResponseStreamCommand({ modelId, body: toJson(body), contentType: 'application/json', accept: 'application/json' });
  let out;
  try {
    out = await client.send(cmd, { abortSignal: signal });
  } catch (err) {
    throw bedrockError(err, signal);
  }
  return { chunks: payloads(out.body, signal), requestId: out.$metadata.requestId };
}

/** Each chunk's bytes as text; exception members (if the SDK hands them over) are thrown. */
async function* payloads(stream: AsyncIterable<ResponseStream> | undefined, signal: AbortSignal): AsyncGenerator<string> {
  if (!stream) throw new UpstreamError('The upstream model server sent no stream.');
  try {
    for await (const event of stream) {
      if (event.chunk?.bytes) {
        yield Buffer.from(event.chunk.bytes).toString('utf8');
        continue;
      }
      const [name] = Object.keys(event).filter((k) => k !== '$unknown' && (event as unknown as Record<string, unknown>)[k] !== undefined);
      if (name) throw Object.assign(new Error('stream exception'), { name: name[0].toUpperCase() + name.slice(1) });
    }
  } catch (err) {
    throw bedrockError(err, signal);
  }
}
