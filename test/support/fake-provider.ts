import type { ProviderAdapter, ProviderRequest, ProviderResponse, StreamEvent, Surface } from '../../app/providers/types';

export type Behaviour = ProviderResponse | Error | ((req: ProviderRequest) => Promise<ProviderResponse>);

/**
 * An in-process provider adapter for unit tests: answers from a script (one behaviour per call, the
 * last repeated), records every request. End-to-end tests use real HTTP fakes instead.
 */
export interface FakeProvider extends ProviderAdapter {
  calls: ProviderRequest[];
  script: Behaviour[];
}

export function json(body: unknown, headers: Record<string, string> = {}): ProviderResponse {
  return { kind: 'json', body: JSON.stringify(body), headers };
}

export function stream(events: StreamEvent[], opts: { failAfter?: number } = {}): ProviderResponse {
  async function* gen() {
    for (let i = 0; i < events.length; i++) {
      if (opts.failAfter !== undefined && i === opts.failAfter) throw new Error('cut');
      yield events[i];
    }
  }
  return { kind: 'stream', events: gen(), headers: {} };
}

export function fakeProvider(name: string, script: Behaviour[], surfaces?: Surface[]): FakeProvider {
  const p: FakeProvider = {
    name,
    type: 'openai',
    calls: [],
    script,
    supports: (s) => !surfaces || surfaces.includes(s),
    async send(req) {
      p.calls.push(req);
      const b = p.script.length > 1 ? p.script.shift()! : p.script[0];
      if (b instanceof Error) throw b;
      if (typeof b === 'function') return b(req);
      return b;
    },
    probe: async () => undefined,
    close: async () => undefined,
  };
  return p;
}

export function chatCompletion(content = 'hi', usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }) {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage,
  };
}
