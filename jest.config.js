/**
 * Jest: ts-jest in transpile-only mode (type checking is `npm run typecheck`), real Redis started by globalSetup.
 * One project per test folder; what each folder holds is in docs/testing.md.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] };
const common = { testEnvironment: 'node', transform, setupFiles: ['reflect-metadata'] };
module.exports = {
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    { ...common, displayName: 'cluster', testMatch: ['<rootDir>/test/cluster/**/*.test.ts'] },
    { ...common, displayName: 'sentinel', testMatch: ['<rootDir>/test/sentinel/**/*.test.ts'] },
  ],
};
