#!/usr/bin/env node
/**
 * Bundles the browser SDK and the demo page with esbuild into clients/dist/ (served by the node at
 * /sdk/):
 *   subsec.js       ESM, minified, with source map
 *   subsec.iife.js  classic script exposing the global `Subsec`
 *   start.js        the start page's script (clients/demo/start.ts, SDK included)
 *   demo.js         the room page's script (clients/demo/demo.ts, SDK included)
 *   apps/*.js       the watch-party and auction apps (clients/apps/<name>/app.ts, SDK included),
 *                   and apps/index.js (the apps' index page: its icons)
 *   vendor/hls.mjs  hls.js, loaded by the SDK only when it falls back to LL-HLS (dynamic import)
 *   vendor/moq-net.mjs  @moq/net (moq-lite client), loaded by the SDK only when it plays MoQ
 *
 * Usage: node scripts/build-sdk.mjs [--dev]   (--dev: unminified)
 * Also importable: `import { buildSdk } from './scripts/build-sdk.mjs'; await buildSdk();`
 */
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The SDK needs only `Device` from mediasoup-client, but its index also pulls in the fake handler
 * and test fixtures (~25 KiB minified), and handlers/sdp/RemoteSdp.js requires the index just for
 * its `version` string. Resolve the bare specifier to lib/Device.js and give RemoteSdp a module
 * holding only `version` (checked against the import below so an upgrade cannot break silently).
 */
const mediasoupDeviceOnly = {
  name: 'mediasoup-client-device-only',
  setup(b) {
    const require = createRequire(path.join(root, 'package.json'));
    const lib = path.dirname(require.resolve('mediasoup-client'));
    const { version } = JSON.parse(readFileSync(path.join(lib, '..', 'package.json'), 'utf8'));
    b.onResolve({ filter: /^mediasoup-client$/ }, () => ({ path: path.join(lib, 'Device.js') }));
    b.onResolve({ filter: /^\.\.\/\.\.\/$/ }, (args) =>
      args.importer === path.join(lib, 'handlers/sdp/RemoteSdp.js') ? { path: 'mediasoup-client-version', namespace: 'subsec-shim' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'subsec-shim' }, () => ({
      contents: `module.exports = { version: ${JSON.stringify(version)} };`,
      loader: 'js',
    }));
  },
};

/** Browsers the bundles must run in: what mediasoup-client supports, mobile included. */
const TARGET = ['es2021', 'chrome96', 'edge96', 'firefox102', 'safari15.4', 'ios15.4'];

/**
 * Builds the three bundles. `outdir` defaults to clients/dist; `minify` to true.
 * Fails if zod reaches a bundle: the SDK must use the protocol's types, not its schemas.
 */
export async function buildSdk({ outdir = path.join(root, 'clients/dist'), minify = true, logLevel = 'warning' } = {}) {
  const common = {
    bundle: true,
    platform: 'browser',
    target: TARGET,
    minify,
    sourcemap: true,
    legalComments: 'linked',
    metafile: true,
    logLevel,
    absWorkingDir: root,
    define: { 'process.env.NODE_ENV': '"production"' },
    plugins: [mediasoupDeviceOnly],
  };
  const results = await Promise.all([
    build({
      ...common,
      entryPoints: ['clients/sdk/src/index.ts'],
      format: 'esm',
      outfile: path.join(outdir, 'subsec.js'),
    }),
    build({
      ...common,
      entryPoints: ['clients/sdk/src/index.ts'],
      format: 'iife',
      globalName: 'Subsec',
      outfile: path.join(outdir, 'subsec.iife.js'),
    }),
    build({
      ...common,
      entryPoints: ['clients/demo/start.ts'],
      format: 'esm',
      outfile: path.join(outdir, 'start.js'),
    }),
    build({
      ...common,
      entryPoints: ['clients/demo/demo.ts'],
      format: 'esm',
      outfile: path.join(outdir, 'demo.js'),
    }),
    ...['watch-party', 'auction']
      .filter((app) => existsSync(path.join(root, 'clients/apps', app, 'app.ts')))
      .map((app) => build({ ...common, entryPoints: [`clients/apps/${app}/app.ts`], format: 'esm', outfile: path.join(outdir, 'apps', `${app}.js`) })),
    build({ ...common, entryPoints: ['clients/apps/index.ts'], format: 'esm', outfile: path.join(outdir, 'apps', 'index.js') }),
  ]);
  // @moq/net stays out of the SDK bundle too: the MoQ player imports it from here when needed
  // (it brings its own zod, hence outside the check below).
  const moqNet = await build({
    ...common,
    stdin: { contents: "export * from '@moq/net';", resolveDir: root, sourcefile: 'moq-net.mjs' },
    format: 'esm',
    outfile: path.join(outdir, 'vendor', 'moq-net.mjs'),
  });
  // hls.js stays out of the SDK bundle: the LL-HLS fallback imports it from here when needed.
  const require = createRequire(path.join(root, 'package.json'));
  mkdirSync(path.join(outdir, 'vendor'), { recursive: true });
  copyFileSync(path.join(path.dirname(require.resolve('hls.js')), 'hls.min.mjs'), path.join(outdir, 'vendor', 'hls.mjs'));
  for (const result of results) {
    const leaked = Object.keys(result.metafile.inputs).filter((input) => input.includes('node_modules/zod/'));
    if (leaked.length > 0) {
      throw new Error(`zod was bundled into the SDK (import protocol types with \`import type\`): ${leaked[0]}`);
    }
  }
  return [...results, moqNet];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  try {
    const results = await buildSdk({ minify: !process.argv.includes('--dev') });
    const sizes = results.flatMap((r) =>
      Object.entries(r.metafile.outputs)
        .filter(([file]) => file.endsWith('.js'))
        .map(([file, meta]) => `${path.basename(file)} ${(meta.bytes / 1024).toFixed(1)} KiB`),
    );
    console.log(`built ${sizes.join(', ')} in ${Math.round(performance.now() - started)} ms`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
