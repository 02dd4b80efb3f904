import { ConfigError, backends, loadConfig } from '../../app/config';

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('config defaults', () => {
  it('matches the DESIGN.md table with an empty environment', () => {
    expect(loadConfig({})).toMatchObject({
      PORT: 8000,
      HOST: '0.0.0.0',
      METRICS_PORT: 9464,
      WORKERS: 1,
      LOG_LEVEL: 'info',
      UPSTREAM_TIMEOUT_MS: 600_000,
      UPSTREAM_IDLE_TIMEOUT_MS: 120_000,
      UPSTREAM_MAX_RETRIES: 2,
      BODY_LIMIT_BYTES: 33_554_432,
      CACHE_TTL_SECONDS: 3600,
      DEFAULT_RPM: 60,
      DEFAULT_TPM: 100_000,
      RATE_LIMIT_FAIL_OPEN: true,
      BATCH_MAX_CONCURRENCY: 5,
      BATCH_MAX_ITEMS: 100,
      SHUTDOWN_GRACE_MS: 25_000,
      DATA_DIR: '.data',
    });
  });

  it('leaves every external service unset, and keeps the revocation window within 5 s', () => {
    const c = loadConfig({});
    for (const name of ['OPENAI_BASE_URL', 'OPENAI_API_KEY', 'ADMIN_API_KEY', 'DATABASE_URL', 'PGHOST', 'REDIS_URL', 'MODELS_FILE', 'MODELS_CONFIG', 'CORS_ORIGINS'] as const) {
      expect(c[name]).toBeUndefined();
    }
    expect(c.KEY_CACHE_TTL_MS).toBeLessThanOrEqual(5000);
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root' })).not.toHaveProperty('PATH');
  });
});

describe('config coercion', () => {
  it('turns numeric strings into numbers', () => {
    const c = loadConfig({ PORT: '8080', WORKERS: '4', UPSTREAM_MAX_RETRIES: '0', DEFAULT_TPM: '250000' });
    expect(c).toMatchObject({ PORT: 8080, WORKERS: 4, UPSTREAM_MAX_RETRIES: 0, DEFAULT_TPM: 250_000 });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['no', false],
    ['off', false],
  ])('reads RATE_LIMIT_FAIL_OPEN=%s as %p', (value, expected) => {
    expect(loadConfig({ RATE_LIMIT_FAIL_OPEN: value }).RATE_LIMIT_FAIL_OPEN).toBe(expected);
  });

  it('trims optional strings', () => {
    expect(loadConfig({ OPENAI_API_KEY: '  sk-x \n' }).OPENAI_API_KEY).toBe('sk-x');
  });

  it.each([
    ['DATABASE_URL', ''],
    ['REDIS_URL', '   '],
    ['OPENAI_BASE_URL', ''],
    ['OPENAI_API_KEY', ''],
    ['PORT', ''],
    ['METRICS_PORT', ''],
    ['UPSTREAM_MAX_RETRIES', ''],
    ['SHUTDOWN_GRACE_MS', ' '],
    ['RATE_LIMIT_FAIL_OPEN', ''],
    ['HOST', ''],
    ['DATA_DIR', ''],
  ])('treats an empty %s as unset', (name, value) => {
    expect(loadConfig({ [name]: value })).toEqual(loadConfig({}));
  });
});

describe('config errors', () => {
  it.each([
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['METRICS_PORT', '-1'],
    ['WORKERS', '0'],
    ['LOG_LEVEL', 'loud'],
    ['UPSTREAM_TIMEOUT_MS', '1.5'],
    ['UPSTREAM_MAX_RETRIES', '11'],
    ['BODY_LIMIT_BYTES', '100'],
    ['RATE_LIMIT_FAIL_OPEN', 'maybe'],
    ['KEY_CACHE_TTL_MS', '60000'],
    ['OPENAI_BASE_URL', 'not a url'],
  ])('refuses %s=%s with a ConfigError naming it', (name, value) => {
    expect(configError({ [name]: value })).toMatch(new RegExp(`\\b${name}: `));
  });

  it('names every bad variable at once', () => {
    const message = configError({ PORT: 'x', WORKERS: '0', LOG_LEVEL: 'loud', DEFAULT_RPM: '1' });
    expect(message).toMatch(/^invalid configuration: /);
    for (const name of ['PORT', 'WORKERS', 'LOG_LEVEL']) expect(message).toContain(`${name}: `);
    expect(message).not.toContain('DEFAULT_RPM');
  });

  it('never echoes a secret it could not parse', () => {
    expect(configError({ OPENAI_BASE_URL: 'sk-secret-value' })).not.toContain('sk-secret-value');
  });
});

describe('backends', () => {
  const pick = (env: NodeJS.ProcessEnv) => backends(loadConfig(env));

  it('selects the embedded backends with nothing configured', () => {
    expect(pick({})).toEqual({ database: 'pglite', redis: 'memory', upstream: 'mock' });
  });

  it.each([
    [{ DATABASE_URL: 'postgres://db/llm' }],
    [{ PGHOST: 'db.internal' }],
  ])('selects Postgres from %j', (env) => {
    expect(pick(env).database).toBe('postgres');
  });

  it('selects Redis from REDIS_URL', () => {
    expect(pick({ REDIS_URL: 'rediss://cache:6379' }).redis).toBe('redis');
  });

  it.each([
    [{ OPENAI_API_KEY: 'sk-x' }],
    [{ OPENAI_BASE_URL: 'http://vllm:8000/v1' }],
    [{ OPENAI_API_KEY_SECRET_ID: 'llm/openai' }],
  ])('selects the HTTP upstream from %j', (env) => {
    expect(pick(env).upstream).toBe('http');
  });

  it('stays embedded when the selecting variables are empty', () => {
    expect(pick({ DATABASE_URL: '', PGHOST: ' ', REDIS_URL: '', OPENAI_API_KEY: '' })).toEqual({
      database: 'pglite',
      redis: 'memory',
      upstream: 'mock',
    });
  });
});
