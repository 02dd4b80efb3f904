import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createFailSafeCache } from '../../../app/stores/cache-fail-safe';
import { createMemoryCache } from '../../../app/stores/cache-memory';
import { createRedisCache } from '../../../app/stores/cache-redis';
import type { CachedAnswer, ResponseCache } from '../../../app/stores/types';
import { TEST_REDIS_URL } from '../../support/test-db';

const prefix = `test:cache:${randomBytes(6).toString('hex')}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let redis: Redis;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 0 });
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

const json: CachedAnswer = { kind: 'json', body: '{"id":"chatcmpl-1","choices":[{"message":{"content":"héllo"}}]}' };
const stream: CachedAnswer = { kind: 'stream', events: ['{"choices":[{"delta":{"content":"a"}}]}', '{"choices":[]}'] };

describe.each<[string, (maxEntryBytes: number) => ResponseCache]>([
  ['redis', (maxEntryBytes) => createRedisCache({ redis, prefix, maxEntryBytes })],
  ['memory', (maxEntryBytes) => createMemoryCache({ maxEntryBytes })],
])('%s response cache', (_name, make) => {
  const key = () => randomBytes(8).toString('hex');

  it('returns what was stored, for both kinds of answer', async () => {
    const cache = make(10_000);
    const [a, b] = [key(), key()];
    await cache.set(a, json, 60);
    await cache.set(b, stream, 60);
    expect(await cache.get(a)).toEqual(json);
    expect(await cache.get(b)).toEqual(stream);
    expect(await cache.get(key())).toBeNull();
    await expect(cache.ping()).resolves.toBeUndefined();
  });

  it('forgets entries after their TTL', async () => {
    const cache = make(10_000);
    const k = key();
    await cache.set(k, json, 0.2);
    expect(await cache.get(k)).toEqual(json);
    await sleep(300);
    expect(await cache.get(k)).toBeNull();
  });

  it('does not store answers over the size cap', async () => {
    const cache = make(100);
    const [small, big] = [key(), key()];
    await cache.set(small, { kind: 'json', body: 'x'.repeat(50) }, 60);
    await cache.set(big, { kind: 'json', body: 'x'.repeat(100) }, 60);
    expect(await cache.get(small)).not.toBeNull();
    expect(await cache.get(big)).toBeNull();
  });

  it('hands out copies: mutating an answer does not change the cache', async () => {
    const cache = make(10_000);
    const k = key();
    await cache.set(k, { kind: 'stream', events: ['a'] }, 60);
    const got = (await cache.get(k)) as { kind: 'stream'; events: string[] };
    got.events.push('b');
    expect(await cache.get(k)).toEqual({ kind: 'stream', events: ['a'] });
  });
});

describe('memory cache bounds', () => {
  it('evicts the least recently used entry past maxEntries', async () => {
    const cache = createMemoryCache({ maxEntryBytes: 1000, maxEntries: 2 });
    await cache.set('a', json, 60);
    await cache.set('b', json, 60);
    await cache.get('a');
    await cache.set('c', json, 60);
    expect(await cache.get('a')).not.toBeNull();
    expect(await cache.get('b')).toBeNull();
    expect(await cache.get('c')).not.toBeNull();
  });

  it('evicts past maxTotalBytes', async () => {
    const cache = createMemoryCache({ maxEntryBytes: 1000, maxTotalBytes: 250 });
    const entry: CachedAnswer = { kind: 'json', body: 'x'.repeat(80) };
    for (const k of ['a', 'b', 'c']) await cache.set(k, entry, 60);
    expect(await cache.get('a')).toBeNull();
    expect(await cache.get('b')).not.toBeNull();
    expect(await cache.get('c')).not.toBeNull();
  });

  it('uses the injected clock for expiry', async () => {
    let t = 1000;
    const cache = createMemoryCache({ maxEntryBytes: 1000, now: () => t });
    await cache.set('a', json, 10);
    t += 9_999;
    expect(await cache.get('a')).not.toBeNull();
    t += 1;
    expect(await cache.get('a')).toBeNull();
  });
});

describe('fail-safe cache', () => {
  it('turns a dead Redis into misses and skipped writes, fast, and reports each', async () => {
    const dead = new Redis({
      host: '127.0.0.1',
      port: 1,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      disconnectTimeout: 20,
    });
    dead.on('error', () => undefined);
    try {
      const onError = jest.fn();
      const cache = createFailSafeCache({ cache: createRedisCache({ redis: dead, maxEntryBytes: 1000 }), onError });
      const started = Date.now();
      expect(await cache.get('k')).toBeNull();
      await expect(cache.set('k', json, 60)).resolves.toBeUndefined();
      expect(Date.now() - started).toBeLessThan(200);
      expect(onError.mock.calls.map((c) => c[1])).toEqual(['get', 'set']);
      await expect(cache.ping()).rejects.toThrow();
    } finally {
      dead.disconnect();
    }
  });

  it('gives up on a store that hangs after its deadline', async () => {
    const hanging: ResponseCache = {
      get: () => new Promise(() => undefined),
      set: () => new Promise(() => undefined),
      ping: async () => undefined,
      close: async () => undefined,
    };
    const onError = jest.fn();
    const cache = createFailSafeCache({ cache: hanging, onError, timeoutMs: 30 });
    const started = Date.now();
    expect(await cache.get('k')).toBeNull();
    expect(Date.now() - started).toBeLessThan(100);
    expect(onError.mock.calls[0][0]).toMatchObject({ name: 'StoreTimeoutError' });
  });
});
