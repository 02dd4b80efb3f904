/**
 * Server-sent events as OpenAI frames them: `data: {json}\n\n`, `data: [DONE]\n\n` last, an error as
 * a `data:` line carrying `{"error": …}`. Bytes are passed on as they arrive; only events that might
 * carry usage are parsed.
 */
export const DONE_EVENT = 'data: [DONE]\n\n';

export function frameEvent(data: string): string {
  return `data: ${data}\n\n`;
}

const EVENT_END = /\r?\n\r?\n/;

/** Splits a byte stream into complete events, keeping any partial tail for the next chunk. */
export class SseSplitter {
  private tail = '';

  /** Returns the complete events (each without its terminating blank line). */
  push(chunk: string): string[] {
    const text = this.tail + chunk;
    const parts = text.split(EVENT_END);
    this.tail = parts.pop() ?? '';
    return parts;
  }

  /** Whatever was left unterminated when the stream ended. */
  rest(): string {
    const r = this.tail;
    this.tail = '';
    return r;
  }
}

/** The `data` payload of one event (multi-line data joined by newlines), or undefined if none. */
export function eventData(event: string): string | undefined {
  if (event.startsWith('data: ') && !event.includes('\n')) return event.slice(6);
  let data: string | undefined;
  for (const line of event.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const value = line.slice(line[5] === ' ' ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

export interface ChunkUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
}

export interface InspectedEvent {
  /** The usage object this chunk carried, if any. */
  usage?: ChunkUsage;
  /** True for the usage-only chunk (`choices: []`) that `stream_options.include_usage` adds. */
  usageOnly: boolean;
  /** True when the upstream reported an error inside the stream. */
  error: boolean;
}

const NOTHING: InspectedEvent = { usageOnly: false, error: false };

/** Looks inside an event's payload only when it can hold usage or an error. */
export function inspectEvent(data: string): InspectedEvent {
  const hasUsage = data.includes('"usage"') && !data.includes('"usage":null');
  const hasError = data.startsWith('{"error"');
  if (!hasUsage && !hasError) return NOTHING;
  try {
    const parsed = JSON.parse(data) as { usage?: ChunkUsage | null; choices?: unknown[]; error?: unknown };
    return {
      usage: parsed.usage ?? undefined,
      usageOnly: Boolean(parsed.usage) && Array.isArray(parsed.choices) && parsed.choices.length === 0,
      error: parsed.error !== undefined,
    };
  } catch {
    return NOTHING;
  }
}
