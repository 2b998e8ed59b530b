import { defineConfig } from 'vitest/config';

// Integration and browser tests drive real mediasoup workers, ffmpeg and Chromium on a
// 2-core machine: files run one at a time so timings stay honest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 20_000,
    reporters: ['default'],
    // A stray `.only` would silently skip the rest of the suite: refuse it everywhere.
    allowOnly: false,
  },
});
