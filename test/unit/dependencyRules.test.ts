/**
 * The dependency rules of docs/contributing.md, checked on the tree: every import specifier of
 * every source file (static, `export … from`, side-effect and dynamic imports), resolved to a
 * path in the repository, is checked against the rules below. The first block plants one
 * violation of each rule in a made-up file set, so each rule is shown to fail when broken.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Folders whose code takes media in (ingest). */
const INGEST = ['src/ingest', 'src/synthetic'];
/** Folders whose code delivers streams (outputs); new output folders belong here. */
const OUTPUTS = ['src/hls', 'src/egress', 'src/moq', 'src/dash', 'src/restream', 'src/recording', 'src/outputs'];
/** What the MoQ relay may use of the node: logging, config, tokens, wire errors (nothing media-related). */
const RELAY_MAY_USE = ['src/core', 'src/config', 'src/auth', 'src/moderation', 'src/protocol/errors.ts'];
/** The only part of `src/` the SDK, demo and apps share with the server. */
const CLIENTS_MAY_USE = ['src/protocol'];
/** Where a track may be published into a room (`room.addProducer(participant, producer)`): ingests use `startIngest`'s seat. */
const PUBLISHES = ['src/sfu', 'src/streams/Ingest.ts'];
/** Where knowing that a stream was pulled from another node is allowed. */
const KNOWS_REMOTE = ['src/streams', 'src/cascade'];

/** A source file: repository-relative path and text. */
interface SourceFile {
  file: string;
  text: string;
}

const under = (p: string, dirs: string[]) => dirs.some((d) => p === d || p.startsWith(d.endsWith('.ts') ? d : d + '/'));

/** Import specifiers of a file (comments removed first). */
function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  const patterns = [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s+['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!);
  return out;
}

/** Repository-relative target of a relative specifier (undefined for packages). */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return /\.[cm]?[jt]s$/.test(target) ? target : `${target}.ts`;
}

/** Every broken rule in a set of files, one line each. */
function violations(files: SourceFile[]): string[] {
  const out: string[] = [];
  for (const { file, text } of files) {
    for (const spec of specifiers(text)) {
      const target = resolve(file, spec);
      if (!target) continue;
      const where = `${file} imports ${target}`;
      if (under(file, INGEST) && under(target, OUTPUTS)) out.push(`${where}: ingest must not import an output (they meet at src/streams)`);
      if (under(file, OUTPUTS) && under(target, INGEST)) out.push(`${where}: an output must not import ingest (they meet at src/streams)`);
      if (file.startsWith('relay/') && target.startsWith('src/') && !under(target, RELAY_MAY_USE))
        out.push(`${where}: the relay uses no media code of the node`);
      if (file.startsWith('clients/') && target.startsWith('src/') && !under(target, CLIENTS_MAY_USE))
        out.push(`${where}: clients share only src/protocol with the server`);
      if (file.startsWith('loadtest/') && target.startsWith('test/')) out.push(`${where}: loadtest ships without the test tree`);
      if (file.startsWith('src/') && !under(file, KNOWS_REMOTE) && target.endsWith('/RemoteParticipant.ts'))
        out.push(`${where}: only src/streams and src/cascade know whether a stream is remote`);
    }
    if (file.startsWith('src/') && !under(file, PUBLISHES) && /\.addProducer\([^,()]+,/.test(text.replace(/\/\*[\s\S]*?\*\//g, ''))) {
      out.push(`${file}: ingests publish through startIngest (src/streams/Ingest.ts), not room.addProducer`);
    }
    if (file.startsWith('src/') && !under(file, KNOWS_REMOTE) && /\borigin\.type\b|\bRemoteParticipant\b/.test(text.replace(/\/\*[\s\S]*?\*\//g, ''))) {
      out.push(`${file}: only src/streams and src/cascade know whether a stream is remote (use the hub's streams as they are)`);
    }
  }
  return out;
}

/** Relative SDK import cycles (type-only imports included): each as `a → b → … → a`. */
function cycles(files: SourceFile[]): string[] {
  const graph = new Map<string, string[]>();
  for (const { file, text } of files)
    graph.set(
      file,
      specifiers(text)
        .map((s) => resolve(file, s))
        .filter((t): t is string => !!t && t !== file),
    );
  const found = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (!graph.has(t)) continue;
      if (state.get(t) === 'open') found.add([...stack.slice(stack.indexOf(t)), t].join(' → '));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return [...found];
}

function sourceFiles(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'dist') walk(child);
      } else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) {
        out.push({ file: child, text: fs.readFileSync(path.join(root, child), 'utf8') });
      }
    }
  };
  walk(dir);
  return out;
}

describe('dependency rules', () => {
  it('each rule catches its violation', () => {
    const planted: SourceFile[] = [
      { file: 'src/ingest/rtmp/RtmpServer.ts', text: "import { HlsService } from '../../hls/HlsService';" },
      { file: 'src/hls/Recorder.ts', text: "import type { SrtServer } from '../ingest/srt/SrtServer';" },
      { file: 'src/restream/RtmpPush.ts', text: "export { SyntheticSource } from '../synthetic/SyntheticSource';" },
      { file: 'relay/Origin.ts', text: "import type { Room } from '../src/sfu/Room';" },
      { file: 'relay/model/Track.ts', text: "const m = await import('../../src/moq/StreamBridge');" },
      { file: 'clients/sdk/src/moq/MoqPlayback.ts', text: "import { decodeLegacyFrame } from '../../../../src/moq/hangFormat';" },
      { file: 'loadtest/moq/bench-moq.ts', text: "import { connectMoq } from '../../test/helpers/moqClient';" },
      { file: 'src/hls/HlsService.ts', text: "import { RemoteParticipant } from '../streams/RemoteParticipant';" },
      { file: 'src/egress/whep/WhepEndpoint.ts', text: "if (lease.stream.origin.type === 'remote') return;" },
      { file: 'src/ingest/srt/SrtFeed.ts', text: 'this.#options.room.addProducer(this, producer);' },
    ];
    const found = violations(planted);
    expect(found.filter((v) => v.includes('ingest must not import an output'))).toHaveLength(1);
    expect(found.filter((v) => v.includes('an output must not import ingest'))).toHaveLength(2);
    expect(found.filter((v) => v.includes('the relay uses no media code'))).toHaveLength(2);
    expect(found.filter((v) => v.includes('clients share only src/protocol'))).toHaveLength(1);
    expect(found.filter((v) => v.includes('loadtest ships without the test tree'))).toHaveLength(1);
    expect(found.filter((v) => v.includes('know whether a stream is remote'))).toHaveLength(3);
    expect(found.filter((v) => v.includes('ingests publish through startIngest'))).toHaveLength(1);
    // Allowed: the hub, the protocol, the relay's logger, a comment that names a forbidden path.
    const allowed: SourceFile[] = [
      { file: 'src/ingest/srt/SrtServer.ts', text: "import type { StreamHub } from '../../streams/StreamHub';" },
      { file: 'src/hls/HlsService.ts', text: "import type { Stream } from '../streams/Stream';\n// not '../ingest/srt/SrtServer'" },
      { file: 'relay/RelayServer.ts', text: "import type { Logger } from '../src/core/logger';" },
      { file: 'clients/sdk/src/moq/MoqPlayback.ts', text: "import { decodeLegacyFrame } from '../../../../src/protocol/hangFormat';" },
      { file: 'src/cascade/Cascade.ts', text: "import { RemoteParticipant } from '../streams/RemoteParticipant';" },
      { file: 'src/moq/MoqBridge.ts', text: 'await bridge.addProducer(track);' },
    ];
    expect(violations(allowed)).toEqual([]);
    expect(
      cycles([
        { file: 'clients/sdk/src/a.ts', text: "import type { B } from './b';" },
        { file: 'clients/sdk/src/b.ts', text: "import type { A } from './a';" },
      ]),
    ).toEqual(['clients/sdk/src/a.ts → clients/sdk/src/b.ts → clients/sdk/src/a.ts']);
  });

  it('the tree keeps them', () => {
    const files = ['src', 'relay', 'clients', 'loadtest'].flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(200);
    expect(violations(files)).toEqual([]);
  });

  it('the SDK has no import cycles, type-only imports included', () => {
    const sdk = sourceFiles('clients/sdk/src');
    expect(sdk.length).toBeGreaterThan(20);
    expect(cycles(sdk)).toEqual([]);
  });
});
