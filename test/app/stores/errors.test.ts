import { BudgetSourceError, isStoreOutage, StoreTimeoutError, StoreUnavailableError } from '../../../app/stores/errors';

const withCode = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('isStoreOutage: what becomes the contract\'s 503', () => {
  it.each([
    ['55000 object not in prerequisite state', '55000'],
    ['55P03 lock not available', '55P03'],
    ['57P01 admin shutdown', '57P01'],
    ['57P02 crash shutdown', '57P02'],
    ['57P03 cannot connect now', '57P03'],
    ['57P04 database dropped', '57P04'],
    ['57014 query canceled', '57014'],
    ['53300 too many connections', '53300'],
    ['53100 disk full', '53100'],
    ['08006 connection failure', '08006'],
    ['08001 unable to connect', '08001'],
    ['ECONNREFUSED', 'ECONNREFUSED'],
    ['ENOTFOUND', 'ENOTFOUND'],
    ['ETIMEDOUT', 'ETIMEDOUT'],
    ['ECONNRESET', 'ECONNRESET'],
  ])('%s', (_name, code) => {
    expect(isStoreOutage(withCode(code))).toBe(true);
  });

  it.each([
    'timeout exceeded when trying to connect',
    'Connection terminated unexpectedly',
    'Client has encountered a connection error and is not queryable',
  ])('node-postgres without a code: %s', (message) => {
    expect(isStoreOutage(new Error(message))).toBe(true);
  });

  it('an AggregateError of refused addresses, and a wrapped cause', () => {
    const aggregate = new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed');
    expect(isStoreOutage(aggregate)).toBe(true);
    expect(isStoreOutage(new Error('query failed', { cause: withCode('57P01') }))).toBe(true);
  });

  it('the stores\' own errors', () => {
    expect(isStoreOutage(new StoreUnavailableError('redis'))).toBe(true);
    expect(isStoreOutage(new StoreTimeoutError('redis', 100))).toBe(true);
    expect(isStoreOutage(new BudgetSourceError())).toBe(true);
  });

  it.each([
    ['23505 unique violation', '23505'],
    ['42P01 undefined table', '42P01'],
    ['22P02 invalid text representation', '22P02'],
    ['550001 is not 55000', '550001'],
    ['080 is not a class-08 code', '080'],
  ])('not a query that is wrong: %s', (_name, code) => {
    expect(isStoreOutage(withCode(code))).toBe(false);
  });

  it('not a plain error, nor nothing', () => {
    expect(isStoreOutage(new Error('syntax error at or near "SELEC"'))).toBe(false);
    expect(isStoreOutage(undefined)).toBe(false);
    expect(isStoreOutage(null)).toBe(false);
  });
});
