import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import type { RequestStats } from '../lib/request-stats';
import { DONE_EVENT, SseSplitter, eventData, frameEvent, inspectEvent, type ChunkUsage } from './sse';

export interface RelayOptions {
  /** The upstream's SSE body. */
  source: Readable;
  /** Where the caller's bytes go. */
  sink: Writable;
  /** Aborted when the caller leaves; the upstream request shares it, so the upstream is closed too. */
  signal: AbortSignal;
  stats: RequestStats;
  startedAt: number;
  /** Keep the usage-only chunk (the caller asked for `stream_options.include_usage`). */
  keepUsageChunk: boolean;
  /** Keep every event's payload so the answer can be cached. */
  collect: boolean;
}

export interface RelayOutcome {
  /** The upstream finished with `[DONE]` and everything reached the sink. */
  completed: boolean;
  clientClosed: boolean;
  usage?: ChunkUsage;
  events?: string[];
}

function streamError(message: string): string {
  return frameEvent(JSON.stringify({ error: { message, type: 'api_error', param: null, code: 'upstream_error' } }));
}

/** Cheap shape check so a garbage event becomes an error event instead of breaking the client's parser. */
function looksLikeJson(data: string): boolean {
  return data.charCodeAt(0) === 123 /* { */ && data.charCodeAt(data.length - 1) === 125; /* } */
}

/**
 * Passes SSE events from the upstream to the caller as they arrive, noting usage, dropping the
 * usage-only chunk when unwanted, and ending any failed stream with an error event so clients never
 * hang on a half-finished answer.
 */
export async function relayStream(o: RelayOptions): Promise<RelayOutcome> {
  const splitter = new SseSplitter();
  const events: string[] | undefined = o.collect ? [] : undefined;
  let usage: ChunkUsage | undefined;
  let done = false;
  let upstreamFailed = false;
  let failure: string | undefined;
  const started = performance.now();

  const write = async (text: string) => {
    if (o.stats.ttftMs === undefined) o.stats.ttftMs = performance.now() - o.startedAt;
    if (!o.sink.write(text)) await once(o.sink, 'drain', { signal: o.signal });
  };

  try {
    o.source.setEncoding('utf8');
    for await (const chunk of o.source as AsyncIterable<string>) {
      let out = '';
      for (const event of splitter.push(chunk)) {
        const data = eventData(event);
        if (data === undefined) {
          out += `${event}\n\n`; // comments and keep-alives pass through
          continue;
        }
        if (data === '[DONE]') {
          done = true;
          out += DONE_EVENT;
          continue;
        }
        if (!looksLikeJson(data)) {
          failure = 'The upstream model server sent a malformed event.';
          break;
        }
        const info = inspectEvent(data);
        if (info.usage) usage = info.usage;
        if (info.error) upstreamFailed = true;
        events?.push(data);
        if (info.usageOnly && !o.keepUsageChunk) continue;
        out += `${event}\n\n`;
      }
      if (out) await write(out);
      if (failure) break;
    }
    if (!done && !failure && !upstreamFailed) failure = 'The upstream model server ended the stream early.';
  } catch {
    if (o.signal.aborted) {
      o.stats.streamOutcome = 'client_closed';
      o.stats.upstreamMs += performance.now() - started;
      o.sink.destroy();
      return { completed: false, clientClosed: true, usage };
    }
    failure = 'The upstream model server failed during the stream.';
  }
  o.stats.upstreamMs += performance.now() - started;
  if (failure) {
    o.stats.upstreamError = 'stream';
    o.source.destroy();
    if (!o.sink.destroyed) o.sink.write(streamError(failure));
  } else if (upstreamFailed) {
    o.stats.upstreamError = 'stream';
  }
  o.sink.end();
  const completed = done && !failure && !upstreamFailed;
  o.stats.streamOutcome = completed ? 'completed' : 'error';
  return { completed, clientClosed: false, usage, events: completed ? events : undefined };
}
