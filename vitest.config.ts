import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Integration tests start real servers; a slow shared 2-core machine needs room.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    coverage: { provider: 'v8', include: ['{core,dispatcher,backends,policies,loadtest,sim,report,cli}/**/*.ts'] },
  },
});
