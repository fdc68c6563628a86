import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests import the client package from its source (tsconfig.json's paths), not from its built dist/.
  resolve: {
    alias: {
      '@gatehouse/client': fileURLToPath(new URL('packages/client/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Two files at a time: most of a file's time is spent waiting (on PostgreSQL, timers, child processes), and
    // each file has its own database and Redis logical database (test/helpers/databases.ts). Vitest's default
    // on a 2-core machine is one.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});
