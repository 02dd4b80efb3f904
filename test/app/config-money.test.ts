import { ConfigError, loadConfig } from '../../app/config';

describe('config: the money settings', () => {
  it('defaults as DESIGN.md says: the shipped price table, rollups kept 800 days', () => {
    const c = loadConfig({});
    expect(c.PRICES_FILE).toBeUndefined();
    expect(c.USAGE_ROLLUP_RETENTION_DAYS).toBe(800);
    expect(c.USAGE_RETENTION_DAYS).toBe(90);
  });

  it('reads PRICES_FILE and USAGE_ROLLUP_RETENTION_DAYS', () => {
    expect(loadConfig({ PRICES_FILE: ' /etc/llm/prices.yaml ', USAGE_ROLLUP_RETENTION_DAYS: '400' })).toMatchObject({
      PRICES_FILE: '/etc/llm/prices.yaml',
      USAGE_ROLLUP_RETENTION_DAYS: 400,
    });
  });

  it('fails on rollups kept less than a month (a monthly budget re-seeds from them)', () => {
    expect(() => loadConfig({ USAGE_ROLLUP_RETENTION_DAYS: '7' })).toThrow(ConfigError);
    expect(() => loadConfig({ USAGE_ROLLUP_RETENTION_DAYS: '7' })).toThrow(/USAGE_ROLLUP_RETENTION_DAYS/);
  });
});
