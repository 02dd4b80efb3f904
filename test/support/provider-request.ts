/** Builders for adapter tests: a ProviderRequest as the pipeline would hand it, and stream readers. */
import type { ProviderRequest, ProviderResponse, StreamEvent, Surface } from '../../app/providers/types';

export function providerRequest(surface: Surface, body: Record<string, unknown>, over: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    surface,
    model: String(body.model ?? 'test-model'),
    body,
    stream: body.stream === true,
    signal: new AbortController().signal,
    headers: {},
    ...over,
  };
}

export async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

export function jsonOf(res: ProviderResponse): Record<string, unknown> {
  if (res.kind !== 'json') throw new Error(`expected a json answer, got ${res.kind}`);
  return JSON.parse(res.body) as Record<string, unknown>;
}

export async function eventsOf(res: ProviderResponse): Promise<StreamEvent[]> {
  if (res.kind !== 'stream') throw new Error(`expected a stream answer, got ${res.kind}`);
  return collect(res.events);
}

/** The parsed `data` of each event except `[DONE]`. */
export function payloads(events: StreamEvent[]): Array<Record<string, unknown>> {
  return events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data) as Record<string, unknown>);
}

/** Awaits a promise expected to reject, and returns what it rejected with. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
