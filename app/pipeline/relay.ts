import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { ApiError } from '../errors';
import type { StreamEvent } from '../providers/types';
import type { AnyCodec } from '../surfaces/codec';
import { frameEvent } from './sse-frame';
import type { Usage } from './usage';

export interface RelayOptions {
  codec: AnyCodec;
  body: Record<string, unknown> & { model: string };
  events: AsyncIterable<StreamEvent>;
  sink: Writable;
  /** Aborted when the caller leaves. */
  signal: AbortSignal;
  /** Rebuilds an error event's payload for the caller (it may quote the provider's credentials). */
  scrubError: (data: string) => string;
  startedAt: number;
}

export interface RelayResult {
  /** The provider ended the stream properly and everything reached the caller. */
  completed: boolean;
  clientClosed: boolean;
  /** The provider failed the stream (an error event, a cut, a malformed event, silence). */
  failed: boolean;
  /** Usage the provider reported, merged over the stream's events. */
  usage?: Partial<Usage>;
  /**
   * Every event received, in order (error events as scrubbed): cached when the stream completed,
   * its text counted when it was cut short. The caller saw them all but the usage-only chunk it
   * did not ask for, which holds no text.
   */
  received: StreamEvent[];
  createdIds: string[];
  ttftMs?: number;
  bodyMs: number;
}

class StreamFailure extends Error {}

/** Cheap shape check, not a parse: the caller's SDK parses it anyway. */
function looksLikeJson(data: string): boolean {
  return data.charCodeAt(0) === 123 /* { */ && data.charCodeAt(data.length - 1) === 125; /* } */
}

/**
 * Passes a provider's events to the caller as they arrive, in the surface's framing. Notes usage and
 * created ids, drops the usage-only chunk the caller did not ask for, scrubs error events, and ends
 * a failed stream with the surface's error event so no client waits on a half-finished answer.
 */
export async function relay(o: RelayOptions): Promise<RelayResult> {
  const started = performance.now();
  const r: RelayResult = { completed: false, clientClosed: false, failed: false, received: [], createdIds: [], bodyMs: 0 };
  let final = false;
  const write = async (text: string) => {
    r.ttftMs ??= performance.now() - o.startedAt;
    if (!o.sink.write(text)) await once(o.sink, 'drain', { signal: o.signal });
  };
  try {
    for await (const event of o.events) {
      // Every surface's events carry JSON objects (or [DONE]): anything else would break the
      // caller's parser, so it ends the stream as the provider's failure.
      if (!looksLikeJson(event.data) && event.data !== '[DONE]') throw new StreamFailure('The upstream model server sent a malformed event.');
      const info = o.codec.inspectEvent(event, o.body);
      if (info.usage) r.usage = { ...r.usage, ...info.usage };
      if (info.createdId) r.createdIds.push(info.createdId);
      let out = event;
      if (info.error) {
        r.failed = true;
        out = { ...event, data: o.scrubError(event.data) };
      }
      r.received.push(out);
      if (info.final) final = true;
      if (info.drop) continue;
      await write(frameEvent(out));
    }
    if (!final && !r.failed) throw new StreamFailure('The upstream model server ended the stream early.');
    r.completed = !r.failed;
  } catch (err) {
    if (o.signal.aborted) {
      r.clientClosed = true;
      r.bodyMs = performance.now() - started;
      o.sink.destroy();
      return r;
    }
    r.failed = true;
    if (!o.sink.destroyed) {
      // Our own words only: an adapter's ApiError messages are written by us, never the provider's text.
      const message =
        err instanceof StreamFailure || (err instanceof ApiError && err.status >= 500)
          ? err.message
          : 'The upstream model server failed during the stream.';
      o.sink.write(frameEvent(o.codec.streamError(message)));
    }
  }
  r.bodyMs = performance.now() - started;
  o.sink.end();
  return r;
}
