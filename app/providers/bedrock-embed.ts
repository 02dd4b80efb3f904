/** Embeddings on Bedrock: Titan one input per call (a few calls at a time), Cohere in batches of 96. */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { InvalidRequestError, UpstreamError } from '../errors';
import { toJson } from '../lib/json';
import {
  COHERE_BATCH,
  cohereBody,
  embeddingFamily,
  embeddingTexts,
  embeddingsResponse,
  parseCohere,
  parseTitan,
  titanBody,
  type EmbeddingsRequest,
} from '../translate/bedrock-embeddings';
import { invokeJson } from './bedrock-invoke';
import type { ProviderRequest, ProviderResponse } from './types';

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError('The upstream model server sent a malformed answer.');
  }
}

export async function bedrockEmbeddings(client: BedrockRuntimeClient, req: ProviderRequest, concurrency: number): Promise<ProviderResponse> {
  const body = { ...(req.body as EmbeddingsRequest), model: req.model };
  const family = embeddingFamily(req.model);
  if (!family) throw new InvalidRequestError(`The model ${req.model} is not an embeddings model this gateway can call on Bedrock.`, 'model');
  const texts = embeddingTexts(body.input);
  // One signal for the fan-out: the first failure stops the calls still waiting.
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(req.signal.reason);
  req.signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (family === 'titan') {
      const parts = await mapLimit(texts, concurrency, async (text) => {
        const out = await invokeJson(client, req.model, titanBody(text, body), ac.signal);
        return parseTitan(parse(out.text));
      });
      const tokens = parts.reduce((s, p) => s + p.tokens, 0);
      return { kind: 'json', body: toJson(embeddingsResponse(parts.map((p) => p.vector), req.model, tokens, body.encoding_format)), headers: {} };
    }
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += COHERE_BATCH) batches.push(texts.slice(i, i + COHERE_BATCH));
    const parts = await mapLimit(batches, concurrency, async (batch) => {
      const out = await invokeJson(client, req.model, cohereBody(batch, body), ac.signal);
      return { vectors: parseCohere(parse(out.text)), tokens: out.inputTokens ?? 0 };
    });
    const tokens = parts.reduce((s, p) => s + p.tokens, 0);
    return { kind: 'json', body: toJson(embeddingsResponse(parts.flatMap((p) => p.vectors), req.model, tokens, body.encoding_format)), headers: {} };
  } catch (err) {
    ac.abort();
    throw err;
  } finally {
    req.signal.removeEventListener('abort', onAbort);
  }
}
