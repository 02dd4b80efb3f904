/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is `npm run typecheck`; transpile-only keeps the suite fast.
  transform: {
    '^.+\\.ts$': 'ts-jest',
    '^.+\\.sql$': '<rootDir>/test/support/sql-transform.js',
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'sql'],
  testTimeout: 30000,
  maxWorkers: 2,
};
