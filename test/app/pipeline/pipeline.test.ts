import { Writable } from 'node:stream';
import { createPipeline, type PipelineDeps, type PipelineResult } from '../../../app/pipeline/pipeline';
import type { ProviderAdapter } from '../../../app/providers/types';
import { parseRoutingDocument } from '../../../app/routing/document';
import { buildRoutes, createRouter } from '../../../app/routing/router';
import { createMemoryCache } from '../../../app/stores/cache-memory';
import { createMemoryLimiter } from '../../../app/stores/limiter-memory';
import type { ObjectOwner } from '../../../app/stores/object-owners';
import type { ApiKeyRecord, UsageRecord } from '../../../app/stores/types';
import type { AnyCodec } from '../../../app/surfaces/codec';
import { chatCodec } from '../../../app/surfaces/chat';
import { responsesCodec } from '../../../app/surfaces/responses';
import { createScrubber } from '../../../app/security/scrub';
import { keyRecord } from '../../support/fixtures';
import { chatCompletion, fakeProvider, json, stream, type Behaviour, type FakeProvider } from '../../support/fake-provider';

const chat = chatCodec as unknown as AnyCodec;

function chunk(content: string) {
  return { data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] }) };
}
const usageChunk = { data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 11, completion_tokens: 20, total_tokens: 31 } }) };
const DONE = { data: '[DONE]' };

function setup(script: Behaviour[]) {
  const provider: FakeProvider = fakeProvider('p', script);
  const doc = parseRoutingDocument({ providers: { p: { type: 'mock' } }, models: { '*': { deployments: [{ provider: 'p' }] } } });
  const router = createRouter({ routes: buildRoutes(doc, new Map<string, ProviderAdapter>([['p', provider]])), maxAttempts: 3, maxInflightPerProvider: 100, retryBaseMs: 1 });
  const rows: UsageRecord[] = [];
  const owned = new Map<string, ObjectOwner>();
  const deps: PipelineDeps = {
    router,
    limiter: createMemoryLimiter({}),
    limits: { rpm: 1000, tpm: 1_000_000 },
    cache: createMemoryCache({ maxEntryBytes: 1 << 20 }),
    cacheTtlSeconds: 60,
    usage: { record: (r) => rows.push(r) },
    owners: {
      remember: (id, o) => void owned.set(id, o),
      owner: async (id) => owned.get(id) ?? null,
      forget: async (id) => void owned.delete(id),
      deleteOlderThan: async () => 0,
    },
    defaultCompletionReserve: 1024,
    scrubber: createScrubber({ secrets: ['SECRET-123456'] }),
    onBackgroundError: (err) => {
      throw err;
    },
  };
  return { pipeline: createPipeline(deps), provider, rows, owned };
}

function run(p: ReturnType<typeof setup>, body: unknown, opts: { key?: ApiKeyRecord; codec?: AnyCodec; signal?: AbortSignal; noCache?: boolean } = {}) {
  return p.pipeline.run({
    codec: opts.codec ?? chat,
    key: opts.key ?? keyRecord(),
    body,
    requestId: 'req_1',
    forwardHeaders: {},
    noCache: opts.noCache ?? false,
    signal: opts.signal ?? new AbortController().signal,
    startedAt: performance.now(),
  });
}

async function drain(r: PipelineResult): Promise<string> {
  if (r.answer.kind !== 'stream') throw new Error(`expected a stream, got ${r.answer.kind}`);
  let text = '';
  for await (const c of r.answer.stream) text += String(c);
  return text;
}

const CHAT = { model: 'gpt-x', messages: [{ role: 'user', content: 'hello there' }] };

describe('pipeline', () => {
  it('answers JSON, records usage once, and returns the outcome', async () => {
    const p = setup([json(chatCompletion())]);
    const r = await run(p, CHAT);
    expect(r.answer.kind).toBe('json');
    expect(r.answer.headers).toMatchObject({ 'x-cache': 'BYPASS', 'x-ratelimit-limit-requests': '1000' });
    expect(r.answer.headers['server-timing']).toMatch(/^gateway;dur=\d+\.\d{3}, upstream;dur=\d+\.\d{3}$/);
    const o = await r.outcome;
    expect(o).toMatchObject({ model: 'gpt-x', attempts: 1, promptTokens: 5, completionTokens: 2, cache: 'bypass', provider: 'p', deployment: '*#0' });
    expect(p.rows).toHaveLength(1);
    expect(p.rows[0]).toMatchObject({ model: 'gpt-x', promptTokens: 5, completionTokens: 2, status: 200, cached: false });
  });

  it('refuses a model outside the allow-list with 403 and an unknown body field type with 400', async () => {
    const p = setup([json(chatCompletion())]);
    const r = await run(p, CHAT, { key: keyRecord({ models: ['other'] }) });
    expect(r.answer).toMatchObject({ kind: 'error', error: { status: 403, code: 'model_not_allowed' } });
    const bad = await run(p, { model: 'x', messages: 'nope' });
    expect(bad.answer).toMatchObject({ kind: 'error', error: { status: 400, param: 'messages' } });
    expect(p.provider.calls).toHaveLength(0);
  });

  it('counts invalid requests against rpm: a flood of bad bodies meets 429', async () => {
    const p = setup([json(chatCompletion())]);
    const key = keyRecord({ rpm: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(((await run(p, { model: 'x' }, { key })).answer as { error: { status: number } }).error.status);
    expect(statuses).toEqual([400, 400, 429, 429]);
  });

  it('caps the reservation at the per-minute token limit, so a huge max_tokens is served', async () => {
    const p = setup([json(chatCompletion())]);
    const r = await run(p, { ...CHAT, max_completion_tokens: 128_000 }, { key: keyRecord({ tpm: 10_000 }) });
    expect(r.answer.kind).toBe('json');
  });

  it('serves a deterministic request from the cache the second time, usage marked cached', async () => {
    const p = setup([json(chatCompletion())]);
    const key = keyRecord();
    await (await run(p, { ...CHAT, temperature: 0 }, { key })).outcome;
    const r = await run(p, { ...CHAT, temperature: 0 }, { key });
    expect(r.answer.headers['x-cache']).toBe('HIT');
    expect(p.provider.calls).toHaveLength(1);
    expect(p.rows[1]).toMatchObject({ cached: true, promptTokens: 5 });
    const other = await run(p, { ...CHAT, temperature: 0 }, { key: keyRecord() });
    expect(other.answer.headers['x-cache']).toBe('MISS');
  });

  it('streams events through, drops the usage chunk the caller did not ask for, and records its usage', async () => {
    const p = setup([stream([chunk('a'), chunk('b'), usageChunk, DONE])]);
    const r = await run(p, { ...CHAT, stream: true });
    const text = await drain(r);
    expect(text).toBe(`data: ${chunk('a').data}\n\ndata: ${chunk('b').data}\n\ndata: [DONE]\n\n`);
    expect((p.provider.calls[0].body as { stream_options: unknown }).stream_options).toEqual({ include_usage: true });
    const o = await r.outcome;
    expect(o).toMatchObject({ stream: 'completed', promptTokens: 11, completionTokens: 20 });
    expect(p.rows[0]).toMatchObject({ status: 200, completionTokens: 20 });
  });

  it('keeps the usage chunk for a caller that asked for it', async () => {
    const p = setup([stream([chunk('a'), usageChunk, DONE])]);
    const text = await drain(await run(p, { ...CHAT, stream: true, stream_options: { include_usage: true } }));
    expect(text).toContain('"usage"');
  });

  it('charges what was served when the provider cuts the stream: estimated, never zero', async () => {
    const events = Array.from({ length: 20 }, (_, i) => chunk(`word${i} `));
    const p = setup([stream([...events, usageChunk, DONE], { failAfter: 3 })]);
    const r = await run(p, { ...CHAT, stream: true });
    const text = await drain(r);
    expect(text).toContain('"error"');
    const o = await r.outcome;
    expect(o.stream).toBe('error');
    expect(o.usage?.estimated).toBe(true);
    expect(o.completionTokens).toBeGreaterThan(0);
    expect(p.rows[0].status).toBe(502);
  });

  it('charges what was served when the caller hangs up mid-stream (499)', async () => {
    const controller = new AbortController();
    async function* slow() {
      for (let i = 0; i < 20; i++) {
        if (controller.signal.aborted) throw new Error('aborted');
        yield chunk(`token${i} `);
        await new Promise((r) => setTimeout(r, 5));
      }
      yield usageChunk;
      yield DONE;
    }
    const p = setup([{ kind: 'stream', events: slow(), headers: {} }]);
    const r = await run(p, { ...CHAT, stream: true }, { signal: controller.signal });
    if (r.answer.kind !== 'stream') throw new Error('no stream');
    let seen = 0;
    await new Promise<void>((resolve) => {
      r.answer.kind === 'stream' &&
        r.answer.stream.pipe(
          new Writable({
            write(_c, _e, cb) {
              if (++seen === 3) {
                controller.abort();
                resolve();
              }
              cb();
            },
          }),
        );
    });
    const o = await r.outcome;
    expect(o.stream).toBe('client_closed');
    expect(o.completionTokens).toBeGreaterThan(0);
    expect(p.rows[0]).toMatchObject({ status: 499 });
  });

  it('scrubs provider credentials out of error events', async () => {
    const err = { data: JSON.stringify({ error: { message: 'bad key SECRET-123456', type: 'x', param: 'Bearer SECRET-123456', code: null } }) };
    const p = setup([stream([chunk('a'), err])]);
    const text = await drain(await run(p, { ...CHAT, stream: true }));
    expect(text).not.toContain('SECRET-123456');
    const last = JSON.parse(text.trim().split('\n\n').at(-1)!.slice(6));
    expect(last.error).toMatchObject({ message: expect.stringContaining('[redacted]'), param: null });
  });

  it('remembers the responses a key created', async () => {
    const p = setup([json({ id: 'resp_abc', object: 'response', status: 'completed', output: [], usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } })]);
    const key = keyRecord();
    const r = await run(p, { model: 'gpt-x', input: 'hi' }, { key, codec: responsesCodec as unknown as AnyCodec });
    expect(r.answer.kind).toBe('json');
    expect(p.owned.get('resp_abc')).toEqual({ keyId: key.id, provider: 'p' });
    expect((await r.outcome).promptTokens).toBe(3);
  });
});
