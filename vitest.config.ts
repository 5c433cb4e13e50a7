import { defineConfig } from 'vitest/config';

// One test-folder convention for every package: packages/*/test/**/*.test.ts.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    passWithNoTests: false,
    pool: 'forks',
  },
});
