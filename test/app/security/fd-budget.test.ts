import { hardLimit } from '../../../app/security/connections';
import { fitConnectionCap, openFileLimit } from '../../../app/security/fd-budget';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                65536                files
Max locked memory         8388608              8388608              bytes`;

describe('fd budget', () => {
  it('reads the soft open-file limit', () => {
    expect(openFileLimit(LIMITS)).toBe(20000);
    expect(openFileLimit(LIMITS.replace('20000  ', 'unlimited'))).toBeUndefined();
    expect(openFileLimit('')).toBeUndefined();
  });

  it('keeps a cap that fits', () => {
    expect(fitConnectionCap({ configured: 10_000, fileLimit: 65_535, upstreamConnections: 1024, databasePool: 10 })).toEqual({
      maxConnections: 10_000,
    });
    expect(fitConnectionCap({ configured: 10_000, fileLimit: undefined, upstreamConnections: 1024, databasePool: 10 })).toEqual({
      maxConnections: 10_000,
    });
  });

  it('lowers a cap whose hard limit would leave no descriptors for upstream calls, and says why', () => {
    const fit = fitConnectionCap({ configured: 10_000, fileLimit: 1024, upstreamConnections: 256, databasePool: 10 });
    expect(hardLimit(fit.maxConnections) + 256 + 10 + 64).toBeLessThanOrEqual(1024);
    expect(hardLimit(fit.maxConnections + 1) + 256 + 10 + 64).toBeGreaterThan(1024); // the largest that fits
    expect(fit.lowered).toMatch(/MAX_CONNECTIONS=10000 does not fit .* 1024/);
  });
});
