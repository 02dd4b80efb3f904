/**
 * Amazon Bedrock through the AWS SDK: chat on Converse / ConverseStream, embeddings on
 * InvokeModel (Titan, Cohere), Messages natively on Claude models (InvokeModel with Anthropic's
 * body) and by translation to Converse on the others, Responses by translation to Converse.
 * Legacy completions and moderations have no Bedrock counterpart. The SDK makes one attempt
 * (maxAttempts: 1): the router retries.
 */
import { withDeadline } from './bedrock-deadline';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type BedrockRuntimeClientConfig,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { InvalidRequestError, UpstreamError } from '../errors';
import { bedrockError } from '../translate/bedrock-errors';
import { chatToConverse } from '../translate/chat-to-converse';
import { ConverseToChatStream } from '../translate/converse-stream-to-chat';
import { converseToChat } from '../translate/converse-to-chat';
import type { ChatChunk, ChatRequest } from '../translate/types';
import { claudeMessages, isBedrockClaude } from './bedrock-claude';
import { bedrockEmbeddings } from './bedrock-embed';
import { chatResultToResponse, type ChatCall } from './chat-call';
import type { ProviderAdapter, ProviderRequest, ProviderResponse, Surface } from './types';
import { messagesViaChat, responsesViaChat } from './via-chat';

export interface BedrockProviderOptions {
  name: string;
  region: string;
  /** Another runtime endpoint (a VPC endpoint, or a fake in tests). @default the region's */
  endpoint?: string;
  /** @default the AWS SDK's default chain (environment, profile, container or instance role) */
  credentials?: BedrockRuntimeClientConfig['credentials'];
  /**
   * The SDK's HTTP handler or its options, e.g. a NodeHttp2Handler trusting a test CA.
   * @default HTTP/2, one stream per session, `requestTimeout: idleTimeoutMs`
   */
  requestHandler?: BedrockRuntimeClientConfig['requestHandler'];
  /** Longest silence on a streamed call. @default 120000 */
  idleTimeoutMs?: number;
  /** Time to an answer (non-streamed: the whole answer; streamed: its first event). @default 600000 */
  timeoutMs?: number;
  /** Titan embeds one input per call: this many calls at once per request. @default 4 */
  embeddingConcurrency?: number;
  /** @default 3000 */
  probeTimeoutMs?: number;
}

const SURFACES = new Set<Surface>(['chat', 'embeddings', 'messages', 'responses']);

export function createBedrockProvider(opts: BedrockProviderOptions): ProviderAdapter {
  const sdk = new BedrockRuntimeClient({
    region: opts.region,
    endpoint: opts.endpoint,
    credentials: opts.credentials,
    maxAttempts: 1,
    requestHandler: opts.requestHandler ?? { requestTimeout: opts.idleTimeoutMs ?? 120_000, disableConcurrentStreams: true },
  });
  const client = withDeadline(sdk, opts.timeoutMs ?? 600_000);

  const chatCall: ChatCall = async (body: ChatRequest, req: ProviderRequest) => {
    const { input, jsonTool } = chatToConverse(body);
    const modelId = req.model;
    if (!body.stream) {
      let out;
      try {
        out = await client.send(new ConverseCommand({ ...input, modelId }), { abortSignal: req.signal });
      } catch (err) {
        throw bedrockError(err, req.signal);
      }
      const headers = requestIdHeader(out.$metadata.requestId);
      return { kind: 'json', completion: converseToChat(out, { model: req.model, jsonTool }), headers };
    }
    let out;
    try {
      out = await client.send(new ConverseStreamCommand({ ...input, modelId }), { abortSignal: req.signal });
    } catch (err) {
      throw bedrockError(err, req.signal);
    }
    const headers = requestIdHeader(out.$metadata.requestId);
    return { kind: 'stream', chunks: converseChunks(out.stream, req, jsonTool), headers };
  };

  return {
    name: opts.name,
    type: 'bedrock',
    supports: (surface) => SURFACES.has(surface),
    async send(req: ProviderRequest): Promise<ProviderResponse> {
      switch (req.surface) {
        case 'chat':
          return chatResultToResponse(await chatCall({ ...(req.body as ChatRequest), model: req.model, stream: req.stream }, req));
        case 'embeddings':
          return bedrockEmbeddings(client, req, opts.embeddingConcurrency ?? 4);
        case 'messages':
          return isBedrockClaude(req.model) ? claudeMessages(client, req) : messagesViaChat(chatCall, req);
        case 'responses':
          return responsesViaChat(chatCall, req);
        default:
          throw new InvalidRequestError(`The provider ${opts.name} does not serve ${req.surface}.`);
      }
    },
    /** No model call: resolving the credential chain shows the provider can sign, within a bound. */
    async probe(): Promise<void> {
      const timeout = opts.probeTimeoutMs ?? 3000;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.config.credentials(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), timeout);
          }),
        ]);
      } catch {
        throw new UpstreamError('AWS credentials for Bedrock are not available.');
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      sdk.destroy();
    },
  };
}

async function* converseChunks(
  stream: AsyncIterable<ConverseStreamOutput> | undefined,
  req: ProviderRequest,
  jsonTool: string | undefined,
): AsyncGenerator<ChatChunk> {
  if (!stream) throw new UpstreamError('The upstream model server sent no stream.');
  const t = new ConverseToChatStream(req.model, jsonTool);
  try {
    for await (const event of stream) yield* t.push(event);
  } catch (err) {
    throw bedrockError(err, req.signal);
  }
  yield* t.end();
  if (!t.complete) throw new UpstreamError('The upstream model server ended the stream early.');
}

function requestIdHeader(id: string | undefined): Record<string, string> {
  return id ? { 'x-upstream-request-id': id } : {};
}
