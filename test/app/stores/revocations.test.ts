import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import {
  createMemoryRevocations,
  createRedisRevocations,
  withRevocationBroadcast,
  type Revocations,
} from '../../../app/stores/revocations';
import { TEST_REDIS_URL } from '../../support/test-db';

/** Resolves with the first id `revocations` hears, or rejects after `ms`. */
function nextRevocation(revocations: Revocations, ms = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no revocation heard within ${ms} ms`)), ms);
    const off = revocations.subscribe((id) => {
      clearTimeout(timer);
      off();
      resolve(id);
    });
  });
}

describe('revocations over Redis pub/sub', () => {
  const clients: Redis[] = [];
  const replicas: Revocations[] = [];
  const channel = `llm-api-test:revocations:${randomUUID()}`;

  function replica(): Revocations {
    const redis = new Redis(TEST_REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    clients.push(redis);
    const r = createRedisRevocations({ redis, subscriber, channel });
    replicas.push(r);
    return r;
  }

  /** Waits until `n` connections are subscribed to the channel. */
  async function subscribed(n: number) {
    const probe = new Redis(TEST_REDIS_URL);
    try {
      for (let i = 0; i < 50; i++) {
        const [, count] = (await probe.pubsub('NUMSUB', channel)) as [string, number];
        if (Number(count) >= n) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`fewer than ${n} subscribers on ${channel}`);
    } finally {
      probe.disconnect();
    }
  }

  afterAll(async () => {
    for (const r of replicas) await r.close();
    for (const c of clients) await c.quit();
  });

  it('reaches every replica within a second, the publisher first and synchronously', async () => {
    const a = replica();
    const b = replica();
    const c = replica();
    await subscribed(3);
    const heardByA: string[] = [];
    a.subscribe((id) => heardByA.push(id));
    const atB = nextRevocation(b);
    const atC = nextRevocation(c);
    const started = Date.now();
    const published = a.publish('key-1');
    expect(heardByA).toEqual(['key-1']); // before any round trip
    await published;
    expect(await atB).toBe('key-1');
    expect(await atC).toBe('key-1');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('does not hear other channels', async () => {
    const mine = replica();
    const otherRedis = new Redis(TEST_REDIS_URL);
    clients.push(otherRedis);
    await subscribed(4);
    const heard: string[] = [];
    mine.subscribe((id) => heard.push(id));
    await otherRedis.publish(`${channel}:other`, 'key-x');
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([]);
  });

  it('still applies locally when Redis refuses the publish', async () => {
    const redis = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    const subscriber = new Redis('redis://127.0.0.1:1', { lazyConnect: true, retryStrategy: () => null });
    subscriber.on('error', () => undefined);
    const onError = jest.fn();
    const r = createRedisRevocations({ redis, subscriber, channel, onError });
    const heard: string[] = [];
    r.subscribe((id) => heard.push(id));
    await r.publish('key-2');
    expect(heard).toEqual(['key-2']);
    expect(onError).toHaveBeenCalled();
    subscriber.disconnect();
    redis.disconnect();
  });
});

describe('revocations in process', () => {
  it('tells its own listeners, and unsubscribing stops that', async () => {
    const r = createMemoryRevocations();
    const heard: string[] = [];
    const off = r.subscribe((id) => heard.push(id));
    await r.publish('a');
    off();
    await r.publish('b');
    expect(heard).toEqual(['a']);
  });
});

describe('withRevocationBroadcast', () => {
  it('broadcasts a revocation the store recorded, and only that', async () => {
    const r = createMemoryRevocations();
    const heard: string[] = [];
    r.subscribe((id) => heard.push(id));
    const store = { revoke: jest.fn(async (id: string) => id === 'live'), list: () => 'kept' };
    const keys = withRevocationBroadcast(store, r);
    expect(await keys.revoke('live')).toBe(true);
    expect(await keys.revoke('gone')).toBe(false);
    expect(heard).toEqual(['live']);
    expect(keys.list()).toBe('kept'); // the rest of the store is untouched
  });
});
