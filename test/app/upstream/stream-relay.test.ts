import { performance } from 'node:perf_hooks';
import { PassThrough, Readable } from 'node:stream';
import { newRequestStats, type RequestStats } from '../../../app/lib/request-stats';
import { relayStream, type RelayOptions } from '../../../app/upstream/stream-relay';

const chunk = (content: string) =>
  JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content } }], usage: null });
const USAGE = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };
const USAGE_ONLY = JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [], usage: USAGE });
const ev = (data: string) => `data: ${data}\n\n`;
const DONE = 'data: [DONE]\n\n';

/** A byte stream (not object mode), as an HTTP body is. */
function source(parts: Array<string | Buffer>): Readable {
  return Readable.from(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)),
    { objectMode: false },
  );
}

interface Run {
  sink: PassThrough;
  stats: RequestStats;
  /** Everything written to the sink. */
  out: () => string;
}

function harness(): Run {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (b: Buffer) => (text += b.toString('utf8')));
  return { sink, stats: newRequestStats(), out: () => text };
}

async function relay(src: Readable, over: Partial<RelayOptions> = {}) {
  const h = harness();
  const outcome = await relayStream({
    source: src,
    sink: h.sink,
    signal: new AbortController().signal,
    stats: h.stats,
    startedAt: performance.now(),
    keepUsageChunk: false,
    collect: false,
    ...over,
  });
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { outcome, ...h };
}

/** The `data:` payloads written, in order. */
const payloads = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));

const streamError = (text: string) =>
  payloads(text)
    .filter((p) => p.startsWith('{"error"'))
    .map((p) => JSON.parse(p) as { error: { message: string; type: string; param: null; code: string } });

describe('relayStream: a complete stream', () => {
  const STREAM = [ev(chunk('Hello')), ': keep-alive\n\n', ev(chunk(' world')), ev(USAGE_ONLY), DONE];

  it('passes events and comments through unchanged, ends with [DONE] and closes the sink', async () => {
    const { outcome, out, sink, stats } = await relay(source(STREAM));
    expect(out()).toBe(ev(chunk('Hello')) + ': keep-alive\n\n' + ev(chunk(' world')) + DONE);
    expect(outcome).toMatchObject({ completed: true, clientClosed: false });
    expect(sink.writableEnded).toBe(true);
    expect(stats.streamOutcome).toBe('completed');
    expect(stats.upstreamError).toBeUndefined();
  });

  it('drops the usage-only chunk but still reports its usage', async () => {
    const { outcome, out } = await relay(source(STREAM), { keepUsageChunk: false });
    expect(out()).not.toContain('"choices":[]');
    expect(outcome.usage).toEqual(USAGE);
  });

  it('keeps the usage-only chunk, just before [DONE], when the caller asked for it', async () => {
    const { outcome, out } = await relay(source(STREAM), { keepUsageChunk: true });
    expect(payloads(out()).slice(-2)).toEqual([USAGE_ONLY, '[DONE]']);
    expect(outcome.usage).toEqual(USAGE);
  });

  it('collects every data payload except [DONE] when collect is set', async () => {
    const { outcome } = await relay(source(STREAM), { collect: true });
    expect(outcome.events).toEqual([chunk('Hello'), chunk(' world'), USAGE_ONLY]);
  });

  it('collects nothing when collect is off', async () => {
    const { outcome } = await relay(source(STREAM), { collect: false });
    expect(outcome.events).toBeUndefined();
  });

  it('relays the same bytes whichever byte offset the upstream body is split at', async () => {
    const text = ev(chunk('naïve café 👋')) + DONE;
    const bytes = Buffer.from(text);
    for (let i = 1; i < bytes.length; i++) {
      const { out, outcome } = await relay(source([bytes.subarray(0, i), bytes.subarray(i)]));
      if (out() !== text || !outcome.completed) throw new Error(`split at byte ${i} changed the stream: ${out()}`);
    }
  });

  it('sets ttftMs from startedAt at the first byte written, and counts upstream time', async () => {
    const startedAt = performance.now() - 100;
    const { stats } = await relay(source(STREAM), { startedAt });
    expect(stats.ttftMs).toBeGreaterThanOrEqual(100);
    expect(stats.ttftMs).toBeLessThan(1000);
    expect(stats.upstreamMs).toBeGreaterThan(0);
  });
});

describe('relayStream: a failing stream', () => {
  it('replaces a garbage data event with an error event: no [DONE], not completed', async () => {
    const src = source([ev(chunk('a')) + 'data: {"id": broken\n\n' + ev(chunk('b')), DONE]);
    const { outcome, out, stats, sink } = await relay(src, { collect: true });
    expect(payloads(out())).toEqual([chunk('a'), expect.stringContaining('"error"')]);
    expect(streamError(out())).toEqual([
      { error: { message: expect.stringMatching(/malformed/), type: 'api_error', param: null, code: 'upstream_error' } },
    ]);
    expect(out()).not.toContain('[DONE]');
    expect(outcome).toEqual({ completed: false, clientClosed: false, usage: undefined, events: undefined });
    expect(src.destroyed).toBe(true);
    expect(sink.writableEnded).toBe(true);
    expect(stats).toMatchObject({ upstreamError: 'stream', streamOutcome: 'error' });
  });

  it('ends a stream that stops without [DONE] with an error event', async () => {
    const { outcome, out, stats } = await relay(source([ev(chunk('a')), ev(chunk('b'))]));
    expect(payloads(out()).slice(0, 2)).toEqual([chunk('a'), chunk('b')]);
    expect(streamError(out())).toHaveLength(1);
    expect(streamError(out())[0].error.message).toMatch(/ended the stream early/);
    expect(outcome.completed).toBe(false);
    expect(stats.streamOutcome).toBe('error');
  });

  it('discards an unterminated last event (as SSE does), so [DONE] without its blank line is an early end', async () => {
    const { outcome, out } = await relay(source([ev(chunk('a')), 'data: [DONE]\n']));
    expect(outcome.completed).toBe(false);
    expect(streamError(out())).toHaveLength(1);
  });

  it('ends a stream whose source errors mid-way with an error event', async () => {
    async function* broken() {
      yield Buffer.from(ev(chunk('a')));
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    const { outcome, out, stats, sink } = await relay(Readable.from(broken(), { objectMode: false }));
    expect(payloads(out())[0]).toBe(chunk('a'));
    expect(streamError(out())).toHaveLength(1);
    expect(streamError(out())[0].error.message).toMatch(/failed during the stream/);
    expect(out()).not.toContain('socket hang up');
    expect(outcome).toMatchObject({ completed: false, clientClosed: false });
    expect(sink.writableEnded).toBe(true);
    expect(stats.upstreamError).toBe('stream');
  });

  it("passes the upstream's own error event through without adding another", async () => {
    const upstreamError = JSON.stringify({ error: { message: 'overloaded', type: 'server_error', param: null, code: null } });
    const { outcome, out, stats } = await relay(source([ev(chunk('a')), ev(upstreamError)]), { collect: true });
    expect(payloads(out())).toEqual([chunk('a'), upstreamError]);
    expect(outcome).toMatchObject({ completed: false, events: undefined });
    expect(stats).toMatchObject({ upstreamError: 'stream', streamOutcome: 'error' });
  });
});

describe('relayStream: the client leaving', () => {
  it('stops, reports clientClosed and destroys the sink when the signal aborts', async () => {
    const ac = new AbortController();
    const src = new PassThrough();
    // The upstream request shares the signal; undici destroys its body when it aborts.
    ac.signal.addEventListener('abort', () => src.destroy(new Error('aborted')));
    const h = harness();
    const firstByte = new Promise((resolve) => h.sink.once('data', resolve));
    const pending = relayStream({
      source: src,
      sink: h.sink,
      signal: ac.signal,
      stats: h.stats,
      startedAt: performance.now(),
      keepUsageChunk: false,
      collect: true,
    });
    src.write(ev(chunk('a')));
    await firstByte;
    ac.abort();
    const outcome = await pending;
    expect(outcome).toMatchObject({ completed: false, clientClosed: true });
    expect(outcome.events).toBeUndefined();
    expect(h.sink.destroyed).toBe(true);
    expect(h.out()).not.toContain('"error"');
    expect(h.stats.streamOutcome).toBe('client_closed');
  });

  it('stops waiting for a client that is not reading once the signal aborts', async () => {
    const ac = new AbortController();
    const sink = new PassThrough({ highWaterMark: 1 }); // nobody reads: every write is backpressured
    const src = new PassThrough();
    src.write(ev(chunk('a')));
    const stats = newRequestStats();
    const pending = relayStream({
      source: src,
      sink,
      signal: ac.signal,
      stats,
      startedAt: performance.now(),
      keepUsageChunk: false,
      collect: false,
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    ac.abort();
    const outcome = await pending;
    expect(outcome.clientClosed).toBe(true);
    expect(sink.destroyed).toBe(true);
    expect(stats.streamOutcome).toBe('client_closed');
    src.destroy();
  });
});
