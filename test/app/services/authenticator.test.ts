import { AuthenticationError, ServiceUnavailableError } from '../../../app/errors';
import { createAuthenticator, type AuthenticatorOptions } from '../../../app/services/authenticator';
import { hashKey } from '../../../app/stores/keys';
import type { ApiKeyRecord } from '../../../app/stores/types';
import { keyRecord } from '../../support/fixtures';

const TTL = 2000;

function record(id: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return keyRecord({ id, name: id, createdAt: new Date('2030-01-01T00:00:00Z'), ...over });
}

/** A key store over a map of plaintext → record, counting lookups; `fail` makes it throw. */
function fakeStore(keys: Record<string, ApiKeyRecord>) {
  const byHash = new Map(Object.entries(keys).map(([k, r]) => [hashKey(k), r]));
  const state = { calls: 0, fail: false };
  const findByHash = jest.fn(async (hash: string) => {
    state.calls++;
    if (state.fail) throw new Error('connection refused');
    return byHash.get(hash) ?? null;
  });
  return {
    state,
    store: { findByHash },
    revoke(key: string) {
      byHash.set(hashKey(key), { ...byHash.get(hashKey(key))!, revokedAt: new Date() });
    },
  };
}

function setup(over: Partial<AuthenticatorOptions> = {}) {
  const fake = fakeStore({ 'sk-llm-alice': record('alice'), 'sk-llm-gone': record('gone', { revokedAt: new Date() }) });
  const clock = { t: 1_000_000 };
  const onStoreError = jest.fn();
  const auth = createAuthenticator({ keys: fake.store, ttlMs: TTL, now: () => clock.t, onStoreError, ...over });
  return { auth, fake, clock, onStoreError };
}

async function status(p: Promise<unknown>): Promise<number> {
  return p.then(
    () => 200,
    (e: { status: number }) => e.status,
  );
}

describe('authenticator: who is let in', () => {
  it('resolves a live key to its record', async () => {
    const { auth } = setup();
    expect(await auth.authenticate('sk-llm-alice')).toMatchObject({ id: 'alice' });
  });

  it.each([undefined, ''])('refuses a missing key (%j) with AuthenticationError, without a lookup', async (presented) => {
    const { auth, fake } = setup();
    const err = await auth.authenticate(presented).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'invalid_api_key', message: expect.stringMatching(/didn't provide an API key/) });
    expect(fake.state.calls).toBe(0);
  });

  it('refuses an unknown key with 401 invalid_api_key', async () => {
    const { auth } = setup();
    const err = await auth.authenticate('sk-llm-nobody').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 401, type: 'invalid_request_error', code: 'invalid_api_key' });
  });

  it('refuses a revoked key with 401', async () => {
    const { auth } = setup();
    await expect(auth.authenticate('sk-llm-gone')).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('looks keys up by their SHA-256 hash, never the plaintext', async () => {
    const { auth, fake } = setup();
    await auth.authenticate('sk-llm-alice');
    expect(fake.store.findByHash).toHaveBeenCalledWith(hashKey('sk-llm-alice'));
  });
});

describe('authenticator: caching', () => {
  it('serves repeat lookups within ttlMs from memory', async () => {
    const { auth, fake, clock } = setup();
    await auth.authenticate('sk-llm-alice');
    clock.t += TTL - 1;
    await auth.authenticate('sk-llm-alice');
    expect(fake.state.calls).toBe(1);
  });

  it('reads the store again after ttlMs, so a revocation takes effect', async () => {
    const { auth, fake, clock } = setup();
    await auth.authenticate('sk-llm-alice');
    fake.revoke('sk-llm-alice');
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(200); // still cached
    clock.t += TTL;
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(401);
    expect(fake.state.calls).toBe(2);
  });

  it('caches negative answers too', async () => {
    const { auth, fake, clock } = setup();
    expect(await status(auth.authenticate('sk-llm-nobody'))).toBe(401);
    clock.t += 100;
    expect(await status(auth.authenticate('sk-llm-nobody'))).toBe(401);
    expect(fake.state.calls).toBe(1);
  });

  it('shares one store call between concurrent lookups of one key', async () => {
    let release!: (r: ApiKeyRecord | null) => void;
    const findByHash = jest.fn(() => new Promise<ApiKeyRecord | null>((resolve) => (release = resolve)));
    const auth = createAuthenticator({ keys: { findByHash }, ttlMs: TTL });
    const all = Promise.all([1, 2, 3].map(() => auth.authenticate('sk-llm-alice')));
    await new Promise((resolve) => setImmediate(resolve));
    release(record('alice'));
    expect((await all).map((r) => r.id)).toEqual(['alice', 'alice', 'alice']);
    expect(findByHash).toHaveBeenCalledTimes(1);
  });

  it('keeps at most maxEntries keys, evicting the oldest', async () => {
    const fake = fakeStore({ 'sk-a': record('a'), 'sk-b': record('b'), 'sk-c': record('c') });
    const auth = createAuthenticator({ keys: fake.store, ttlMs: TTL, maxEntries: 2, now: () => 0 });
    for (const k of ['sk-a', 'sk-b', 'sk-c']) await auth.authenticate(k);
    expect(fake.state.calls).toBe(3);
    await auth.authenticate('sk-c');
    await auth.authenticate('sk-b');
    expect(fake.state.calls).toBe(3); // the two newest stayed
    await auth.authenticate('sk-a');
    expect(fake.state.calls).toBe(4); // the oldest was evicted
  });
});

describe('authenticator: key store down', () => {
  it('serves a known key from a stale-enough lookup and reports the error', async () => {
    const { auth, fake, clock, onStoreError } = setup({ staleMs: 60_000 });
    await auth.authenticate('sk-llm-alice');
    fake.state.fail = true;
    clock.t += 30_000;
    expect(await auth.authenticate('sk-llm-alice')).toMatchObject({ id: 'alice' });
    expect(onStoreError).toHaveBeenCalledWith(expect.objectContaining({ message: 'connection refused' }));
  });

  it('answers 503 once the last good lookup is older than staleMs', async () => {
    const { auth, fake, clock } = setup({ staleMs: 60_000 });
    await auth.authenticate('sk-llm-alice');
    fake.state.fail = true;
    clock.t += 60_000;
    const err = await auth.authenticate('sk-llm-alice').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect(err).toMatchObject({ status: 503, type: 'api_error', headers: { 'retry-after': '1' } });
  });

  it('answers 503 for a key it has never seen', async () => {
    const { auth, fake } = setup();
    fake.state.fail = true;
    const err = await auth.authenticate('sk-llm-alice').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as Error).message).not.toMatch(/connection refused/);
  });

  it('answers 503, not 401, for a key last seen as unknown', async () => {
    const { auth, fake, clock } = setup();
    expect(await status(auth.authenticate('sk-llm-nobody'))).toBe(401);
    fake.state.fail = true;
    clock.t += TTL;
    expect(await status(auth.authenticate('sk-llm-nobody'))).toBe(503);
  });

  it('recovers once the store answers again', async () => {
    const { auth, fake, clock } = setup();
    fake.state.fail = true;
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(503);
    fake.state.fail = false;
    clock.t += 1;
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(200);
  });
});

describe('authenticator: floods of unknown keys', () => {
  it('remembers unknown keys apart, so a flood of them never evicts a known key', async () => {
    const { auth, fake } = setup({ maxEntries: 2, maxNegativeEntries: 100 });
    await auth.authenticate('sk-llm-alice');
    for (let i = 0; i < 1000; i++) expect(await status(auth.authenticate(`sk-llm-guess-${i}`))).toBe(401);
    fake.state.fail = true; // and the database goes away: alice is still known
    expect(await auth.authenticate('sk-llm-alice')).toMatchObject({ id: 'alice' });
    expect(auth.knows('sk-llm-alice')).toBe(true);
    expect(auth.knows('sk-llm-guess-1')).toBe(false);
  });

  it('bounds the unknown keys it remembers, evicting the oldest', async () => {
    const { auth, fake } = setup({ maxNegativeEntries: 2 });
    for (const k of ['sk-x1', 'sk-x2', 'sk-x3']) await status(auth.authenticate(k));
    expect(fake.state.calls).toBe(3);
    await status(auth.authenticate('sk-x3'));
    await status(auth.authenticate('sk-x2'));
    expect(fake.state.calls).toBe(3);
    await status(auth.authenticate('sk-x1'));
    expect(fake.state.calls).toBe(4);
  });

  it('a key created after it was looked up as unknown works once ttlMs has passed', async () => {
    const fake = fakeStore({});
    const clock = { t: 0 };
    const auth = createAuthenticator({ keys: fake.store, ttlMs: TTL, now: () => clock.t });
    expect(await status(auth.authenticate('sk-llm-new'))).toBe(401);
    (fake.store.findByHash as jest.Mock).mockImplementation(async () => record('new'));
    clock.t += TTL;
    expect(await auth.authenticate('sk-llm-new')).toMatchObject({ id: 'new' });
  });
});

describe('authenticator: revocation broadcasts', () => {
  it('refuses a revoked key at once, from the cache, while the store is down', async () => {
    const { auth, fake } = setup();
    await auth.authenticate('sk-llm-alice');
    fake.state.fail = true;
    auth.revoked('alice');
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(401);
    expect(auth.knows('sk-llm-alice')).toBe(false);
  });

  it('refuses it even when a lagging store still says it is live', async () => {
    const { auth, clock } = setup();
    auth.revoked('alice');
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(401);
    clock.t += TTL * 10;
    expect(await status(auth.authenticate('sk-llm-alice'))).toBe(401);
  });

  it('leaves other keys alone', async () => {
    const fake = fakeStore({ 'sk-a': record('a'), 'sk-b': record('b') });
    const auth = createAuthenticator({ keys: fake.store, ttlMs: TTL });
    auth.revoked('a');
    expect(await status(auth.authenticate('sk-a'))).toBe(401);
    expect(await status(auth.authenticate('sk-b'))).toBe(200);
  });
});

describe('authenticator: lookups in flight', () => {
  it('bounds database lookups in flight: past the cap a known key is served from its last lookup, an unseen key gets 503', async () => {
    const releases: Array<() => void> = [];
    const known = record('known');
    let calls = 0;
    const findByHash = jest.fn((hash: string) => {
      calls++;
      if (hash === hashKey('sk-known') && calls === 1) return Promise.resolve(known);
      return new Promise<ApiKeyRecord | null>((resolve) => releases.push(() => resolve(null)));
    });
    const clock = { t: 0 };
    const auth = createAuthenticator({ keys: { findByHash }, ttlMs: TTL, maxConcurrentLookups: 2, now: () => clock.t });
    await auth.authenticate('sk-known');
    clock.t += TTL; // its lookup has expired: the next one would go to the database
    const flood = [auth.authenticate('sk-guess-1'), auth.authenticate('sk-guess-2')].map((p) => status(p));
    expect(findByHash).toHaveBeenCalledTimes(3);
    const busy = await auth.authenticate('sk-guess-3').catch((e: unknown) => e);
    expect(busy).toMatchObject({ status: 503, code: 'key_lookup_busy' });
    expect(await auth.authenticate('sk-known')).toMatchObject({ id: 'known' });
    expect(findByHash).toHaveBeenCalledTimes(3); // neither went to the database
    for (const release of releases) release();
    expect(await Promise.all(flood)).toEqual([401, 401]);
  });
});
