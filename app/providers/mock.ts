/**
 * The built-in offline upstream as a provider: the mock HTTP server (app/upstream/mock-upstream.ts)
 * started on a loopback port, reached through the OpenAI adapter like any other server, so the
 * offline path exercises the same code as production.
 */
import { startMockUpstream } from '../upstream/mock-upstream';
import { createOpenAIProvider } from './openai';
import type { ProviderAdapter } from './types';

export interface MockProviderOptions {
  /** @default 'mock' */
  name?: string;
  /** Pause between streamed chunks, so an offline stream looks like one. @default 0 */
  streamDelayMs?: number;
  /** @default 30000 */
  timeoutMs?: number;
  /** @default 30000 */
  idleTimeoutMs?: number;
}

export async function createMockProvider(opts: MockProviderOptions = {}): Promise<ProviderAdapter> {
  const server = await startMockUpstream({ streamDelayMs: opts.streamDelayMs });
  const inner = createOpenAIProvider({
    name: opts.name ?? 'mock',
    type: 'mock',
    baseUrl: server.url,
    timeoutMs: opts.timeoutMs ?? 30_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
    maxConnections: 64,
  });
  return {
    name: inner.name,
    type: inner.type,
    supports: (surface) => inner.supports(surface),
    send: (req) => inner.send(req),
    probe: () => inner.probe(),
    async close() {
      await inner.close();
      await server.close();
    },
  };
}
