/**
 * Server-sent events read off an upstream body as StreamEvent values. Comment lines (`: …`) are
 * dropped: keep-alives carry nothing, and some servers put diagnostics (even keys) in them.
 */
import type { StreamEvent } from './types';

const EVENT_END = /\r?\n\r?\n/;

/** One event's text (no terminating blank line) → StreamEvent, or undefined when it has no data. */
export function parseSseEvent(text: string): StreamEvent | undefined {
  let event: string | undefined;
  let data: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
  }
  if (data === undefined) return undefined;
  return event === undefined ? { data } : { event, data };
}

/** Splits a text stream into events as they complete; a partial tail waits for the next chunk. */
export async function* sseEvents(chunks: AsyncIterable<string | Buffer>): AsyncGenerator<StreamEvent> {
  let tail = '';
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    tail += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const parts = tail.split(EVENT_END);
    tail = parts.pop() ?? '';
    for (const part of parts) {
      const event = parseSseEvent(part);
      if (event) yield event;
    }
  }
  tail += decoder.decode();
  const last = tail.trim() ? parseSseEvent(tail) : undefined;
  if (last) yield last;
}

/** The SSE text of one event, for servers and fakes. */
export function frameSse(e: StreamEvent): string {
  const data = e.data.split('\n').map((line) => `data: ${line}\n`).join('');
  return e.event === undefined ? `${data}\n` : `event: ${e.event}\n${data}\n`;
}
