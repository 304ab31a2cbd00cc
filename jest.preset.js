// Shared Jest settings: every package's jest.config.js spreads this.
// SWC strips the types (fast); `npm run typecheck` does the type checking.
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  // Tests open real sockets; a hanging handle fails loudly instead of keeping CI alive.
  forceExit: false,
};
