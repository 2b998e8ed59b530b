/**
 * uWebSockets.js, loaded so that a binary that cannot load stops the node with what to do about it
 * (the package's own message only lists the Node versions it supports).
 */
import { createRequire } from 'node:module';
import type uWSTypes from 'uWebSockets.js';

const require = createRequire(import.meta.url);

function load(): typeof uWSTypes {
  try {
    return require('uWebSockets.js') as typeof uWSTypes;
  } catch (err) {
    const cause = err instanceof Error ? err.message.split('\n').filter(Boolean).pop() : String(err);
    throw new Error(
      `uWebSockets.js cannot load on Node ${process.version} (ABI ${process.versions.modules}): ${cause}. ` +
        'Run `make setup` (scripts/prepare-uws.mjs adapts its binary to glibc < 2.38 and tests it) and start with ' +
        'the Node it picks (scripts/runtime-node.sh: Node 24).',
      { cause: err },
    );
  }
}

/** The uWebSockets.js module (HTTP and WebSocket server). */
export const uWS = load();
