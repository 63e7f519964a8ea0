/**
 * Jest runs every test from the root (`npm test`). Sources are TypeScript ESM, transformed by swc and
 * run as native ES modules (node --experimental-vm-modules), so `import.meta.url` works in tests and
 * sources alike. Workspace packages resolve to their sources, so a test never runs a stale build;
 * end-to-end tests spawn the built CLIs (`npm test` builds first).
 */
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

export default {
  testEnvironment: '<rootDir>/test/jest-environment.cjs',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@nodeserve/archiver$': '<rootDir>/packages/archiver/src/index.ts',
    '^@nodeserve/archiver/manifest$': '<rootDir>/packages/archiver/src/manifest/index.ts',
    '^@nodeserve/archiver/reader$': '<rootDir>/packages/archiver/src/reader/index.ts',
    '^@nodeserve/errors$': '<rootDir>/packages/errors/src/index.ts',
    '^@nodeserve/handler-sdk$': '<rootDir>/packages/handler-sdk/src/index.ts',
    '^@nodeserve/handler-sdk/errors$': '<rootDir>/packages/handler-sdk/src/errors.ts',
    '^@nodeserve/handler-sdk/datatypes$': '<rootDir>/packages/handler-sdk/src/tensors/datatypes.ts',
    '^@nodeserve/server$': '<rootDir>/packages/server/src/index.ts',
    '^@nodeserve/server/run-state$': '<rootDir>/packages/server/src/lifecycle/run-state.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts', '<rootDir>/examples/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60_000,
  // Two cores: end-to-end suites start servers with worker processes; more jest workers only thrash.
  maxWorkers: 2,
};
