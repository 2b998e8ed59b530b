import { defineConfig } from 'vitest/config';
import base from './vitest.config';

/** `npm run test:netlab`: every network-lab test, the media ones `make test` leaves out included (root). */
export default defineConfig({ test: { ...base.test, include: ['test/netlab/**/*.test.ts'], exclude: ['**/node_modules/**'] } });
