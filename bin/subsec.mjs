#!/usr/bin/env node
// The `subsec` command: runs the TypeScript CLI (src/cli/main.ts) through tsx's loader, in this process.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
