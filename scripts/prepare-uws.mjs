#!/usr/bin/env node
// Makes uWebSockets.js load on this machine, then proves it loads and serves (run by setup.sh).
//
// uWebSockets.js is published with prebuilt binaries only (no npm package ships its sources).
// The package used (@btc-vision/uwebsockets.js, upstream v20.57 builds for Node ABI 115/127/137/
// 141) is linked against glibc 2.38; Debian 12 has 2.36. Its linux binaries need glibc 2.38 for
// exactly three C23 functions, `__isoc23_strtol`, `__isoc23_strtoul` and `__isoc23_sscanf`, which
// differ from their C99 counterparts only in also reading binary numbers ("0b101") for base 0/2
// and `%i`. On glibc < 2.38, this script rewrites those three imports of the binary for the
// running Node's ABI to `strtol`, `strtoul` and `__isoc99_sscanf` (ELF .dynsym/.dynstr edit; the
// three symbols become unversioned and the GLIBC_2.38 version need is made weak, so nothing else
// may use it: the script checks) and nothing else. On glibc >= 2.38 the binary is left as it is.
// Either way it then loads the binary in a child process and runs an HTTP request and a
// WebSocket echo through it; any failure stops setup with the reason.
//
// Idempotent: a rewritten binary is recognised and only tested again.
// Args: --check   do not rewrite; only report and test (exit 1 when it cannot load).
// Plain Node (>= 22), no dependencies.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const TAG = '[uws]';
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The only imports this script rewrites, and what to. */
const RENAMES = new Map([
  ['__isoc23_strtol', 'strtol'],
  ['__isoc23_strtoul', 'strtoul'],
  ['__isoc23_sscanf', '__isoc99_sscanf'],
]);
const C23_VERSION = 'GLIBC_2.38';

function fail(msg) {
  console.error(`${TAG} ERROR: ${msg}`);
  process.exit(1);
}

function log(msg) {
  console.log(`${TAG} ${msg}`);
}

/** "2.36" → [2, 36]; undefined where the runtime is not glibc. */
function glibcVersion() {
  const v = process.report?.getReport?.()?.header?.glibcVersionRuntime;
  return typeof v === 'string' ? v.split('.').map(Number) : undefined;
}

function cstr(buf, off) {
  const end = buf.indexOf(0, off);
  return buf.toString('latin1', off, end < 0 ? buf.length : end);
}

/** The dynamic symbol table of an ELF64 little-endian file and its version sections. */
function parseElf(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) throw new Error('not an ELF64 little-endian file');
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
      link: buf.readUInt32LE(o + 0x28),
      info: buf.readUInt32LE(o + 0x2c),
      entsize: Number(buf.readBigUInt64LE(o + 0x38)),
    });
  }
  const dynsym = sections.find((s) => s.type === 11);
  if (!dynsym) throw new Error('no .dynsym');
  const dynstr = sections[dynsym.link];
  const versym = sections.find((s) => s.type === 0x6fffffff);
  const verneed = sections.find((s) => s.type === 0x6ffffffe);
  const symbols = [];
  for (let i = 0; i < dynsym.size / 24; i++) {
    const o = dynsym.offset + i * 24;
    const nameOff = buf.readUInt32LE(o);
    symbols.push({
      index: i,
      entry: o,
      nameOff,
      name: cstr(buf, dynstr.offset + nameOff),
      undefined: buf.readUInt16LE(o + 6) === 0,
      versymAt: versym ? versym.offset + i * 2 : undefined,
      version: versym ? buf.readUInt16LE(versym.offset + i * 2) & 0x7fff : undefined,
    });
  }
  // Version needs: every vernaux (name, index, flags offset).
  const needs = [];
  if (verneed) {
    let vn = verneed.offset;
    for (let n = 0; n < verneed.info; n++) {
      const cnt = buf.readUInt16LE(vn + 2);
      let vna = vn + buf.readUInt32LE(vn + 8);
      for (let k = 0; k < cnt; k++) {
        needs.push({
          name: cstr(buf, dynstr.offset + buf.readUInt32LE(vna + 8)),
          flagsAt: vna + 4,
          flags: buf.readUInt16LE(vna + 4),
          other: buf.readUInt16LE(vna + 6),
        });
        vna += buf.readUInt32LE(vna + 12);
      }
      vn += buf.readUInt32LE(vn + 12);
    }
  }
  return { dynstr, symbols, needs };
}

/** What the binary imports that glibc 2.36 lacks: the C23 symbols and the strong GLIBC_2.38 need. */
function c23Imports(buf) {
  const elf = parseElf(buf);
  const need = elf.needs.find((n) => n.name === C23_VERSION);
  const byVersion = need ? elf.symbols.filter((s) => s.undefined && s.version === need.other) : [];
  return {
    elf,
    need,
    c23: elf.symbols.filter((s) => s.undefined && s.name.startsWith('__isoc23_')),
    byVersion,
    strongNeed: need !== undefined && (need.flags & 0x2) === 0,
  };
}

/** Rewrites the three imports in place (in `buf`); throws when the binary needs anything else. */
function rewrite(buf) {
  const { elf, need, c23, byVersion } = c23Imports(buf);
  const unexpected = [...c23, ...byVersion].filter((s) => !RENAMES.has(s.name));
  if (unexpected.length > 0) throw new Error(`it needs more than the three known C23 imports: ${[...new Set(unexpected.map((s) => s.name))].join(', ')}`);
  if (c23.length !== RENAMES.size)
    throw new Error(`expected the imports ${[...RENAMES.keys()].join(', ')}, found ${c23.map((s) => s.name).join(', ') || 'none'}`);
  const dynstr = buf.subarray(elf.dynstr.offset, elf.dynstr.offset + elf.dynstr.size);
  for (const s of c23) {
    const to = RENAMES.get(s.name);
    if (s.name.endsWith(to)) {
      // strtol/strtoul: the new name is the tail of the old one in .dynstr.
      buf.writeUInt32LE(s.nameOff + (s.name.length - to.length), s.entry);
    } else {
      // __isoc23_sscanf → __isoc99_sscanf: an existing string, or the same length in place
      // (only when no other symbol's name starts inside the bytes that change).
      const existing = dynstr.indexOf(Buffer.from(`${to}\0`, 'latin1'));
      if (existing >= 0 && (existing === 0 || dynstr[existing - 1] === 0)) buf.writeUInt32LE(existing, s.entry);
      else {
        if (to.length !== s.name.length) throw new Error(`cannot rename ${s.name} to ${to} in place`);
        const clash = elf.symbols.some((o) => o !== s && o.nameOff > s.nameOff && o.nameOff < s.nameOff + 8);
        if (clash) throw new Error(`another symbol name shares the bytes of ${s.name}`);
        dynstr.write(to, s.nameOff, 'latin1');
      }
    }
    // Unversioned: binds to the default version (strtol@GLIBC_2.2.5, __isoc99_sscanf@GLIBC_2.7).
    if (s.versymAt !== undefined) buf.writeUInt16LE(1, s.versymAt);
  }
  if (need) buf.writeUInt16LE(need.flags | 0x2, need.flagsAt);
  const after = c23Imports(buf);
  if (after.c23.length > 0 || after.byVersion.length > 0 || after.strongNeed) throw new Error('the rewrite did not take (internal error)');
}

/** Loads the binary in a child and runs one HTTP request and one WebSocket echo through it. */
function loadTest(file) {
  const child = `
		const uws = require(${JSON.stringify(file)});
		const app = uws.App();
		app.get('/ping', (res) => res.end('pong'));
		app.ws('/echo', { message: (ws, msg, binary) => ws.send(msg, binary) });
		app.listen('127.0.0.1', 0, async (sock) => {
			if (!sock) { console.error('listen failed'); process.exit(2); }
			const port = uws.us_socket_local_port(sock);
			const text = await (await fetch('http://127.0.0.1:' + port + '/ping')).text();
			if (text !== 'pong') { console.error('HTTP answered ' + JSON.stringify(text)); process.exit(3); }
			const ws = new WebSocket('ws://127.0.0.1:' + port + '/echo');
			ws.onopen = () => ws.send('0b101 echo');
			ws.onerror = () => { console.error('WebSocket error'); process.exit(4); };
			ws.onmessage = (e) => {
				if (e.data !== '0b101 echo') { console.error('WebSocket echoed ' + JSON.stringify(e.data)); process.exit(5); }
				ws.close(); uws.us_listen_socket_close(sock); process.exit(0);
			};
		});
		setTimeout(() => { console.error('timed out'); process.exit(6); }, 10000).unref();
	`;
  const r = spawnSync(process.execPath, ['-e', child], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? undefined : (r.stderr || r.stdout || `exit ${r.status ?? r.signal}`).trim();
}

const pkgFile = path.join(projectRoot, 'node_modules', 'uWebSockets.js', 'package.json');
if (!fs.existsSync(pkgFile)) fail('node_modules/uWebSockets.js is missing: run npm ci (make setup)');
const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
const file = path.join(path.dirname(pkgFile), `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
if (!fs.existsSync(file)) {
  fail(
    `${pkg.name}@${pkg.version} has no binary for Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}; use Node 24 (scripts/runtime-node.sh)`,
  );
}
const glibc = glibcVersion();
const oldGlibc = glibc !== undefined && (glibc[0] < 2 || (glibc[0] === 2 && glibc[1] < 38));
const buf = fs.readFileSync(file);
const state = process.platform === 'linux' ? c23Imports(buf) : undefined;
if (oldGlibc && state && (state.c23.length > 0 || state.strongNeed)) {
  if (process.argv.includes('--check')) fail(`${path.basename(file)} needs ${C23_VERSION}; glibc here is ${glibc.join('.')} (run scripts/prepare-uws.mjs)`);
  try {
    rewrite(buf);
  } catch (err) {
    fail(`cannot adapt ${path.basename(file)} to glibc ${glibc.join('.')}: ${err.message}`);
  }
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, buf, { mode: 0o755 });
  fs.renameSync(tmp, file);
  log(`${path.basename(file)}: ${[...RENAMES].map(([a, b]) => `${a} → ${b}`).join(', ')} (glibc ${glibc.join('.')} < 2.38)`);
}
const problem = loadTest(file);
if (problem) fail(`${pkg.name}@${pkg.version} does not work on Node ${process.version}: ${problem}`);
log(`${pkg.name}@${pkg.version} loads and serves HTTP and WebSocket on Node ${process.version} (glibc ${glibc?.join('.') ?? 'n/a'})`);
