/**
 * The built-in offline upstream as a provider: the mock HTTP server (app/upstream/mock-upstream.ts)
 * on a loopback port, reached through the OpenAI adapter like any other server, so the offline
 * path runs the same code as production. The server starts on first use, so building the
 * provider from configuration stays synchronous.
 */
import { startMockUpstream, type MockUpstream } from '../upstream/mock-upstream';
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

export function createMockProvider(opts: MockProviderOptions = {}): ProviderAdapter {
  const name = opts.name ?? 'mock';
  let started: Promise<{ server: MockUpstream; inner: ProviderAdapter }> | undefined;
  const start = () =>
    (started ??= startMockUpstream({ streamDelayMs: opts.streamDelayMs }).then((server) => ({
      server,
      inner: createOpenAIProvider({
        name,
        type: 'mock',
        baseUrl: server.url,
        timeoutMs: opts.timeoutMs ?? 30_000,
        idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
        maxConnections: 64,
      }),
    })));
  return {
    name,
    type: 'mock',
    supports: () => true,
    send: async (req) => (await start()).inner.send(req),
    objectRequest: async (req) => (await start()).inner.objectRequest!(req),
    probe: async () => (await start()).inner.probe(),
    async close() {
      if (!started) return;
      const { server, inner } = await started;
      started = undefined;
      await inner.close();
      await server.close();
    },
  };
}
