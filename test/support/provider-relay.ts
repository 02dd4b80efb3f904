/**
 * A minimal HTTP front for one provider adapter, so the official OpenAI and Anthropic SDKs can
 * talk to an adapter as they would to the gateway: the path picks the surface, a JSON answer is
 * written as is, a stream as SSE events (with their names). Errors answer the API's error body.
 * Test-only: no auth, limits or routing — that is the pipeline's job.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../../app/errors';
import { frameSse } from '../../app/providers/sse-events';
import type { ProviderAdapter, Surface } from '../../app/providers/types';

const SURFACES: Record<string, Surface> = {
  '/v1/chat/completions': 'chat',
  '/v1/responses': 'responses',
  '/v1/messages': 'messages',
  '/v1/embeddings': 'embeddings',
  '/v1/completions': 'completions',
  '/v1/moderations': 'moderations',
};

export interface Relay {
  url: string;
  close(): Promise<void>;
}

export async function startRelay(provider: ProviderAdapter, model?: string): Promise<Relay> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const surface = SURFACES[(req.url ?? '').split('?')[0]];
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      const headers: Record<string, string> = {};
      for (const h of ['anthropic-version', 'anthropic-beta']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h] as string;
      provider
        .send({ surface, model: model ?? String(body.model), body, stream: body.stream === true, signal: ac.signal, headers })
        .then(async (answer) => {
          if (answer.kind === 'json') {
            res.writeHead(200, { 'content-type': 'application/json' }).end(answer.body);
            return;
          }
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for await (const e of answer.events) res.write(frameSse(e));
          res.end();
        })
        .catch((err: unknown) => {
          if (res.headersSent) return void res.destroy();
          const e = err instanceof ApiError ? err : new ApiError(500, String(err), 'api_error');
          res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify(e.toBody()));
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
