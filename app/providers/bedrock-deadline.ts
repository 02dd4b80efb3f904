import {
  ConverseStreamCommand,
  InvokeModelWithResponseStreamCommand,
  type BedrockRuntimeClient,
} from '@aws-sdk/client-bedrock-runtime';
import { UpstreamTimeoutError } from '../errors';

/**
 * The AWS SDK has one timeout, an inactivity timer per HTTP/2 stream (UPSTREAM_IDLE_TIMEOUT_MS, set
 * on the client). This adds UPSTREAM_TIMEOUT_MS as every other provider has it: a bound on the time
 * to an answer's start. A non-streamed call is silent until its whole answer, so its inactivity
 * timer is raised to the same bound (long reasoning calls are not cut at the idle timeout); a
 * streamed call keeps the idle timer for silence mid-stream.
 *
 * Returns a client whose `send` applies it; everything else is the SDK client's own.
 */
export function withDeadline(client: BedrockRuntimeClient, timeoutMs: number): BedrockRuntimeClient {
  const timed = Object.create(client) as BedrockRuntimeClient;
  const send = (command: object, options: { abortSignal?: AbortSignal } = {}) => {
    const streamed = command instanceof ConverseStreamCommand || command instanceof InvokeModelWithResponseStreamCommand;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new UpstreamTimeoutError()), timeoutMs);
    const caller = options.abortSignal;
    // Linked for the life of the call, the stream's body included: the caller leaving still stops it.
    caller?.addEventListener('abort', () => deadline.abort(caller.reason), { once: true });
    if (caller?.aborted) deadline.abort(caller.reason);
    const sent = (client.send as (c: object, o: object) => Promise<unknown>)(command, {
      ...options,
      abortSignal: deadline.signal,
      ...(streamed ? {} : { requestTimeout: timeoutMs }),
    });
    return sent.then(
      (out) => {
        clearTimeout(timer);
        return out;
      },
      (err: unknown) => {
        clearTimeout(timer);
        throw deadline.signal.reason instanceof UpstreamTimeoutError && !caller?.aborted ? deadline.signal.reason : err;
      },
    );
  };
  (timed as unknown as { send: typeof send }).send = send;
  return timed;
}
