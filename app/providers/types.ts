/**
 * The contract between the request pipeline and the providers it routes to. A provider adapter
 * speaks one provider's protocol (OpenAI-compatible HTTP, Bedrock, Anthropic, the offline mock) and
 * answers in the *surface's* format: a chat request gets a chat completion back whatever the
 * provider is. Translation between formats lives in app/translate, used by the adapters.
 */

/** The public API families the gateway serves. */
export type Surface = 'chat' | 'embeddings' | 'responses' | 'completions' | 'moderations' | 'messages';

export type ProviderType = 'openai' | 'bedrock' | 'anthropic' | 'mock';

export interface ProviderRequest {
  surface: Surface;
  /** The provider's model id (the deployment's `model`, or the public name). */
  model: string;
  /** The surface's request body, validated; `model` already set to the provider's id. */
  body: Record<string, unknown>;
  /** True when the caller asked for a stream (`stream: true`). */
  stream: boolean;
  /** Aborted when the caller leaves or the pipeline gives up. */
  signal: AbortSignal;
  /**
   * Caller headers that may travel upstream (idempotency-key, openai-beta, x-client-request-id;
   * anthropic-version and anthropic-beta on `messages`). Never the caller's key.
   */
  headers: Record<string, string>;
}

export interface ObjectRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Below the provider's base URL, query string included: `/responses/resp_1/input_items?limit=5`. */
  path: string;
  body?: string;
  signal: AbortSignal;
  headers: Record<string, string>;
}

/** One server-sent event: `event:` name (Anthropic, Responses) and its `data:` payload. */
export interface StreamEvent {
  event?: string;
  data: string;
}

export type ProviderResponse =
  /** A complete 2xx answer, as JSON text in the surface's format. */
  | { kind: 'json'; body: string; headers: Record<string, string> }
  /**
   * A 2xx stream in the surface's event format. OpenAI surfaces end with `{data: '[DONE]'}`. An error
   * in the middle of the stream is thrown by the iterator (ProviderError or ApiError).
   */
  | { kind: 'stream'; events: AsyncIterable<StreamEvent>; headers: Record<string, string> };

/**
 * Adapters throw the API's own errors (app/errors.ts) for failed calls:
 * - UpstreamClientError(status, body) for a 4xx the caller should see (429 included; put the
 *   provider's retry-after, in seconds, in its headers),
 * - UpstreamError (502) for 5xx, connection failures and malformed answers,
 * - UpstreamTimeoutError (504) for timeouts,
 * - InvalidRequestError (400) when the request uses something this provider cannot translate
 *   (name the field in `param`).
 * Error messages must never carry the provider's credentials.
 */
export interface ProviderAdapter {
  readonly name: string;
  readonly type: ProviderType;
  /** Whether this provider can serve the surface at all (natively or by translation). */
  supports(surface: Surface): boolean;
  /** One attempt: no retries inside (the router retries, bounded, across deployments). */
  send(req: ProviderRequest): Promise<ProviderResponse>;
  /**
   * OpenAI-compatible providers: a call on something other than a model, passed through as is —
   * a stored object (`GET /responses/{id}`, `DELETE …`, `POST …/cancel`) or the model list
   * (`GET /models`). Same error mapping as `send`.
   */
  objectRequest?(req: ObjectRequest): Promise<ProviderResponse>;
  /** Readiness: resolves when the provider looks reachable; must be cheap and bounded in time. */
  probe(): Promise<void>;
  close(): Promise<void>;
}
