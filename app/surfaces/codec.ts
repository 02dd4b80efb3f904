import type { z } from 'zod';
import type { Usage } from '../pipeline/usage';
import type { StreamEvent, Surface } from '../providers/types';

/** What a codec reads off one stream event. */
export interface EventInfo {
  /** Usage the event carries (the final one wins). */
  usage?: Partial<Usage>;
  /** The event reports an error from the provider. */
  error?: boolean;
  /** The event is the stream's last (`data: [DONE]`, `response.completed`, `message_stop`). */
  final?: boolean;
  /** Not for the caller: the usage-only chunk the gateway asked for on its own behalf. */
  drop?: boolean;
  /** An object id the answer creates (a stored response or chat completion), remembered as the caller's. */
  createdId?: string;
}

/** The request as the pipeline sees it, whatever the surface. */
export interface RequestShape {
  model: string;
  stream: boolean;
  /** Estimated input tokens, for the reservation. */
  inputTokens: number;
  /** The most output tokens the request may produce (its max, or the default reserve). */
  maxOutputTokens: number;
  /** Deterministic and stateless: its answer may be served from the cache. */
  cacheable: boolean;
}

/**
 * One public API family: the shapes it reads and writes, nothing about limits, routing or transport.
 * The pipeline (app/pipeline/pipeline.ts) does the rest for every surface the same way.
 */
export interface SurfaceCodec<B extends { model: string } = { model: string } & Record<string, unknown>> {
  readonly surface: Surface;
  /** The route template, for logs and metrics. */
  readonly route: string;
  /** Errors in OpenAI's shape, or Anthropic's on `/v1/messages`. */
  readonly errorShape: 'openai' | 'anthropic';
  readonly schema: z.ZodType<B>;
  /** Reads what the pipeline needs; `defaultReserve` is the output reserve when the body sets none. */
  shape(body: B, defaultReserve: number): RequestShape;
  /** The body to send: the caller's, plus what the gateway must add (usage in streams). */
  upstreamBody(body: B): B;
  /** Usage of a complete JSON answer. */
  usageFromJson(json: unknown): Usage | undefined;
  /** Id of the object a JSON answer created (a stored response or chat completion), if any. */
  createdIdFromJson?(json: unknown, body: B): string | undefined;
  inspectEvent(event: StreamEvent, body: B): EventInfo;
  /** The output text of the events relayed so far: counted when a stream ends without usage. */
  streamText(events: readonly string[]): string;
  /** The event that tells the caller a stream failed midway, in the surface's own format. */
  streamError(message: string): StreamEvent;
}

export type AnyCodec = SurfaceCodec<{ model: string } & Record<string, unknown>>;
